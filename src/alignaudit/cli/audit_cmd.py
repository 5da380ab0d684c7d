"""`alignaudit report`, `alignaudit gate` (and the audit commands that compose them)."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignaudit.cli.audit_plan import DEFAULT_ALPHAS, DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS
from alignaudit.cli.main import app
from alignaudit.cli.options import RetryErrorsOpt, TimeoutOpt
from alignaudit.errors import AlignAuditError

console = Console()


@app.command("report")
def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories; the first is the baseline.")],
    out: Annotated[Path, typer.Option(help="HTML file to write (a .md summary goes beside it).")],
    redact: Annotated[bool, typer.Option(help="Hide response texts.")] = False,
    title: Annotated[str, typer.Option()] = "alignaudit report",
) -> None:
    """Write a self-contained HTML report over one or more run directories."""
    from alignaudit.report.html import Condition, write_report

    names = _unique_names(runs)
    conditions = [Condition.load(name, path) for name, path in zip(names, runs, strict=True)]
    write_report(conditions, out, title=title, redact=redact)
    console.print(f"wrote {out}")


def _unique_names(runs: list[Path]) -> list[str]:
    names = [path.resolve().name for path in runs]
    if len(set(names)) < len(names):
        names = [str(path) for path in runs]
    return names


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
    from alignaudit.metrics.paired import GateOptions, check_same_benchmark, compare_runs
    from alignaudit.report.html import Condition, primary_judge

    gate = GateOptions(max_increase, significance, allow_partial)
    base, cand = Condition.load("baseline", baseline), Condition.load("candidate", candidate)
    check_same_benchmark(base.config, cand.config, gate.allow_partial)
    judge = judge or primary_judge([base, cand])
    category_of = {g["id"]: g.get("category", "uncategorized") for g in base.run_generations()}
    try:
        result = compare_runs(base.judgments, cand.judgments, judge, category_of)
    except ValueError as exc:
        raise AlignAuditError(str(exc)) from exc
    failed = gate.fails(result)
    table = Table(
        title=f"gate — judge {judge}, {result.n_shared} shared requests", title_justify="left"
    )
    for column in ("category", "n", "baseline", "candidate", "change"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, row in result.per_category.items():
        change = row["candidate_rate"] - row["baseline_rate"]
        style = "red" if change > max_increase else None
        table.add_row(
            category,
            str(row["n"]),
            f"{100 * row['baseline_rate']:.1f}%",
            f"{100 * row['candidate_rate']:.1f}%",
            f"{100 * change:+.1f}",
            style=style,
        )
    table.add_section()
    table.add_row(
        "overall",
        str(result.n_shared),
        f"{100 * result.baseline_rate:.1f}%",
        f"{100 * result.candidate_rate:.1f}%",
        f"{100 * result.increase:+.1f}",
        style="bold",
    )
    console.print(table)
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
        f"{100 * result.increase:+.1f} points (allowed +{100 * max_increase:.1f}, "
        f"significance {significance})"
    )
    raise typer.Exit(1 if failed else 0)


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


@app.command("audit")
def audit_command(
    out: Annotated[Path, typer.Option(help="Audit directory; rerunning resumes it.")],
    model: Annotated[str, typer.Option(help="The aligned model to audit.")] = "organism",
    base: Annotated[str, typer.Option(help="Its pre-alignment base (for ED and reference).")] = (
        "default"
    ),
    conditions: Annotated[
        str, typer.Option(help="Comma list of aligned, base, aoa, benign, harmful, ed.")
    ] = ",".join(("aligned", "base", "aoa", "benign", "harmful", "ed")),
    harmful_data: Annotated[
        Path | None, typer.Option(help="JSONL of {messages: [user, assistant]} you supply.")
    ] = None,
    alpha: Annotated[str, typer.Option(help="ED alphas, comma-separated.")] = ",".join(
        f"{a:g}" for a in DEFAULT_ALPHAS
    ),
    benchmark: Annotated[str, typer.Option()] = "builtin",
    judge: Annotated[str, typer.Option(help="Judges; rubric is added with --judge-model.")] = (
        "keyword,refusal"
    ),
    judge_model: Annotated[str | None, typer.Option(help="openai:NAME for the rubric.")] = None,
    base_url: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int | None, typer.Option(help="Stratified sample of N requests.")] = None,
    max_new_tokens: Annotated[
        int, typer.Option(help="Tokens per response (raise it for the rubric judge).")
    ] = DEFAULT_MAX_NEW_TOKENS,
    batch_size: Annotated[
        int, typer.Option(help="Requests per generation batch.")
    ] = DEFAULT_BATCH_SIZE,
    method: Annotated[str, typer.Option(help="Fine-tuning attacks: lora or full.")] = "lora",
    aoa_epochs: Annotated[float | None, typer.Option()] = None,
    benign_epochs: Annotated[float | None, typer.Option()] = None,
    mix_safety: Annotated[
        int, typer.Option(help="Also run attacks mixed with N safety pairs.")
    ] = 0,
    seed: Annotated[int, typer.Option()] = 0,
    redact: Annotated[bool, typer.Option(help="Hide responses in the report.")] = False,
    timeout: TimeoutOpt = 120.0,
    retry_errors: RetryErrorsOpt = True,
) -> None:
    """Baseline → fine-tuning attacks → emulated disalignment → report.html, summary.md."""
    from alignaudit.cli.audit_plan import AuditOptions, run_audit
    from alignaudit.cli.evaluation import parse_alphas
    from alignaudit.cli.options import split_names

    options = AuditOptions(
        out=out,
        model=model,
        base=base,
        conditions=split_names(conditions),
        harmful_data=harmful_data,
        alphas=parse_alphas(alpha),
        benchmark=benchmark,
        judges=split_names(judge),
        judge_model=judge_model,
        base_url=base_url,
        limit=limit,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        method=method,
        aoa_epochs=aoa_epochs,
        benign_epochs=benign_epochs,
        mix_safety=mix_safety,
        seed=seed,
        redact=redact,
        timeout=timeout,
        retry_errors=retry_errors,
    )
    summary = run_audit(options, console)
    _print_audit_table(summary)
    console.print(
        f"wrote {out}/report.html, summary.md, results.json "
        f"({summary['timings_s']['total'] / 60:.1f} min)"
    )


def _print_audit_table(summary: dict) -> None:
    from alignaudit.report.console import fmt_rate

    table = Table(title="audit: refusal and harmful rates per condition", title_justify="left")
    judges = sorted({j for block in summary["conditions"].values() for j in block})
    table.add_column("condition")
    for judge in judges:
        table.add_column(f"{judge} refusal", justify="right")
        table.add_column(f"{judge} harmful", justify="right")
    for name, block in summary["conditions"].items():
        cells = []
        for judge in judges:
            row = block.get(judge, {})
            cells += [fmt_rate(row.get("refusal_rate")), fmt_rate(row.get("harmful_rate"))]
        table.add_row(name, *cells)
    console.print(table)
