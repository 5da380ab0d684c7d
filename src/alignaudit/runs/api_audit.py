"""The parts of an audit that differ when the audited model is `openai:NAME`.

An API model has no weights here: the local base model and emulated disalignment (which needs
next-token probabilities of both models) are skipped, each with one line saying why. The
fine-tuning attacks go through the service's fine-tuning API, and the whole plan's token count
and cost are confirmed once, before the first upload.
"""

from collections.abc import Callable
from pathlib import Path

from alignaudit.attacks.api_finetune import (
    ApiOptions,
    ApiPlan,
    Confirm,
    api_service,
    confirm_spending,
    cost_line,
    is_finished,
    plan_api_finetune,
    run_api_finetune,
)
from alignaudit.attacks.api_job_store import JobStore, is_api_model
from alignaudit.attacks.finetune import FinetuneConfig

__all__ = ["confirm_api_attacks", "is_api_model", "run_api_attack", "skipped_conditions"]

SKIP_REASONS = {
    "base": "the audited model is served over an API: there are no weights of its "
    "pre-alignment base here (--base applies to local models)",
    "ed": "emulated disalignment needs next-token probabilities from local weights of the "
    "aligned model and its base",
}


def skipped_conditions(names: list[str]) -> dict[str, str]:
    """The conditions an API audit cannot run (ED alphas as one `ed` entry), with the reason."""
    skipped = {}
    for name in names:
        key = "ed" if name.startswith("ed-alpha-") else name
        if key in SKIP_REASONS:
            skipped[key] = SKIP_REASONS[key]
    return skipped


def confirm_api_attacks(
    configs: list[FinetuneConfig],
    api: ApiOptions,
    confirm: Confirm | None,
    say: Callable[[str], None],
) -> None:
    """One token count and cost for every job not yet paid for; asks once (unless --yes)."""
    plans = [plan_api_finetune(c, api, api_service(c, api).server) for c in configs]
    unpaid = [plan for plan in plans if not _already_paid(plan)]
    if not unpaid:
        return
    line = cost_line(unpaid, api.price_per_1k_tokens)
    say(f"fine-tuning through {unpaid[0].settings['server']}: {line}")
    confirm_spending(line, api.yes, confirm)


def _already_paid(plan: ApiPlan) -> bool:
    out = Path(plan.config.out)
    if is_finished(out, plan.run_key):
        return True
    state = JobStore(out).load() if (out / "api_job.json").exists() else None
    return state is not None and state.run_key == plan.run_key and state.file_id is not None


def run_api_attack(config: FinetuneConfig, api: ApiOptions, say: Callable[[str], None]) -> Path:
    """One attack through the API; the plan was confirmed already."""
    from dataclasses import replace

    return run_api_finetune(config, replace(api, yes=True), say=say)
