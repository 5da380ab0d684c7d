"""Where a command may write: never over one of its inputs, a run's own files, or a directory."""

from collections.abc import Iterable
from pathlib import Path

from alignaudit.errors import AlignAuditError
from alignaudit.runs.lock import LOCK_NAME

# What `eval` and `audit` write into their directories and read back on resume.
RUN_FILES = frozenset(
    {"config.json", "generations.jsonl", "judgments.jsonl", "results.json", "sweep.json", LOCK_NAME}
)


def check_output_file(out: Path, inputs: Iterable[Path] = (), flag: str = "--out") -> None:
    """AlignAuditError unless `out` is a file this command may (over)write."""
    if out.is_dir():
        raise AlignAuditError(f"{flag} {out} is a directory; give a file name to write")
    target = out.resolve()
    for source in inputs:
        source = source.resolve()
        if target == source or (source.is_dir() and target == source / "generations.jsonl"):
            raise AlignAuditError(f"{flag} {out} is an input of this command; write elsewhere")
    if target.name in RUN_FILES and _is_run_directory(target.parent):
        raise AlignAuditError(
            f"{flag} {out} is a file of the run in {target.parent}; write elsewhere"
        )


def _is_run_directory(folder: Path) -> bool:
    return any((folder / name).exists() for name in ("config.json", "results.json"))


def check_output_directory(out: Path, inputs: Iterable[Path] = (), flag: str = "--out") -> None:
    """AlignAuditError if replacing directory `out` would delete an input or a run."""
    target = out.resolve()
    for source in inputs:
        source = source.resolve()
        if source == target or target in source.parents:
            raise AlignAuditError(f"{flag} {out} holds an input of this command; write elsewhere")
    if (target / "generations.jsonl").exists() or (target / "judgments.jsonl").exists():
        raise AlignAuditError(f"{flag} {out} is a run directory; write elsewhere")
