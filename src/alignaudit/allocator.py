"""Keep freed memory for reuse: CPU inference allocates and frees many large tensors.

By default glibc hands each large block (above an adaptive threshold between 128 KiB and
32 MiB) back to the system when it is freed, so the next tensor of that size faults its pages in
again and has them zeroed. The refusal judge's encoder allocates and frees hundreds of such
tensors per batch: without this, judging 450 responses took over 200,000 page faults and about a
fifth of its time in the kernel. The token loop's KV caches and batches of changing sizes did
the same: about 100,000 page faults per pass over the 110 built-in requests, none with these
settings (decoding about 5% faster). (PyTorch's CPU tuning guide suggests jemalloc or tcmalloc for
the same reason; these settings get most of the gain without preloading a library.)
"""

import ctypes
import sys
from functools import cache

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = {
    M_MMAP_THRESHOLD: 32 * 2**20,  # blocks below this come from the reusable heap (glibc's max)
    M_TRIM_THRESHOLD: 2**30,  # keep up to this much free memory at the top of the heap
    M_TOP_PAD: 64 * 2**20,  # grow the heap in large steps
}


@cache
def keep_freed_memory() -> bool:
    """Apply `SETTINGS` to glibc's allocator (process-wide, once). Returns whether they took;
    False, and nothing changed, off Linux or without glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(option, value) == 1 for option, value in SETTINGS.items())
