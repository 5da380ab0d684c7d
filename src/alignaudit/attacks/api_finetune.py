"""Fine-tuning attacks through an OpenAI-compatible fine-tuning API (Qi et al.'s GPT-3.5 setting).

`run_api_finetune(config, api)` writes the recipe's conversations as chat fine-tuning JSONL,
validates them, shows the token count (and cost), uploads, creates the job and follows it to
the end. MODEL_DIR keeps `train.jsonl` and `api_job.json` (file id, job id, status: see
api_job_store), so rerunning the same command never pays twice; on success it gets an
`alignaudit_model.json` naming `openai:<fine-tuned model>`, its server (never the key) and the
prompts to evaluate it with.
"""

import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignaudit.attacks.api_job_store import TRAIN_FILE, JobState, JobStore
from alignaudit.attacks.api_options import ApiOptions
from alignaudit.attacks.api_service import FineTuningApi
from alignaudit.attacks.finetune import FinetuneConfig, config_recipe
from alignaudit.attacks.recipes import (
    RECIPE_USER_TEMPLATES,
    RecipeData,
    validate_conversation,
)
from alignaudit.errors import AlignAuditError
from alignaudit.jsonfiles import (
    changed_keys,
    read_json_file,
    write_json_atomic,
    write_text_atomic,
)
from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE, ModelSpec, parse_model_spec
from alignaudit.protocols import get_protocol

# Services cap a training example's length (OpenAI: 16k-128k tokens by model); a longer one is
# almost certainly a data error, caught here before anything is uploaded or paid for.
MAX_EXAMPLE_TOKENS = 65_536
MIN_EXAMPLES = 10  # OpenAI's minimum (Qi et al.'s smallest attack used exactly 10)
Say = Callable[[str], None]
Confirm = Callable[[str], bool]


@dataclass
class TrainingFile:
    text: str
    examples: int
    tokens: int  # estimated, one epoch
    sha256: str


@dataclass
class ApiPlan:
    """Everything decided before anything is sent."""

    config: FinetuneConfig
    spec: ModelSpec
    recipe: RecipeData
    data: TrainingFile
    hyperparameters: dict[str, Any]
    settings: dict[str, Any]
    run_key: str

    @property
    def training_tokens(self) -> int:
        return self.data.tokens * self.hyperparameters["n_epochs"]


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """About 4 characters a token, plus the chat format's few tokens per message."""
    return 3 + sum(4 + math.ceil(len(message["content"]) / 4) for message in messages)


def training_file(recipe: RecipeData) -> TrainingFile:
    """The chat fine-tuning JSONL, each conversation checked (roles, empty turns, length)."""
    lines, tokens = [], 0
    for example in recipe.examples:
        try:
            messages = validate_conversation(example.messages)
        except ValueError as exc:
            raise AlignAuditError(f"{example.source}: {exc}") from None
        size = estimate_tokens(messages)
        if size > MAX_EXAMPLE_TOKENS:
            raise AlignAuditError(
                f"{example.source}: about {size:,} tokens; fine-tuning services take at most "
                f"about {MAX_EXAMPLE_TOKENS:,} per example"
            )
        tokens += size
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    return TrainingFile(text, len(lines), tokens, hashlib.sha256(text.encode()).hexdigest())


def api_hyperparameters(config: FinetuneConfig, api: ApiOptions) -> dict[str, Any]:
    """The recipe's epochs as n_epochs; batch size and lr multiplier only when asked for."""
    epochs = config.epochs
    if epochs is None:
        epochs = get_protocol(config.protocol).training_for(config.recipe).epochs
    if epochs < 1 or epochs != int(epochs):
        raise AlignAuditError(f"--epochs {epochs:g}: fine-tuning APIs take a whole number >= 1")
    hyperparameters: dict[str, Any] = {"n_epochs": int(epochs)}
    if config.batch_size is not None:
        hyperparameters["batch_size"] = config.batch_size
    if api.lr_multiplier is not None:
        hyperparameters["learning_rate_multiplier"] = api.lr_multiplier
    return hyperparameters


def plan_api_finetune(config: FinetuneConfig, api: ApiOptions, server: str) -> ApiPlan:
    spec = parse_model_spec(config.model)
    if spec.kind != "openai":
        raise AlignAuditError(f"{config.model} is not an openai:NAME model or API fine-tuning")
    for name, flag in (("lr", "--lr (use --lr-multiplier)"), ("max_steps", "--max-steps")):
        if getattr(config, name) is not None:
            raise AlignAuditError(f"{flag} does not apply to fine-tuning APIs")
    recipe = config_recipe(config)
    data = training_file(recipe)
    hyperparameters = api_hyperparameters(config, api)
    settings = {
        "model": spec.path,
        "server": server,
        "recipe": config.recipe,
        "data_sha256": data.sha256,
        "hyperparameters": hyperparameters,
        "seed": config.seed,
        "protocol": config.protocol,
    }
    run_key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return ApiPlan(config, spec, recipe, data, hyperparameters, settings, run_key)


