"""Continuous batching: a finished row's slot goes to the next request, outputs do not change.

The reference is the loop without refilling (batch after batch, `refill = False`) and, for one
model, `model.generate` on left-padded batches in request order. The tiny models get extra
end-of-sequence ids they really emit, so rows end at different steps and slots free up.
"""

import random
from pathlib import Path

import pytest

from alignaudit.data.types import Request
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, SingleModelGenerator
from alignaudit.generation.hf import HFGenerator
from alignaudit.generation.refill import RefillLoop
from alignaudit.judges import JudgeOptions
from alignaudit.runs.fill import EvalPlan, generate_missing
from alignaudit.runs.store import JsonlLog, RunDir
from tests.helpers import NEW_TOKENS, PROMPTS, today


def _admissions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(rows already decoding, rows joining) for every admission into a refilling batch."""
    seen: list[tuple[int, int]] = []
    original = RefillLoop._admit

    def recording(self, count):
        before = int(self.active.numel())
        logits = original(self, count)
        seen.append((before, int(self.active.numel()) - before))
        return logits

    monkeypatch.setattr(RefillLoop, "_admit", recording)
    return seen


def test_refilled_slots_keep_generate_outputs_in_request_order(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = dict(zip(PROMPTS, today(model, tokenizer, sampling, batch_size=7), strict=True))
    admissions = _admissions(monkeypatch)
    shuffled = PROMPTS[:]
    random.Random(5).shuffle(shuffled)
    got = HFGenerator(model, tokenizer, sampling, batch_size=3).generate(shuffled)
    assert got == [expected[p] for p in shuffled]
    # Requests joined a batch that was still decoding others, and every request got in.
    assert admissions[0] == (0, 3) and any(before > 0 for before, _ in admissions[1:])
    assert sum(joined for _, joined in admissions) == len(PROMPTS)


def test_ed_refill_equals_batch_after_batch_greedy_and_sampled(ed_pair) -> None:
    aligned, base = ed_pair

    def ed(batch_size: int, refill: bool, **sampling) -> list[str]:
        config = SamplingConfig(max_new_tokens=NEW_TOKENS, **sampling)
        generator = ContrastiveGenerator(
            *aligned, *base, 0.5, sampling=config, batch_size=batch_size
        )
        generator.refill = refill
        return generator.generate(PROMPTS)

    reference = ed(7, refill=False)
    assert len(set(reference)) > 3
    assert ed(2, refill=True) == reference == ed(3, refill=True)
    sampled = {"temperature": 1.0, "top_k": 20, "seed": 11}
    sampled_reference = ed(7, refill=False, **sampled)
    assert ed(2, refill=True, **sampled) == sampled_reference == ed(1, refill=True, **sampled)
    assert sampled_reference != reference


def test_min_new_tokens_holds_end_of_sequence_per_row_while_refilling(tiny) -> None:
    model, tokenizer = tiny

    def loop(batch_size: int, refill: bool, **sampling) -> list[str]:
        config = SamplingConfig(max_new_tokens=NEW_TOKENS, **sampling)
        generator = SingleModelGenerator(model, tokenizer, config, batch_size=batch_size)
        generator.refill = refill
        return generator.generate(PROMPTS)

    held = loop(7, refill=False, min_new_tokens=6)
    assert held == loop(2, refill=True, min_new_tokens=6)
    assert held != loop(7, refill=False)  # the minimum really changed some answers
    suppressed = loop(7, refill=False, suppress_eos=True)
    assert loop(3, refill=True, suppress_eos=True) == suppressed


class _CountingGenerator:
    """Answers each prompt with itself reversed; records the size of every call."""

    batches_per_call = 3

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, samples=None) -> list[str]:
        self.calls.append(len(prompts))
        return [p[::-1] for p in prompts]

    def describe(self) -> dict[str, object]:
        return {"backend": "counting"}


def test_runs_layer_hands_several_batches_per_call_and_writes_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [Request(id=f"r{i}", prompt=f"# Harmful Instruction {i}") for i in range(7)]
    generators: list[_CountingGenerator] = []

    def plan() -> EvalPlan:
        def make() -> _CountingGenerator:
            generators.append(_CountingGenerator())
            return generators[-1]

        return EvalPlan(
            run_dir=RunDir(tmp_path / "run"),
            requests=requests,
            make_generator=make,
            judges=["keyword"],
            config={},
            judge_options=JudgeOptions(),
            batch_size=2,
        )

    appended: list[list[str]] = []
    original = JsonlLog.append

    def recording(self, records):
        records = list(records)
        appended.append([record["id"] for record in records])
        original(self, records)

    monkeypatch.setattr(JsonlLog, "append", recording)
    records = generate_missing(plan())
    assert generators[0].calls == [6, 1]  # three batches of two per call, then the rest
    assert appended == [["r0", "r1"], ["r2", "r3"], ["r4", "r5"], ["r6"]]
    assert [r["response"] for r in records] == [r.prompt[::-1] for r in requests]
    # An interrupted run (the last two batches lost) resumes with just the missing requests.
    log = RunDir(tmp_path / "run").generations.path
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:4]))
    resumed = generate_missing(plan())
    assert generators[1].calls == [3]
    assert [r["id"] for r in resumed] == [r.id for r in requests]
