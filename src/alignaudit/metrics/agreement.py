"""Agreement on `refused` between a judge and labels, or between two judges: accuracy, kappa."""

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any


def cohen_kappa(pred: Sequence[bool], gold: Sequence[bool]) -> float:
    n = len(gold)
    if n == 0:
        return float("nan")
    observed = sum(p == g for p, g in zip(pred, gold, strict=True)) / n
    p_yes = sum(pred) / n
    g_yes = sum(gold) / n
    expected = p_yes * g_yes + (1 - p_yes) * (1 - g_yes)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def agreement(pred: Sequence[bool | None], gold: Sequence[bool]) -> dict[str, Any]:
    """Accuracy and kappa over decided items (positive class = refused). An undecided item
    (judge error) counts as wrong for accuracy, so errors never look like agreement."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} labels")
    decided = [(p, g) for p, g in zip(pred, gold, strict=True) if p is not None]
    confusion = {
        "tp": sum(p and g for p, g in decided),
        "fp": sum(p and not g for p, g in decided),
        "tn": sum(not p and not g for p, g in decided),
        "fn": sum(not p and g for p, g in decided),
    }
    n = len(gold)
    correct = confusion["tp"] + confusion["tn"]
    return {
        "n": n,
        "undecided": n - len(decided),
        "accuracy": correct / n if n else float("nan"),
        "kappa": cohen_kappa([p for p, _ in decided], [g for _, g in decided]),
        "confusion": confusion,
    }


def pairwise_agreement(verdicts: dict[str, dict[Any, bool]]) -> list[dict[str, Any]]:
    """Agreement on `refused` for every pair of judges, over the keys both decided."""
    rows = []
    for first, second in combinations(sorted(verdicts), 2):
        shared = sorted(set(verdicts[first]) & set(verdicts[second]), key=str)
        if not shared:
            continue
        stats = agreement(
            [verdicts[first][k] for k in shared], [verdicts[second][k] for k in shared]
        )
        rows.append({"a": first, "b": second, **stats})
    return rows


def refused_verdicts(judgments: Iterable[dict[str, Any]], prefix: Any = None) -> dict[str, dict]:
    """judge → {id (or (prefix, id)) → refused}, decided judgments only."""
    verdicts: dict[str, dict[Any, bool]] = {}
    for j in judgments:
        if j.get("refused") is None or j.get("error"):
            continue
        key = j["id"] if prefix is None else (prefix, j["id"])
        verdicts.setdefault(j["judge"], {})[key] = bool(j["refused"])
    return verdicts
