"""Option declarations shared by several commands, so flags mean the same thing everywhere."""

from pathlib import Path
from typing import Annotated

import typer

JudgeOpt = Annotated[
    str,
    typer.Option(
        "--judge",
        help="Judge name(s), comma-separated: keyword, refusal, rubric, strongreject, "
        "llama-guard, harmbench-cls.",
    ),
]
JudgeModelOpt = Annotated[
    str | None,
    typer.Option(help="Model for LLM/classifier judges: openai:NAME or a local folder."),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server for openai: models (else $OPENAI_BASE_URL). "
        "The key comes from $OPENAI_API_KEY and is never written anywhere.",
    ),
]
JudgeBaseUrlOpt = Annotated[
    str | None, typer.Option(help="Server for the judge model, if other than --base-url.")
]

JudgeTemplateOpt = Annotated[
    Path | None,
    typer.Option(
        help="Your own prompt for the rubric judge (e.g. your copy of the paper's), with "
        "{instruction} and {response} where the request and the response go; recorded in "
        "config.json.",
    ),
]


def split_names(value: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise typer.BadParameter("give at least one name")
    return names
