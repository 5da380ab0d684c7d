"""Shared fixtures: tiny random models on the real SmolLM2 tokenizer, and the real default model."""

import os
from pathlib import Path

import pytest

# Nothing in the suite may reach a hub; fail fast instead of waiting on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _few_threads() -> None:
    import torch

    # Under pytest-xdist (`make test`) the workers share the cores: more torch threads than cores
    # in all would spin against each other.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // workers)))


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The real embedded model, converted once into the user's cache (about 30 s the first time)."""
    from alignaudit.models.default import default_model_path

    return default_model_path()


def build_tiny_model(target: Path, tokenizer_source: Path, seed: int = 0, layers: int = 2) -> Path:
    """A randomly initialized Llama small enough to run in milliseconds, with a real tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Random init gives near-uniform logits; sharpen them so greedy choices are not near-ties.
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), default_model_dir)


@pytest.fixture(scope="session")
def tiny_base_model_dir(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny model on the same tokenizer, without a chat template (a 'base' model)."""
    target = build_tiny_model(tmp_path_factory.mktemp("tiny-base"), default_model_dir, seed=1)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(target)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(target)
    (target / "chat_template.jinja").unlink(missing_ok=True)
    return target


# --- tiny models for the generation tests (one instance per module: tests change their EOS ids) ---


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    """The tiny model and tokenizer, with end-of-sequence ids it really emits early in some rows."""
    from alignaudit.models.hf import load_causal_lm
    from tests.helpers import with_early_ends

    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    with_early_ends(model, tokenizer)
    return model, tokenizer


@pytest.fixture(scope="module")
def ed_pair(tiny_model_dir: Path, tiny_base_model_dir: Path):
    """An aligned and a base tiny model for ED, both ending at ids ED emits early in some rows."""
    from alignaudit.generation.base import SamplingConfig
    from alignaudit.generation.ed import ContrastiveGenerator
    from alignaudit.models.hf import load_causal_lm
    from tests.helpers import NEW_TOKENS, PROMPTS

    aligned = load_causal_lm(str(tiny_model_dir))
    base = load_causal_lm(str(tiny_base_model_dir))
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    rows = ContrastiveGenerator(*aligned, *base, 0.5, sampling=sampling).decode(PROMPTS).tokens
    for model, tokenizer in (aligned, base):
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, rows[0][2], rows[3][6]]
    return aligned, base
