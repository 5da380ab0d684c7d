"""Interleaved timing of two sides on a shared machine: wall seconds and this process's CPU seconds
(and the switch that puts the token loop back as it was before issue 19, for the reference sides).

Other jobs on the machine stretch wall time, unevenly from one run to the next; the CPU time
this process used (`time.process_time`) moves much less with them, so with one torch thread
(`OMP_NUM_THREADS=1`) it is the steadier measure of the work a side does. Each round runs both
sides back to back; each round's ratios (reference / new) are reported, with their medians.
"""

import statistics
import time
from collections.abc import Callable
from typing import Any


def interleaved_rounds(
    sides: dict[str, Callable[[], list[str]]], repeats: int
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Run every side once per round, `repeats` rounds; (last outputs, timing summary).
    The first side is the reference, the second the new one; any further side is compared with
    the reference too (`others`)."""
    reference, new, *others = list(sides)
    outputs: dict[str, list[str]] = {}
    best = {name: float("inf") for name in sides}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = run()
            wall = time.perf_counter() - start_wall
            cpu = time.process_time() - start_cpu
            walls[name].append(wall)
            cpus[name].append(cpu)
            best[name] = min(best[name], wall)
            print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s cpu", flush=True)
    summary = {
        "best_wall_s": {name: round(seconds, 1) for name, seconds in best.items()},
        **_round_ratios(walls, cpus, reference, new),
    }
    if others:
        summary["others"] = {name: _round_ratios(walls, cpus, reference, name) for name in others}
    return outputs, summary


def _round_ratios(
    walls: dict[str, list[float]], cpus: dict[str, list[float]], reference: str, side: str
) -> dict[str, Any]:
    """Each round's reference / side ratios (the round's runs close together: load hits both)."""
    wall = [round(a / b, 2) for a, b in zip(walls[reference], walls[side], strict=True)]
    cpu = [round(a / b, 2) for a, b in zip(cpus[reference], cpus[side], strict=True)]
    return {
        "round_ratios": wall,
        "median_round_ratio": round(statistics.median(wall), 3),
        "cpu_round_ratios": cpu,  # the same rounds in CPU seconds of this process
        "median_cpu_round_ratio": round(statistics.median(cpu), 3),
    }


def loop_as_before_issue_19(loop: Any) -> None:
    """Switch a token-loop generator (or the class, for every one) to the engine as it was:
    no dropping of finished rows, no length order, no refilling, no shared-prefix prefill,
    transformers' KV cache copied whole each step."""
    loop.drop_finished_rows = loop.batch_by_length = loop.refill = False
    loop.share_prompt_prefix = loop.grow_cache_in_place = False
