"""Name → judge factory. Entries are "module:callable" strings, imported on first use."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from alignaudit import validation
from alignaudit.errors import AlignAuditError
from alignaudit.judges.base import Judge


@dataclass
class JudgeOptions:
    """Everything a judge factory may need; each judge reads only its own fields."""

    judge_model: str | None = (
        None  # e.g. "openai:gpt-4o" for rubric judges, a folder for local ones
    )
    base_url: str | None = None
    batch_size: int = 16
    max_retries: int = 3
    concurrency: int = 8
    device: str | None = None
    timeout: float = 120.0  # seconds per request to a judge server
    judge_template: str | None = None  # the rubric judge's prompt, with {instruction}/{response}

    def __post_init__(self) -> None:
        validation.at_least(self, 1, "batch_size", "concurrency")
        validation.at_least(self, 0, "max_retries")
        validation.positive(self, "timeout")


JudgeFactory = Callable[[JudgeOptions], Judge]

_REGISTRY: dict[str, str | JudgeFactory] = {
    "keyword": "alignaudit.judges.keyword:KeywordJudge",
    "rubric": "alignaudit.judges.rubric:RubricJudge",
    "refusal": "alignaudit.judges.refusal:RefusalJudge",
    "strongreject": "alignaudit.judges.strongreject:StrongRejectJudge",
    "llama-guard": "alignaudit.judges.local_classifier:LlamaGuardJudge",
    "harmbench-cls": "alignaudit.judges.local_classifier:HarmBenchClassifierJudge",
}


def register_judge(name: str, factory: str | JudgeFactory) -> None:
    _REGISTRY[name] = factory


def available_judges() -> list[str]:
    return sorted(_REGISTRY)


def get_judge(name: str, options: JudgeOptions | None = None) -> Judge:
    if name not in _REGISTRY:
        raise AlignAuditError(
            f"unknown judge {name!r}; choose from: {', '.join(available_judges())}"
        )
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory(options or JudgeOptions())
