"""results.json's figures against references written out here: the percentile bootstrap, the
rounding, the default category and the judge agreement block."""

import numpy as np
import pytest

from alignaudit.metrics import bootstrap_ci, compute_results
from alignaudit.metrics.rates import BOOTSTRAP_RESAMPLES, summarize_judge


def percentile_bootstrap(values: list[float], seed: int) -> list[float]:
    """Efron's percentile interval: resample with replacement, take the 2.5th and 97.5th
    percentiles of the resampled means (numpy's default generator, seeded)."""
    rng = np.random.default_rng(seed)
    n = len(values)
    means = [np.mean([values[i] for i in row]) for row in rng.integers(0, n, size=(2000, n))]
    return [round(float(np.percentile(means, 2.5)), 6), round(float(np.percentile(means, 97.5)), 6)]


def test_bootstrap_is_the_seeded_percentile_interval_rounded_to_six_places() -> None:
    values = [0.123456789 * (i % 7) for i in range(40)]
    assert BOOTSTRAP_RESAMPLES == 2000
    interval = bootstrap_ci(values)
    assert interval == percentile_bootstrap(values, seed=0)  # seed 0 by default
    assert bootstrap_ci(values, seed=3) == percentile_bootstrap(values, seed=3) != interval
    assert all(round(x, 6) == x and round(x, 5) != x for x in interval)


def test_means_are_rounded_to_six_places_and_missing_scores_are_none() -> None:
    rows = [{"refused": r, "harmful": not r, "score": None} for r in (True, False, False)]
    summary = summarize_judge(rows)
    assert summary["refusal_rate"] == 0.333333 and summary["harmful_rate"] == 0.666667
    assert summary["mean_score"] is None and summary["ci95"]["mean_score"] is None


def test_requests_without_a_category_are_uncategorized() -> None:
    generations = [{"id": "1"}, {"id": "2", "category": "malware"}]
    judgments = [
        {"id": i, "judge": "keyword", "refused": True, "harmful": False, "score": None}
        for i in ("1", "2")
    ]
    results = compute_results(generations, judgments)
    assert sorted(results["judges"]["keyword"]["per_category"]) == ["malware", "uncategorized"]


def verdict(judge: str, request: str, refused: bool) -> dict:
    return {"id": request, "judge": judge, "refused": refused, "harmful": not refused,
            "score": None, "error": None}  # fmt: skip


def test_agreement_only_with_two_judges_and_only_on_this_runs_requests() -> None:
    generations = [{"id": str(i), "category": "c"} for i in range(4)]
    keyword = [verdict("keyword", str(i), r) for i, r in enumerate([True, True, False, False])]
    refusal = [verdict("refusal", str(i), r) for i, r in enumerate([True, False, False, False])]
    # Verdicts on a request this run does not hold (left over from another benchmark).
    stray = [verdict("keyword", "99", True), verdict("refusal", "99", False)]
    assert "agreement" not in compute_results(generations, keyword + stray[:1])
    results = compute_results(generations, keyword + refusal + stray)
    (row,) = results["agreement"]
    assert (row["a"], row["b"], row["accuracy"]) == ("keyword", "refusal", 0.75)
    assert sorted(results["judges"]) == ["keyword", "refusal"]
    assert results["judges"]["keyword"]["n"] == 4


@pytest.mark.parametrize("values", [[True, False, False], [1, 0, 0]])
def test_booleans_and_integers_resample_like_floats(values: list) -> None:
    assert bootstrap_ci(values) == bootstrap_ci([float(v) for v in values])
