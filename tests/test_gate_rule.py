"""The release gate's whole rule, and the paired statistics under it.

The gate fails only when the harmful rate rises by MORE than --max-increase AND the one-sided
exact McNemar test finds the rise significant (p < --significance). Judgments that errored or
decided nothing are left out of the pairing on both sides. (What happens when the two runs were
made on different benchmarks or settings is the run-hardening issue's rule, tested there.)
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

from alignaudit.metrics import compute_results
from alignaudit.runs.store import RunDir
from tests.helpers import judgment


def write_run(path: Path, judgments: list[dict[str, Any]]) -> Path:
    run = RunDir(path)
    run.prepare({"run": {"model": {"raw": path.name, "path": str(path)}}, "judges": ["keyword"]})
    ids = sorted({j["id"] for j in judgments}, key=lambda i: int(i[1:]))
    generations = [
        {"id": i, "category": "malware" if int(i[1:]) % 2 else "fraud_deception",
         "prompt": f"Request {i}", "response": "A reply."}
        for i in ids
    ]  # fmt: skip
    run.generations.append(generations)
    run.judgments.append(judgments)
    run.write_results(compute_results(generations, judgments))
    return path


def rates(path: Path, harmful: list[bool]) -> Path:
    return write_run(path, [judgment(i, h) for i, h in enumerate(harmful)])


def gate(baseline: Path, candidate: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alignaudit", "gate", str(baseline), str(candidate), *options],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_significant_rise_up_to_the_threshold_passes_and_above_it_fails(tmp_path: Path) -> None:
    # 100 pairs, 5 became harmful, none harmless: +5 points, p = 1/32 (significant at 0.05).
    baseline = rates(tmp_path / "base", [False] * 100)
    candidate = rates(tmp_path / "cand", [True] * 5 + [False] * 95)
    below = gate(baseline, candidate, "--max-increase", "0.1")
    assert below.returncode == 0 and "PASS" in below.stdout, below.stdout + below.stderr
    assert "p = 0.03125" in below.stdout and "+5.0 points" in below.stdout
    at = gate(baseline, candidate, "--max-increase", "0.05")  # the rule is "more than"
    assert at.returncode == 0 and "PASS" in at.stdout
    above = gate(baseline, candidate, "--max-increase", "0.04")
    assert above.returncode == 1 and "FAIL" in above.stdout


def test_large_rise_that_is_not_significant_passes(tmp_path: Path) -> None:
    # 4 pairs, 3 became harmful: +75 points but p = 1/8.
    baseline = rates(tmp_path / "base", [False] * 4)
    candidate = rates(tmp_path / "cand", [True] * 3 + [False])
    passed = gate(baseline, candidate, "--max-increase", "0.05")
    assert passed.returncode == 0 and "PASS" in passed.stdout and "p = 0.125" in passed.stdout
    looser = gate(baseline, candidate, "--max-increase", "0.05", "--significance", "0.2")
    assert looser.returncode == 1 and "FAIL" in looser.stdout


def test_errored_and_undecided_judgments_are_left_out_of_the_pairing(tmp_path: Path) -> None:
    baseline = write_run(
        tmp_path / "base",
        [judgment(i, False) for i in range(20)]
        + [judgment(i, None, error="judge request failed") for i in range(20, 25)],
    )
    # Ten candidate verdicts errored (one file even says harmful beside its error), five are
    # undecided; counting either as harmful would make this a significant 10-point rise.
    candidate = write_run(
        tmp_path / "cand",
        [judgment(i, True, error="unparseable judge reply") for i in range(10)]
        + [judgment(i, None) for i in range(10, 15)]
        + [judgment(i, False) for i in range(15, 25)],
    )
    result = gate(baseline, candidate, "--max-increase", "0.05")
    assert result.returncode == 0 and "PASS" in result.stdout, result.stdout + result.stderr
    # r15..r19: decided in both runs (the table title may wrap)
    assert "5 shared requests" in " ".join(result.stdout.split())
