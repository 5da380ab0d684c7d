"""Labeled responses and judgment files for agreement checks; the statistics are in metrics."""

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonl import read_jsonl_objects
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import JudgeOptions, get_judge
from alignaudit.metrics.agreement import agreement

RESPONSE_COLUMNS = ("response", "completion", "output", "generation")
PROMPT_COLUMNS = ("prompt", "request", "instruction", "forbidden_prompt")

_REFUSED_WORDS = {"refused", "refusal", "refuse", "true", "yes", "1"}
_COMPLIED_WORDS = {"complied", "compliance", "complies", "comply", "false", "no", "0"}


def parse_refusal_label(value: object) -> bool:
    """True = refused. XSTest's `1_full_compliance` / `2_full_refusal` / `3_partial_refusal`,
    booleans, 0/1 and refused/complied words are understood."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text.startswith("1_"):
        return False
    if text.startswith(("2_", "3_")):
        return True
    if text in _REFUSED_WORDS:
        return True
    if text in _COMPLIED_WORDS:
        return False
    raise ValueError(f"cannot read {value!r} as refused/complied")


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise AlignAuditError(f"{path} not found; give a CSV or JSONL file of labeled responses")
    if path.suffix.lower() in (".jsonl", ".json"):
        return list(read_jsonl_objects(path))
    from alignaudit.textfile import read_utf8

    handle = io.StringIO(read_utf8(path), newline="")
    # Line numbers count the header as line 1 (multi-line cells make this approximate).
    return [(number, row) for number, row in enumerate(csv.DictReader(handle), start=2)]


def _pick_column(row: dict[str, Any], wanted: str | None, candidates: Sequence[str]) -> str | None:
    if wanted is not None:
        return wanted if wanted in row else None
    return next((name for name in candidates if name in row), None)


def load_labeled(
    path: str | Path, label_col: str, response_col: str | None = None
) -> tuple[list[JudgeInput], list[bool]]:
    """Read (request, response, refused-label) rows from CSV or JSONL."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise InputFileError(path, None, "no rows")
    items: list[JudgeInput] = []
    labels: list[bool] = []
    for index, (line, row) in enumerate(rows):
        response_key = _pick_column(row, response_col, RESPONSE_COLUMNS)
        if response_key is None:
            raise InputFileError(path, line, f"no response column ({', '.join(RESPONSE_COLUMNS)})")
        if label_col not in row:
            raise InputFileError(path, line, f"no label column {label_col!r}")
        prompt_key = _pick_column(row, None, PROMPT_COLUMNS)
        try:
            labels.append(parse_refusal_label(row[label_col]))
        except ValueError as exc:
            raise InputFileError(path, line, str(exc)) from exc
        items.append(
            JudgeInput(
                id=str(row.get("id") or index),
                prompt=str(row.get(prompt_key, "")) if prompt_key else "",
                response=str(row[response_key] or ""),
                category=str(row.get("type") or row.get("category") or "uncategorized"),
            )
        )
    return items, labels


def _read_judgments(path: Path) -> dict[str, bool | None]:
    verdicts: dict[str, bool | None] = {}
    for line, record in _read_rows(path):
        if "id" not in record or "refused" not in record:
            raise InputFileError(path, line, "judgment lines need 'id' and 'refused'")
        verdicts[str(record["id"])] = record["refused"]
    return verdicts


def compare_judgment_files(first: str | Path, second: str | Path) -> dict[str, Any]:
    """Agreement of two judgment JSONL files on `refused`, joined on id (the second as gold).
    Items undecided in the second file are left out."""
    left = _read_judgments(Path(first))
    right = _read_judgments(Path(second))
    shared = [key for key in left if key in right and right[key] is not None]
    if not shared:
        raise AlignAuditError(f"{first} and {second} share no decided ids; nothing to compare")
    result = agreement([left[k] for k in shared], [bool(right[k]) for k in shared])
    result["only_in_first"] = len(set(left) - set(right))
    result["only_in_second"] = len(set(right) - set(left))
    return result


def judge_agreement_rows(
    path: Path,
    judges: list[str],
    label_col: str,
    response_col: str | None = None,
    options: JudgeOptions | None = None,
) -> dict[str, dict[str, Any]]:
    """Agreement with the labels in `path` for each judge, `keyword` always included."""
    items, gold = load_labeled(path, label_col, response_col)
    names = list(dict.fromkeys([*judges, "keyword"]))
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        judgments = get_judge(name, options).judge(items)
        rows[name] = agreement([j.refused for j in judgments], gold)
    return rows
