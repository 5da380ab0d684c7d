"""Minor page faults of a second `refusal` judge pass over the same batch (glibc allocator kept).

    .venv/bin/python benchmarks/refusal_judge_page_faults.py [--items 48] [--limit 2000]

With `keep_freed_memory` in effect the second pass reuses the heap the first one grew, so it
should fault in well under 2,000 pages; with glibc's defaults it takes about 30,000. The count
depends on the machine's allocator and kernel, so it is measured here, not asserted in a test.

Last line: {"minor_faults": ..., "limit": ..., "kept_freed_memory": ..., "ok": ...}
Exit status 1 when the count is over the limit.
"""

import argparse
import json
import os
import resource
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from alignaudit.allocator import keep_freed_memory
    from alignaudit.judges.base import JudgeInput
    from alignaudit.judges.registry import get_judge

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    kept = keep_freed_memory()
    judge = get_judge("refusal")
    text = "Here is a detailed answer about bread. " * 12
    items = [JudgeInput(str(i), "q", text) for i in range(args.items)]
    judge.judge(items)  # grows the heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    judge.judge(items)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    ok = faults < args.limit
    print(json.dumps({"minor_faults": faults, "limit": args.limit,
                      "kept_freed_memory": kept, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
