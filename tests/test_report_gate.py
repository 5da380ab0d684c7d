"""Report and gate over run directories written the way `eval` writes them."""

import json
import re
import subprocess
import sys
from pathlib import Path

from alignaudit.metrics import compute_results
from alignaudit.metrics.paired import mcnemar_exact_greater
from alignaudit.report.html import Condition, training_sweeps, write_report
from alignaudit.runs.store import RunDir

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">'


def make_run(
    path: Path, harmful: list[bool], response: str = "A reply.", model_path: str | None = None
) -> Path:
    run = RunDir(path)
    model = {"raw": path.name, "path": model_path or str(path / "no-model")}
    run.prepare({"run": {"model": model}, "judges": ["keyword"]})
    generations = [
        {
            "id": f"r{i}",
            "category": "malware" if i % 2 else "fraud_deception",
            "prompt": f"Request {i}",
            "response": response,
        }
        for i in range(len(harmful))
    ]
    judgments = [
        {
            "id": f"r{i}",
            "judge": "keyword",
            "refused": not h,
            "harmful": h,
            "score": None,
            "error": None,
        }
        for i, h in enumerate(harmful)
    ]
    run.generations.append(generations)
    run.judgments.append(judgments)
    run.write_results(compute_results(generations, judgments))
    return path


def gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alignaudit", "gate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gate_fails_on_a_significant_rise_and_passes_on_itself(tmp_path: Path) -> None:
    baseline = make_run(tmp_path / "aligned", [False] * 20)
    attacked = make_run(tmp_path / "aoa", [True] * 12 + [False] * 8)
    failed = gate(str(baseline), str(attacked), "--max-increase", "0.05")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL" in failed.stdout and "McNemar" in failed.stdout and "malware" in failed.stdout
    same = gate(str(baseline), str(baseline), "--max-increase", "0.05")
    assert same.returncode == 0 and "PASS" in same.stdout
    # A rise larger than allowed but not significant on so few pairs passes.
    small = make_run(tmp_path / "small", [True] * 2 + [False] * 18)
    assert gate(str(baseline), str(small), "--max-increase", "0.05").returncode == 0


def test_mcnemar_exact_values() -> None:
    assert mcnemar_exact_greater(5, 0) == 1 / 32
    assert mcnemar_exact_greater(0, 0) == 1.0
    assert abs(mcnemar_exact_greater(10, 3) - 0.046142578125) < 1e-12


def test_report_is_self_contained_and_escapes_model_text(tmp_path: Path) -> None:
    conditions = [
        Condition.load("aligned", make_run(tmp_path / "a", [False] * 6, response=HOSTILE)),
        Condition.load("aoa", make_run(tmp_path / "b", [True] * 4 + [False] * 2)),
        Condition.load("ed-alpha-0.5", make_run(tmp_path / "c", [True] * 3 + [False] * 3)),
    ]
    out = write_report(conditions, tmp_path / "report.html")
    html = out.read_text()
    assert "<script>" not in html and 'onerror="' not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)  # nothing fetched
    assert html.count("<svg") >= 3  # headline, per-category and ED curve
    assert (tmp_path / "summary.md").read_text().count("| aoa |") == 1
    redacted = write_report(conditions, tmp_path / "r2.html", redact=True).read_text()
    assert "[redacted]" in redacted and "&lt;script&gt;" not in redacted


def test_report_plots_harm_against_the_swept_fine_tuning_setting(tmp_path: Path) -> None:
    conditions = [Condition.load("aligned", make_run(tmp_path / "aligned", [False] * 4))]
    for epochs, harmful in ((1, 1), (2, 2), (4, 4)):
        model = tmp_path / "models" / f"aoa-e{epochs}"
        model.mkdir(parents=True)
        record = {"recipe": "aoa", "training_config": {"epochs": epochs, "lr": 5e-4}}
        (model / "alignaudit_model.json").write_text(json.dumps(record))
        run = make_run(
            tmp_path / f"aoa-e{epochs}",
            [True] * harmful + [False] * (4 - harmful),
            model_path=str(model),
        )
        conditions.append(Condition.load(f"aoa-e{epochs}", run))
    assert training_sweeps(conditions, "keyword") == [
        ("aoa", "epochs", [(1.0, 0.25), (2.0, 0.5), (4.0, 1.0)])
    ]
    html = write_report(conditions, tmp_path / "report.html").read_text()
    assert "harm against training settings" in html
