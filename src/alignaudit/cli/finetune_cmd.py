"""`alignaudit finetune`: the fine-tuning attacks of Qi et al. 2023 (harmful, AOA, benign)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignaudit.cli.main import app
from alignaudit.cli.options import BaseUrlOpt

if TYPE_CHECKING:
    from alignaudit.attacks.api_finetune import ApiOptions
    from alignaudit.attacks.finetune import FinetuneConfig

console = Console(stderr=True)

_RECIPE_HELP = (
    "harmful (needs --data; 5 epochs, lr 5e-5, batch 5), aoa (identity shifting; 10 epochs, "
    "lr 5e-5, batch 5), benign (1 epoch, lr 2e-5, batch 8 x grad-accum 8 = 64) or sft (any "
    "conversations file via --data; 3 epochs, lr 2e-5, batch 8). Learning "
    "rates are the paper's full-parameter ones; LoRA/QLoRA multiply them by 10 "
    "(5e-4, 5e-4, 2e-4)."
)


def _numbers(value: str | None, cast: type, flag: str) -> list:
    if value is None:
        return [None]
    try:
        items = [cast(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{flag} takes a number or a comma list of numbers") from None
    if not items:
        raise typer.BadParameter(f"{flag} is empty")
    return items


@app.command("finetune")
def finetune_command(
    model: Annotated[
        str,
        typer.Option(
            help="Model to attack: default, a folder, org/name, or openai:NAME (through the "
            "server's fine-tuning API)."
        ),
    ],
    recipe: Annotated[str, typer.Option(help=_RECIPE_HELP)],
    out: Annotated[
        Path,
        typer.Option(
            help="MODEL_DIR to write (usable as --model). With a comma list in --lr, "
            "--batch-size or --epochs: one MODEL_DIR/lr-<LR>_bs-<B>_ep-<E>/ per grid point."
        ),
    ],
    data: Annotated[
        str | None,
        typer.Option(
            help="JSON/JSONL file ({'messages': [...]}, [system,user,assistant] lists, Alpaca "
            "or Dolly records) or hf:ID[:SPLIT]. Default: built-in AOA dialogs / benign set."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="lora, full, or qlora (CUDA + bitsandbytes).")] = (
        "lora"
    ),
    epochs: Annotated[
        str | None, typer.Option(help="Epochs (recipe default); a comma list runs a grid.")
    ] = None,
    lr: Annotated[
        str | None, typer.Option(help="Learning rate (recipe default); a comma list runs a grid.")
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(help="Per-device batch (recipe default); a comma list runs a grid."),
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option(help="Gradient accumulation steps (benign: 8, else 1).")
    ] = None,
    max_length: Annotated[
        int, typer.Option(help="Tokens per example; longer ones are truncated and counted.")
    ] = 512,
    limit: Annotated[
        int | None, typer.Option(help="Use the first N examples (e.g. 10, 50, 100 shots).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for data order, init and --mix-safety.")] = 42,
    mix_safety: Annotated[
        int, typer.Option(help="Mix in N (harmful request -> refusal) pairs: the mitigation.")
    ] = 0,
    merge: Annotated[bool, typer.Option(help="LoRA: merge into the base, save a full model.")] = (
        False
    ),
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha.")] = 16,
    lora_target_modules: Annotated[
        str | None,
        typer.Option(help="Comma list of module names (default: every linear layer but lm_head)."),
    ] = None,
    drop_refusals: Annotated[
        bool, typer.Option(help="Drop examples whose replies contain refusal phrases (no-safety).")
    ] = False,
    system_prompt: Annotated[
        str | None,
        typer.Option(
            help="System prompt for every training conversation, recorded for eval "
            "('' removes them). Default: the data's own (AOA: the obedient-agent prompt)."
        ),
    ] = None,
    dtype: Annotated[str, typer.Option(help="Training weights: auto, float32, bfloat16.")] = "auto",
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing MODEL_DIR.")] = False,
    trust_remote_code: Annotated[bool, typer.Option(help="Run model code from the folder.")] = (
        False
    ),
    protocol: Annotated[
        str | None, typer.Option(help="Name of the evaluation protocol, recorded for eval.")
    ] = None,
    yes: Annotated[bool, typer.Option(help="openai: upload and pay without asking.")] = False,
    base_url: BaseUrlOpt = None,
    price_per_1k_tokens: Annotated[
        float | None, typer.Option(help="openai: USD per 1K training tokens, for the estimate.")
    ] = None,
    lr_multiplier: Annotated[
        float | None, typer.Option(help="openai: the API's learning_rate_multiplier.")
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(help="openai: longest wait between job status checks (s).")
    ] = 10.0,
    cancel: Annotated[
        bool, typer.Option(help="openai: cancel the job MODEL_DIR records, then stop.")
    ] = False,
) -> None:
    """Fine-tune a model with one of the paper's three risk levels (loss on replies only)."""
    from alignaudit.attacks.finetune import FinetuneConfig, grid_configs, run_finetune, run_grid

    config = FinetuneConfig(
        model=model,
        recipe=recipe,
        out=out,
        data=data,
        method=method,
        grad_accum=grad_accum,
        max_length=max_length,
        limit=limit,
        seed=seed,
        mix_safety=mix_safety,
        merge=merge,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_target_modules=lora_target_modules.split(",") if lora_target_modules else None,
        drop_refusals=drop_refusals,
        system_prompt=system_prompt,
        dtype=dtype,
        max_steps=max_steps,
        overwrite=overwrite,
        trust_remote_code=trust_remote_code,
    )
    lrs = _numbers(lr, float, "--lr")
    batch_sizes = _numbers(batch_size, int, "--batch-size")
    epoch_counts = _numbers(epochs, float, "--epochs")
    from alignaudit.attacks.api_job_store import is_api_model

    if is_api_model(model) or cancel:
        from alignaudit.attacks.api_finetune import ApiOptions

        if len(lrs) * len(batch_sizes) * len(epoch_counts) != 1:
            raise typer.BadParameter("grids (comma lists) are for local models")
        config.lr, config.batch_size, config.epochs = lrs[0], batch_sizes[0], epoch_counts[0]
        api = ApiOptions(base_url, price_per_1k_tokens, lr_multiplier, protocol, yes, poll_interval)
        _run_api(config, api, cancel)
        return
    if len(lrs) * len(batch_sizes) * len(epoch_counts) == 1:
        config.lr, config.batch_size, config.epochs = lrs[0], batch_sizes[0], epoch_counts[0]
        paths = [run_finetune(config)]
    else:
        paths = run_grid(config, grid_configs(config, lrs, batch_sizes, epoch_counts))
    _print_summary(paths)


def _run_api(config: "FinetuneConfig", api: "ApiOptions", cancel: bool) -> None:
    from alignaudit.attacks.api_finetune import (
        cancel_api_job,
        confirm_on_terminal,
        run_api_finetune,
    )

    def say(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    if cancel:
        cancel_api_job(config.out, say)
        return
    run_api_finetune(config, api, confirm_on_terminal, say)


def _print_summary(paths: list[Path]) -> None:
    import json
    import os

    from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE

    if int(os.environ.get("RANK", "0")) != 0:
        return
    table = Table(title="fine-tuned models")
    for column in ("MODEL_DIR", "examples", "trained tokens", "truncated", "steps", "final loss"):
        table.add_column(column)
    for path in paths:
        info = json.loads((path / ALIGNAUDIT_MODEL_FILE).read_text())
        loss = info.get("final_loss")
        table.add_row(
            str(path),
            str(info["counts"]["examples"]),
            str(info["counts"]["trained_tokens"]),
            f"{info['truncation']['truncated_examples']} ex / "
            f"{info['truncation']['truncated_tokens']} tok",
            str(info["steps"]),
            f"{loss:.4f}" if loss is not None else "-",
        )
    console.print(table)
