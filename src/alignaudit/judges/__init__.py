"""Judges and their registry. Providers are imported lazily so optional extras stay optional."""

from alignaudit.judges.base import Judge, JudgeInput, Judgment
from alignaudit.judges.registry import JudgeOptions, available_judges, get_judge, register_judge

__all__ = [
    "Judge",
    "JudgeInput",
    "JudgeOptions",
    "Judgment",
    "available_judges",
    "get_judge",
    "register_judge",
]
