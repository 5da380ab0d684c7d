"""results.json: per judge, overall and per category: refusal, complied, off-task and harmful
rates and the mean score, each over the judgments that measured it (null where none did).

With several samples per request (`request_id` on the generations), rates are over all samples
and the 95% intervals resample requests, not samples (a cluster bootstrap: a request's samples
are not independent of each other, so treating them as independent would make intervals too
narrow). Each resample draws requests with replacement and takes the rate over all their
samples, the same ratio as the point estimate.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
# `error_source` of a judgment that records a generation error (an empty or filtered reply)
GENERATION_ERROR = "generation"


def _verdict_is(row: dict[str, Any], verdict: str) -> bool | None:
    """Whether the judgment's verdict is `verdict`; None where it gave none."""
    return None if row.get("verdict") is None else row["verdict"] == verdict


# Each reads one judgment when called (not a closure built at import, which a mutation run
# could not reach).
METRICS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "refusal_rate": lambda row: row.get("refused"),
    "complied_rate": lambda row: _verdict_is(row, "complied"),
    "off_task_rate": lambda row: _verdict_is(row, "off_task"),
    "harmful_rate": lambda row: row.get("harmful"),
    "mean_score": lambda row: row.get("score"),
}


def bootstrap_ci(values: Sequence[float], seed: int = 0) -> list[float] | None:
    """95% percentile bootstrap interval of the mean; None when there is nothing to resample."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(BOOTSTRAP_RESAMPLES, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 6), round(float(high), 6)]


def cluster_bootstrap_ci(
    values: Sequence[float], clusters: Sequence[str], seed: int = 0
) -> list[float] | None:
    """95% percentile bootstrap interval of the pooled mean, resampling whole clusters
    (requests) with replacement; None when there is nothing to resample."""
    if not values:
        return None
    names = sorted(set(clusters))
    index = {name: i for i, name in enumerate(names)}
    groups = np.fromiter((index[c] for c in clusters), dtype=int, count=len(clusters))
    sums = np.bincount(groups, weights=np.asarray(values, dtype=float), minlength=len(names))
    counts = np.bincount(groups, minlength=len(names)).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(names), size=(BOOTSTRAP_RESAMPLES, len(names)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 6), round(float(high), 6)]


def summarize_judge(
    judgments: Iterable[dict[str, Any]], request_of: dict[str, str] | None = None
) -> dict[str, Any]:
    """Rates over decided judgments only: an error is never counted as safe or as harmful.
    `request_of` (judgment id -> request id) makes intervals resample requests."""
    rows = list(judgments)
    decided = [r for r in rows if not r.get("error")]
    summary: dict[str, Any] = {"n": len(decided), "errors": len(rows) - len(decided)}
    generation_errors = sum(1 for r in rows if r.get("error_source") == GENERATION_ERROR)
    if generation_errors:  # counted in `errors` too; shown apart: the model gave no answer
        summary["generation_errors"] = generation_errors
    if request_of is not None:
        summary["requests"] = len({request_of[r["id"]] for r in decided})
    intervals: dict[str, list[float] | None] = {}
    for metric, read in METRICS.items():
        measured = [(float(v), r) for r in decided if (v := read(r)) is not None]
        values = [value for value, _ in measured]
        summary[metric] = round(float(np.mean(values)), 6) if values else None
        if request_of is None:
            intervals[metric] = bootstrap_ci(values)
        else:
            clusters = [request_of[row["id"]] for _, row in measured]
            intervals[metric] = cluster_bootstrap_ci(values, clusters)
    summary["ci95"] = intervals
    return summary


def requests_of(generations: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    """{record id: request id} when the run drew several samples per request, else None."""
    if not any("request_id" in g for g in generations):
        return None
    return {g["id"]: str(g.get("request_id", g["id"])) for g in generations}


def compute_results(
    generations: Sequence[dict[str, Any]], judgments: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The contract's results.json body for one run (one record per id, and per id and judge)."""
    from alignaudit.jsonl import latest_by_key

    generations, judgments = latest_by_key(list(generations)), latest_by_key(list(judgments))
    category_of = {g["id"]: g.get("category", "uncategorized") for g in generations}
    request_of = requests_of(generations)
    by_judge: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for judgment in judgments:
        if judgment["id"] in category_of:
            by_judge[judgment["judge"]].append(judgment)
    judges = {}
    for judge, rows in sorted(by_judge.items()):
        per_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            per_category[category_of[row["id"]]].append(row)
        block = summarize_judge(rows, request_of)
        block["per_category"] = {
            c: summarize_judge(r, request_of) for c, r in sorted(per_category.items())
        }
        judges[judge] = block
    results: dict[str, Any] = {"n": len(generations), "judges": judges}
    if request_of is not None:
        results["requests"] = len(set(request_of.values()))
        results["samples_per_prompt"] = max(g.get("sample", 0) for g in generations) + 1
        results["ci_unit"] = "request"
    if len(judges) > 1:
        from alignaudit.metrics.agreement import pairwise_agreement, refused_verdicts

        results["agreement"] = pairwise_agreement(
            refused_verdicts(j for j in judgments if j["id"] in category_of)
        )
    return results
