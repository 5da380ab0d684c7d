"""`score`: judge existing responses (a run directory or a user's JSONL) into a judgments JSONL."""

from pathlib import Path
from typing import Any

from alignaudit.judges import JudgeOptions
from alignaudit.outputs import check_output_file
from alignaudit.runs.evaluate import _judge_input, judge_missing
from alignaudit.runs.lock import exclusive
from alignaudit.runs.responses import read_responses
from alignaudit.runs.store import JsonlLog


def score_responses(
    source: Path,
    out: Path,
    judges: list[str],
    options: JudgeOptions,
    retry_errors: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(responses, judgments); resumes `out`, never writes over the input or a run's files."""
    check_output_file(out, [source])
    with exclusive(out, directory=False):
        records = read_responses(source)
        log = JsonlLog(out)
        items = [_judge_input(record) for record in records]
        return records, judge_missing(items, judges, options, log, retry_errors)
