"""Judge existing responses (a run directory or a JSONL file) without generating."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignaudit.judges import JudgeOptions
from alignaudit.metrics import compute_results
from alignaudit.runs.evaluate import judge_template_text
from alignaudit.runs.fill import judge_input, judge_missing
from alignaudit.runs.responses import read_responses
from alignaudit.runs.store import JsonlLog


@dataclass
class ScoreOptions:
    input: Path
    out: Path
    judges: list[str] = field(default_factory=lambda: ["keyword"])
    judge_model: str | None = None
    judge_base_url: str | None = None
    concurrency: int = 8
    judge_template: Path | None = None  # the rubric judge's prompt, the user's own


def run_score(options: ScoreOptions) -> dict[str, Any]:
    """Append the missing judgments to `options.out`; returns results over all of them."""
    records = read_responses(Path(options.input))
    judge_options = JudgeOptions(
        judge_model=options.judge_model,
        base_url=options.judge_base_url,
        concurrency=options.concurrency,
        judge_template=judge_template_text(options.judge_template),
    )
    log = JsonlLog(options.out)
    judge_missing([judge_input(r) for r in records], options.judges, judge_options, log)
    return compute_results(records, log.read())
