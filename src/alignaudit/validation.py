"""Checks of option values, run where an options object is built, so every command that takes
the option refuses a bad value the same way: one line naming the flag (exit code 2)."""

import re
from collections.abc import Iterable
from typing import Any

from alignaudit.errors import AlignAuditError

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _refuse(field: str, value: Any, rule: str) -> AlignAuditError:
    return AlignAuditError(f"{flag(field)} {value}: {rule}")


def at_least(options: Any, minimum: float, *fields: str) -> None:
    """Each field (None allowed: it means a default) is a number >= minimum."""
    for field in fields:
        value = getattr(options, field)
        if value is not None and not value >= minimum:
            raise _refuse(field, value, f"must be at least {minimum:g}")


def positive(options: Any, *fields: str) -> None:
    """Each field (None allowed) is a number > 0."""
    for field in fields:
        value = getattr(options, field)
        if value is not None and not value > 0:
            raise _refuse(field, value, "must be greater than 0")


def within(
    options: Any,
    field: str,
    low: float,
    high: float,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> None:
    value = getattr(options, field)
    if value is None:
        return
    above = value > low if open_low else value >= low
    below = value < high if open_high else value <= high
    if not (above and below):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise _refuse(field, value, f"must lie in {interval}")


def one_of(options: Any, field: str, choices: Iterable[str]) -> None:
    value, choices = getattr(options, field), list(choices)
    if value not in choices:
        raise _refuse(field, value, f"choose one of {', '.join(choices)}")


def device(options: Any, field: str = "device") -> None:
    value = getattr(options, field)
    if not DEVICE_PATTERN.fullmatch(str(value)):
        raise _refuse(field, value, "choose auto, cpu, cuda, cuda:N or mps")
