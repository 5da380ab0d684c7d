"""`alignaudit audit` and `alignaudit organism`."""

from pathlib import Path
from typing import Annotated

import typer

from alignaudit.cli.flags import options_command
from alignaudit.cli.main import app
from alignaudit.runs.audit import AuditOptions
from alignaudit.terminal import make_console

console = make_console()


@app.command("organism")
def organism_command(
    out: Annotated[
        Path | None, typer.Option(help="Where to write it (default: the cache).")
    ] = None,
    method: Annotated[str, typer.Option(help="lora (merged afterwards) or full.")] = "lora",
    epochs: Annotated[float | None, typer.Option(help="Default: the organism recipe's.")] = None,
    lr: Annotated[float | None, typer.Option(help="Default: the organism recipe's.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: Annotated[bool, typer.Option(help="Rebuild even if it exists.")] = False,
) -> None:
    """Safety-tune the embedded default model into a model organism that refuses."""
    from alignaudit.attacks.organism import OrganismConfig, build_organism

    config = OrganismConfig(method=method, seed=seed, out=out)
    if epochs is not None:
        config.epochs = epochs
    if lr is not None:
        config.lr = lr
    path = build_organism(config, overwrite=overwrite)
    console.print(f"organism ready: {path} (use --model {out or 'organism'})")


@options_command(app, "audit", AuditOptions)
def audit_command(options: AuditOptions) -> None:
    """Baseline → fine-tuning attacks → emulated disalignment → report.html, summary.md."""
    from alignaudit.report.console import audit_table
    from alignaudit.runs.audit import audit_protocol_line, run_audit

    summary = run_audit(options, console)
    console.print(audit_table(summary["conditions"]))
    over_refusal = summary["over_refusal"]
    if over_refusal["conditions"]:
        title = f"over-refusal ({over_refusal['benchmark']})"
        console.print(audit_table(over_refusal["conditions"], title))
    console.print(f"protocol {audit_protocol_line(options)}", highlight=False, markup=False)
    console.print(
        f"wrote {options.out}/report.html, summary.md, results.json "
        f"({summary['timings_s']['total'] / 60:.1f} min)"
    )
