"""Settings of fine-tuning through an API that local training does not have (`finetune` flags).

A light module: the command line reads these fields at start-up without importing `openai`.
"""

from dataclasses import dataclass

from alignaudit.settings import setting

BASE_URL_HELP = (
    "openai: the fine-tuning service (else $OPENAI_BASE_URL). The key comes from "
    "$OPENAI_API_KEY and is never written anywhere."
)


@dataclass
class ApiOptions:
    base_url: str | None = setting(None, help=BASE_URL_HELP, flag="--base-url")
    price_per_1k_tokens: float | None = setting(
        None, help="openai: USD per 1K training tokens, for the cost estimate."
    )
    lr_multiplier: float | None = setting(
        None, help="openai: the API's learning_rate_multiplier (default: the service's)."
    )
    yes: bool = setting(False, help="openai: upload and pay without asking.")
    poll_interval: float = setting(
        10.0, help="openai: longest wait between job status checks (s)."
    )
    max_attempts: int = setting(6, cli=False)
