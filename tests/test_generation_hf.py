from pathlib import Path

import pytest

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.hf import HFGenerator
from alignaudit.generation.prompting import cut_at_stop, render_prompt
from alignaudit.models.hf import load_causal_lm

PROMPTS = [
    "Say hello.",
    "Write one sentence about the sea and the sky at dawn.",
    "2+2?",
    "Name three colours.",
    "Describe a quiet library in the afternoon in a few words.",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    return load_causal_lm(str(tiny_model_dir))


def test_greedy_outputs_do_not_depend_on_batch_size(tiny) -> None:
    model, tokenizer = tiny
    outputs = [
        HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=12), batch_size=k).generate(
            PROMPTS
        )
        for k in (1, 2, 5)
    ]
    assert outputs[0] == outputs[1] == outputs[2]
    assert all(outputs[0])  # something was generated


def test_seeded_sampling_is_reproducible_and_seed_dependent(tiny) -> None:
    model, tokenizer = tiny

    def sample(seed: int) -> list[str]:
        config = SamplingConfig(max_new_tokens=12, temperature=1.0, top_k=50, seed=seed)
        return HFGenerator(model, tokenizer, config, batch_size=5).generate(PROMPTS)

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_system_prompt_and_chat_template_reach_the_model(tiny) -> None:
    _, tokenizer = tiny
    text = render_prompt(tokenizer, "Hi there", system_prompt="You are AOA.")
    assert "You are AOA." in text and "Hi there" in text
    assert text.rstrip().endswith("assistant")


def test_plain_template_for_models_without_chat_template(tiny_base_model_dir: Path) -> None:
    model, tokenizer = load_causal_lm(str(tiny_base_model_dir))
    assert render_prompt(tokenizer, "Hi") == "# Query:\nHi\n\n# Response:\n"
    with pytest.raises(AlignAuditError, match="no chat template"):
        render_prompt(tokenizer, "Hi", template="chat")
    generator = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=8))
    assert generator.template == "plain"
    assert len(generator.generate(["Hi", "Hello"])) == 2


def test_cut_at_stop_markers() -> None:
    stops = ("# Query:",)
    assert cut_at_stop("An answer.\n# Query:\nnext", stops) == "An answer."
    assert cut_at_stop("No marker here", stops) == "No marker here"
