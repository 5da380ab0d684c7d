"""Reading JSONL: one JSON object per line, errors that name the file and line.

The one reader for every JSONL file: user inputs (benchmarks, responses to score) and the logs
of a run directory, whose last line may be torn by a kill mid-write. The torn tail is cut at the
byte level, before decoding, so a cut inside a multi-byte character is harmless too.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignaudit.errors import InputFileError
from alignaudit.textfile import decode_utf8


def read_jsonl_objects(
    path: Path, *, torn_tail_ok: bool = False, repair_hint: str = ""
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a byte-order mark is tolerated.

    With `torn_tail_ok`, a last line without its newline (a write cut short) is ignored.
    """
    data = Path(path).read_bytes()
    if torn_tail_ok:
        data = data[: data.rfind(b"\n") + 1]
    text = decode_utf8(path, data)
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, number, f"not valid JSON ({exc.msg}){repair_hint}") from None
        if not isinstance(record, dict):
            raise InputFileError(path, number, f"each line must be a JSON object{repair_hint}")
        yield number, record


def record_key(record: dict[str, Any]) -> tuple[str, Any]:
    """What a record is about: its id, and its judge for judgment lines."""
    return str(record.get("id")), record.get("judge")


def latest_by_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (id, judge): the last one written, at the place of the first.

    Two processes on one run, or a retried error, leave several lines for one key; the last
    is the newest answer.
    """
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for record in records:
        key = record_key(record)
        latest[key] = record
    return list(latest.values())
