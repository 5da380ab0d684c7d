"""`--limit N`: a stratified sample across categories, deterministic by seed, in original order."""

import random
from collections import defaultdict
from collections.abc import Sequence

from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional quotas by largest remainder; every category gets one when n allows."""
    total = sum(sizes.values())
    quotas = {c: min(size, n * size // total) for c, size in sizes.items()}
    if n >= len(sizes):
        quotas = {c: max(1, q) for c, q in quotas.items()}
    remainders = sorted(sizes, key=lambda c: (-(n * sizes[c] / total - quotas[c]), c))
    while sum(quotas.values()) < n:
        for category in remainders:
            if sum(quotas.values()) >= n:
                break
            if quotas[category] < sizes[category]:
                quotas[category] += 1
    while sum(quotas.values()) > n:  # only when n < number of categories
        largest = max(sorted(quotas), key=lambda c: quotas[c])
        quotas[largest] -= 1
    return quotas


def stratified_sample(requests: Sequence[Request], n: int, seed: int = 0) -> list[Request]:
    if n < 1:
        raise AlignAuditError("--limit must be at least 1")
    if n >= len(requests):
        return list(requests)
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, request in enumerate(requests):
        by_category[request.category].append(index)
    quotas = allocate({c: len(ix) for c, ix in by_category.items()}, n)
    rng = random.Random(seed)
    chosen: set[int] = set()
    for category in sorted(by_category):
        chosen.update(rng.sample(by_category[category], quotas[category]))
    return [requests[i] for i in sorted(chosen)]
