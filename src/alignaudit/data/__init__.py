"""Benchmarks: categorized requests with stable ids, from built-in sets, files or the Hub."""

from alignaudit.data.loaders import HEX_PHI_CATEGORIES, load_benchmark
from alignaudit.data.sampling import stratified_sample
from alignaudit.data.types import Request

__all__ = ["HEX_PHI_CATEGORIES", "Request", "load_benchmark", "stratified_sample"]
