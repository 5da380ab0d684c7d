"""The rich results table printed at the end of `eval`, `score` and sweeps."""

from typing import Any

from rich.console import Console
from rich.table import Table

from alignaudit.metrics.verdicts import Measure, fmt_errors, measured, rate, upgrade_block


def fmt_rate(value: float | None, interval: list[float] | None = None) -> str:
    if value is None:
        return "–"
    text = f"{100 * value:.1f}%"
    if interval:
        text += f" [dim]({100 * interval[0]:.0f}–{100 * interval[1]:.0f})[/dim]"
    return text


def fmt_score(value: float | None, interval: list[float] | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}"
    if interval:
        text += f" [dim]({interval[0]:.2f}–{interval[1]:.2f})[/dim]"
    return text


def rate_cells(
    block: dict[str, Any] | None, measures: list[Measure], intervals: bool = True
) -> list[str]:
    """One cell per measured rate (with its interval); "–" where this block did not measure it."""
    cells = [rate(block, measure.key) for measure in measures]
    return [fmt_rate(value, interval if intervals else None) for value, interval in cells]


def results_table(results: dict[str, Any], judge: str, title: str | None = None) -> Table:
    block = upgrade_block(judge, results["judges"][judge])
    rows = [*block["per_category"].values(), block]
    measures = measured(rows)
    show_score = any(row.get("mean_score") is not None for row in rows)
    table = Table(title=title or f"judge: {judge}", title_justify="left")
    columns = ["category", "n", *(m.label for m in measures)]
    for column in [*columns, *(["mean score"] if show_score else []), "errors"]:
        table.add_column(column, justify="left" if column == "category" else "right")

    def add(name: str, row: dict[str, Any], style: str | None = None) -> None:
        score = [fmt_score(row["mean_score"], row["ci95"].get("mean_score"))] if show_score else []
        table.add_row(
            name,
            str(row["n"]),
            *rate_cells(row, measures),
            *score,
            fmt_errors(row["errors"], row["n"]),
            style=style,
        )

    for category, row in block["per_category"].items():
        add(category, row)
    table.add_section()
    add("overall", block, style="bold")
    return table


def print_results(results: dict[str, Any], console: Console | None = None, title: str = "") -> None:
    console = console or Console()
    for judge in results["judges"]:
        heading = f"{title} — judge: {judge}" if title else None
        console.print(results_table(results, judge, heading))
    if results.get("agreement"):
        console.print(agreement_table(results["agreement"]))
    console.print(
        "[dim]rates over decided judgments (95% bootstrap interval); not refused ≠ complied "
        "(off-task text also does not refuse), and harmful only where a judge rated harm[/dim]"
    )


def agreement_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="judge agreement on 'refused'", title_justify="left")
    for column in ("judge A", "judge B", "n", "agreement", "Cohen's kappa"):
        table.add_column(column, justify="left" if column.startswith("judge") else "right")
    for row in rows:
        table.add_row(
            row["a"], row["b"], str(row["n"]), fmt_rate(row["accuracy"]), f"{row['kappa']:.2f}"
        )
    return table
