"""Responses to score: a run directory, or a user's JSONL of {id, prompt, response[, category]}."""

from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonl import read_jsonl_objects
from alignaudit.runs.store import RunDir

REQUIRED = ("id", "prompt", "response")


def read_responses(source: Path) -> list[dict[str, Any]]:
    if source.is_dir():
        run = RunDir(source)
        if not run.generations.path.exists():
            raise AlignAuditError(f"{source} has no generations.jsonl; is it a run directory?")
        return run.generations.read()
    if not source.exists():
        raise AlignAuditError(f"{source} does not exist")
    return _read_jsonl(source)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, record in read_jsonl_objects(path):
        missing = [key for key in REQUIRED if not isinstance(record.get(key), str | int)]
        if missing:
            raise InputFileError(path, number, f"missing {', '.join(missing)}")
        if not isinstance(record["response"], str) or not isinstance(record["prompt"], str):
            raise InputFileError(path, number, "prompt and response must be strings")
        record["id"] = str(record["id"])
        if record["id"] in seen:
            raise InputFileError(path, number, f"duplicate id {record['id']!r}")
        seen.add(record["id"])
        record.setdefault("category", "uncategorized")
        records.append(record)
    if not records:
        raise InputFileError(path, None, "no responses in the file")
    return records
