"""Emulated-disalignment decoding on two tiny random models that share the SmolLM2 tokenizer."""

import json
from pathlib import Path

import pytest
import torch

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import (
    FINISH_CHECK_EVERY,
    ContrastiveGenerator,
    SingleModelGenerator,
    ed_combine,
    load_ed_pair,
)
from alignaudit.models.hf import load_causal_lm

PROMPTS = [
    "Say hello.",
    "Write one sentence about the sea and the sky at dawn, please.",
    "2+2?",
    "Name three colours you like and say why.",
]


@pytest.fixture(scope="module")
def aligned(tiny_model_dir: Path):
    return load_causal_lm(str(tiny_model_dir))  # has a chat template


@pytest.fixture(scope="module")
def base(tiny_base_model_dir: Path):
    return load_causal_lm(str(tiny_base_model_dir))  # no chat template: plain prompts


def ed(aligned, base, alpha: float, **kwargs) -> ContrastiveGenerator:
    sampling = kwargs.pop("sampling", SamplingConfig(max_new_tokens=8))
    return ContrastiveGenerator(*aligned, *base, alpha=alpha, sampling=sampling, **kwargs)


def full_sequence_logprobs(model, tokenizer, text: str, template: str, generated: list[int]):
    ids = tokenizer(text, add_special_tokens=template != "chat")["input_ids"] + generated
    with torch.no_grad():
        # The whole sequence from scratch, no cache; only the last position's logits are read.
        logits = model(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1]
    return torch.log_softmax(logits.float(), dim=-1)


def test_step_distributions_match_brute_force_without_cache(aligned, base) -> None:
    alpha = 0.7
    generator = ed(aligned, base, alpha, sampling=SamplingConfig(max_new_tokens=5))
    output = generator.decode(PROMPTS, return_scores=True)  # prompts of different lengths
    assert output.scores is not None and len(output.scores) == 5
    compared = 0
    for row, prompt in enumerate(PROMPTS):
        base_text = generator.members[0].render(prompt, None)
        aligned_text = generator.members[1].render(prompt, None)
        assert base_text.startswith("# Query:") and "<|im_start|>" in aligned_text
        generated = output.tokens[row]
        for step in range(len(generated)):
            expected = torch.log_softmax(
                ed_combine(
                    full_sequence_logprobs(*base, base_text, "plain", generated[:step]),
                    full_sequence_logprobs(*aligned, aligned_text, "chat", generated[:step]),
                    alpha,
                ),
                dim=-1,
            )
            engine = output.scores[step][row]
            torch.testing.assert_close(engine.exp(), expected.exp(), atol=1e-5, rtol=0)
            assert int(engine.argmax()) == generated[step]
            compared += 1
    assert compared >= 4 * 3


def test_alpha_zero_is_base_greedy_decoding(aligned, base) -> None:
    base_model, base_tokenizer = base
    output = ed(aligned, base, 0.0).decode(PROMPTS)
    texts = [f"# Query:\n{p}\n\n# Response:\n" for p in PROMPTS]
    batch = base_tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        reference = base_model.generate(
            **batch, max_new_tokens=8, do_sample=False, pad_token_id=base_tokenizer.pad_token_id
        )
    eos = base_tokenizer.eos_token_id
    for row, new in enumerate(reference[:, batch["input_ids"].shape[1] :].tolist()):
        expected = new[: new.index(eos) + 1] if eos in new else new
        assert output.tokens[row] == expected


def test_identical_weights_give_base_output_for_any_alpha(tiny_base_model_dir: Path) -> None:
    first = load_causal_lm(str(tiny_base_model_dir))
    second = load_causal_lm(str(tiny_base_model_dir))  # a separate copy of the same weights
    alone = SingleModelGenerator(*first, SamplingConfig(max_new_tokens=8), template="plain")
    expected = alone.decode(PROMPTS).tokens
    for alpha in (0.3, 2.0):
        generator = ed(second, first, alpha, aligned_template="plain")
        assert generator.decode(PROMPTS).tokens == expected
    assert any(len(row) > 1 for row in expected)


def test_batched_equals_one_request_at_a_time(aligned, base) -> None:
    batched = ed(aligned, base, 0.5, batch_size=4).generate(PROMPTS)
    alone = ed(aligned, base, 0.5, batch_size=1).generate(PROMPTS)
    assert batched == alone
    assert len(batched) == len(PROMPTS)


def test_seeded_sampling_is_reproducible_and_seed_dependent(aligned, base) -> None:
    def sample(seed: int) -> list[list[int]]:
        config = SamplingConfig(max_new_tokens=10, temperature=1.0, top_p=0.95, top_k=50, seed=seed)
        return ed(aligned, base, 0.5, sampling=config).decode(PROMPTS).tokens

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_mismatched_tokenizers_are_refused(aligned, base, tiny_base_model_dir: Path) -> None:
    _, other_tokenizer = load_causal_lm(str(tiny_base_model_dir))
    other_tokenizer.add_tokens(["<an_extra_token>"])
    with pytest.raises(AlignAuditError, match="different tokenizers"):
        ContrastiveGenerator(aligned[0], aligned[1], base[0], other_tokenizer, alpha=0.3)


