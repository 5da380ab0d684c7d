"""Throughput of the offline `refusal` judge on CPU (request + response), and its accuracy on
XSTest labels.

    .venv/bin/python benchmarks/refusal_judge_speed.py [--file CSV] [--repeat 2] [--threads N]

The judge reads each response and, for those it does not find refusing, the request too; it
embeds each distinct request once and keeps it (requests repeat across an audit's conditions).
`responses_per_s` keeps that cache across the repeats, as an audit would; `responses_per_s_cold`
empties it before every pass, so every request is encoded again.

--threads (default: up to 2, the cores here) sets torch's thread count, which the judge uses as
its number of worker threads: each runs whole batches with one thread per op. This machine's
speed drifts by a third over minutes; compare versions in interleaved runs.

Last line: {"responses_per_s": ..., "responses_per_s_cold": ..., "cpu_ms_per_response": ...,
           "cpu_ms_per_response_cold": ..., "load_avg_1min": ...,
           "threads": ..., "accuracy_xstest": ..., "keyword_accuracy_xstest": ...,
           "kappa_xstest": ...}
"""

import argparse
import json
import os
import time
from pathlib import Path

from alignaudit.judges.agreement import agreement, load_labeled
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import get_judge

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "xstest_dev_mistralinstruct.csv"
)


def timed(
    judge, items: list[JudgeInput], repeat: int, clear_cache: bool
) -> tuple[float, float]:
    """(responses per second, CPU milliseconds per response: steadier than the first on a shared
    machine) over `repeat` passes, the request cache emptied first (and before every pass when
    `clear_cache`)."""
    try:
        from alignaudit.judges.engagement import request_embeddings
    except ImportError:  # a version without the engagement head reads no requests
        request_embeddings = None
    elapsed = cpu = 0.0
    for index in range(repeat):
        if request_embeddings is not None and (clear_cache or index == 0):
            request_embeddings.clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        judge.judge(items)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
    return len(items) * repeat / elapsed, 1000 * cpu / (len(items) * repeat)


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
    cold, cold_cpu = timed(judge, items, args.repeat, clear_cache=True)
    rate, cpu = timed(judge, items, args.repeat, clear_cache=False)
    verdicts = judge.judge(items)
    result: dict[str, float | None] = {"responses_per_s": round(rate, 1),
                                       "responses_per_s_cold": round(cold, 1),
                                       "cpu_ms_per_response": round(cpu, 2),
                                       "cpu_ms_per_response_cold": round(cold_cpu, 2),
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
