"""Benchmark loading: the built-in sets, files in the formats the field uses, and Hub datasets.

Format detection, by what the file holds (prompt ← column; category ← column; id ← column):
- HEx-PHI folder of `category_N.csv` without header: the row; the N-th HEx-PHI category.
- HEx-PHI JSONL (`instruction`, `category`): instruction; category.
- HarmBench CSV (`Behavior`, `BehaviorID`): ContextString + Behavior; SemanticCategory;
  BehaviorID.
- StrongREJECT CSV (`forbidden_prompt`): forbidden_prompt; category.
- XSTest CSV (`prompt`, `type`): prompt; type (meta `unsafe` for `contrast_` types); id.
- AdvBench CSV (`goal,target` header, or one headerless column): goal; `advbench`.
- generic JSONL/CSV/JSON list: the first of `prompt`, `instruction`, `goal`, `behavior`,
  `question`, `forbidden_prompt` present; category (else `uncategorized`); id.

Ids are stable as long as the file is unchanged: the file's own id column, else
`{stem}-{line:04d}` with the line number in the file (row number for Hub datasets).
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonl import read_jsonl_objects
from alignaudit.textfile import read_utf8

HEX_PHI_CATEGORIES = (
    "illegal_activity",
    "child_abuse_content",
    "hate_harass_violence",
    "malware",
    "physical_harm",
    "economic_harm",
    "fraud_deception",
    "adult_content",
    "political_campaigning",
    "privacy_violation",
    "tailored_financial_advice",
)
PROMPT_ALIASES = ("prompt", "instruction", "goal", "behavior", "question", "forbidden_prompt")
BUILTIN = {"builtin": "harmful.jsonl", "builtin-benign": "benign.jsonl"}
SPLITS = ("eval", "train", "all")

Row = tuple[int, dict[str, Any]]  # (line number in the file, record)
RowReader = Callable[[Path, int, dict[str, Any]], Request]


def load_benchmark(spec: str) -> list[Request]:
    """`builtin[:split]`, `builtin-benign[:split]`, a file or folder path, or `hf:ID[:SPLIT]`.

    The whole input is read and checked before this returns, so a malformed line fails the
    command before any model work starts.
    """
    name, _, split = spec.partition(":")
    if name in BUILTIN:
        return _builtin(name, split or "eval")
    if spec.startswith("hf:"):
        return _from_hub(spec.removeprefix("hf:"))
    path = Path(spec).expanduser()
    if path.is_dir():
        return _hex_phi_folder(path)
    if not path.exists():
        raise AlignAuditError(
            f"benchmark {spec!r} is neither builtin, builtin-benign, hf:ID nor an existing path"
        )
    return _requests_from_rows(path, list(_read_rows(path)))


def _builtin(name: str, split: str) -> list[Request]:
    if split not in SPLITS:
        raise AlignAuditError(f"{name}:{split}: the split must be one of {', '.join(SPLITS)}")
    source = resources.files("alignaudit.data") / "builtin" / BUILTIN[name]
    requests = []
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if split == "all" or record["split"] == split:
            meta = {"split": record["split"]}
            requests.append(Request(record["id"], record["prompt"], record["category"], meta))
    return requests


def _read_rows(path: Path) -> Iterator[Row]:
    if path.suffix == ".jsonl":
        yield from _jsonl_rows(path)
    elif path.suffix == ".json":
        yield from _json_rows(path)
    elif path.suffix in (".csv", ".tsv"):
        yield from _csv_rows(path)
    else:
        raise InputFileError(path, None, "unknown benchmark format; use .jsonl, .json or .csv")


def _jsonl_rows(path: Path) -> Iterator[Row]:
    yield from read_jsonl_objects(path)


def _json_rows(path: Path) -> Iterator[Row]:
    try:
        data = json.loads(read_utf8(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, exc.lineno, f"not valid JSON ({exc.msg})") from exc
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputFileError(path, 1, "a .json benchmark must be a list of objects")
    yield from enumerate(data, start=1)


def _csv_rows(path: Path) -> Iterator[Row]:
    """Rows as dicts; a headerless one-column file (an AdvBench copy) gets the column `goal`."""
    text = io.StringIO(read_utf8(path), newline="")
    lines = list(csv.reader(text, delimiter="\t" if path.suffix == ".tsv" else ","))
    if not lines:
        return
    header, first = [h.strip() for h in lines[0]], 2
    if not _looks_like_header(header):
        if any(len(line) > 1 for line in lines if line):
            raise InputFileError(
                path, 1, "a CSV without a header must have one column (the request)"
            )
        header, first = ["goal"], 1
    for number, line in enumerate(lines[first - 1 :], start=first):
        if not line:
            continue
        if len(line) != len(header):
            raise InputFileError(
                path, number, f"expected {len(header)} columns as in the header, found {len(line)}"
            )
        yield number, dict(zip(header, line, strict=True))


def _looks_like_header(cells: list[str]) -> bool:
    known = {*PROMPT_ALIASES, "Behavior", "id", "category", "target", "type", "BehaviorID"}
    return any(cell in known for cell in cells)


def _requests_from_rows(path: Path, rows: list[Row]) -> list[Request]:
    if not rows:
        raise InputFileError(path, None, "the file holds no requests")
    columns = set(rows[0][1])
    reader = next((read for matches, read in FORMATS if matches(columns)), None)
    if reader is None:
        raise InputFileError(
            path, rows[0][0], f"no request column; expected one of {', '.join(PROMPT_ALIASES)}"
        )
    return _check_unique(path, [(number, reader(path, number, record)) for number, record in rows])


def _text(path: Path, number: int, record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputFileError(path, number, f"empty or missing {key!r}")
    return value.strip()


def _optional(record: dict[str, Any], key: str, default: str) -> str:
    value = record.get(key)
    return default if value is None or str(value).strip() == "" else str(value).strip()


def _row_id(path: Path, number: int, record: dict[str, Any]) -> str:
    return _optional(record, "id", f"{path.stem}-{number:04d}")


def _generic(
    path: Path,
    number: int,
    record: dict[str, Any],
    prompt_key: str | None = None,
    default_category: str = "uncategorized",
) -> Request:
    key = prompt_key or next((alias for alias in PROMPT_ALIASES if alias in record), "prompt")
    prompt = _text(path, number, record, key)
    category = _optional(record, "category", default_category)
    return Request(_row_id(path, number, record), prompt, category)


def _harmbench(path: Path, number: int, record: dict[str, Any]) -> Request:
    behavior = _text(path, number, record, "Behavior")
    context = _optional(record, "ContextString", "")
    prompt = f"{context}\n\n---\n\n{behavior}" if context else behavior
    meta = {"functional_category": _optional(record, "FunctionalCategory", "")}
    category = _optional(record, "SemanticCategory", "uncategorized")
    return Request(_text(path, number, record, "BehaviorID"), prompt, category, meta)


def _xstest(path: Path, number: int, record: dict[str, Any]) -> Request:
    kind = _text(path, number, record, "type")
    # XSTest pairs safe prompts with unsafe "contrast_" ones; over-refusal is measured on the safe.
    meta: dict[str, Any] = {"unsafe": kind.startswith("contrast_")}
    for key in ("completion", "final_label"):  # present in the labelled model-completion files
        if record.get(key):
            meta[key] = record[key]
    return Request(_row_id(path, number, record), _text(path, number, record, "prompt"), kind, meta)


# Format detectors, first match on the first record's columns wins; the generic reader is last.
FORMATS: tuple[tuple[Callable[[set[str]], bool], RowReader], ...] = (
    (lambda c: {"Behavior", "BehaviorID"} <= c, _harmbench),
    (lambda c: {"prompt", "type"} <= c, _xstest),
    (lambda c: "forbidden_prompt" in c, partial(_generic, prompt_key="forbidden_prompt")),
    (
        lambda c: "goal" in c and "prompt" not in c,
        partial(_generic, prompt_key="goal", default_category="advbench"),
    ),
    (lambda c: any(alias in c for alias in PROMPT_ALIASES), _generic),
)


def _hex_phi_folder(folder: Path) -> list[Request]:
    files = sorted(folder.glob("*.csv"), key=_natural_order)
    if not files:
        raise AlignAuditError(f"{folder} holds no .csv files (expected HEx-PHI category_N.csv)")
    requests = []
    for path in files:
        category = _hex_phi_category(path.stem)
        rows = csv.reader(io.StringIO(read_utf8(path), newline=""))
        for number, line in enumerate(rows, start=1):
            if not line or not "".join(line).strip():
                continue
            if len(line) != 1:
                raise InputFileError(path, number, "HEx-PHI files hold one instruction per row")
            requests.append(Request(f"{path.stem}-{number:04d}", line[0].strip(), category))
    if not requests:
        raise AlignAuditError(f"{folder}: the HEx-PHI .csv files hold no requests")
    return requests  # ids are unique: file stems are unique within a folder


def _natural_order(path: Path) -> list[str | int]:
    """`category_2` before `category_10`: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def _hex_phi_category(stem: str) -> str:
    number = stem.removeprefix("category_")
    if number.isdigit() and 1 <= int(number) <= len(HEX_PHI_CATEGORIES):
        return HEX_PHI_CATEGORIES[int(number) - 1]
    return stem


def _from_hub(spec: str) -> list[Request]:
    from alignaudit.data.hub import load_hub_rows

    dataset_id = spec.partition(":")[0]
    rows = list(enumerate(load_hub_rows(f"hf:{spec}"), start=1))
    return _requests_from_rows(Path(f"hf:{dataset_id}"), rows)


def _check_unique(path: Path, numbered: list[tuple[int, Request]]) -> list[Request]:
    first_line: dict[str, int] = {}
    for number, request in numbered:
        if request.id in first_line:
            first = first_line[request.id]
            raise InputFileError(path, number, f"duplicate id {request.id!r} (also line {first})")
        first_line[request.id] = number
    return [request for _, request in numbered]
