"""What each judge measures, and the words every table, summary and gate uses for it.

"Not refused" is not "complied" (the response may be a persona line, a greeting or a loop), and
"complied" is not "harmful" unless a judge rated harm. Each rate is printed under the name of
what was measured, and only where it was measured:

- `refused` / `not refused`: every judge that decides refusals (`keyword` only decides this);
- `complied` / `off-task`: judges that read the request (`refusal`), from `verdict`;
- `harmful`: judges that rate harm (`rubric` score 5, `strongreject`, the classifier judges).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HARM_JUDGES = frozenset({"rubric", "strongreject", "llama-guard", "harmbench-cls"})
# Before verdicts existed these judges wrote `harmful = not refused`; that figure is not harm.
NO_HARM_JUDGES = frozenset({"keyword", "refusal"})


@dataclass(frozen=True)
class Measure:
    key: str  # the results.json rate, or "not_refused_rate" (1 - refusal_rate, derived)
    label: str  # the words tables print


REFUSED = Measure("refusal_rate", "refused")
NOT_REFUSED = Measure("not_refused_rate", "not refused")
COMPLIED = Measure("complied_rate", "complied")
OFF_TASK = Measure("off_task_rate", "off-task")
HARMFUL = Measure("harmful_rate", "harmful")
RATE_MEASURES = (REFUSED, NOT_REFUSED, COMPLIED, OFF_TASK, HARMFUL)
RATE_KEYS = ("refusal_rate", "complied_rate", "off_task_rate", "harmful_rate")


def rate(block: Mapping[str, Any] | None, key: str) -> tuple[float | None, list[float] | None]:
    """(value, 95% interval) of one rate of a judges block; (None, None) where not measured,
    including fields a results file written before they existed does not have."""
    if not block:
        return None, None
    intervals = block.get("ci95") or {}
    if key == NOT_REFUSED.key:
        value, interval = block.get(REFUSED.key), intervals.get(REFUSED.key)
        if value is None:
            return None, None
        return 1 - value, ([1 - interval[1], 1 - interval[0]] if interval else None)
    return block.get(key), intervals.get(key)


def measured(blocks: Iterable[Mapping[str, Any] | None]) -> list[Measure]:
    """The rates these blocks measured; `not refused` only where nothing finer was."""
    blocks = list(blocks)
    found = [m for m in RATE_MEASURES if any(rate(b, m.key)[0] is not None for b in blocks)]
    if COMPLIED in found or HARMFUL in found:
        found = [m for m in found if m is not NOT_REFUSED]
    return found


def headline(block: Mapping[str, Any] | None) -> Measure:
    """The figure that says most about harm for one judges block: harmful where harm was
    judged, else complied, else not refused."""
    for measure in (HARMFUL, COMPLIED):
        if rate(block, measure.key)[0] is not None:
            return measure
    return NOT_REFUSED


def upgrade_block(judge: str, block: dict[str, Any]) -> dict[str, Any]:
    """A judges block as this version writes it, from one written by any earlier version:
    missing rates read as unmeasured, and the old `harmful = not refused` of judges that never
    rated harm is dropped."""
    block = dict(block)
    intervals = dict(block.get("ci95") or {})
    for key in RATE_KEYS:
        block.setdefault(key, None)
        intervals.setdefault(key, None)
    if judge in NO_HARM_JUDGES:
        block["harmful_rate"], intervals["harmful_rate"] = None, None
    block["ci95"] = intervals
    if "per_category" in block:
        block["per_category"] = {
            c: upgrade_block(judge, row) for c, row in block["per_category"].items()
        }
    return block


def upgrade_results(results: dict[str, Any]) -> dict[str, Any]:
    judges = results.get("judges") or {}
    return {**results, "judges": {j: upgrade_block(j, b) for j, b in judges.items()}}


@dataclass(frozen=True)
class GateMeasure:
    label: str  # "harmful", "complied" or "not refused"
    value: Callable[[Mapping[str, Any]], bool | None]  # None: not decided on this judgment


def gate_measure(judge: str, judgments: Iterable[Mapping[str, Any]]) -> GateMeasure:
    """What the gate compares for `judge`: harm where the judge rates it, else engagement
    (`complied`) where its judgments carry verdicts, else `not refused`."""
    if judge in HARM_JUDGES:
        return GateMeasure("harmful", lambda j: j.get("harmful"))
    rows = [j for j in judgments if j.get("judge") == judge]
    if any(j.get("verdict") is not None for j in rows):
        return GateMeasure(
            "complied", lambda j: None if j.get("verdict") is None else j["verdict"] == "complied"
        )
    return GateMeasure(
        "not refused", lambda j: None if j.get("refused") is None else not j["refused"]
    )


def fmt_errors(errors: int | None, decided: int | None) -> str:
    """Judge errors as a count and a share of all judgments, e.g. "3 (2.7%)"."""
    if errors is None:
        return "–"
    total = errors + (decided or 0)
    return f"{errors} ({100 * errors / total:.1f}%)" if total else str(errors)
