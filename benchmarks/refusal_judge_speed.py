"""Throughput of the offline `refusal` judge on CPU, and its accuracy on XSTest labels.

    .venv/bin/python benchmarks/refusal_judge_speed.py [--file CSV] [--repeat 2] [--threads N]

--threads (default: up to 2, the cores here) sets torch's thread count, which the judge uses as
its number of worker threads: each runs whole batches with one thread per op. This machine's
speed drifts by a third over minutes; compare versions in interleaved runs.

Last line: {"responses_per_s": ..., "load_avg_1min": ..., "threads": ..., "accuracy_xstest": ...,
           "keyword_accuracy_xstest": ..., "kappa_xstest": ...}
"""

import argparse
import json
import os
import time
from pathlib import Path

from alignaudit.judges.agreement import load_labeled
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import get_judge
from alignaudit.metrics.agreement import agreement

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "xstest_dev_mistralinstruct.csv"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)

    judge = get_judge("refusal")
    if args.file.exists():
        items, gold = load_labeled(args.file, "final_label")
    else:  # no labels here: time on synthetic responses of chat-model length
        text = "Here is a detailed answer to your question about baking bread. " * 10
        items, gold = [JudgeInput(str(i), "q", text) for i in range(450)], None
    judge.judge(items[:64])  # warm-up
    start = time.perf_counter()
    for _ in range(args.repeat):
        verdicts = judge.judge(items)
    rate = len(items) * args.repeat / (time.perf_counter() - start)
    result: dict[str, float | None] = {"responses_per_s": round(rate, 1),
                                       "load_avg_1min": round(os.getloadavg()[0], 2),
                                       "threads": args.threads}
    if gold is not None:
        result["accuracy_xstest"] = round(
            agreement([v.refused for v in verdicts], gold)["accuracy"], 4
        )
        keyword = get_judge("keyword").judge(items)
        result["keyword_accuracy_xstest"] = round(
            agreement([v.refused for v in keyword], gold)["accuracy"], 4
        )
        result["kappa_xstest"] = round(agreement([v.refused for v in verdicts], gold)["kappa"], 4)
    else:
        result["accuracy_xstest"] = None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
