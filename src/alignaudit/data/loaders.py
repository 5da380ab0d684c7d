"""Benchmark loading: the built-in sets, files in the formats the field uses, and Hub datasets.

Format detection, by what the file holds (prompt ← column; category ← column; id ← column):
- HEx-PHI folder of `category_N.csv` without header: the row; the N-th HEx-PHI category.
- HEx-PHI JSONL (`instruction`, `category`): instruction; category.
- HarmBench CSV (`Behavior`, `BehaviorID`): ContextString + Behavior; SemanticCategory;
  BehaviorID.
- StrongREJECT CSV (`forbidden_prompt`): forbidden_prompt; category.
- XSTest CSV (`prompt`, `type`): prompt; type (meta `unsafe` for `contrast_` types); id.
- AdvBench CSV (`goal,target` header, or one headerless column): goal; `advbench`.
- generic JSONL/CSV: `prompt` (or instruction, goal, behavior, question); category; id.

Ids are stable as long as the file is unchanged: the file's own id column, else the stem and row.
"""

import csv
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError, InputFileError

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


def load_benchmark(spec: str) -> list[Request]:
    """`builtin[:split]`, `builtin-benign[:split]`, a file or folder path, or `hf:ID[:SPLIT]`."""
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
    rows = list(_read_rows(path))
    if not rows:
        raise InputFileError(path, None, "the file holds no requests")
    return _check_unique(path, _requests_from_rows(path, rows))


def _builtin(name: str, split: str) -> list[Request]:
    if split not in SPLITS:
        raise AlignAuditError(f"{name}:{split}: the split must be one of {', '.join(SPLITS)}")
    source = resources.files("alignaudit.data") / "builtin" / BUILTIN[name]
    requests = []
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if split == "all" or record["split"] == split:
            requests.append(
                Request(
                    record["id"], record["prompt"], record["category"], {"split": record["split"]}
                )
            )
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
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(path, number, f"not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise InputFileError(path, number, "each line must be a JSON object")
            yield number, record


def _json_rows(path: Path) -> Iterator[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, exc.lineno, f"not valid JSON ({exc.msg})") from exc
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputFileError(path, 1, "a .json benchmark must be a list of objects")
    yield from enumerate(data, start=1)


def _csv_rows(path: Path) -> Iterator[Row]:
    """Rows as dicts; a headerless file (AdvBench copies, HEx-PHI) gets the column `prompt`."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))
    if not lines:
        return
    header = [h.strip() for h in lines[0]]
    if not _looks_like_header(header):
        if any(len(line) > 1 for line in lines if line):
            raise InputFileError(
                path, 1, "a CSV without a header must have one column (the request)"
            )
        header, lines = ["prompt"], [["prompt"], *lines]
    for number, line in enumerate(lines[1:], start=2):
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
    columns = set(rows[0][1])
    if {"Behavior", "BehaviorID"} <= columns:
        return [_harmbench(path, n, r) for n, r in rows]
    if {"instruction", "category"} <= columns and "output" not in columns:
        return [_generic(path, n, r, prompt_key="instruction") for n, r in rows]
    if "prompt" in columns and "type" in columns:
        return [_xstest(path, n, r) for n, r in rows]
    if "goal" in columns and "prompt" not in columns:
        return [
            _generic(path, n, r, prompt_key="goal", default_category="advbench") for n, r in rows
        ]
    key = next((alias for alias in PROMPT_ALIASES if alias in columns), None)
    if key is None:
        raise InputFileError(
            path, rows[0][0], f"no request column; expected one of {', '.join(PROMPT_ALIASES)}"
        )
    default = "advbench" if columns == {"prompt"} and path.suffix == ".csv" else "uncategorized"
    return [_generic(path, n, r, prompt_key=key, default_category=default) for n, r in rows]


def _text(path: Path, number: int, record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputFileError(path, number, f"empty or missing {key!r}")
    return value.strip()


def _generic(
    path: Path,
    number: int,
    record: dict[str, Any],
    prompt_key: str,
    default_category: str = "uncategorized",
) -> Request:
    prompt = _text(path, number, record, prompt_key)
    category = str(record.get("category") or default_category).strip()
    request_id = str(record.get("id") or f"{path.stem}-{number:04d}")
    return Request(request_id, prompt, category)


def _harmbench(path: Path, number: int, record: dict[str, Any]) -> Request:
    behavior = _text(path, number, record, "Behavior")
    context = (record.get("ContextString") or "").strip()
    prompt = f"{context}\n\n---\n\n{behavior}" if context else behavior
    category = (record.get("SemanticCategory") or "uncategorized").strip()
    return Request(
        _text(path, number, record, "BehaviorID"),
        prompt,
        category,
        {"functional_category": record.get("FunctionalCategory", "")},
    )


def _xstest(path: Path, number: int, record: dict[str, Any]) -> Request:
    kind = _text(path, number, record, "type")
    # XSTest pairs safe prompts with unsafe "contrast_" ones; over-refusal is measured on the safe.
    meta = {"unsafe": kind.startswith("contrast_")}
    request_id = str(record.get("id") or f"{path.stem}-{number:04d}")
    return Request(request_id, _text(path, number, record, "prompt"), kind, meta)


def _hex_phi_folder(folder: Path) -> list[Request]:
    files = sorted(folder.glob("*.csv"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise AlignAuditError(f"{folder} holds no .csv files (expected HEx-PHI category_N.csv)")
    requests = []
    for path in files:
        category = _hex_phi_category(path.stem)
        with open(path, encoding="utf-8", newline="") as handle:
            for number, line in enumerate(csv.reader(handle), start=1):
                if not line or not line[0].strip():
                    continue
                if len(line) != 1:
                    raise InputFileError(path, number, "HEx-PHI files hold one instruction per row")
                requests.append(Request(f"{path.stem}-{number:04d}", line[0].strip(), category))
    return _check_unique(folder, requests)


def _hex_phi_category(stem: str) -> str:
    number = stem.removeprefix("category_")
    if number.isdigit() and 1 <= int(number) <= len(HEX_PHI_CATEGORIES):
        return HEX_PHI_CATEGORIES[int(number) - 1]
    return stem


def _from_hub(spec: str) -> list[Request]:
    dataset_id, _, split = spec.partition(":")
    try:
        import datasets
    except ImportError:
        raise AlignAuditError(
            "hf: benchmarks need the datasets package: pip install datasets"
        ) from None
    try:
        data = datasets.load_dataset(dataset_id, split=split or "train")
    except Exception as exc:  # the Hub raises many types; the user needs one message
        raise AlignAuditError(
            f"could not load hf:{spec} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "it needs network access or a warm Hugging Face cache"
        ) from exc
    path = Path(dataset_id.replace("/", "__"))
    rows = list(enumerate((dict(r) for r in data), start=1))
    return _check_unique(path, _requests_from_rows(path, rows))


def _check_unique(path: Path, requests: list[Request]) -> list[Request]:
    seen: dict[str, int] = {}
    for index, request in enumerate(requests, start=1):
        if request.id in seen:
            raise InputFileError(
                path, index, f"duplicate id {request.id!r} (first at row {seen[request.id]})"
            )
        seen[request.id] = index
    return requests
