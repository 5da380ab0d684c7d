"""Fill a run directory: generate what is missing, judge what is missing, recompute results.

Everything is keyed by request id (and judge name), so rerunning after an interruption or with
an extra judge does only the remaining work. With several samples per request each sample is a
record of its own, `id` "REQUEST#K" with `request_id` and `sample` (K from 0), judged like any.
One process at a time works on a run directory (a lock); readers keep one record per key, the
newest, so a retried error replaces the old line.

A generation error (the server sent an empty or filtered reply) is its own outcome: no judge
sees it; each judge records it as an error from the generation, so it is never counted as
compliance, and results count it apart. On resume, generation errors and judge errors are
retried unless `retry_errors` is off.
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import Generator, OnResponse, streams_responses
from alignaudit.jsonl import latest_by_key
from alignaudit.judges import JudgeInput, JudgeOptions, Judgment, available_judges, get_judge
from alignaudit.metrics import compute_results
from alignaudit.metrics.rates import GENERATION_ERROR
from alignaudit.progress import progress_bar
from alignaudit.runs.lock import exclusive
from alignaudit.runs.store import JsonlLog, RunDir


@dataclass
class EvalPlan:
    run_dir: RunDir
    requests: list[Request]
    make_generator: Callable[[], Generator]  # called only if something is left to generate
    judges: list[str]
    config: dict[str, Any]
    judge_options: JudgeOptions
    batch_size: int = 16
    overwrite: bool = False
    retry_errors: bool = True
    samples_per_prompt: int = 1


class Draw(NamedTuple):
    """One response to generate: a request, and which of its samples."""

    request: Request
    sample: int
    id: str


def draws_of(requests: Sequence[Request], samples_per_prompt: int) -> list[Draw]:
    """Every (request, sample); with one sample per request the record id is the request's."""
    if samples_per_prompt == 1:
        return [Draw(request, 0, request.id) for request in requests]
    return [
        Draw(request, k, sample_id(request.id, k))
        for request in requests
        for k in range(samples_per_prompt)
    ]


def sample_id(request_id: str, sample: int) -> str:
    # Unique: the request id is all before the last "#".
    return f"{request_id}#{sample}"


def fill_run(plan: EvalPlan) -> dict[str, Any]:
    unknown = [name for name in plan.judges if name not in available_judges()]
    if unknown:
        raise AlignAuditError(
            f"unknown judge {unknown[0]!r}; choose from: {', '.join(available_judges())}"
        )
    with exclusive(plan.run_dir.path):
        return _fill_locked(plan)


def _fill_locked(plan: EvalPlan) -> dict[str, Any]:
    plan.run_dir.prepare(plan.config, plan.overwrite)
    generations = generate_missing(plan)
    judgments = judge_missing(
        [judge_input(g) for g in generations],
        plan.judges,
        plan.judge_options,
        plan.run_dir.judgments,
        plan.retry_errors,
    )
    results = compute_results(generations, judgments)
    plan.run_dir.write_results(results)
    return results


def generate_missing(plan: EvalPlan) -> list[dict[str, Any]]:
    """All generations of the plan's requests (each sample), in request order, generating only
    the missing.

    Records are appended as responses finish, `batch_size` at a time, each group in request
    order: a kill loses at most the group being filled (an exception, Ctrl-C included, writes
    it first). With every draw recorded, the log is put back in request order.
    """
    log = plan.run_dir.generations
    done = {
        record["id"]: record
        for record in log.read()
        if not (plan.retry_errors and record.get("error"))
    }
    draws = draws_of(plan.requests, plan.samples_per_prompt)
    missing = [draw for draw in draws if draw.id not in done]
    if missing:
        done.update(_generate_records(plan, missing))
    log.reorder([draw.id for draw in draws])
    return [done[draw.id] for draw in draws]


def _generate_records(plan: EvalPlan, missing: Sequence[Draw]) -> dict[str, dict[str, Any]]:
    """{id: record} of the `missing` draws, each appended to the log as it finished. A streaming
    generator gets them all in one call (its batch refills across the whole benchmark); others
    one batch per call."""
    generator = plan.make_generator()
    refuse_overlong_prompts(generator, [draw.request for draw in missing])
    size = max(1, plan.batch_size)
    with progress_bar() as progress:
        task = progress.add_task("generating", total=len(missing))
        writer = _GroupWriter(plan, missing, size, lambda: progress.advance(task, 1))
        try:
            if streams_responses(generator):
                responses = _generate(generator, missing, plan.samples_per_prompt, writer.add)
                writer.add_unreported(responses)
            else:
                for start in range(0, len(missing), size):
                    chunk = missing[start : start + size]
                    for k, text in enumerate(_generate(generator, chunk, plan.samples_per_prompt)):
                        writer.add(start + k, text)
        finally:  # finished responses are kept, whatever stopped the loop
            writer.write_pending()
    return writer.written


