"""`alignaudit finetune`: the fine-tuning attacks of Qi et al. 2023 (harmful, AOA, benign)."""

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from alignaudit.attacks.finetune import FinetuneConfig
from alignaudit.cli.flags import options_command
from alignaudit.cli.main import app

console = Console(stderr=True)


@options_command(app, "finetune", FinetuneConfig, construct=False)
def finetune_command(values: dict[str, Any]) -> None:
    """Fine-tune a model with one of the paper's three risk levels (loss on replies only)."""
    from alignaudit.attacks.finetune import grid_configs, run_finetune, run_grid
    from alignaudit.distributed import is_main_process

    lrs, batch_sizes, epoch_counts = (values.pop(key) for key in ("lr", "batch_size", "epochs"))
    config = FinetuneConfig(**values)
    if len(lrs) * len(batch_sizes) * len(epoch_counts) == 1:
        config.lr, config.batch_size, config.epochs = lrs[0], batch_sizes[0], epoch_counts[0]
        paths = [run_finetune(config)]
    else:
        paths = run_grid(config, grid_configs(config, lrs, batch_sizes, epoch_counts))
    if is_main_process():
        console.print(_summary_table(paths))


def _summary_table(paths: list[Path]) -> Table:
    from alignaudit.models.spec import ModelRecord

    table = Table(title="fine-tuned models")
    for column in ("MODEL_DIR", "examples", "trained tokens", "truncated", "steps", "final loss"):
        table.add_column(column)
    for path in paths:
        info = ModelRecord.read(path).data
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
    return table