def test_negative_alpha_and_missing_chat_template_are_refused(aligned, base) -> None:
    with pytest.raises(AlignAuditError, match="alpha must be >= 0"):
        ed(aligned, base, -0.1)
    with pytest.raises(AlignAuditError, match="--base-template plain"):
        ed(aligned, base, 0.3, base_template="chat")


class ScriptedCombine:
    """A combination rule that spells out a fixed token sequence, one token per step."""

    __name__ = "scripted"

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.calls = 0

    def __call__(self, base_logprobs: torch.Tensor, aligned_logprobs: torch.Tensor, alpha: float):
        logits = torch.full_like(base_logprobs, -1e4)
        logits[:, self.script[min(self.calls, len(self.script) - 1)]] = 0.0
        self.calls += 1
        return logits


def test_stop_markers_and_eos_end_decoding(aligned, base) -> None:
    tokenizer = base[1]
    answer = tokenizer("An answer.", add_special_tokens=False)["input_ids"]
    marker = tokenizer("\n# Query:", add_special_tokens=False)["input_ids"]
    script = answer + marker + tokenizer("\nMore text", add_special_tokens=False)["input_ids"]
    sampling = SamplingConfig(max_new_tokens=len(script) + 4)
    generator = ed(aligned, base, 0.3, sampling=sampling, combine=ScriptedCombine(script))
    (tokens,) = generator.decode(["Hi"]).tokens
    assert tokens == answer + marker  # decoding stopped on the marker, not at max_new_tokens
    generator = ed(aligned, base, 0.3, sampling=sampling, combine=ScriptedCombine(script))
    assert generator.generate(["Hi"]) == ["An answer."]
    eos_script = answer + [tokenizer.eos_token_id] + answer
    generator = ed(aligned, base, 0.3, sampling=sampling, combine=ScriptedCombine(eos_script))
    assert generator.generate(["Hi"]) == ["An answer."]
    # All rows finished after len(answer) + 1 steps; on the CPU the loop checks every step
    # (an accelerator checks every FINISH_CHECK_EVERY steps), so no step is wasted.
    assert len(answer) + 1 < FINISH_CHECK_EVERY < sampling.max_new_tokens
    assert generator.combine.calls == len(answer) + 1


def test_min_new_tokens_forces_length_past_eos(aligned, base) -> None:
    tokenizer = base[1]
    script = [tokenizer.eos_token_id] + tokenizer("ok", add_special_tokens=False)["input_ids"]
    sampling = SamplingConfig(max_new_tokens=6, min_new_tokens=6)
    generator = ed(aligned, base, 0.3, sampling=sampling, combine=ScriptedCombine(script))
    (tokens,) = generator.decode(["Hi"]).tokens
    assert len(tokens) == 6 and tokenizer.eos_token_id not in tokens


def test_describe_names_both_models_templates_and_alpha(aligned, base) -> None:
    info = ed(aligned, base, 0.6).describe()
    assert info["alpha"] == 0.6 and info["combine"] == "ed_combine"
    assert info["base_template"] == "plain" and info["aligned_template"] == "chat"
    assert info["base_model"] != info["aligned_model"]


def test_load_ed_pair_shares_or_copies_and_explains_oom(
    tiny_base_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = load_ed_pair(str(tiny_base_model_dir), str(tiny_base_model_dir))
    assert shared.aligned_model is shared.base_model
    copies = load_ed_pair(str(tiny_base_model_dir), str(tiny_base_model_dir), separate_copies=True)
    assert copies.aligned_model is not copies.base_model

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("alignaudit.models.hf.load_causal_lm", out_of_memory)
    with pytest.raises(AlignAuditError, match="out of memory loading"):
        load_ed_pair(str(tiny_base_model_dir), str(tiny_base_model_dir))


def test_cli_alpha_sweep_on_two_tiny_models(
    tiny_model_dir: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    from tests.helpers import alignaudit, read_jsonl

    bench = tmp_path / "bench.jsonl"
    rows = [{"id": f"q{i}", "category": "c", "prompt": f"Request number {i}."} for i in range(4)]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "sweep"
    result = alignaudit(
        "eval", "--model", str(tiny_model_dir), "--ed-base", str(tiny_base_model_dir),
        "--alpha", "0,0.5", "--benchmark", str(bench), "--judge", "keyword",
        "--max-new-tokens", "6", "--out", str(out),
    )  # fmt: skip
    assert "emulated disalignment sweep" in result.stdout
    for name in ("aligned", "base", "alpha-0", "alpha-0.5"):
        assert name in result.stdout and (out / name / "results.json").exists()
    assert json.loads((out / "sweep.json").read_text())["alphas"] == [0.0, 0.5]
    responses = {
        name: {g["id"]: g["response"] for g in read_jsonl(out / name / "generations.jsonl")}
        for name in ("base", "alpha-0", "alpha-0.5")
    }
    assert responses["alpha-0"] == responses["base"]  # alpha 0 is the base model exactly
    assert responses["alpha-0.5"] != responses["base"]
    ed = json.loads((out / "alpha-0.5" / "config.json").read_text())["run"]["ed"]
    assert ed["alpha"] == 0.5 and ed["base_template"] == "plain"
