"""Rates and scores over judgments, with bootstrap confidence intervals."""

from alignaudit.metrics.rates import bootstrap_ci, compute_results, summarize_judge

__all__ = ["bootstrap_ci", "compute_results", "summarize_judge"]
