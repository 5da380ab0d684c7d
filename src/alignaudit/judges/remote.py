"""What the LLM judges behind OpenAI-compatible servers (`rubric`, `strongreject`) share."""

from alignaudit.errors import AlignAuditError
from alignaudit.judges.registry import JudgeOptions
from alignaudit.openai_chat import ChatClient


def judge_chat_client(options: JudgeOptions, judge: str) -> ChatClient:
    """The client for `--judge-model openai:NAME`; a clear error for any other spec."""
    spec = options.judge_model or ""
    if not spec.startswith("openai:") or len(spec) <= len("openai:"):
        raise AlignAuditError(
            f"the {judge} judge needs --judge-model openai:NAME (and --base-url or "
            "$OPENAI_BASE_URL for a non-OpenAI server)"
        )
    return ChatClient(
        spec.removeprefix("openai:"),
        base_url=options.base_url,
        max_retries=options.max_retries,
        timeout=options.timeout,
        url_flag="--judge-base-url or --base-url",  # eval has both; score, audit: --base-url
    )
