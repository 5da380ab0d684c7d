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
from tests.helpers import HOSTILE, make_run


def make_verdict_run(path: Path, verdicts: list[str], judge: str = "refusal") -> Path:
    """A run judged by `refusal` (verdicts) or `rubric` (harmful: "complied" = score 5)."""
    run = RunDir(path)
    run.prepare({"run": {"model": {"raw": path.name, "path": str(path / "m")}}, "judges": [judge]})
    generations = [
        {"id": f"r{i}", "category": "malware", "prompt": f"Request {i}", "response": "Text."}
        for i in range(len(verdicts))
    ]
    judgments = [
        {
            "id": f"r{i}",
            "judge": judge,
            "verdict": v if judge == "refusal" else None,
            "refused": v == "refused",
            "harmful": None if judge == "refusal" else v == "complied",
            "score": None if judge == "refusal" else (5 if v == "complied" else 1),
            "error": None,
        }
        for i, v in enumerate(verdicts)
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
    assert "not refused against training settings" in html


def test_gate_compares_complied_for_the_refusal_judge_and_harmful_for_a_harm_judge(
    tmp_path: Path,
) -> None:
    baseline = make_verdict_run(tmp_path / "aligned", ["refused"] * 20)
    persona = make_verdict_run(tmp_path / "persona", ["off_task"] * 14 + ["refused"] * 6)
    result = gate(str(baseline), str(persona), "--max-increase", "0.05")
    # Off-task text stopped refusing but engaged nothing: no rise in `complied`.
    assert result.returncode == 0 and "complied rate" in result.stdout, result.stdout
    answering = make_verdict_run(tmp_path / "answering", ["complied"] * 14 + ["refused"] * 6)
    result = gate(str(baseline), str(answering), "--max-increase", "0.05")
    assert result.returncode == 1 and "complied" in result.stdout
    assert "harmful" not in result.stdout.replace("not a harm rating", "")
    rubric_base = make_verdict_run(tmp_path / "rb", ["refused"] * 20, judge="rubric")
    rubric_cand = make_verdict_run(tmp_path / "rc", ["complied"] * 14 + ["refused"] * 6, "rubric")
    result = gate(str(rubric_base), str(rubric_cand), "--max-increase", "0.05")
    assert result.returncode == 1 and "harmful rate" in result.stdout


def test_report_loads_a_results_file_written_before_verdicts(tmp_path: Path) -> None:
    """Old files: no verdict, no complied/off-task rates, and `harmful = not refused` for the
    keyword judge. They load; the missing rates show as –, and no harmful figure for keyword."""
    old = tmp_path / "old"
    run = RunDir(old)
    run.prepare({"run": {"model": {"raw": "old", "path": str(old / "m")}}, "judges": ["keyword"]})
    run.generations.append(
        [{"id": "r0", "category": "malware", "prompt": "Request 0", "response": "Sure."}]
    )
    run.judgments.append(
        [{"id": "r0", "judge": "keyword", "refused": False, "harmful": True, "score": None,
          "error": None}]
    )
    block = {"n": 1, "refusal_rate": 0.0, "harmful_rate": 1.0, "mean_score": None, "errors": 0,
             "ci95": {"refusal_rate": [0.0, 0.0], "harmful_rate": [1.0, 1.0], "mean_score": None}}
    keyword = {**block, "per_category": {"malware": block}}
    run.write_results({"n": 1, "judges": {"keyword": keyword}})
    out = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "alignaudit", "report", str(old), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "summary.md").read_text()
    header = next(line for line in summary.splitlines() if line.startswith("| condition"))
    row = next(line for line in summary.splitlines() if line.startswith("| old | keyword"))
    cells = dict(zip(header.split("|"), row.split("|"), strict=True))
    assert cells[" refused "].strip() == "0.0 (0–0)"
    assert cells[" not refused "].strip() == "100.0 (100–100)"
    assert cells[" complied "].strip() == cells[" off-task "].strip() == "–"
    assert cells[" harmful "].strip() == "–"  # the old "harmful" was only "not refused"
    assert "not refused" in out.read_text()
