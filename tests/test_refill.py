"""Continuous batching: a finished row's slot goes to the next request, outputs do not change.

The reference is the loop without refilling (batch after batch, `refill = False`) and, for one
model, `model.generate` on left-padded batches in request order. The tiny models get extra
end-of-sequence ids they really emit, so rows end at different steps and slots free up.
"""

import json
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from alignaudit.data.types import Request
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, SingleModelGenerator
from alignaudit.generation.hf import HFGenerator
from alignaudit.generation.refill import RefillLoop
from alignaudit.judges import JudgeOptions
from alignaudit.models.hf import load_causal_lm
from alignaudit.runs.fill import EvalPlan, generate_missing
from alignaudit.runs.store import JsonlLog, RunDir
from tests.conftest import REPO_ROOT
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


def _prefix_passes(monkeypatch: pytest.MonkeyPatch, model) -> list[int]:
    """The length of every one-row forward pass over a prompt beginning (not a decoding step)."""
    seen: list[int] = []
    forward = model.forward

    def recording(*args, **kwargs):
        ids = kwargs["input_ids"]
        if ids.shape[0] == 1 and ids.shape[1] > 1 and kwargs.get("attention_mask") is None:
            seen.append(int(ids.shape[1]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", recording)
    return seen


def test_the_shared_prompt_beginning_is_computed_once_for_all_admissions(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = today(model, tokenizer, sampling, batch_size=7)
    admissions = _admissions(monkeypatch)
    passes = _prefix_passes(monkeypatch, model)
    got = HFGenerator(model, tokenizer, sampling, batch_size=2).generate(PROMPTS)
    assert got == expected
    # Several admissions of two or more rows shared the chat template's system turn; its
    # cache was computed by one forward pass and reused by the others.
    assert sum(joined >= 2 for _, joined in admissions) >= 2
    assert len(passes) == 1 and passes[0] >= 8


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
    """Answers each prompt with itself reversed; records the size of every call. It does not
    stream, so the runs layer hands it one batch per call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, samples=None) -> list[str]:
        self.calls.append(len(prompts))
        return [p[::-1] for p in prompts]

    def describe(self) -> dict[str, object]:
        return {"backend": "counting"}


class _Watching:
    """A streaming generator around another: notes how many lines the run's log holds at each
    response it reports, and stops the run (raises `stop`) when `stop_after` were reported."""

    streams_responses = True

    def __init__(self, inner, log: JsonlLog, stop_after: int | None = None, stop=None) -> None:
        self.inner, self.log, self.stop_after, self.stop = inner, log, stop_after, stop
        self.calls: list[int] = []
        self.reported: list[tuple[int, str]] = []
        self.lines_on_disk: list[int] = []  # before each report

    def generate(self, prompts, samples=None, on_response=None) -> list[str]:
        self.calls.append(len(prompts))

        def watch(index: int, response: str) -> None:
            if len(self.reported) == self.stop_after:
                raise self.stop
            lines = self.log.path.read_text().splitlines() if self.log.path.exists() else []
            self.lines_on_disk.append(len(lines))
            self.reported.append((index, response))
            on_response(index, response)

        return self.inner.generate(prompts, samples, on_response=watch)

    def describe(self) -> dict[str, object]:
        return self.inner.describe()


REQUESTS = [Request(id=f"r{i}", prompt=prompt) for i, prompt in enumerate(PROMPTS)]


def _plan(run_dir: Path, make, batch_size: int = 2, requests=REQUESTS, samples=1) -> EvalPlan:
    """A judge-free plan: generate_missing alone is under test."""
    return EvalPlan(
        run_dir=RunDir(run_dir),
        requests=list(requests),
        make_generator=make,
        judges=[],
        config={},
        judge_options=JudgeOptions(),
        batch_size=batch_size,
        samples_per_prompt=samples,
    )


def _appends(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ids of every group appended to a log, in order."""
    appended: list[list[str]] = []
    original = JsonlLog.append

    def recording(self, records):
        records = list(records)
        appended.append([record["id"] for record in records])
        original(self, records)

    monkeypatch.setattr(JsonlLog, "append", recording)
    return appended


def test_a_generator_that_does_not_stream_gets_one_batch_per_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [Request(id=f"r{i}", prompt=f"# Harmful Instruction {i}") for i in range(7)]
    generators: list[_CountingGenerator] = []

    def make() -> _CountingGenerator:
        generators.append(_CountingGenerator())
        return generators[-1]

    appended = _appends(monkeypatch)
    records = generate_missing(_plan(tmp_path / "run", make, requests=requests))
    assert generators[0].calls == [2, 2, 2, 1]
    assert appended == [["r0", "r1"], ["r2", "r3"], ["r4", "r5"], ["r6"]]
    assert [r["response"] for r in records] == [r.prompt[::-1] for r in requests]
    # An interrupted run (the last two batches lost) resumes with just the missing requests.
    log = RunDir(tmp_path / "run").generations.path
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:4]))
    resumed = generate_missing(_plan(tmp_path / "run", make, requests=requests))
    assert generators[1].calls == [2, 1]
    assert [r["id"] for r in resumed] == [r.id for r in requests]


