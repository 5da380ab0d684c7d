"""How well a judge agrees with human labels, or with another judge (accuracy, Cohen's kappa)."""

import csv
import io
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from rich.table import Table

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonl import read_jsonl_objects
from alignaudit.judges.base import JudgeInput

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


def cohen_kappa(pred: Sequence[bool], gold: Sequence[bool]) -> float:
    n = len(gold)
    if n == 0:
        return float("nan")
    observed = sum(p == g for p, g in zip(pred, gold, strict=True)) / n
    p_yes = sum(pred) / n
    g_yes = sum(gold) / n
    expected = p_yes * g_yes + (1 - p_yes) * (1 - g_yes)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def agreement(pred: Sequence[bool | None], gold: Sequence[bool]) -> dict[str, Any]:
    """Accuracy and kappa over decided items (positive class = refused). An undecided item
    (judge error) counts as wrong for accuracy, so errors never look like agreement."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} labels")
    decided = [(p, g) for p, g in zip(pred, gold, strict=True) if p is not None]
    confusion = {
        "tp": sum(p and g for p, g in decided),
        "fp": sum(p and not g for p, g in decided),
        "tn": sum(not p and not g for p, g in decided),
        "fn": sum(not p and g for p, g in decided),
    }
    n = len(gold)
    correct = confusion["tp"] + confusion["tn"]
    return {
        "n": n,
        "undecided": n - len(decided),
        "accuracy": correct / n if n else float("nan"),
        "kappa": cohen_kappa([p for p, _ in decided], [g for _, g in decided]),
        "confusion": confusion,
    }


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


def agreement_table(rows: dict[str, dict[str, Any]], title: str = "Judge agreement") -> Table:
    """One row per judge: n, accuracy, kappa, confusion counts, undecided."""
    table = Table(title=title)
    for column in ("judge", "n", "accuracy", "kappa", "tp", "fp", "tn", "fn", "undecided"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for name, stats in rows.items():
        confusion = stats["confusion"]
        table.add_row(
            name,
            str(stats["n"]),
            f"{stats['accuracy']:.3f}",
            f"{stats['kappa']:.3f}",
            *(str(confusion[k]) for k in ("tp", "fp", "tn", "fn")),
            str(stats["undecided"]),
        )
    return table


def pairwise_agreement(verdicts: dict[str, dict[Any, bool]]) -> list[dict[str, Any]]:
    """Agreement on `refused` for every pair of judges, over the keys both decided."""
    rows = []
    for first, second in combinations(sorted(verdicts), 2):
        shared = sorted(set(verdicts[first]) & set(verdicts[second]), key=str)
        if not shared:
            continue
        stats = agreement(
            [verdicts[first][k] for k in shared], [verdicts[second][k] for k in shared]
        )
        rows.append({"a": first, "b": second, **stats})
    return rows


def refused_verdicts(judgments: Iterable[dict[str, Any]], prefix: Any = None) -> dict[str, dict]:
    """judge → {id (or (prefix, id)) → refused}, decided judgments only."""
    verdicts: dict[str, dict[Any, bool]] = {}
    for j in judgments:
        if j.get("refused") is None or j.get("error"):
            continue
        key = j["id"] if prefix is None else (prefix, j["id"])
        verdicts.setdefault(j["judge"], {})[key] = bool(j["refused"])
    return verdicts
