"""The one JSON-lines reader: user files, run logs and training data all go through it, with
errors that name the file and line."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignaudit.errors import InputFileError


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
    with open(path, encoding="utf-8-sig") as handle:
        text = handle.read()
    if complete_lines_only:
        text = text[: text.rfind("\n") + 1]
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


def read_jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a user's JSONL file."""
    return iter_jsonl(path)
