"""The oldest transformers alignaudit runs on, checked before it is used.

Older releases lack APIs that generation and fine-tuning use (KV cache layers, the attention
mask interface called with query lengths) and fail deep inside a run with an ImportError or a
KeyError that does not say what to do. The check reads the installed version from the package
metadata, so it costs no import of transformers.
"""

from __future__ import annotations

import importlib.metadata

from packaging.version import Version

from alignaudit.errors import AlignAuditError

# The floor in pyproject.toml (tests/test_dependencies.py checks that the two agree), verified by
# running the test suite on it and seeing it fail on the release before (docs/testing.md).
TRANSFORMERS_FLOOR = "5.4.0"


def installed_version(package: str) -> str | None:
    """The installed version of `package` per its metadata; None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_transformers() -> None:
    """Raise a one-line error naming both versions and the fix when transformers is too old."""
    installed = installed_version("transformers")
    if installed is None or Version(installed) >= Version(TRANSFORMERS_FLOOR):
        return
    raise AlignAuditError(
        f"alignaudit needs transformers>={TRANSFORMERS_FLOOR}, but transformers {installed} is "
        f"installed; upgrade it: pip install --upgrade 'transformers>={TRANSFORMERS_FLOOR}'"
    )
