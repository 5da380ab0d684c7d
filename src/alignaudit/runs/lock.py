"""One process per run (or audit) directory: an exclusive `flock` held while the process works.

Two `eval` processes appending to one run would interleave their lines and judge every request
twice. The lock is a file in the directory (beside an output file) holding the holder's PID, so
the refusal can say who holds it. It is removed on release; the kernel releases the lock when
the process dies, so a file a `kill -9` leaves behind locks nothing. The same process may take
the same lock again (an audit runs evaluations inside its directory).
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alignaudit.errors import AlignAuditError

LOCK_NAME = ".alignaudit.lock"

_held: dict[Path, tuple[int, int]] = {}  # lock file → (descriptor, how many holders in-process)


def lock_path_for(target: Path, directory: bool) -> Path:
    """The lock file of a directory (inside it), or of an output file (beside it)."""
    return target / LOCK_NAME if directory else target.with_name(f".{target.name}.lock")


@contextmanager
def exclusive(target: Path | str, directory: bool = True) -> Iterator[None]:
    """Hold the lock of `target` for the body; AlignAuditError naming the holder's PID if busy."""
    if directory and Path(target).exists() and not Path(target).is_dir():
        raise AlignAuditError(f"{target} is a file; give a directory")
    path = lock_path_for(Path(target), directory).resolve()
    if path in _held:
        descriptor, count = _held[path]
        _held[path] = (descriptor, count + 1)
    else:
        _held[path] = (_acquire(path, Path(target)), 1)
    try:
        yield
    finally:
        descriptor, count = _held[path]
        if count > 1:
            _held[path] = (descriptor, count - 1)
        else:
            del _held[path]
            path.unlink(missing_ok=True)  # still locked: no one can take a half-removed lock
            os.close(descriptor)


def _acquire(path: Path, target: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise AlignAuditError(
                f"{target} is in use by another alignaudit process (PID {holder}); wait for it "
                "to finish, or stop it, then rerun"
            ) from None
        if _same_file(descriptor, path):
            break
        os.close(descriptor)  # the holder removed it between our open and lock: take the new one
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False
