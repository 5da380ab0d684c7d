"""`alignaudit finetune`: the fine-tuning attacks of Qi et al. 2023 (harmful, AOA, benign),
on local weights or, for `--model openai:NAME`, through the server's fine-tuning API."""

from dataclasses import field, fields, make_dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from alignaudit.attacks.api_options import ApiOptions
from alignaudit.attacks.finetune import FinetuneConfig
from alignaudit.cli.flags import options_command
from alignaudit.cli.main import app
from alignaudit.errors import AlignAuditError
from alignaudit.settings import setting
from alignaudit.terminal import make_console

console = make_console(stderr=True)

# The command's flags: FinetuneConfig's, then ApiOptions' and --cancel (openai: models only).
_API_FLAGS = [spec for spec in fields(ApiOptions) if spec.metadata.get("cli", True)]
FinetuneFlags = make_dataclass(
    "FinetuneFlags",
    [
        *((spec.name, spec.type, field(default=spec.default, metadata=spec.metadata))
          for spec in _API_FLAGS),
        ("cancel", bool, setting(False, help="openai: cancel the job MODEL_DIR records; stop.")),
    ],
    bases=(FinetuneConfig,),
)


@options_command(app, "finetune", FinetuneFlags, construct=False)
def finetune_command(values: dict[str, Any]) -> None:
    """Fine-tune a model with one of the paper's three risk levels (loss on replies only)."""
    from alignaudit.attacks.api_job_store import is_api_model
    from alignaudit.attacks.finetune import grid_configs, run_finetune, run_grid
    from alignaudit.distributed import is_main_process

    api = ApiOptions(**{spec.name: values.pop(spec.name) for spec in _API_FLAGS})
    cancel = values.pop("cancel")
    lrs, batch_sizes, epoch_counts = (values.pop(key) for key in ("lr", "batch_size", "epochs"))
    config = FinetuneConfig(**values)
    single = len(lrs) * len(batch_sizes) * len(epoch_counts) == 1
    if single:
        config.lr, config.batch_size, config.epochs = lrs[0], batch_sizes[0], epoch_counts[0]
    if is_api_model(config.model) or cancel:
        if not single:
            raise AlignAuditError("grids (comma lists in --lr, --batch-size, --epochs) are for "
                                  "local models")
        _run_api(config, api, cancel)
        return
    if single:
        paths = [run_finetune(config)]
    else:
        paths = run_grid(config, grid_configs(config, lrs, batch_sizes, epoch_counts))
    if is_main_process():
        console.print(_summary_table(paths))


def _run_api(config: FinetuneConfig, api: ApiOptions, cancel: bool) -> None:
    from alignaudit.attacks.api_finetune import (
        cancel_api_job,
        confirm_on_terminal,
        run_api_finetune,
    )

    def say(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    if cancel:
        cancel_api_job(Path(config.out), say)
        return
    run_api_finetune(config, api, confirm_on_terminal, say)


def _summary_table(paths: list[Path]) -> Table:
    from alignaudit.models.spec import ModelRecord

    table = Table(title="fine-tuned models")
    columns = ("MODEL_DIR", "protocol", "examples", "trained tokens", "truncated", "steps")
    for column in (*columns, "final loss"):
        table.add_column(column)
    for path in paths:
        info = ModelRecord.read(path).data
        loss = info.get("final_loss")
        counts = info["counts"]
        examples = str(counts.get("trained_examples", counts["examples"]))
        if counts.get("dropped_overlong"):  # --drop-overlong left some out
            examples += f" ({counts['dropped_overlong']} too long)"
        table.add_row(
            str(path),
            _protocol_cell(info),
            examples,
            str(info["counts"]["trained_tokens"]),
            f"{info['truncation']['truncated_examples']} ex / "
            f"{info['truncation']['truncated_tokens']} tok",
            str(info["steps"]),
            f"{loss:.4f}" if loss is not None else "-",
        )
    return table


def _protocol_cell(info: dict[str, Any]) -> str:
    """The preset and what it set: method, effective batch, schedule (user overrides marked *)."""
    record = info.get("protocol") or {}
    if not record:
        return "-"
    values, overrides = record.get("values", {}), set(record.get("overrides", []))

    def shown(knob: str, text: str) -> str:
        return text + ("*" if knob in overrides else "")

    parts = [
        shown("method", str(values.get("method", info.get("method")))),
        f"batch {record.get('effective_batch_size')}",
        shown("lr_schedule", str(values.get("lr_schedule"))),
    ]
    return f"{record['name']}: " + ", ".join(parts)
