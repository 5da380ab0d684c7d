"""Reading user-supplied JSONL: one JSON object per line, errors that name the file and line."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignaudit.errors import InputFileError


def read_jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a byte-order mark is tolerated."""
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(path, number, f"not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise InputFileError(path, number, "each line must be a JSON object")
            yield number, record
