"""JSON files written whole: atomically (a temporary file and a rename), and compared by key.

Run directories (runs/store) and API fine-tuning records (attacks/api_job_store) both use them.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError, InputFileError


def write_text_atomic(path: Path, text: str) -> None:
    if path.is_dir():
        raise AlignAuditError(f"{path} is a directory; give a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json_file(path: Path) -> Any:
    """The JSON value in an existing file; invalid JSON is an error naming file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, exc.lineno, f"not valid JSON ({exc.msg})") from None


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [
            change
            for key in keys
            for change in changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [prefix.rstrip(".") or "(all)"]
