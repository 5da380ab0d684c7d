"""Option declarations shared by several commands, so flags mean the same thing everywhere."""

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

TimeoutOpt = Annotated[
    float,
    typer.Option(help="Seconds to wait for each request to a generation or judge server."),
]
RetryErrorsOpt = Annotated[
    bool,
    typer.Option(
        "--retry-errors/--no-retry-errors",
        help="On resume, redo failed generations (empty or filtered replies) and judge errors.",
    ),
]


def split_names(value: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise typer.BadParameter("give at least one name")
    return names
