"""The self-contained HTML report (and its Markdown summary) over one or more run directories."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignaudit.metrics.verdicts import (
    COMPLIED,
    HARMFUL,
    NOT_REFUSED,
    RATE_MEASURES,
    Measure,
    rate,
    upgrade_results,
)
from alignaudit.report.console import fmt_block_errors, samples_note
from alignaudit.runs.store import RunDir

JUDGE_PREFERENCE = ("rubric", "strongreject", "refusal", "llama-guard", "harmbench-cls", "keyword")
SAMPLES_PER_CONDITION = 3
TEXT_PREVIEW_CHARS = 1500  # longer prompts and responses fold; the full text is one click away


@dataclass
class Condition:
    name: str
    run_dir: Path
    results: dict[str, Any]
    config: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    judgments: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)  # the fine-tuned model's record

    def run_generations(self) -> list[dict[str, Any]]:
        return RunDir(self.run_dir).generations.read()

    @classmethod
    def load(cls, name: str, path: Path) -> "Condition":
        run = RunDir(path)
        generations = run.generations.read()
        config = run.read_config()
        return cls(
            name=name,
            run_dir=path,
            results=upgrade_results(run.read_results()),
            config=config,
            samples=generations[:SAMPLES_PER_CONDITION],
            judgments=run.judgments.read(),
            training=_training_record(config),
        )


def _training_record(config: dict[str, Any]) -> dict[str, Any]:
    """What `alignaudit finetune` recorded next to the evaluated model, if it wrote the model."""
    from alignaudit.models.spec import ModelRecord

    path = config.get("run", {}).get("model", {}).get("path")
    info = ModelRecord.read(Path(path), strict=False).data if path else {}
    return info if "training_config" in info else {}


def training_sweeps(
    conditions: list[Condition], judge: str, measure: Measure | None = None
) -> list[tuple[str, str, list[tuple[float, float | None]]]]:
    """(recipe, swept setting, [(value, rate)]) for every fine-tuning setting that varies
    across conditions of one recipe while the other setting stays fixed: the paper's ablations.
    The rate is `measure` (default: the judge's headline figure)."""
    key = (measure or headline_measure(conditions, judge)).key
    sweeps = []
    recipes = sorted({c.training.get("recipe") for c in conditions if c.training} - {None})
    for recipe in recipes:
        runs = [c for c in conditions if c.training.get("recipe") == recipe]
        for setting, other in (("epochs", "lr"), ("lr", "epochs")):
            values = {c.training["training_config"].get(setting) for c in runs}
            fixed = {c.training["training_config"].get(other) for c in runs}
            if len(values) < 2 or len(fixed) != 1:
                continue
            points = sorted(
                (
                    float(c.training["training_config"][setting]),
                    rate(c.results["judges"].get(judge), key)[0],
                )
                for c in runs
            )
            sweeps.append((recipe, setting, points))
    return sweeps


def headline_measure(conditions: list[Condition], judge: str) -> Measure:
    """harmful where `judge` rated harm, else complied, else not refused."""
    blocks = [c.results["judges"].get(judge) for c in conditions]
    for measure in (HARMFUL, COMPLIED):
        if any(rate(b, measure.key)[0] is not None for b in blocks):
            return measure
    return NOT_REFUSED


def _category_block(condition: Condition, judge: str, category: str) -> dict[str, Any] | None:
    return condition.results["judges"].get(judge, {}).get("per_category", {}).get(category)


def primary_judge(conditions: list[Condition]) -> str:
    available = set.intersection(*(set(c.results["judges"]) for c in conditions))
    for judge in JUDGE_PREFERENCE:
        if judge in available:
            return judge
    return sorted(available)[0] if available else "keyword"


def ed_alpha(name: str) -> float | None:
    match = re.fullmatch(r"ed-alpha-([0-9.]+)", name)
    return float(match.group(1)) if match else None


def judge_agreement(conditions: list[Condition]) -> list[dict[str, Any]]:
    """Pairwise agreement of judges on `refused`, pooled over all conditions."""
    from alignaudit.metrics.agreement import pairwise_agreement, refused_verdicts

    verdicts: dict[str, dict[Any, bool]] = {}
    for condition in conditions:
        for judge, by_key in refused_verdicts(condition.judgments, prefix=condition.name).items():
            verdicts.setdefault(judge, {}).update(by_key)
    return pairwise_agreement(verdicts)


def build_context(
    conditions: list[Condition], title: str, redact: bool, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    from alignaudit.report import charts

    judge = primary_judge(conditions)
    measure = headline_measure(conditions, judge)
    blocks = [c.results["judges"].get(judge) for c in conditions]
    headline = [rate(b, measure.key) for b in blocks]
    headline_svg = charts.rate_bars(
        [c.name for c in conditions],
        [value for value, _ in headline],
        [interval for _, interval in headline],
        f"{measure.label.capitalize()} rate per condition — judge: {judge}",
        f"% {measure.label} (95% bootstrap interval)",
    )
    category_svg = _category_chart(conditions, judge, measure)
    ed_svg = _ed_chart(conditions, blocks, judge, measure)
    sweep_svgs = [
        charts.line_chart(
            [x for x, _ in points],
            [y for _, y in points],
            f"Fine-tuning ({recipe}): {measure.label} against {setting} — judge: {judge}",
            setting,
            label=recipe,
            ylabel=f"{measure.label} %",
        )
        for recipe, setting, points in training_sweeps(conditions, judge, measure)
    ]
    return {
        "title": title,
        "judge": judge,
        "measure": measure.label,
        "rate_columns": [(m.key, m.label) for m in RATE_MEASURES],
        "sweep_svgs": sweep_svgs,
        "conditions": conditions,
        "judges": sorted({j for c in conditions for j in c.results["judges"]}),
        "headline_svg": headline_svg,
        "category_svg": category_svg,
        "ed_svg": ed_svg,
        "agreement": judge_agreement(conditions),
        "redact": redact,
        "extra": extra or {},
        "config_json": {c.name: json.dumps(c.config, indent=2) for c in conditions},
    }


def _category_chart(conditions: list[Condition], judge: str, measure: Measure) -> str | None:
    """The headline rate per category for every condition, ED ones included."""
    from alignaudit.report import charts

    baseline = conditions[0]
    categories = sorted(baseline.results["judges"].get(judge, {}).get("per_category", {}))
    series = {
        c.name: [rate(_category_block(c, judge, cat), measure.key)[0] for cat in categories]
        for c in conditions
    }
    if not categories or not series:
        return None
    return charts.category_bars(
        categories, series, f"Per category — judge: {judge}", f"{measure.label} %"
    )


def _ed_chart(
    conditions: list[Condition],
    blocks: list[dict[str, Any] | None],
    judge: str,
    measure: Measure,
) -> str | None:
    """The headline rate against alpha, with the base and aligned models as reference lines."""
    from alignaudit.report import charts

    ed_points = sorted(
        (ed_alpha(c.name), b)
        for c, b in zip(conditions, blocks, strict=True)
        if ed_alpha(c.name) is not None and b
    )
    if not ed_points:
        return None
    by_name = {c.name: c.results["judges"].get(judge) for c in conditions}
    references = {
        name: rate(by_name[name], measure.key)[0]
        for name in ("base", "aligned")
        if name in by_name
    }
    return charts.line_chart(
        [a for a, _ in ed_points],
        [rate(b, measure.key)[0] for _, b in ed_points],
        f"Emulated disalignment ({measure.label}) — judge: {judge}",
        "alpha",
        references,
        ylabel=f"{measure.label} %",
    )


def shorten(text: Any, limit: int = TEXT_PREVIEW_CHARS) -> str:
    """The opening of a long text (the report shows the rest on request)."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def render_html(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("alignaudit.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    env.filters["ci"] = lambda v: "" if not v else f"{100 * v[0]:.0f}–{100 * v[1]:.0f}"
    env.filters["num"] = lambda v, d=2: "–" if v is None else f"{v:.{d}f}"
    env.filters["shorten"] = shorten
    env.globals["preview_chars"] = TEXT_PREVIEW_CHARS
    env.filters["rate"] = lambda block, key: rate(block, key)
    env.filters["errors"] = fmt_block_errors
    env.filters["n_cell"] = n_cell
    env.filters["samples_note"] = samples_note
    return env.get_template("report.html.j2").render(**context)


def n_cell(block: dict[str, Any]) -> str:
    """Decided judgments, and the requests they came from when requests had several samples."""
    requests = block.get("requests")
    return f"{block['n']}" if requests is None else f"{block['n']} ({requests} requests)"


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no column breaks, line breaks or raw HTML."""
    text = " ".join(str(value).split())
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(raw, escaped)
    return text


def render_summary(context: dict[str, Any]) -> str:
    judge = markdown_cell(context["judge"])
    judge = context["judge"]
    labels = [label for _, label in context["rate_columns"]]
    lines = [
        f"# {markdown_cell(context['title'])}",
        "",
        f"Primary judge: `{judge}` (headline: {context['measure']}). Rates in % with 95% "
        "bootstrap intervals; – where the judge does not measure it. Not refused is not "
        "complied (off-task text also does not refuse); harmful only where a judge rated harm.",
        "",
        f"| condition | judge | n | {' | '.join(labels)} | mean score | errors |",
        "|---|---|---|" + "---|" * len(labels) + "---|---|",
    ]
    for condition in context["conditions"]:
        for name, block in condition.results["judges"].items():
            rates = " | ".join(_pct_ci(block, key) for key, _ in context["rate_columns"])
            score = block.get("mean_score")
            lines.append(
                f"| {markdown_cell(condition.name)} | {markdown_cell(name)} | {n_cell(block)} "
                f"| {rates} | {'–' if score is None else round(score, 2)} "
                f"| {markdown_cell(fmt_block_errors(block))} |"
            )
    for condition in context["conditions"]:
        note = samples_note(condition.results)
        if note:
            lines += ["", f"`{markdown_cell(condition.name)}`: {markdown_cell(note)}."]
    for key, value in context["extra"].items():
        lines += ["", f"**{markdown_cell(key)}**: {markdown_cell(value)}"]
    return "\n".join(lines) + "\n"


def _pct_ci(block: dict[str, Any], key: str) -> str:
    value, ci = rate(block, key)
    if value is None:
        return "–"
    return (
        f"{100 * value:.1f} ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})" if ci else f"{100 * value:.1f}"
    )


def write_report(
    conditions: list[Condition],
    out: Path,
    title: str = "alignaudit report",
    redact: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    from alignaudit.outputs import check_output_file
    from alignaudit.runs.store import write_text_atomic

    summary = out.with_name("summary.md") if out.name == "report.html" else out.with_suffix(".md")
    if summary == out:
        summary = out.with_name(f"{out.stem}.summary.md")
    for path in (out, summary):
        check_output_file(path, [c.run_dir for c in conditions])
    context = build_context(conditions, title, redact, extra)
    write_text_atomic(out, render_html(context))
    write_text_atomic(summary, render_summary(context))
    return out


def write_run_report(
    runs: list[Path], out: Path, title: str = "alignaudit report", redact: bool = False
) -> Path:
    """`alignaudit report`: one condition per run directory, named by its folder."""
    names = _unique_names(runs)
    conditions = [Condition.load(name, path) for name, path in zip(names, runs, strict=True)]
    extra = protocol_lines(conditions)
    return write_report(conditions, out, title=title, redact=redact, extra=extra)


def protocol_lines(conditions: list[Condition]) -> dict[str, str]:
    """The report's `protocol` line: each run's preset and the values its user overrode
    (one line when all runs agree; runs from before presets existed show none)."""
    from alignaudit.protocols import ProtocolRecord

    shown = {}
    for condition in conditions:
        record = condition.config.get("protocol")
        if isinstance(record, dict) and "name" in record:
            shown[condition.name] = ProtocolRecord(
                str(record["name"]),
                dict(record.get("values") or {}),
                list(record.get("from_preset") or []),
                list(record.get("overrides") or []),
            )
    lines = {name: record.line() for name, record in shown.items()}
    if not lines:
        return {}
    if len(set(lines.values())) == 1:
        return {"protocol": next(iter(lines.values()))}
    return {"protocol": "; ".join(f"{name}: {line}" for name, line in lines.items())}


def _unique_names(runs: list[Path]) -> list[str]:
    names = [path.resolve().name for path in runs]
    if len(set(names)) < len(names):
        names = [str(path) for path in runs]
    return names
