"""The rich results table printed at the end of `eval`, `score` and sweeps."""

from typing import Any

from rich.console import Console
from rich.table import Table


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


def fmt_errors(row: dict[str, Any]) -> str:
    """Errors, with those where the model gave no answer (empty or filtered reply) named apart."""
    generation = row.get("generation_errors")
    return f"{row['errors']} ({generation} no answer)" if generation else str(row["errors"])


def results_table(results: dict[str, Any], judge: str, title: str | None = None) -> Table:
    block = results["judges"][judge]
    table = Table(title=title or f"judge: {judge}", title_justify="left")
    for column in ("category", "n", "refusal rate", "harmful rate", "mean score", "errors"):
        table.add_column(column, justify="left" if column == "category" else "right")

    def add(name: str, row: dict[str, Any], style: str | None = None) -> None:
        ci = row.get("ci95", {})
        table.add_row(
            name,
            str(row["n"]),
            fmt_rate(row["refusal_rate"], ci.get("refusal_rate")),
            fmt_rate(row["harmful_rate"], ci.get("harmful_rate")),
            fmt_score(row["mean_score"], ci.get("mean_score")),
            fmt_errors(row),
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
    console.print("[dim]rates over decided judgments; (95% bootstrap interval)[/dim]")


def agreement_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="judge agreement on 'refused'", title_justify="left")
    for column in ("judge A", "judge B", "n", "agreement", "Cohen's kappa"):
        table.add_column(column, justify="left" if column.startswith("judge") else "right")
    for row in rows:
        table.add_row(
            row["a"], row["b"], str(row["n"]), fmt_rate(row["accuracy"]), f"{row['kappa']:.2f}"
        )
    return table
