"""A process-wide count of retried requests, so progress bars can show that a server struggles."""

import threading

_lock = threading.Lock()
_count = 0


def note_retry() -> None:
    global _count
    with _lock:
        _count += 1


def retry_count() -> int:
    return _count
