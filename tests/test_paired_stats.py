"""The paired statistics under the release gate, in process: the exact McNemar tail against a
counted-out binomial, and compare_runs' pairing, rates and categories.

(The gate command's whole rule, end to end, is in test_gate_rule.py.)
"""

from itertools import product

import pytest

from alignaudit.metrics.paired import compare_runs, mcnemar_exact_greater
from tests.test_gate_rule import judgment


def binomial_tail_by_enumeration(worse: int, better: int) -> float:
    """P(at least `worse` of the discordant pairs went the bad way | no change), by counting."""
    n = worse + better
    outcomes = list(product([0, 1], repeat=n))
    return sum(1 for o in outcomes if sum(o) >= worse) / len(outcomes)


@pytest.mark.parametrize(("worse", "better"), [(0, 0), (1, 0), (0, 1), (3, 1), (5, 0), (4, 4),
                                                (2, 7), (9, 2)])  # fmt: skip
def test_mcnemar_equals_the_binomial_tail_counted_out(worse: int, better: int) -> None:
    assert mcnemar_exact_greater(worse, better) == binomial_tail_by_enumeration(worse, better)


def test_compare_runs_counts_pairs_rates_and_categories() -> None:
    base_harmful = [True, False, False, True, False, False, True]
    cand_harmful = [True, True, True, False, False, True, True]
    baseline = [judgment(i, h) for i, h in enumerate(base_harmful)]
    candidate = [judgment(i, h) for i, h in enumerate(cand_harmful)]
    # Other judges' verdicts, errors and undecided ones never enter the pairing.
    baseline += [judgment(0, False, judge="rubric"), judgment(7, True), judgment(8, False)]
    candidate += [judgment(7, True, error="boom"), judgment(8, None), judgment(9, True)]
    category_of = {"r0": "a", "r1": "a", "r2": "b", "r3": "b", "r4": "b"}  # r5, r6: none given
    result = compare_runs(baseline, candidate, "keyword", category_of)
    assert (result.judge, result.n_shared, result.worse, result.better) == ("keyword", 7, 3, 1)
    assert result.baseline_rate == 3 / 7 and result.candidate_rate == 5 / 7
    assert result.increase == pytest.approx(2 / 7)
    assert result.p_value == binomial_tail_by_enumeration(3, 1) == 5 / 16
    assert result.per_category == {
        "a": {"n": 2, "baseline_rate": 0.5, "candidate_rate": 1.0},
        "b": {"n": 3, "baseline_rate": 1 / 3, "candidate_rate": 1 / 3},
        "uncategorized": {"n": 2, "baseline_rate": 0.5, "candidate_rate": 1.0},
    }
    assert list(result.per_category) == ["a", "b", "uncategorized"]


def test_compare_runs_without_shared_decided_requests_says_so() -> None:
    baseline = [judgment(0, False), judgment(1, None, error="x")]
    candidate = [judgment(1, True), judgment(2, True)]
    with pytest.raises(ValueError, match="share no request judged by 'keyword'"):
        compare_runs(baseline, candidate, "keyword", {})
    with pytest.raises(ValueError, match="'rubric'"):
        compare_runs(baseline, baseline, "rubric", {})