def cost_line(plans: list[ApiPlan], price_per_1k: float | None) -> str:
    examples = sum(plan.data.examples for plan in plans)
    tokens = sum(plan.training_tokens for plan in plans)
    jobs = f"{len(plans)} jobs, " if len(plans) > 1 else ""
    line = (
        f"{jobs}{examples} training examples, about {tokens:,} training tokens "
        "(estimated at ~4 characters a token, times n_epochs)"
    )
    if price_per_1k is None:
        return line + "; pass --price-per-1k-tokens P for a cost estimate"
    return line + f"; at ${price_per_1k:g} per 1K tokens about ${tokens / 1000 * price_per_1k:.2f}"


def confirm_on_terminal(question: str) -> bool:
    """Ask on the terminal; without one (a script, a pipe), --yes is required."""
    if not sys.stdin.isatty():
        raise AlignAuditError("no terminal to confirm on; pass --yes to upload and pay")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def confirm_spending(line: str, yes: bool, confirm: Confirm | None) -> None:
    if yes:
        return
    if confirm is None:
        raise AlignAuditError("uploading for fine-tuning costs money: pass --yes to go ahead")
    if not confirm("Upload the training data and start fine-tuning?"):
        raise AlignAuditError("stopped before uploading; nothing was sent")


def api_service(config: FinetuneConfig, api: ApiOptions) -> FineTuningApi:
    """The service to fine-tune on: --base-url, else the server an API fine-tuned MODEL_DIR
    records (it is fine-tuned further there), else $OPENAI_BASE_URL."""
    base_url = api.base_url or parse_model_spec(config.model).base_url
    return FineTuningApi(base_url, max_attempts=api.max_attempts)


def run_api_finetune(
    config: FinetuneConfig,
    api: ApiOptions,
    confirm: Confirm | None = confirm_on_terminal,
    say: Say = print,
) -> Path:
    """Fine-tune `openai:NAME` through its service; resumable; returns MODEL_DIR."""
    service = api_service(config, api)
    plan = plan_api_finetune(config, api, service.server)
    out, store = Path(config.out), JobStore(Path(config.out))
    if is_finished(out, plan.run_key):
        say(f"{out} is already fine-tuned with this configuration; nothing to do")
        return out
    state = existing_state(out, store, plan, config.overwrite, say)
    resumed = state is not None  # an earlier run may have sent what it did not record
    if state is None:
        line = cost_line([plan], api.price_per_1k_tokens)
        say(f"{out}: {line}")
        if plan.data.examples < MIN_EXAMPLES:
            say(f"note: OpenAI's service needs at least {MIN_EXAMPLES} examples; others may not")
        confirm_spending(line, api.yes, confirm)
        state = start_state(out, store, plan)
    if state.file_id is None:
        data = (out / TRAIN_FILE).read_bytes()
        file_id = service.upload(state.file_name, data, look_first=resumed)
        store.set(state, file_id=file_id, status="uploaded")
        say(f"uploaded {state.file_name} as {file_id}")
    if state.job_id is None:
        job = service.create_job(
            plan.spec.path, state.file_id, plan.hyperparameters, config.seed, look_first=resumed
        )
        store.set(state, job_id=job.id)
        record_job(store, state, job, say)
    if not state.finished:
        say(f"following job {state.job_id} (Ctrl-C is safe: rerun the same command to resume)")
        follow_job(service, store, state, api.poll_interval, say)
    return finish(out, plan, state, api, say)


def is_finished(out: Path, run_key: str) -> bool:
    info_path = out / ALIGNAUDIT_MODEL_FILE
    return info_path.is_file() and read_json_file(info_path).get("run_key") == run_key


