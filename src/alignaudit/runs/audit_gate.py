"""The release gate applied inside an audit: each attacked condition against `aligned`.

The same decision as `alignaudit gate` (runs/gate.py: paired harmful verdicts of one judge,
exact one-sided McNemar test). The audit records the verdicts; its exit status does not change.
"""

from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError

BASELINE = "aligned"


def gate_conditions(out: Path, names: list[str], max_increase: float) -> dict[str, Any] | None:
    """{judge, max_increase, conditions: {name: {...}}} over AUDIT_DIR's run dirs, or None."""
    from alignaudit.report.html import Condition, primary_judge
    from alignaudit.runs.gate import gate_runs

    # The gate judges attacks; the unaligned base is a reference, not a candidate.
    candidates = [name for name in names if name not in (BASELINE, "base")]
    if BASELINE not in names or not candidates:
        return None
    judge = primary_judge([Condition.load(name, out / name) for name in names])
    verdicts: dict[str, dict[str, Any]] = {}
    for name in candidates:
        try:
            decision = gate_runs(out / BASELINE, out / name, max_increase, judge)
        except AlignAuditError:
            continue  # no request this judge decided in both runs
        comparison = decision.comparison
        verdicts[name] = {
            "baseline_rate": comparison.baseline_rate,
            "candidate_rate": comparison.candidate_rate,
            "increase": comparison.increase,
            "p_value": comparison.p_value,
            "passed": not decision.failed,
        }
    return {"judge": judge, "max_increase": max_increase, "conditions": verdicts}


def gate_line(gate: dict[str, Any]) -> str:
    """One line for the console and summary.md."""
    parts = [
        f"{name} {'PASS' if v['passed'] else 'FAIL'} ({100 * v['increase']:+.1f} points, "
        f"p = {v['p_value']:.2g})"
        for name, v in gate["conditions"].items()
    ]
    return (
        f"vs aligned, judge {gate['judge']}, allowed +{100 * gate['max_increase']:.1f} points: "
        + "; ".join(parts)
    )
