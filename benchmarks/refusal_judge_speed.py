"""Throughput of the offline `refusal` judge on CPU (request + response), and its accuracy on
XSTest labels.

    .venv/bin/python benchmarks/refusal_judge_speed.py [--file CSV] [--repeat 2] [--threads N]
                                                       [--encoder int8|dynamic|both]

The judge reads each response and, for those it does not find refusing, the request too; it
embeds each distinct request once and keeps it (requests repeat across an audit's conditions).
Each round times a cold pass (request cache emptied first: every request encoded) and then a
pass with the cache kept, as an audit's later conditions run. `responses_per_s` is the latter,
`responses_per_s_cold` the former; `cpu_ms_per_response(_cold)`, CPU time over all threads,
is steadier than either on a shared machine.

--threads (default: up to 2, the cores here) sets torch's thread count, which the judge uses as
its number of worker threads: each runs whole batches with one thread per op. This machine's
speed drifts by a third over minutes; compare versions in interleaved runs.

--encoder dynamic runs the same pruned encoder through torch's own
`torch.ao.quantization.quantize_dynamic` (int8 weights, activations quantized per call) instead
of the judge's int8 layers; `both` interleaves the two, `--repeat` rounds each, and reports both.

Last line: {"responses_per_s": ..., "responses_per_s_cold": ..., "cpu_ms_per_response": ...,
           "cpu_ms_per_response_cold": ..., "load_avg_1min": ..., "threads": ...,
           "accuracy_xstest": ..., "keyword_accuracy_xstest": ..., "kappa_xstest": ...}
"""

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from alignaudit.judges.agreement import load_labeled
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import get_judge
from alignaudit.metrics.agreement import agreement

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "xstest_dev_mistralinstruct.csv"
)


def dynamic_judge() -> Any:
    """The refusal judge with its encoder quantized by torch instead of its own int8 layers."""
    import torch

    from alignaudit.judges.refusal.engagement import shipped_engagement_head
    from alignaudit.judges.refusal.features import ResponseEncoder
    from alignaudit.judges.refusal.judge import RefusalJudge, _shipped_head

    judge = RefusalJudge.__new__(RefusalJudge)
    judge.head = _shipped_head()
    judge.engagement = shipped_engagement_head()
    encoder = ResponseEncoder(ffn_neurons=judge.head.ffn_neurons)  # float32, same pruning
    encoder.model = torch.ao.quantization.quantize_dynamic(
        encoder.model, {torch.nn.Linear}, dtype=torch.qint8
    )
    judge.encoder = encoder
    return judge


def timed(judge: Any, items: list[JudgeInput], cold: bool) -> tuple[float, float, list]:
    """(wall seconds, CPU seconds, verdicts) of one pass; `cold`: request cache emptied first."""
    try:
        from alignaudit.judges.refusal.engagement import request_embeddings
    except ImportError:  # a version that reads no requests (to compare with)
        request_embeddings = None
    if cold and request_embeddings is not None:
        request_embeddings.clear()
    start, start_cpu = time.perf_counter(), time.process_time()
    verdicts = judge.judge(items)
    return time.perf_counter() - start, time.process_time() - start_cpu, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--encoder", choices=("int8", "dynamic", "both"), default="int8")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)

    judges = {}
    if args.encoder in ("int8", "both"):
        judges["int8"] = get_judge("refusal")
    if args.encoder in ("dynamic", "both"):
        judges["dynamic"] = dynamic_judge()
    if args.file.exists():
        items, gold = load_labeled(args.file, "final_label")
    else:  # no labels here: time on synthetic responses of chat-model length
        text = "Here is a detailed answer to your question about baking bread. " * 10
        items, gold = [JudgeInput(str(i), "q", text) for i in range(450)], None
    totals = {(name, kind): [0.0, 0.0] for name in judges for kind in ("cold", "warm")}
    verdicts_of: dict[str, list] = {}
    for judge in judges.values():
        judge.judge(items[:64])  # warm-up
    for _ in range(args.repeat):  # interleaved: the machine's speed drifts
        for name, judge in judges.items():
            for kind in ("cold", "warm"):
                wall, cpu, verdicts_of[name] = timed(judge, items, cold=kind == "cold")
                totals[name, kind][0] += wall
                totals[name, kind][1] += cpu
    passes = len(items) * args.repeat
    rates = {name: round(passes / totals[name, "warm"][0], 1) for name in judges}
    if len(judges) > 1:
        report_both(rates, verdicts_of, gold, args.threads)
        return
    (name, verdicts), = verdicts_of.items()
    result: dict[str, float | None] = {"responses_per_s": rates[name],
                                       "responses_per_s_cold": round(
                                           passes / totals[name, "cold"][0], 1),
                                       "cpu_ms_per_response": round(
                                           1000 * totals[name, "warm"][1] / passes, 2),
                                       "cpu_ms_per_response_cold": round(
                                           1000 * totals[name, "cold"][1] / passes, 2),
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


def report_both(
    rates: dict[str, float], verdicts_of: dict[str, list], gold: list | None, threads: int
) -> None:
    result: dict[str, Any] = {
        "int8_responses_per_s": rates["int8"],
        "dynamic_responses_per_s": rates["dynamic"],
        "int8_speedup": round(rates["int8"] / rates["dynamic"], 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "threads": threads,
    }
    for name, verdicts in verdicts_of.items():
        accuracy = agreement([v.refused for v in verdicts], gold)["accuracy"] if gold else None
        result[f"{name}_accuracy_xstest"] = round(accuracy, 4) if accuracy is not None else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
