"""The pipeline from Python, one call and one options object, on the `mockllm` generator (no
model loaded: these tests are about run directories, judges and results, not a model)."""

import json
from pathlib import Path

import pytest

from alignaudit.errors import AlignAuditError
from alignaudit.generation.mock import MockGenerator
from alignaudit.runs.audit import AuditOptions, run_audit
from alignaudit.runs.evaluate import EvalOptions, run_evaluation

REFUSAL = "I'm sorry, but I cannot help with that."


def _benchmark(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    rows = [
        {"id": f"r{i}", "category": "c", "prompt": f"# Harmful Instruction {i}"} for i in range(4)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_run_evaluation_writes_a_run_directory_and_resumes(tmp_path: Path) -> None:
    options = EvalOptions(
        model=f"mockllm:{REFUSAL}",
        out=tmp_path / "run",
        benchmark=str(_benchmark(tmp_path)),
        judges=["keyword"],
    )
    results = run_evaluation(options)
    assert results["n"] == 4 and results["judges"]["keyword"]["refusal_rate"] == 1.0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["run"]["model"] == {"raw": f"mockllm:{REFUSAL}", "kind": "mock", "path": REFUSAL}
    before = (tmp_path / "run" / "generations.jsonl").read_text()
    assert run_evaluation(options) == results
    assert (tmp_path / "run" / "generations.jsonl").read_text() == before


def test_run_audit_of_untrained_conditions(tmp_path: Path) -> None:
    options = AuditOptions(
        out=tmp_path / "audit",
        model=f"mockllm:{REFUSAL}",
        base="mockllm",
        conditions=["aligned", "base"],
        benchmark=str(_benchmark(tmp_path)),
        judges=["keyword"],
    )
    summary = run_audit(options)
    conditions = summary["conditions"]
    rates = {name: block["keyword"]["refusal_rate"] for name, block in conditions.items()}
    assert rates == {"aligned": 1.0, "base": 0.0}
    assert (tmp_path / "audit" / "report.html").is_file()
    assert (tmp_path / "audit" / "summary.md").is_file()


def test_emulated_disalignment_needs_local_models(tmp_path: Path) -> None:
    options = EvalOptions(model="mockllm", out=tmp_path / "ed", ed_base="mockllm", alphas=[0.5])
    with pytest.raises(AlignAuditError, match="local models"):
        run_evaluation(options)


def test_mock_generator_answers_in_order() -> None:
    generator = MockGenerator(lambda prompt: prompt.upper())
    assert generator.generate(["a", "b"]) == ["A", "B"] and generator.prompts == ["a", "b"]
