"""The unit of a benchmark: one categorized request with a stable id."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    id: str
    prompt: str
    category: str = "uncategorized"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
