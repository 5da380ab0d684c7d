"""The one JSON-lines reader: user files, run logs and training data all go through it, with
errors that name the file and line."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignaudit.errors import InputFileError
from alignaudit.textfile import decode_utf8


def iter_jsonl(
    path: Path,
    *,
    objects_only: bool = True,
    complete_lines_only: bool = False,
    hint: str = "",
) -> Iterator[tuple[int, Any]]:
    """(line number, value) for every non-blank line; a byte-order mark is tolerated.

    complete_lines_only: ignore a last line without its newline (an append-only log's torn tail,
    all a kill mid-write can leave). hint: appended to the invalid-JSON message.
    """
    data = Path(path).read_bytes()
    if complete_lines_only:  # cut at the byte level: a kill may cut a multi-byte character
        data = data[: data.rfind(b"\n") + 1]
    text = decode_utf8(path, data)
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, number, f"not valid JSON ({exc.msg}){hint}") from None
        if objects_only and not isinstance(value, dict):
            raise InputFileError(path, number, "each line must be a JSON object")
        yield number, value


def record_key(record: dict[str, Any]) -> tuple[str, Any]:
    """What a record is about: its id, and its judge for judgment lines."""
    return str(record.get("id")), record.get("judge")


def latest_by_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (id, judge): the last one written, at the place of the first.

    Two processes on one run (before runs were locked), or a retried error, leave several lines
    for one key; the last is the newest answer.
    """
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for record in records:
        latest[record_key(record)] = record
    return list(latest.values())


def read_jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a user's JSONL file."""
    return iter_jsonl(path)
