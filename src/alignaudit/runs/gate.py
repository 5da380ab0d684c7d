"""The release gate over two run directories: load, pair the verdicts, decide (metrics/paired)."""

from pathlib import Path

from alignaudit.errors import AlignAuditError
from alignaudit.metrics.paired import (
    GateDecision,
    check_gate_thresholds,
    check_same_benchmark,
    decide_gate,
)


def gate_runs(
    baseline: Path,
    candidate: Path,
    max_increase: float,
    judge: str | None = None,
    significance: float = 0.05,
    allow_partial: bool = False,
) -> GateDecision:
    """Compare `judge` (default: the best judge both runs have) on the requests both decided.

    Runs of different request sets (benchmark, --limit, seed) are refused unless allow_partial.
    """
    from alignaudit.report.html import Condition, primary_judge

    check_gate_thresholds(max_increase, significance)
    base, cand = Condition.load("baseline", baseline), Condition.load("candidate", candidate)
    check_same_benchmark(base.config, cand.config, allow_partial)
    judge = judge or primary_judge([base, cand])
    generations = [*base.run_generations(), *cand.run_generations()]
    # Several samples per request are paired per request (metrics/paired).
    request_of = {g["id"]: str(g.get("request_id", g["id"])) for g in generations}
    category_of = {request_of[g["id"]]: g.get("category", "uncategorized") for g in generations}
    try:
        return decide_gate(
            base.judgments,
            cand.judgments,
            judge,
            category_of,
            max_increase,
            significance,
            request_of,
        )
    except ValueError as exc:
        raise AlignAuditError(str(exc)) from exc
