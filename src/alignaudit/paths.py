"""Where alignaudit keeps its caches (converted models, organisms, judge weights)."""

import os
from pathlib import Path


def home() -> Path:
    """`$ALIGNAUDIT_HOME`, default `~/.cache/alignaudit`; created on first use."""
    root = Path(os.environ.get("ALIGNAUDIT_HOME", Path.home() / ".cache" / "alignaudit"))
    root.mkdir(parents=True, exist_ok=True)
    return root
