import json
from pathlib import Path

import pytest

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.metrics import bootstrap_ci, compute_results
from alignaudit.runs.store import JsonlLog, RunDir, write_json_atomic


def test_torn_last_line_is_dropped_and_next_append_starts_clean(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append([{"id": "a"}, {"id": "b"}])
    with open(log.path, "a") as handle:
        handle.write('{"id": "c", "resp')  # what a kill -9 mid-write leaves
    assert [r["id"] for r in log.read()] == ["a", "b"]
    log.append([{"id": "c"}])
    assert [r["id"] for r in log.read()] == ["a", "b", "c"]
    assert log.path.read_text().count("\n") == 3


def test_corrupt_line_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(InputFileError, match=r"log.jsonl:2: not valid JSON"):
        JsonlLog(path).read()


def test_atomic_json_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "r.json", {"x": 1})
    write_json_atomic(tmp_path / "r.json", {"x": 2})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_changed_config_is_refused_unless_overwrite(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.prepare({"run": {"model": "a", "seed": 0}, "judges": ["keyword"]})
    run.generations.append([{"id": "1", "response": "x"}])
    run.prepare({"run": {"model": "a", "seed": 0}, "judges": ["refusal"]})  # a new judge is fine
    assert run.read_config()["judges"] == ["keyword", "refusal"]
    with pytest.raises(AlignAuditError, match=r"changed: seed.*--overwrite"):
        run.prepare({"run": {"model": "a", "seed": 1}, "judges": ["keyword"]})
    run.prepare({"run": {"model": "a", "seed": 1}, "judges": ["keyword"]}, overwrite=True)
    assert run.generations.read() == []


def test_results_count_errors_apart_and_split_by_category() -> None:
    generations = [
        {"id": "1", "category": "malware"},
        {"id": "2", "category": "malware"},
        {"id": "3", "category": "fraud"},
        {"id": "4", "category": "fraud"},
    ]
    judgments = [
        {
            "id": "1",
            "judge": "rubric",
            "refused": True,
            "harmful": False,
            "score": 1,
            "error": None,
        },
        {
            "id": "2",
            "judge": "rubric",
            "refused": False,
            "harmful": True,
            "score": 5,
            "error": None,
        },
        {
            "id": "3",
            "judge": "rubric",
            "refused": None,
            "harmful": None,
            "score": None,
            "error": "unparseable",
        },
        {
            "id": "4",
            "judge": "rubric",
            "refused": False,
            "harmful": False,
            "score": 3,
            "error": None,
        },
    ]
    results = compute_results(generations, judgments)
    block = results["judges"]["rubric"]
    assert results["n"] == 4
    assert block["errors"] == 1 and block["n"] == 3
    assert block["harmful_rate"] == pytest.approx(1 / 3)
    assert block["refusal_rate"] == pytest.approx(1 / 3)
    assert block["mean_score"] == pytest.approx(3.0)
    # The rubric gives no verdict: complied and off-task were not measured, so they are null.
    assert block["complied_rate"] is None and block["off_task_rate"] is None
    assert block["ci95"]["complied_rate"] is None
    assert block["per_category"]["fraud"]["errors"] == 1
    assert block["per_category"]["fraud"]["mean_score"] == 3.0
    low, high = block["ci95"]["mean_score"]
    assert low <= 3.0 <= high


def test_bootstrap_interval_is_deterministic_and_brackets_the_mean() -> None:
    values = [1.0] * 30 + [0.0] * 70
    assert bootstrap_ci(values) == bootstrap_ci(values)
    low, high = bootstrap_ci(values)
    assert 0.15 < low < 0.3 < high < 0.45
    assert bootstrap_ci([]) is None


def test_verdicts_give_complied_and_off_task_rates_and_no_harm() -> None:
    generations = [{"id": str(i), "category": "benign" if i < 4 else "other"} for i in range(6)]
    verdicts = ["refused", "complied", "complied", "off_task", "off_task", None]
    judgments = [
        {
            "id": str(i),
            "judge": "refusal",
            "verdict": v,
            "refused": None if v is None else v == "refused",
            "harmful": None,
            "score": None,
            "error": None if v else "no verdict",
        }
        for i, v in enumerate(verdicts)
    ]
    block = compute_results(generations, judgments)["judges"]["refusal"]
    assert block["n"] == 5 and block["errors"] == 1
    assert block["refusal_rate"] == pytest.approx(0.2)
    assert block["complied_rate"] == pytest.approx(0.4)
    assert block["off_task_rate"] == pytest.approx(0.4)
    assert block["harmful_rate"] is None and block["ci95"]["harmful_rate"] is None
    low, high = block["ci95"]["off_task_rate"]
    assert low <= 0.4 <= high
    benign = block["per_category"]["benign"]
    assert benign["complied_rate"] == pytest.approx(0.5)
    assert benign["off_task_rate"] == pytest.approx(0.25)
    assert block["per_category"]["other"]["off_task_rate"] == 1.0