def test_a_model_that_needs_generate_goes_batch_by_batch(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    model.generation_config.repetition_penalty = 1.3  # only `model.generate` applies it
    generator = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=4), batch_size=3)
    assert not generator.streams_responses
    reported: list[tuple[int, str]] = []
    responses = generator.generate(PROMPTS, on_response=lambda i, t: reported.append((i, t)))
    assert reported == list(enumerate(responses))  # batch by batch, in prompt order
    appended = _appends(monkeypatch)
    records = generate_missing(_plan(tmp_path / "run", lambda: generator, batch_size=3))
    assert appended == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]
    assert [record["response"] for record in records] == responses


def test_streaming_writes_each_finished_group_before_the_call_returns(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    log = RunDir(tmp_path / "run").generations
    watching = _Watching(HFGenerator(model, tokenizer, sampling, batch_size=3), log)
    appended = _appends(monkeypatch)
    records = generate_missing(_plan(tmp_path / "run", lambda: watching))
    assert watching.calls == [len(PROMPTS)]  # every draw in one call
    # At each report, the log already held every group of two finished before it.
    assert watching.lines_on_disk == [2 * (k // 2) for k in range(len(PROMPTS))]
    finish_order = [f"r{index}" for index, _ in watching.reported]
    assert finish_order != sorted(finish_order)  # responses really came out of request order
    groups = [sorted(finish_order[k : k + 2], key=finish_order.index) for k in range(0, 7, 2)]
    assert appended == [sorted(g, key=lambda i: int(i[1:])) for g in groups]
    # Once complete, the log is in request order and holds what the call returned.
    assert [r["id"] for r in log.read()] == [r.id for r in REQUESTS]
    assert log.read() == records
    by_id = dict(zip(PROMPTS, today(model, tokenizer, sampling, batch_size=7), strict=True))
    assert [r["response"] for r in records] == [by_id[p] for p in PROMPTS]


def _batches_of_two_and_a_whole_run(
    tiny, tmp_path: Path
) -> tuple[Callable[[], HFGenerator], list[dict]]:
    """A maker of streaming generators in batches of 2, and an uninterrupted run's records."""
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)

    def generator() -> HFGenerator:
        return HFGenerator(model, tokenizer, sampling, batch_size=2)

    return generator, generate_missing(_plan(tmp_path / "whole", generator))


@pytest.mark.parametrize("stop", [RuntimeError("the generator died"), KeyboardInterrupt()])
def test_a_run_stopped_midway_keeps_every_finished_record_once_and_resumes_the_rest(
    tiny, tmp_path: Path, stop: BaseException
) -> None:
    generator, whole = _batches_of_two_and_a_whole_run(tiny, tmp_path)
    log = RunDir(tmp_path / "run").generations
    stopped = _Watching(generator(), log, stop_after=5, stop=stop)
    with pytest.raises(type(stop)):
        generate_missing(_plan(tmp_path / "run", lambda: stopped))
    # A kill at the fifth report finds two groups of two on disk; stopping by an exception
    # also writes the one finished since. Each once.
    assert stopped.lines_on_disk[-1] == 4
    kept = [record["id"] for record in log.read()]
    assert len(log.path.read_text().splitlines()) == len(kept) == 5
    assert sorted(kept) == sorted(f"r{index}" for index, _ in stopped.reported)
    resumed = _Watching(generator(), log)
    records = generate_missing(_plan(tmp_path / "run", lambda: resumed))
    assert resumed.calls == [2]  # only the missing draws
    assert records == whole == log.read()


def test_ctrl_c_in_the_progress_bar_keeps_every_finished_record_once(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.progress import Progress

    generator, whole = _batches_of_two_and_a_whole_run(tiny, tmp_path)
    advanced: list[int] = []
    original = Progress.advance

    def interrupted_at_the_third(self, task_id, advance: float = 1) -> None:
        advanced.append(int(advance))
        if len(advanced) == 3:
            raise KeyboardInterrupt
        original(self, task_id, advance)

    monkeypatch.setattr(Progress, "advance", interrupted_at_the_third)
    log = RunDir(tmp_path / "run").generations
    with pytest.raises(KeyboardInterrupt):
        generate_missing(_plan(tmp_path / "run", generator))
    assert advanced == [1, 1, 1]  # the bar moves per record
    lines = log.path.read_text().splitlines()
    assert len(lines) == len({record["id"] for record in log.read()}) == 3
    monkeypatch.setattr(Progress, "advance", original)
    assert generate_missing(_plan(tmp_path / "run", generator)) == whole == log.read()


# A streaming run that kills itself (kill -9) when its fifth response is reported.
KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.hf import HFGenerator
from alignaudit.models.hf import load_causal_lm
from alignaudit.runs.fill import generate_missing
from tests.helpers import NEW_TOKENS, with_early_ends
from tests.test_refill import _plan

model, tokenizer = load_causal_lm(sys.argv[1])
with_early_ends(model, tokenizer)
inner = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=NEW_TOKENS), batch_size=2)

class KilledAtTheFifthResponse:
    streams_responses = True

    def generate(self, prompts, samples=None, on_response=None):
        reported = []

        def report(index, response):
            if len(reported) == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            reported.append(index)
            on_response(index, response)

        return inner.generate(prompts, samples, on_response=report)

    def describe(self):
        return inner.describe()

generate_missing(_plan(Path(sys.argv[2]), KilledAtTheFifthResponse))
"""


def test_kill_9_midway_leaves_the_finished_groups_once_and_a_rerun_finishes(
    tiny, tiny_model_dir: Path, tmp_path: Path
) -> None:
    generator, whole = _batches_of_two_and_a_whole_run(tiny, tmp_path)
    run = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tiny_model_dir), str(run)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    kept = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    # Two groups of two were complete; the fifth response died with the process.
    assert len(kept) == len({record["id"] for record in kept}) == 4
    by_id = {record["id"]: record for record in whole}
    assert all(record == by_id[record["id"]] for record in kept)
    resumed = _Watching(generator(), RunDir(run).generations)
    assert generate_missing(_plan(run, lambda: resumed)) == whole
    assert resumed.calls == [len(PROMPTS) - 4]  # only the missing draws


def test_rows_that_leave_only_at_checks_are_reported_once_with_their_own_tokens(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an accelerator finished rows leave every FINISH_CHECK_EVERY steps, not at once."""
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = HFGenerator(model, tokenizer, sampling, batch_size=3).generate(PROMPTS)
    original = RefillLoop.__init__

    def checking_every_fourth_step(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.check_every = 4
        width = NEW_TOKENS + self.check_every  # room past the limit, as on an accelerator
        self.tokens = self.tokens.new_full((len(self.prompts), width), self.owner.pad_token_id)

    monkeypatch.setattr(RefillLoop, "__init__", checking_every_fourth_step)
    reported: list[tuple[int, str]] = []
    generator = HFGenerator(model, tokenizer, sampling, batch_size=3)
    got = generator.generate(PROMPTS, on_response=lambda i, text: reported.append((i, text)))
    assert got == expected
    assert sorted(reported) == sorted(enumerate(expected))


@pytest.mark.parametrize(
    ("sampling", "samples"),
    [
        (SamplingConfig(max_new_tokens=NEW_TOKENS), 1),
        # Most first draws are 16 tokens, under the minimum; their redraws differ.
        (
            SamplingConfig(
                max_new_tokens=NEW_TOKENS,
                temperature=1.0,
                top_k=20,
                seed=11,
                min_response_tokens=17,
            ),
            2,
        ),
    ],
    ids=["greedy", "sampled"],
)
def test_ed_streaming_equals_batch_per_call_and_reports_only_final_redrawn_responses(
    ed_pair, tmp_path: Path, sampling: SamplingConfig, samples: int
) -> None:
    aligned, base = ed_pair

    def generator(streams: bool) -> ContrastiveGenerator:
        made = ContrastiveGenerator(*aligned, *base, 0.5, sampling=sampling, batch_size=3)
        made.streams_responses = streams
        return made

    requests = REQUESTS[:4]  # a redraw round per short draw: keep them few
    log = RunDir(tmp_path / "streamed").generations
    watching = _Watching(generator(True), log)
    streamed = generate_missing(
        _plan(tmp_path / "streamed", lambda: watching, requests=requests, samples=samples)
    )
    per_batch = generate_missing(
        _plan(tmp_path / "per-batch", lambda: generator(False), requests=requests, samples=samples)
    )
    draws = samples * len(requests)
    assert watching.calls == [draws]
    assert streamed == per_batch
    redrawn = [record for record in streamed if record.get("draws", 1) > 1]
    assert bool(redrawn) == (sampling.min_response_tokens > 0)
    # Each draw reported once, with its final response: a redrawn one after its redraws.
    assert sorted(index for index, _ in watching.reported) == list(range(draws))
    for index, response in watching.reported:
        assert response == streamed[index]["response"]
        assert getattr(response, "draws", 1) == streamed[index].get("draws", 1)
