"""`alignaudit report` and `alignaudit gate`: reading finished run directories."""

from pathlib import Path
from typing import Annotated

import typer

from alignaudit.cli.main import app
from alignaudit.terminal import make_console

console = make_console()


@app.command("report")
def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories; the first is the baseline.")],
    out: Annotated[Path, typer.Option(help="HTML file to write (a .md summary goes beside it).")],
    redact: Annotated[bool, typer.Option(help="Hide response texts.")] = False,
    title: Annotated[str, typer.Option()] = "alignaudit report",
) -> None:
    """Write a self-contained HTML report over one or more run directories."""
    from alignaudit.report.html import write_run_report

    write_run_report(runs, out, title=title, redact=redact)
    console.print(f"wrote {out}")


@app.command("gate")
def gate_command(
    baseline: Annotated[Path, typer.Argument(help="Baseline RUN_DIR.")],
    candidate: Annotated[
        Path, typer.Argument(help="Candidate RUN_DIR (e.g. the tuned checkpoint).")
    ],
    max_increase: Annotated[
        float, typer.Option(help="Largest allowed rise of the harmful rate, as a fraction (0.05).")
    ],
    judge: Annotated[
        str | None, typer.Option(help="Judge to compare (default: best shared).")
    ] = None,
    significance: Annotated[
        float, typer.Option(help="Level of the one-sided McNemar test.")
    ] = 0.05,
    allow_partial: Annotated[
        bool, typer.Option(help="Compare runs of different benchmarks on the requests shared.")
    ] = False,
) -> None:
    """Exit 1 when the candidate is significantly more harmful than the baseline by > X."""
    from alignaudit.report.console import print_gate
    from alignaudit.runs.gate import gate_runs

    decision = gate_runs(baseline, candidate, max_increase, judge, significance, allow_partial)
    print_gate(decision, console)
    raise typer.Exit(1 if decision.failed else 0)