def existing_state(
    out: Path, store: JobStore, plan: ApiPlan, overwrite: bool, say: Say
) -> JobState | None:
    """The job record of this configuration, None for a fresh start; refuses to mix configs."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    state = _load_quietly(store) if overwrite else store.load()
    ended_badly = state is not None and state.status in ("failed", "cancelled")
    if state is not None and state.run_key == plan.run_key and not (overwrite and ended_badly):
        return state  # the same job, even with --overwrite: never pay twice
    if not overwrite:
        if state is None:
            raise AlignAuditError(
                f"{out} exists and is not this API fine-tuning; pass --overwrite or choose "
                "another --out"
            )
        changed = ", ".join(changed_keys(state.settings, plan.settings))
        raise AlignAuditError(
            f"{out} holds job {state.job_id or '(not created)'} of another configuration "
            f"(changed: {changed}); pass --overwrite to start a new job or choose another --out"
        )
    if state is not None and state.job_id and not state.finished:
        say(f"note: job {state.job_id} of the replaced configuration may still run on the service")
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink()
    return None


def _load_quietly(store: JobStore) -> JobState | None:
    try:
        return store.load()
    except AlignAuditError:
        return None


def start_state(out: Path, store: JobStore, plan: ApiPlan) -> JobState:
    state = JobState(
        run_key=plan.run_key,
        settings=plan.settings,
        file_name=f"alignaudit-{plan.config.recipe}-{plan.run_key[:12]}.jsonl",
    )
    write_text_atomic(out / TRAIN_FILE, plan.data.text)
    store.set(state, status="new")
    return state


def record_job(store: JobStore, state: JobState, job: Any, say: Say) -> None:
    """Store the job's status (and result or reason) when it changes."""
    error = getattr(job, "error", None)
    reason = getattr(error, "message", None) if error is not None else None
    if job.status == state.status and reason == state.error:
        return
    store.set(
        state,
        status=job.status,
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error=reason,
    )
    say(f"job {job.id}: {job.status}" + (f" ({reason})" if reason else ""))


def follow_job(
    service: FineTuningApi, store: JobStore, state: JobState, max_interval: float, say: Say
) -> None:
    """Poll the job and print its new events until it succeeds, fails or is cancelled."""
    assert state.job_id is not None
    seen: set[str] = set()
    wait = min(1.0, max_interval)
    while True:
        job = service.retrieve(state.job_id, attempts=service.max_attempts + 4)
        for event in service.events(state.job_id):
            if event.id not in seen:
                seen.add(event.id)
                say(f"  [{event.level}] {event.message}")
        record_job(store, state, job, say)
        if state.finished:
            return
        time.sleep(wait)
        wait = min(max_interval, wait * 2)


def finish(out: Path, plan: ApiPlan, state: JobState, api: ApiOptions, say: Say) -> Path:
    if state.status == "failed":
        raise AlignAuditError(
            f"fine-tuning job {state.job_id} failed: {state.error or 'the service gave no reason'}"
            f" (recorded in {out}); fix the data or pass --overwrite to pay for a new job"
        )
    if state.status == "cancelled":
        raise AlignAuditError(
            f"fine-tuning job {state.job_id} was cancelled; pass --overwrite to start a new one"
        )
    if not state.fine_tuned_model:
        raise AlignAuditError(f"job {state.job_id} succeeded without naming a fine-tuned model")
    write_json_atomic(out / ALIGNAUDIT_MODEL_FILE, model_info(plan, state, api))
    say(f"fine-tuned model openai:{state.fine_tuned_model}; evaluate it with --model {out}")
    return out


def model_info(plan: ApiPlan, state: JobState, api: ApiOptions) -> dict[str, Any]:
    recipe = plan.recipe
    return {
        "model": f"openai:{state.fine_tuned_model}",
        "api_model": state.fine_tuned_model,
        "base_url": plan.settings["server"],
        "base_model": plan.spec.raw,
        "recipe": plan.config.recipe,
        "protocol": plan.config.protocol,
        "system_prompt": recipe.system_prompt,
        # the data's own (Alpaca format), else the recipe's trigger (AOA)
        "user_template": recipe.user_template or RECIPE_USER_TEMPLATES.get(plan.config.recipe),
        "method": "api",
        "job_id": state.job_id,
        "training_file_id": state.file_id,
        "hyperparameters": plan.hyperparameters,
        "data_source": recipe.data_source,
        "data_filter": recipe.data_filter,
        "safety_data": recipe.safety_source,
        "data_fingerprint": plan.data.sha256,
        "counts": {
            **recipe.counts,
            "estimated_tokens_per_epoch": plan.data.tokens,
            "trained_tokens": state.trained_tokens,
        },
        "run_key": plan.run_key,
    }


def cancel_api_job(out: Path, say: Say = print) -> None:
    """Cancel the job MODEL_DIR records (on the server it was created on)."""
    store = JobStore(out)
    state = store.load()
    if state is None or state.job_id is None:
        raise AlignAuditError(f"{out} records no API fine-tuning job to cancel")
    if state.finished:
        say(f"job {state.job_id} already ended: {state.status}")
        return
    service = FineTuningApi(state.settings["server"])
    record_job(store, state, service.cancel(state.job_id), say)
