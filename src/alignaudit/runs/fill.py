"""Fill a run directory: generate what is missing, judge what is missing, recompute results.

Everything is keyed by request id (and judge name), so rerunning after an interruption or with
an extra judge does only the remaining work and never writes a line twice.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import Generator
from alignaudit.judges import JudgeInput, JudgeOptions, available_judges, get_judge
from alignaudit.metrics import compute_results
from alignaudit.progress import progress_bar
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


def fill_run(plan: EvalPlan) -> dict[str, Any]:
    unknown = [name for name in plan.judges if name not in available_judges()]
    if unknown:
        raise AlignAuditError(
            f"unknown judge {unknown[0]!r}; choose from: {', '.join(available_judges())}"
        )
    plan.run_dir.prepare(plan.config, plan.overwrite)
    generations = generate_missing(plan)
    judgments = judge_missing(
        [judge_input(g) for g in generations],
        plan.judges,
        plan.judge_options,
        plan.run_dir.judgments,
    )
    results = compute_results(generations, judgments)
    plan.run_dir.write_results(results)
    return results


def generate_missing(plan: EvalPlan) -> list[dict[str, Any]]:
    """All generations of the plan's requests, in request order, generating only the missing."""
    log = plan.run_dir.generations
    done = {record["id"]: record for record in log.read()}
    missing = [request for request in plan.requests if request.id not in done]
    if missing:
        generator = plan.make_generator()
        with progress_bar() as progress:
            task = progress.add_task("generating", total=len(missing))
            for batch in _chunks(missing, max(1, plan.batch_size)):
                responses = generator.generate([request.prompt for request in batch])
                pairs = zip(batch, responses, strict=True)
                records = [_generation_record(request, text) for request, text in pairs]
                log.append(records)
                done.update((record["id"], record) for record in records)
                progress.advance(task, len(batch))
    return [done[request.id] for request in plan.requests]


def judge_missing(
    items: Sequence[JudgeInput], judges: Sequence[str], options: JudgeOptions, log: JsonlLog
) -> list[dict[str, Any]]:
    """Every judge's verdict on every item, asking each judge only about the missing ones."""
    existing = log.read()
    judged = {(record["id"], record["judge"]) for record in existing}
    for name in judges:
        todo = [item for item in items if (item.id, name) not in judged]
        if not todo:
            continue
        judge = get_judge(name, options)
        with progress_bar() as progress:
            task = progress.add_task(f"judging ({name})", total=len(todo))
            for batch in _chunks(todo, max(1, options.batch_size)):
                records = [judgment.to_record() for judgment in judge.judge(batch)]
                log.append(records)
                existing += records
                progress.advance(task, len(batch))
    return existing


def _generation_record(request: Request, response: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": request.id,
        "category": request.category,
        "prompt": request.prompt,
        "response": response,
    }
    if request.meta:
        record["meta"] = request.meta
    return record


def judge_input(record: dict[str, Any]) -> JudgeInput:
    return JudgeInput(
        id=str(record["id"]),
        prompt=record.get("prompt", ""),
        response=record["response"],
        category=record.get("category") or "uncategorized",
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
