"""Judge existing responses (a run directory or a JSONL file) without generating."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignaudit.judges import JudgeOptions
from alignaudit.metrics import compute_results
from alignaudit.outputs import check_output_file
from alignaudit.runs.evaluate import judge_template_text
from alignaudit.runs.fill import judge_input, judge_missing
from alignaudit.runs.lock import exclusive
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
    timeout: float = 120.0
    retry_errors: bool = True
    judge_template: Path | None = None  # the rubric judge's prompt, the user's own


def run_score(options: ScoreOptions) -> dict[str, Any]:
    """Append the missing judgments to `options.out`; returns results over all of them.

    Never writes over the input or a run's own files; one process at a time per output file."""
    judge_options = JudgeOptions(
        judge_model=options.judge_model,
        base_url=options.judge_base_url,
        concurrency=options.concurrency,
        timeout=options.timeout,
        judge_template=judge_template_text(options.judge_template),
    )
    out = Path(options.out)
    check_output_file(out, [Path(options.input)])
    with exclusive(out, directory=False):
        records = read_responses(Path(options.input))
        items = [judge_input(r) for r in records]
        judgments = judge_missing(
            items, options.judges, judge_options, JsonlLog(out), options.retry_errors
        )
    return compute_results(records, judgments)
