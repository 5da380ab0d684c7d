"""The files of a run directory, written so that a kill at any instant loses at most one batch.

JSONL logs are appended to (flushed and fsynced per batch); a torn last line, which is all
a kill mid-write can leave, is cut off before the next append. Generations are appended as they
finish, so once a run has them all its log is put back in request order (`reorder`: a rewrite
that keeps every line). Whole files go through a temporary file and an atomic rename.
"""

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonfiles import changed_keys, write_json_atomic, write_text_atomic
from alignaudit.jsonl import iter_jsonl, latest_by_key
from alignaudit.textfile import BOM

# Re-exported: run code imports them from here.
__all__ = [
    "JsonlLog",
    "RunDir",
    "changed_keys",
    "read_json",
    "write_json_atomic",
    "write_text_atomic",
]


class JsonlLog:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """The records, one per (id, judge): the newest wins (see `latest_by_key`)."""
        if not self.path.exists():
            return []
        if self.path.is_dir():
            raise AlignAuditError(f"{self.path} is a directory; expected a JSONL file")
        lines = iter_jsonl(
            self.path, complete_lines_only=True, hint="; repair or delete that line and rerun"
        )
        return latest_by_key([record for _, record in lines])

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def reorder(self, ids: Sequence[str]) -> None:
        """Put the lines in the order of their records' `ids` (lines of one id keep their
        order, ids not listed go last), atomically, every line kept byte for byte; nothing is
        written when they are in that order already."""
        if not self.path.is_file():
            return
        rank = {record_id: position for position, record_id in enumerate(ids)}
        numbered = iter_jsonl(
            self.path, complete_lines_only=True, hint="; repair or delete that line and rerun"
        )
        order = [(rank.get(str(record.get("id")), len(rank)), n) for n, record in numbered]
        if order == sorted(order):
            return
        data = self.path.read_bytes().removeprefix(BOM)
        lines = data[: data.rfind(b"\n") + 1].decode("utf-8").split("\n")
        write_text_atomic(self.path, "".join(lines[n - 1] + "\n" for _, n in sorted(order)))

    def _drop_torn_tail(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlignAuditError(f"{path} does not exist; is this a run directory?") from None
    except NotADirectoryError:
        raise AlignAuditError(
            f"{path.parent} is a file, not a run directory; give the directory `eval` wrote"
        ) from None
    except IsADirectoryError:
        raise AlignAuditError(f"{path} is a directory; expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, exc.lineno, f"not valid JSON ({exc.msg})") from None


class RunDir:
    """`config.json`, `generations.jsonl`, `judgments.jsonl`, `results.json` (CONTRACT.md)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.generations = JsonlLog(self.path / "generations.jsonl")
        self.judgments = JsonlLog(self.path / "judgments.jsonl")
        self.config_path = self.path / "config.json"
        self.results_path = self.path / "results.json"

    def prepare(self, config: dict[str, Any], overwrite: bool = False) -> None:
        """Start or resume a run. What decides the outputs (`config["run"]`) must not change;
        new judges may be added to an existing run."""
        if self.path.exists() and not self.path.is_dir():
            raise AlignAuditError(f"--out {self.path} is a file; give a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        config = dict(config)
        if self.config_path.exists():
            old = self.read_config()
            changes = changed_keys(old.get("run"), config.get("run"))
            # A start that failed before any result holds nothing to keep.
            if changes and not overwrite and self.has_results():
                raise AlignAuditError(
                    f"{self.path} holds a run with another configuration (changed: "
                    f"{', '.join(changes)}); use another --out, or --overwrite to discard it"
                )
            if changes:
                self.discard()
            else:
                judges = list(old.get("judges", []))
                config["judges"] = judges + [j for j in config.get("judges", []) if j not in judges]
        write_json_atomic(self.config_path, config)

    def has_results(self) -> bool:
        """Whether any request got a response (generation errors do not count)."""
        return any(not record.get("error") for record in self.generations.read())

    def discard(self) -> None:
        for log in (self.generations, self.judgments):
            log.clear()
        self.results_path.unlink(missing_ok=True)

    def read_config(self) -> dict[str, Any]:
        return read_json(self.config_path)

    def read_results(self) -> dict[str, Any]:
        return read_json(self.results_path)

    def write_results(self, results: dict[str, Any]) -> None:
        write_json_atomic(self.results_path, results)
