"""Interleaved timing of two sides on a shared machine: wall seconds and this process's CPU seconds.

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
    The first side is the reference, the second the new one."""
    reference, new = list(sides)
    outputs: dict[str, list[str]] = {}
    best = {name: float("inf") for name in sides}
    walls, cpus = [], []
    for _ in range(repeats):
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for name, run in sides.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = run()
            wall[name] = time.perf_counter() - start_wall
            cpu[name] = time.process_time() - start_cpu
            best[name] = min(best[name], wall[name])
            print(f"  {name}: {wall[name]:.1f} s wall, {cpu[name]:.1f} s cpu", flush=True)
        walls.append(round(wall[reference] / wall[new], 2))
        cpus.append(round(cpu[reference] / cpu[new], 2))
    summary = {
        "best_wall_s": {name: round(seconds, 1) for name, seconds in best.items()},
        "round_ratios": walls,  # each round's two runs back to back: load hits both
        "median_round_ratio": statistics.median(walls),
        "cpu_round_ratios": cpus,  # the same rounds in CPU seconds of this process
        "median_cpu_round_ratio": statistics.median(cpus),
    }
    return outputs, summary
