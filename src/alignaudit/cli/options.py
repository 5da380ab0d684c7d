"""Options shared by commands without an options dataclass, taken from `EvalOptions` so that a
flag means the same thing (and says so in the same words) everywhere."""

import typer

from alignaudit.cli.flags import flag_annotation
from alignaudit.runs.evaluate import EvalOptions
from alignaudit.settings import split_names

JudgeOpt = flag_annotation(EvalOptions, "judges")
JudgeModelOpt = flag_annotation(EvalOptions, "judge_model")
BaseUrlOpt = flag_annotation(EvalOptions, "base_url")
JudgeBaseUrlOpt = flag_annotation(EvalOptions, "judge_base_url")
TimeoutOpt = flag_annotation(EvalOptions, "timeout")
RetryErrorsOpt = flag_annotation(EvalOptions, "retry_errors")
JudgeTemplateOpt = flag_annotation(EvalOptions, "judge_template")


def split_names_flag(value: str, flag: str = "--judge") -> list[str]:
    try:
        return split_names(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None