class _GroupWriter:
    """Appends the records of finished draws to the run's log `size` at a time, each group in
    request order, and advances the progress bar per record."""

    def __init__(
        self, plan: EvalPlan, draws: Sequence[Draw], size: int, advance: Callable[[], None]
    ) -> None:
        self.plan, self.draws, self.size, self.advance = plan, draws, size, advance
        self.pending: dict[int, dict[str, Any]] = {}  # draw index -> record, not yet written
        self.written: dict[str, dict[str, Any]] = {}
        self.reported: set[int] = set()

    def add(self, index: int, response: str) -> None:
        """Draw `index` (into `draws`) finished with `response`."""
        if index in self.reported:
            raise AlignAuditError(f"the generator reported draw {self.draws[index].id!r} twice")
        self.reported.add(index)
        self.pending[index] = _generation_record(self.draws[index], response, self.plan)
        if len(self.pending) >= self.size:
            self.write_pending()
        self.advance()

    def add_unreported(self, responses: Sequence[str]) -> None:
        """The responses a generator returned without reporting them."""
        for index, response in enumerate(responses):
            if index not in self.reported:
                self.add(index, response)

    def write_pending(self) -> None:
        group = [self.pending[index] for index in sorted(self.pending)]
        self.pending = {}  # taken before writing: a failed write is never repeated
        self.plan.run_dir.generations.append(group)
        self.written.update((record["id"], record) for record in group)


def _generate(
    generator: Generator,
    batch: Sequence[Draw],
    samples_per_prompt: int,
    on_response: OnResponse | None = None,
) -> list[str]:
    prompts = [draw.request.prompt for draw in batch]
    streaming = {} if on_response is None else {"on_response": on_response}
    if samples_per_prompt == 1:
        return generator.generate(prompts, **streaming)
    if "samples" not in inspect.signature(generator.generate).parameters:
        raise AlignAuditError(
            f"{type(generator).__name__} cannot draw several samples per request; "
            "use --samples-per-prompt 1"
        )
    return generator.generate(prompts, samples=[draw.sample for draw in batch], **streaming)


def refuse_overlong_prompts(generator: Generator, requests: Sequence[Request]) -> None:
    """Before any generation: a prompt the model's context cannot hold is an error."""
    check = getattr(generator, "prompt_overflow", None)
    if check is None:
        return
    found, window = check([request.prompt for request in requests])
    if found:
        index, tokens = next(iter(found.items()))
        raise AlignAuditError(
            f"request {requests[index].id!r}: the prompt is {tokens} tokens, more than the "
            f"model's context of {window} tokens leaves beside the new ones "
            f"({len(found)} request(s) too long); shorten or remove them, or lower "
            "--max-new-tokens"
        )


def judge_missing(
    items: Sequence[JudgeInput],
    judges: Sequence[str],
    options: JudgeOptions,
    log: JsonlLog,
    retry_errors: bool = True,
) -> list[dict[str, Any]]:
    """Every judge's verdict on every item, asking each judge only about the missing ones."""
    existing = log.read()
    if any("judge" not in record for record in existing):
        raise AlignAuditError(f"{log.path} holds lines that are not judgments; write elsewhere")
    judged = {
        (record["id"], record["judge"]): record
        for record in existing
        if not (retry_errors and record.get("error"))
        or record.get("error_source") == GENERATION_ERROR
    }
    added: list[dict[str, Any]] = []
    for name in judges:
        todo = [item for item in items if not _is_current(judged.get((item.id, name)), item)]
        unanswered = [item for item in todo if item.error]
        if unanswered:
            added += _append(log, [_generation_error(item, name) for item in unanswered])
        answered = [item for item in todo if not item.error]
        if answered:
            added += _judge_all(get_judge(name, options), answered, options.batch_size, log)
    return latest_by_key(existing + added)


def _judge_all(
    judge: Any, items: Sequence[JudgeInput], batch_size: int, log: JsonlLog
) -> list[dict[str, Any]]:
    added: list[dict[str, Any]] = []
    with progress_bar() as progress:
        task = progress.add_task(f"judging ({judge.name})", total=len(items))
        for batch in _chunks(items, max(1, batch_size)):
            added += _append(log, [judgment.to_record() for judgment in judge.judge(batch)])
            progress.advance(task, len(batch))
    return added


def _is_current(record: dict[str, Any] | None, item: JudgeInput) -> bool:
    """Whether a kept judgment still fits its item: one for a generation error is redone once
    the generation succeeded (and the other way round)."""
    if record is None:
        return False
    return (record.get("error_source") == GENERATION_ERROR) == bool(item.error)


def _generation_error(item: JudgeInput, judge: str) -> dict[str, Any]:
    error = f"no response to judge: {item.error}"
    return Judgment.failed(item.id, judge, error, error_source=GENERATION_ERROR).to_record()


def _append(log: JsonlLog, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    log.append(records)
    return records


def _generation_record(draw: Draw, response: str, plan: EvalPlan) -> dict[str, Any]:
    request = draw.request
    record: dict[str, Any] = {"id": draw.id}
    if plan.samples_per_prompt > 1:
        record.update(request_id=request.id, sample=draw.sample)
    record.update(category=request.category, prompt=request.prompt, response=str(response))
    finish_reason, error = (getattr(response, key, None) for key in ("finish_reason", "error"))
    if finish_reason is not None:
        record["finish_reason"] = finish_reason
    if error is not None:
        record["error"] = error
    if getattr(response, "draws", 1) > 1:  # responses under --min-response-tokens drawn again
        record["draws"] = response.draws  # type: ignore[attr-defined]
    if getattr(response, "short", False):
        record["under_min_tokens"] = True
    if request.meta:
        record["meta"] = request.meta
    return record


def judge_input(record: dict[str, Any]) -> JudgeInput:
    return JudgeInput(
        id=str(record["id"]),
        prompt=record.get("prompt", ""),
        response=record["response"],
        category=record.get("category") or "uncategorized",
        error=record.get("error") or None,
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
