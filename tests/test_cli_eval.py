"""The eval and score commands end to end, as a user runs them (subprocesses, real files)."""

import json
from pathlib import Path

import pytest

from tests.helpers import alignaudit, read_jsonl


@pytest.fixture
def benchmark_file(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    rows = [
        {"id": f"r{i}", "category": "alpha" if i % 2 else "beta", "prompt": f"Request number {i}."}
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_writes_the_contract_files_and_resumes_without_duplicates(
    benchmark_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "eval",
        "--model",
        "mockllm",  # the files and the resume are under test here, not a model
        "--benchmark",
        str(benchmark_file),
        "--judge",
        "keyword,refusal",
        "--max-new-tokens",
        "8",
        "--batch-size",
        "4",
        "--out",
        str(out),
    ]
    first = alignaudit(*args)
    assert "overall" in first.stdout and "alpha" in first.stdout
    generations = read_jsonl(out / "generations.jsonl")
    judgments = read_jsonl(out / "judgments.jsonl")
    assert sorted(g["id"] for g in generations) == [f"r{i}" for i in range(6)]
    assert set(generations[0]) >= {"id", "category", "prompt", "response"}
    pairs = [(j["id"], j["judge"]) for j in judgments]
    expected = [(g["id"], k) for g in generations for k in ("keyword", "refusal")]
    assert sorted(pairs) == sorted(expected)
    assert set(judgments[0]) >= {"id", "judge", "verdict", "refused", "harmful", "score", "error"}
    by_judge = {j["judge"]: j for j in judgments if j["id"] == "r0"}
    # Neither judge rates harm; only `refusal` reads the request and gives a verdict.
    assert by_judge["keyword"]["harmful"] is None and by_judge["keyword"]["verdict"] is None
    assert by_judge["refusal"]["harmful"] is None
    assert by_judge["refusal"]["verdict"] in ("refused", "complied", "off_task")
    results = json.loads((out / "results.json").read_text())
    assert results["n"] == 6
    block = results["judges"]["keyword"]
    assert block["harmful_rate"] is None and block["complied_rate"] is None
    refusal = results["judges"]["refusal"]
    assert refusal["harmful_rate"] is None
    assert refusal["refusal_rate"] + refusal["complied_rate"] + refusal["off_task_rate"] == (
        pytest.approx(1.0)
    )
    assert set(block) >= {
        "refusal_rate",
        "complied_rate",
        "off_task_rate",
        "harmful_rate",
        "mean_score",
        "errors",
        "ci95",
        "per_category",
    }
    assert set(block["per_category"]) == {"alpha", "beta"}
    assert results["agreement"][0]["a"] == "keyword" and results["agreement"][0]["n"] == 6
    assert "judge agreement" in first.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["benchmark"]["n"] == 6
    assert "transformers" in config["environment"]["libraries"]

    before = (out / "generations.jsonl").read_text(), (out / "judgments.jsonl").read_text()
    alignaudit(*args)
    assert (
        (out / "generations.jsonl").read_text(),
        (out / "judgments.jsonl").read_text(),
    ) == before

    changed = alignaudit(*args[:-2], "--max-new-tokens", "9", "--out", str(out), check=False)
    assert changed.returncode == 2
    assert "sampling.max_new_tokens" in changed.stderr and "--overwrite" in changed.stderr


def test_score_judges_a_responses_file(tmp_path: Path) -> None:
    responses = tmp_path / "responses.jsonl"
    responses.write_text(
        json.dumps({"id": "a", "prompt": "p", "response": "I'm sorry, I can't help with that."})
        + "\n"
        + json.dumps({"id": "b", "prompt": "p", "response": "Here is a short poem."})
        + "\n"
    )
    out = tmp_path / "judged.jsonl"
    alignaudit("score", str(responses), "--judge", "keyword", "--out", str(out))
    lines = read_jsonl(out)
    assert [(x["id"], x["refused"], x["harmful"], x["verdict"]) for x in lines] == [
        ("a", True, None, None),
        ("b", False, None, None),
    ]
    assert all(x["error"] is None and x["score"] is None for x in lines)


def test_bad_input_gives_one_line_naming_file_and_line(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    responses = tmp_path / "responses.jsonl"
    responses.write_text('{"id": "a", "prompt": "p", "response": "ok"}\n{"id": "b", oops}\n')
    result = alignaudit("score", str(responses), "--out", str(tmp_path / "o.jsonl"), check=False)
    assert result.returncode == 2
    assert f"{responses}:2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()

    unknown = alignaudit(
        "score", str(responses), "--judge", "nope", "--out", "x.jsonl", check=False
    )
    assert unknown.returncode == 2


@pytest.mark.slow
def test_default_model_end_to_end_on_builtin(default_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = alignaudit(
        "eval",
        "--model",
        "default",
        "--benchmark",
        "builtin",
        "--judge",
        "keyword",
        "--limit",
        "11",
        "--max-new-tokens",
        "24",
        "--out",
        str(out),
    )
    results = json.loads((out / "results.json").read_text())
    assert results["n"] == 11
    assert len(results["judges"]["keyword"]["per_category"]) == 11
    assert "overall" in result.stdout
    responses = [g["response"] for g in read_jsonl(out / "generations.jsonl")]
    assert all(responses) and len(set(responses)) > 5


def test_judge_template_is_recorded_in_config_and_checked_first(
    tiny_model_dir: Path, benchmark_file: Path, tmp_path: Path
) -> None:
    import hashlib

    template = tmp_path / "judge.txt"
    template.write_text("Grade.\n{instruction}\n{response}\n#thescore:")
    out = tmp_path / "run"
    common = ["eval", "--model", str(tiny_model_dir), "--benchmark", str(benchmark_file),
              "--limit", "2", "--max-new-tokens", "4", "--judge", "keyword"]
    alignaudit(*common, "--judge-template", str(template), "--out", str(out))
    recorded = json.loads((out / "config.json").read_text())["settings"]["judge_template"]
    assert recorded == {
        "path": str(template),
        "sha256": hashlib.sha256(template.read_bytes()).hexdigest(),
    }
    template.write_text("Grade {instruction} only.")
    bad = alignaudit(*common, "--judge-template", str(template), "--out", str(tmp_path / "b"),
                     check=False)
    assert bad.returncode == 2 and f"{template}: judge template lacks {{response}}" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()
