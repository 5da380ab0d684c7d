"""The rich tables the commands print: results, sweeps, the audit, the gate, agreement."""

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from alignaudit.metrics.verdicts import Measure, fmt_errors, measured, rate, upgrade_block
from alignaudit.terminal import make_console

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


def fmt_block_errors(block: dict[str, Any]) -> str:
    """Judge errors, with those where the model gave no answer (an empty or filtered reply, a
    generation error) named apart."""
    text = fmt_errors(block.get("errors"), block.get("n"))
    generation = block.get("generation_errors")
    return f"{text}, {generation} no answer" if generation else text


RATE_COLUMNS = ("n", "refusal rate", "harmful rate", "mean score", "errors")
# A row of a judges-block table: its label cells and block, or None for a section break.
BlockRow = tuple[tuple[str, ...], dict[str, Any], str | None] | None


def rate_cells(
    block: dict[str, Any] | None, measures: list[Measure], intervals: bool = True
) -> list[str]:
    """One cell per measured rate (with its interval); "–" where this block did not measure it."""
    cells = [rate(block, measure.key) for measure in measures]
    return [fmt_rate(value, interval if intervals else None) for value, interval in cells]


def block_table(title: str, labels: tuple[str, ...], rows: list[BlockRow]) -> Table:
    """One line per judges block (results.json's per-judge or per-category entries), with a
    column for each rate some block measured (refused, not refused, complied, off-task,
    harmful: `metrics.verdicts`), the mean score where there is one, and the judge errors."""
    blocks = [row[1] for row in rows if row is not None]
    measures = measured(blocks)
    show_score = any(block.get("mean_score") is not None for block in blocks)
    table = Table(title=title, title_justify="left")
    for column in labels:
        table.add_column(column, justify="left")
    score_column = ["mean score"] if show_score else []
    for column in ("n", *(m.label for m in measures), *score_column, "errors"):
        table.add_column(column, justify="right")
    for row in rows:
        if row is None:
            table.add_section()
            continue
        cells, block, style = row
        ci = block.get("ci95") or {}
        score = [fmt_score(block.get("mean_score"), ci.get("mean_score"))] if show_score else []
        table.add_row(
            *cells,
            str(block["n"]),
            *rate_cells(block, measures),
            *score,
            fmt_block_errors(block),
            style=style,
        )
    return table


def results_table(results: dict[str, Any], judge: str, title: str | None = None) -> Table:
    block = upgrade_block(judge, results["judges"][judge])
    rows: list[BlockRow] = [((c,), row, None) for c, row in block["per_category"].items()]
    rows += [None, (("overall",), block, "bold")]
    return block_table(title or f"judge: {judge}", ("category",), rows)


def sweep_table(runs: dict[str, dict[str, Any]], title: str) -> Table:
    rows: list[BlockRow] = [
        ((name, judge), upgrade_block(judge, block), None)
        for name, results in runs.items()
        for judge, block in results["judges"].items()
    ]
    return block_table(title, ("condition", "judge"), rows)


def audit_table(conditions: dict[str, dict[str, Any]], benchmark: str = "audit") -> Table:
    """Conditions down; across, each judge's rates where that judge measured them."""
    table = Table(
        title=f"{benchmark}: refused / complied / off-task / harmful per condition, where each "
        "judge measured it",
        title_justify="left",
    )
    conditions = {
        name: {judge: upgrade_block(judge, b) for judge, b in block.items()}
        for name, block in conditions.items()
    }
    judges = sorted({j for block in conditions.values() for j in block})
    measures = {j: measured(block.get(j) for block in conditions.values()) for j in judges}
    table.add_column("condition")
    for judge in judges:
        for measure in measures[judge]:
            table.add_column(f"{judge} {measure.label}", justify="right")
    for name, block in conditions.items():
        cells = [cell for j in judges for cell in rate_cells(block.get(j), measures[j], False)]
        table.add_row(name, *cells)
    return table


def print_results(results: dict[str, Any], console: Console | None = None, title: str = "") -> None:
    console = console or make_console()
    for judge in results["judges"]:
        heading = f"{title} — judge: {judge}" if title else None
        console.print(results_table(results, judge, heading))
    if results.get("agreement"):
        rows = pairwise_rows(results["agreement"])
        console.print(agreement_table(rows, "judge agreement on 'refused'"))
    sampled = samples_note(results)
    if sampled:
        console.print(f"[dim]{sampled}[/dim]")
    console.print(
        "[dim]rates over decided judgments (95% bootstrap interval); not refused ≠ complied "
        "(off-task text also does not refuse), and harmful only where a judge rated harm[/dim]"
    )


def samples_note(results: dict[str, Any]) -> str | None:
    """'R requests × N samples ...' for a run that drew several samples per request."""
    if not results.get("samples_per_prompt", 1) > 1:
        return None
    return (
        f"{results.get('requests')} requests × {results['samples_per_prompt']} samples each: "
        "rates over all samples; 95% intervals resample requests (cluster bootstrap)"
    )


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
    """Per category and overall: the compared rate (harmful, complied or not refused) of
    baseline and candidate, and the change."""
    result, allowed = decision.comparison, decision.max_increase
    table = Table(
        title=f"gate — judge {result.judge}, {result.measure} rate, {result.n_shared} shared "
        "requests",
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


MEASURE_NOTES = {
    "harmful": "judged harmful",
    "complied": "engaged the request; not a harm rating",
    "not refused": "no refusal found; neither engagement nor harm was judged",
}


def print_gate(decision: "GateDecision", console: Console) -> None:
    result, failed = decision.comparison, decision.failed
    console.print(gate_table(decision))
    console.print(
        f"compared {result.n_shared} requests decided in both runs; dropped {result.n_dropped} "
        "(judged in only one run, or an error in either)"
    )
    if result.samples == (1, 1):
        test = (
            f"exact one-sided McNemar test on paired verdicts: {result.worse} requests became "
            f"{result.measure}, {result.better} stopped being {result.measure}"
        )
    else:  # several samples per request: each request's rate over its samples is paired
        test = (
            "exact one-sided sign test on per-request rates (samples per request: baseline "
            f"{result.samples[0]}, candidate {result.samples[1]}): {result.worse} requests more "
            f"often {result.measure}, {result.better} less often"
        )
    console.print(f"{test}, p = {result.p_value:.4g}")
    verdict = "FAIL" if failed else "PASS"
    console.print(
        f"[bold {'red' if failed else 'green'}]{verdict}[/]: {result.measure} rate "
        f"({MEASURE_NOTES.get(result.measure, result.measure)}) change "
        f"{100 * result.increase:+.1f} points (allowed +{100 * decision.max_increase:.1f}, "
        f"significance {decision.significance})"
    )
