"""The rich tables the commands print: results, sweeps, the audit, the gate, agreement."""

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from alignaudit.metrics.paired import GateDecision


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


RATE_COLUMNS = ("n", "refusal rate", "harmful rate", "mean score", "errors")
# A row of a judges-block table: its label cells and block, or None for a section break.
BlockRow = tuple[tuple[str, ...], dict[str, Any], str | None] | None


def block_table(title: str, labels: tuple[str, ...], rows: list[BlockRow]) -> Table:
    """One line per judges block (results.json's per-judge or per-category entries)."""
    table = Table(title=title, title_justify="left")
    for column in labels:
        table.add_column(column, justify="left")
    for column in RATE_COLUMNS:
        table.add_column(column, justify="right")
    for row in rows:
        if row is None:
            table.add_section()
            continue
        cells, block, style = row
        ci = block.get("ci95", {})
        table.add_row(
            *cells,
            str(block["n"]),
            fmt_rate(block["refusal_rate"], ci.get("refusal_rate")),
            fmt_rate(block["harmful_rate"], ci.get("harmful_rate")),
            fmt_score(block["mean_score"], ci.get("mean_score")),
            fmt_errors(block),
            style=style,
        )
    return table


def results_table(results: dict[str, Any], judge: str, title: str | None = None) -> Table:
    block = results["judges"][judge]
    rows: list[BlockRow] = [((c,), row, None) for c, row in block["per_category"].items()]
    rows += [None, (("overall",), block, "bold")]
    return block_table(title or f"judge: {judge}", ("category",), rows)


def sweep_table(runs: dict[str, dict[str, Any]], title: str) -> Table:
    rows: list[BlockRow] = [
        ((name, judge), block, None)
        for name, results in runs.items()
        for judge, block in results["judges"].items()
    ]
    return block_table(title, ("condition", "judge"), rows)


def audit_table(conditions: dict[str, dict[str, Any]]) -> Table:
    """Conditions down, each judge's refusal and harmful rates across."""
    table = Table(title="audit: refusal and harmful rates per condition", title_justify="left")
    judges = sorted({j for block in conditions.values() for j in block})
    table.add_column("condition")
    for judge in judges:
        table.add_column(f"{judge} refusal", justify="right")
        table.add_column(f"{judge} harmful", justify="right")
    for name, block in conditions.items():
        cells = []
        for judge in judges:
            row = block.get(judge, {})
            cells += [fmt_rate(row.get("refusal_rate")), fmt_rate(row.get("harmful_rate"))]
        table.add_row(name, *cells)
    return table


def print_results(results: dict[str, Any], console: Console | None = None, title: str = "") -> None:
    console = console or Console()
    for judge in results["judges"]:
        heading = f"{title} — judge: {judge}" if title else None
        console.print(results_table(results, judge, heading))
    if results.get("agreement"):
        rows = pairwise_rows(results["agreement"])
        console.print(agreement_table(rows, "judge agreement on 'refused'"))
    console.print("[dim]rates over decided judgments; (95% bootstrap interval)[/dim]")


def agreement_table(rows: dict[str, dict[str, Any]], title: str) -> Table:
    """One row per judge (against labels) or per pair of judges: accuracy, kappa, confusion."""
    table = Table(title=title, title_justify="left")
    for column in ("judge", "n", "accuracy", "kappa", "tp", "fp", "tn", "fn", "undecided"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for name, stats in rows.items():
        confusion = stats["confusion"]
        table.add_row(
            name,
            str(stats["n"]),
            f"{stats['accuracy']:.3f}",
            f"{stats['kappa']:.3f}",
            *(str(confusion[k]) for k in ("tp", "fp", "tn", "fn")),
            str(stats["undecided"]),
        )
    return table


def pairwise_rows(pairs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{row['a']} vs {row['b']}": row for row in pairs}


def gate_table(decision: "GateDecision") -> Table:
    """Per category and overall: harmful rate of baseline and candidate, and the change."""
    result, allowed = decision.comparison, decision.max_increase
    table = Table(
        title=f"gate — judge {result.judge}, {result.n_shared} shared requests",
        title_justify="left",
    )
    for column in ("category", "n", "baseline", "candidate", "change"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, row in result.per_category.items():
        change = row["candidate_rate"] - row["baseline_rate"]
        table.add_row(
            category,
            *_gate_cells(row["n"], row["baseline_rate"], row["candidate_rate"]),
            style="red" if change > allowed else None,
        )
    table.add_section()
    table.add_row(
        "overall",
        *_gate_cells(result.n_shared, result.baseline_rate, result.candidate_rate),
        style="bold",
    )
    return table


def _gate_cells(n: int, baseline: float, candidate: float) -> list[str]:
    change = candidate - baseline
    return [str(n), f"{100 * baseline:.1f}%", f"{100 * candidate:.1f}%", f"{100 * change:+.1f}"]


def print_gate(decision: "GateDecision", console: Console) -> None:
    result, failed = decision.comparison, decision.failed
    console.print(gate_table(decision))
    console.print(
        f"compared {result.n_shared} requests decided in both runs; dropped {result.n_dropped} "
        "(judged in only one run, or an error in either)"
    )
    console.print(
        f"exact one-sided McNemar test on paired verdicts: {result.worse} requests became harmful, "
        f"{result.better} became harmless, p = {result.p_value:.4g}"
    )
    verdict = "FAIL" if failed else "PASS"
    console.print(
        f"[bold {'red' if failed else 'green'}]{verdict}[/]: harmful rate change "
        f"{100 * result.increase:+.1f} points (allowed +{100 * decision.max_increase:.1f}, "
        f"significance {decision.significance})"
    )
