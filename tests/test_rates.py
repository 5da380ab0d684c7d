"""results.json's figures against references written out here: the percentile bootstrap and,
for runs of several samples per request, the cluster bootstrap over requests; the rounding, the
default category, the request counts and the judge agreement block."""

import numpy as np
import pytest

from alignaudit.metrics import bootstrap_ci, compute_results
from alignaudit.metrics.rates import (
    BOOTSTRAP_RESAMPLES,
    cluster_bootstrap_ci,
    requests_of,
    summarize_judge,
)


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


# --- several samples per request: the cluster bootstrap over requests ---------------------------


def cluster_bootstrap(values: list[float], clusters: list[str], seed: int) -> list[float]:
    """The cluster bootstrap written out: draw as many requests as there are, with replacement
    (from the sorted request names, numpy's default generator, seeded), pool every sample of the
    drawn requests, and take the 2.5th and 97.5th percentiles of the pooled rates."""
    names = sorted(set(clusters))
    samples = {name: [v for v, c in zip(values, clusters, strict=True) if c == name]
               for name in names}  # fmt: skip
    rng = np.random.default_rng(seed)
    rates = []
    for row in rng.integers(0, len(names), size=(2000, len(names))):
        pooled = [value for i in row for value in samples[names[i]]]
        rates.append(sum(pooled) / len(pooled))
    return [round(float(np.percentile(rates, q)), 6) for q in (2.5, 97.5)]


# Requests of 1, 2 and 5 samples: the pooled rate is not the mean of the requests' rates.
SAMPLED = [(1.0, "q1"), (0.0, "q2"), (1.0, "q2"), (0.0, "q3"), (0.0, "q3"), (1.0, "q3"),
           (0.0, "q3"), (0.0, "q3"), (1.0, "q4"), (1.0, "q4"), (0.0, "q5")]  # fmt: skip


def test_cluster_bootstrap_resamples_requests_and_pools_their_samples() -> None:
    values, clusters = [v for v, _ in SAMPLED], [c for _, c in SAMPLED]
    assert cluster_bootstrap_ci(values, clusters) == cluster_bootstrap(values, clusters, seed=0)
    # Finer values (pairs of samples), where the seed shows: seed 0 by default.
    values = [0.123456789 * (i % 7) for i in range(40)]
    clusters = [f"q{i // 2:02d}" for i in range(40)]
    interval = cluster_bootstrap_ci(values, clusters)
    assert interval == cluster_bootstrap(values, clusters, seed=0)
    assert cluster_bootstrap_ci(values, clusters, seed=5) == cluster_bootstrap(
        values, clusters, seed=5
    ) != interval
    assert cluster_bootstrap_ci([], []) is None


def test_one_sample_per_request_is_the_plain_bootstrap() -> None:
    values = [0.123456789 * (i % 7) for i in range(40)]
    requests = [f"q{i:02d}" for i in range(40)]  # sorted as given: the same draws
    assert cluster_bootstrap_ci(values, requests) == bootstrap_ci(values)


def test_requests_of_maps_samples_to_requests_only_when_a_run_has_them() -> None:
    assert requests_of([{"id": "1"}, {"id": "2"}]) is None
    generations = [{"id": "1:0", "request_id": 1}, {"id": "1:1", "request_id": 1}, {"id": "2"}]
    assert requests_of(generations) == {"1:0": "1", "1:1": "1", "2": "2"}


def sampled_run() -> tuple[list[dict], list[dict]]:
    """Requests q1..q5 of SAMPLED, category a for q1-q2 and b for the rest, one judgment a
    sample (refused = value), plus a request that only errored and one with no answer."""
    generations, judgments = [], []
    for n, (value, request) in enumerate(SAMPLED):
        category = "a" if request in ("q1", "q2") else "b"
        sample = sum(1 for g in generations if g["request_id"] == request)
        generations.append({"id": f"g{n}", "request_id": request, "sample": sample,
                            "category": category})  # fmt: skip
        judgments.append({"id": f"g{n}", "judge": "keyword", "refused": bool(value)})
    generations += [{"id": "e1", "request_id": "q6", "sample": 0, "category": "b"},
                    {"id": "e2", "request_id": "q7", "sample": 0, "category": "b"}]  # fmt: skip
    judgments += [
        {"id": "e1", "judge": "keyword", "refused": None, "error": "timeout"},
        {"id": "e2", "judge": "keyword", "refused": None, "error": "empty reply",
         "error_source": "generation"},
    ]  # fmt: skip
    return generations, judgments


def test_results_of_a_sampled_run_count_requests_and_resample_them() -> None:
    generations, judgments = sampled_run()
    results = compute_results(generations, judgments)
    assert (results["n"], results["requests"]) == (13, 7)
    assert results["samples_per_prompt"] == 5 and results["ci_unit"] == "request"
    block = results["judges"]["keyword"]
    assert (block["n"], block["errors"], block["generation_errors"]) == (11, 2, 1)
    assert block["requests"] == 5  # q6 and q7 decided nothing
    assert block["refusal_rate"] == round(5 / 11, 6)
    values, clusters = [v for v, _ in SAMPLED], [c for _, c in SAMPLED]
    assert block["ci95"]["refusal_rate"] == cluster_bootstrap(values, clusters, seed=0)
    b = block["per_category"]["b"]
    assert (b["n"], b["requests"], b["errors"], b["generation_errors"]) == (8, 3, 2, 1)
    assert b["ci95"]["refusal_rate"] == cluster_bootstrap(values[3:], clusters[3:], seed=0)
    a = block["per_category"]["a"]
    assert (a["n"], a["requests"], a["errors"], a["refusal_rate"]) == (3, 2, 0, 0.666667)
    assert "generation_errors" not in a  # shown only where the model gave no answer


def test_a_run_of_one_sample_per_request_has_no_request_figures() -> None:
    generations, judgments = sampled_run()
    for g in generations:
        del g["request_id"], g["sample"]
    results = compute_results(generations, judgments)
    assert {"requests", "samples_per_prompt", "ci_unit"}.isdisjoint(results)
    block = results["judges"]["keyword"]
    assert "requests" not in block and (block["n"], block["errors"]) == (11, 2)
    values = [v for v, _ in SAMPLED]
    assert block["ci95"]["refusal_rate"] == percentile_bootstrap(values, seed=0)


def test_complied_and_off_task_count_only_judgments_with_a_verdict() -> None:
    rows = [{"refused": True}, {"refused": False}]  # the keyword judge: no verdicts
    summary = summarize_judge(rows)
    assert summary["complied_rate"] is None and summary["off_task_rate"] is None
    assert summary["ci95"]["complied_rate"] is None
    verdicts = {"complied": False, "refused": True, "off_task": False}
    rows += [{"refused": verdicts[v], "verdict": v}
             for v in ("complied", "refused", "off_task", "complied")]  # fmt: skip
    summary = summarize_judge(rows)
    assert (summary["complied_rate"], summary["off_task_rate"]) == (0.5, 0.25)  # of 4, not 6
    assert summary["refusal_rate"] == round(2 / 6, 6)


def test_a_sampled_record_without_a_sample_number_is_sample_zero() -> None:
    generations = [{"id": "a", "request_id": "q1"}, {"id": "b", "request_id": "q2"}]
    judgments = [{"id": i, "judge": "keyword", "refused": True} for i in ("a", "b")]
    results = compute_results(generations, judgments)
    assert (results["requests"], results["samples_per_prompt"]) == (2, 1)
    generations.append({"id": "c", "request_id": "q2", "sample": 1})
    assert compute_results(generations, judgments)["samples_per_prompt"] == 2
