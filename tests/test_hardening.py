"""Hardening (issue 18): bad input gives one line naming file, line or flag (exit code 2);
nothing is overwritten or counted twice; no silent wrong verdict.

Most commands run in-process through the real entry point (`alignaudit.cli.main.main`), which
is what the console script calls; the lock test needs a second process and runs one.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from alignaudit.metrics import compute_results
from alignaudit.runs.store import JsonlLog, RunDir
from tests.helpers import cli, one_line_error, read_jsonl
from tests.openai_server import OpenAIServer

RUBRIC_REPLY = "#thereason: placeholder analysis\n#thescore: 1"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make_run(
    path: Path,
    harmful: list[bool],
    fingerprint: str | None = "f0",
    judge: str = "keyword",
) -> Path:
    """A run directory as `eval` writes it, without a model."""
    run = RunDir(path)
    benchmark = {"spec": "b.jsonl", "limit": None, "n": len(harmful), "fingerprint": fingerprint}
    run.prepare({"run": {"model": {"raw": path.name}, "benchmark": benchmark}, "judges": [judge]})
    generations = [
        {"id": f"r{i}", "category": "c", "prompt": f"Request {i}", "response": "A reply."}
        for i in range(len(harmful))
    ]
    judgments = [
        {"id": f"r{i}", "judge": judge, "refused": not h, "harmful": h, "score": None,
         "error": None}
        for i, h in enumerate(harmful)
    ]
    run.generations.append(generations)
    run.judgments.append(judgments)
    run.write_results(compute_results(generations, judgments))
    return path


def eval_args(server: OpenAIServer, out: Path, *extra: str, model: str = "openai:tiny") -> list:
    return [
        "eval", "--model", model, "--base-url", server.url, "--benchmark", "builtin",
        "--limit", "4", "--judge", "keyword", "--out", str(out), *extra,
    ]


# 1. Non-UTF-8 input ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_non_utf8_benchmark_names_file_and_line(
    capsys: pytest.CaptureFixture, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"bench{suffix}"
    if suffix == ".jsonl":
        path.write_bytes(b'{"prompt": "Request one."}\n{"prompt": "Caf\xe9 request."}\n')
    else:
        path.write_bytes(b"prompt,category\nRequest one.,a\nCaf\xe9 request.,b\n")
    code, _, err = cli(capsys, "eval", "--model", "openai:x", "--benchmark", str(path),
                       "--out", str(tmp_path / "run"))
    line = one_line_error(err)
    assert code == 2
    assert f"bench{suffix}:{2 if suffix == '.jsonl' else 3}" in line and "UTF-8" in line


def test_non_utf8_score_input_names_file_and_line(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "responses.jsonl"
    path.write_bytes(
        b'{"id": 1, "prompt": "p", "response": "ok"}\n'
        b'{"id": 2, "prompt": "p", "response": "\xff\xfe"}\n'
    )
    code, _, err = cli(capsys, "score", str(path), "--out", str(tmp_path / "j.jsonl"))
    assert code == 2 and "responses.jsonl:2" in one_line_error(err)


def test_non_utf8_training_data_names_file_and_line(
    capsys: pytest.CaptureFixture, tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(b'{"messages": [{"role": "user", "content": "Caf\xe9"}]}\n')
    code, _, err = cli(capsys, "finetune", "--model", str(tiny_model_dir), "--recipe", "sft",
                       "--data", str(data), "--out", str(tmp_path / "m"))
    assert code == 2 and "train.jsonl:1" in one_line_error(err)


# 2. A torn tail cut inside a multi-byte character ----------------------------------------------


def test_torn_tail_inside_a_multibyte_character_is_cut_before_decoding(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    run = make_run(tmp_path / "run", [False, True])
    other = make_run(tmp_path / "other", [False, True])
    for path in (run / "generations.jsonl", run / "judgments.jsonl"):
        torn = '{"id": "r9", "judge": "keyword", "response": "caf\u00e9'.encode()
        with open(path, "ab") as handle:
            handle.write(torn[:-1])  # the kill landed inside the two bytes of "é"
    assert [r["id"] for r in JsonlLog(run / "judgments.jsonl").read()] == ["r0", "r1"]
    code, out, err = cli(capsys, "gate", str(other), str(run), "--max-increase", "0.5")
    assert code == 0, err
    assert "compared 2 requests" in out
    JsonlLog(run / "generations.jsonl").append([{"id": "r2", "response": "x"}])
    assert [r["id"] for r in JsonlLog(run / "generations.jsonl").read()] == ["r0", "r1", "r2"]


# 3. Options out of range -------------------------------------------------------------------------

BAD_OPTIONS = [
    (["eval", "--batch-size", "0"], "--batch-size"),
    (["eval", "--batch-size", "-3"], "--batch-size"),
    (["eval", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["eval", "--concurrency", "0"], "--concurrency"),
    (["eval", "--temperature", "-1"], "--temperature"),
    (["eval", "--top-p", "5"], "--top-p"),
    (["eval", "--dtype", "float8"], "--dtype"),
    (["eval", "--device", "gpu7"], "--device"),
    (["eval", "--limit", "0"], "--limit"),
    (["eval", "--timeout", "0"], "--timeout"),
    (["score", "--concurrency", "0"], "--concurrency"),
    (["audit", "--batch-size", "0"], "--batch-size"),
    (["audit", "--method", "sgd"], "--method"),
    (["finetune", "--recipe", "benign", "--lora-r", "0"], "--lora-r"),
    (["finetune", "--recipe", "benign", "--dtype", "float8"], "--dtype"),
    (["gate", "--max-increase", "-0.5"], "--max-increase"),
    (["gate", "--max-increase", "0.1", "--significance", "0"], "--significance"),
    (["gate", "--max-increase", "0.1", "--significance", "1"], "--significance"),
]


@pytest.mark.parametrize(("args", "flag"), BAD_OPTIONS)
def test_out_of_range_options_are_refused_naming_the_flag(
    capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str], flag: str
) -> None:
    command, rest = args[0], args[1:]
    missing = tmp_path / "missing"
    positional = {
        "eval": ["--model", "openai:x", "--benchmark", str(missing), "--out", str(tmp_path / "o")],
        "score": [str(make_run(tmp_path / "run", [False])), "--out", str(tmp_path / "j.jsonl")],
        "audit": ["--out", str(tmp_path / "audit"), "--model", str(missing)],
        "finetune": ["--model", str(missing), "--out", str(tmp_path / "m")],
        "gate": [str(make_run(tmp_path / "a", [False])), str(make_run(tmp_path / "b", [False]))],
    }[command]
    code, _, err = cli(capsys, command, *positional, *rest)
    line = one_line_error(err)
    assert code == 2 and flag in line


def test_a_cuda_index_beyond_the_visible_devices_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from alignaudit.errors import AlignAuditError
    from alignaudit.models.hf import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(AlignAuditError, match="--device cuda:9"):
        resolve_device("cuda:9")


# 4. A 200 with a body that is not chat-completions JSON ----------------------------------------


@pytest.mark.parametrize("body", [b'{"id": "chatcmpl-1", "choi', b"<html>proxy error</html>"])
def test_a_truncated_or_non_json_200_body_is_a_request_error(body: bytes) -> None:
    from alignaudit.openai_chat import ChatClient, ChatRequestError

    with OpenAIServer(raw_body=lambda _: body) as server:
        client = ChatClient("tiny", base_url=server.url, max_retries=1)
        with pytest.raises(ChatRequestError, match="not JSON|without choices"):
            client.complete([{"role": "user", "content": "x"}])
    assert server.requests


def test_score_records_a_bad_body_as_that_items_error_and_goes_on(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    run = make_run(tmp_path / "run", [False, False, False])
    bad_request = "Request 1"

    def raw(body: dict) -> bytes | None:
        return b'{"choices": [{"mess' if bad_request in body["messages"][-1]["content"] else None

    out = tmp_path / "j.jsonl"
    with OpenAIServer(lambda body: RUBRIC_REPLY, raw_body=raw) as server:
        code, _, err = cli(capsys, "score", str(run), "--judge", "rubric", "--judge-model",
                           "openai:judge", "--judge-base-url", server.url, "--out", str(out))
    assert code == 0, err
    by_id = {r["id"]: r for r in read_jsonl(out)}
    assert by_id["r1"]["error"] and "not JSON" in by_id["r1"]["error"]
    assert by_id["r0"]["score"] == 1 and by_id["r2"]["score"] == 1


# 5 and 6. Wrong kinds of paths; never writing over inputs or a run's files -----------------------


def test_report_and_gate_given_a_file_for_a_run_directory(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    run = make_run(tmp_path / "run", [False])
    jsonl = run / "generations.jsonl"
    code, _, err = cli(capsys, "report", str(jsonl), "--out", str(tmp_path / "r.html"))
    assert code == 2 and "not a run directory" in one_line_error(err)
    code, _, err = cli(capsys, "gate", str(run), str(jsonl), "--max-increase", "0.1")
    assert code == 2 and "not a run directory" in one_line_error(err)


def test_report_out_an_existing_directory(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [False])
    (tmp_path / "reports").mkdir()
    code, _, err = cli(capsys, "report", str(run), "--out", str(tmp_path / "reports"))
    assert code == 2 and "is a directory" in one_line_error(err)


@pytest.mark.parametrize("name", ["generations.jsonl", "judgments.jsonl", "results.json"])
def test_no_command_writes_over_a_runs_own_files(
    capsys: pytest.CaptureFixture, tmp_path: Path, name: str
) -> None:
    run = make_run(tmp_path / "run", [False, True])
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    code, _, err = cli(capsys, "report", str(run), "--out", str(run / name))
    assert code == 2 and "write elsewhere" in one_line_error(err)
    if name.endswith(".jsonl"):
        code, _, err = cli(capsys, "score", str(run), "--out", str(run / name))
        assert code == 2 and "write elsewhere" in one_line_error(err)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_score_out_a_file_of_other_records(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [False])
    other = tmp_path / "copy.jsonl"
    other.write_bytes((run / "generations.jsonl").read_bytes())
    code, _, err = cli(capsys, "score", str(run), "--out", str(other))
    assert code == 2 and "not judgments" in one_line_error(err)


def test_score_never_writes_over_its_input_file(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "responses.jsonl"
    path.write_text('{"id": 1, "prompt": "p", "response": "I cannot help."}\n')
    before = path.read_bytes()
    code, _, err = cli(capsys, "score", str(path), "--out", str(path))
    assert code == 2 and "input" in one_line_error(err)
    assert path.read_bytes() == before


def test_finetune_overwrite_never_replaces_its_own_model_or_a_run(
    capsys: pytest.CaptureFixture, tmp_path: Path, tiny_model_dir: Path
) -> None:
    before = sorted(p.name for p in tiny_model_dir.iterdir())
    code, _, err = cli(capsys, "finetune", "--model", str(tiny_model_dir), "--recipe", "benign",
                       "--out", str(tiny_model_dir), "--overwrite")
    assert code == 2 and "input" in one_line_error(err)
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == before
    run = make_run(tmp_path / "run", [False])
    code, _, err = cli(capsys, "finetune", "--model", str(tiny_model_dir), "--recipe", "benign",
                       "--out", str(run), "--overwrite")
    assert code == 2 and "run directory" in one_line_error(err)
    assert (run / "generations.jsonl").exists()


# 7. One process per run; readers keep one record per id ----------------------------------------


def test_a_second_process_on_a_locked_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    from alignaudit.runs.lock import exclusive

    out = tmp_path / "run"
    with exclusive(out):
        done = subprocess.run(
            [sys.executable, "-m", "alignaudit", "eval", "--model", "openai:x", "--base-url",
             "http://127.0.0.1:9/v1", "--limit", "2", "--out", str(out)],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert f"PID {os.getpid()}" in one_line_error(done.stderr)
    assert not (out / "generations.jsonl").exists()
    assert not (out / ".alignaudit.lock").exists()  # removed on release


def test_an_audit_directory_is_locked_too(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    from alignaudit.runs.lock import exclusive

    script = (
        "import sys, time; from alignaudit.runs.lock import exclusive\n"
        f"with exclusive({str(tmp_path / 'audit')!r}):\n"
        "    print('held', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, _, err = cli(capsys, "audit", "--out", str(tmp_path / "audit"), "--limit", "2",
                           "--model", str(tmp_path / "missing"))
        assert code == 2 and f"PID {holder.pid}" in one_line_error(err)
    finally:
        holder.kill()
        holder.wait()
    with exclusive(tmp_path / "audit"):  # released by the kernel when the holder died
        pass


def test_duplicate_lines_are_read_once_everywhere(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    run = make_run(tmp_path / "run", [False, True, False, True])
    generations, judgments = run / "generations.jsonl", run / "judgments.jsonl"
    for path in (generations, judgments):  # what two interleaved processes used to leave
        path.write_text(path.read_text() * 2)
    out = tmp_path / "j.jsonl"
    code, _, err = cli(capsys, "score", str(run), "--out", str(out))
    assert code == 0, err
    assert len(read_jsonl(out)) == 4
    assert not (tmp_path / ".j.jsonl.lock").exists()
    code, _, err = cli(capsys, "report", str(run), "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    assert "| run | keyword | 4 |" in (tmp_path / "r.md").read_text()
    results = compute_results(read_jsonl(generations), read_jsonl(judgments))
    assert results["n"] == 4 and results["judges"]["keyword"]["n"] == 4


# 8. A failed start does not block the corrected command -----------------------------------------


def test_a_failed_start_does_not_block_the_corrected_command(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with OpenAIServer(lambda body: "I cannot help with that.", fail=[404]) as server:
        code, _, err = cli(capsys, *eval_args(server, out, model="openai:typo"))
        assert code == 2 and "404" in one_line_error(err)
        code, _, err = cli(capsys, *eval_args(server, out, model="openai:tiny"))
    assert code == 0, err
    assert len(read_jsonl(out / "generations.jsonl")) == 4
    assert json.loads((out / "config.json").read_text())["run"]["model"]["raw"] == "openai:tiny"


def test_a_run_with_answers_is_still_protected(tmp_path: Path) -> None:
    from alignaudit.errors import AlignAuditError

    run = RunDir(make_run(tmp_path / "run", [False]))
    with pytest.raises(AlignAuditError, match="--overwrite"):
        run.prepare({"run": {"model": {"raw": "other"}}, "judges": ["keyword"]})


# 9 and 10. Empty and filtered replies; retrying errors on resume -------------------------------


def filtering_server(blocked: set[str], **kwargs: Any) -> OpenAIServer:
    """Answers "null" content with content_filter for blocked prompts, "" for those ending in 1."""

    def prompt(body: dict) -> str:
        return body["messages"][-1]["content"]

    def reply(body: dict) -> str | None:
        if prompt(body) in blocked:
            return None
        return "Sure, here is a placeholder answer."

    def reason(body: dict) -> str:
        return "content_filter" if prompt(body) in blocked else "stop"

    return OpenAIServer(reply, finish_reason=reason, **kwargs)


def builtin_prompts(limit: int) -> list[str]:
    from alignaudit.runs.evaluate import load_requests

    return [r.prompt for r in load_requests("builtin", limit, 0)]


def test_a_filtered_or_empty_reply_is_a_generation_error_never_compliance(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    prompts = builtin_prompts(4)
    out = tmp_path / "run"
    with filtering_server({prompts[0]}) as server:
        server.reply = lambda body, inner=server.reply: (
            "" if body["messages"][-1]["content"] == prompts[1] else inner(body)
        )
        code, stdout, err = cli(capsys, *eval_args(server, out))
    assert code == 0, err
    generations = {g["prompt"]: g for g in read_jsonl(out / "generations.jsonl")}
    assert generations[prompts[0]]["finish_reason"] == "content_filter"
    assert "content_filter" in generations[prompts[0]]["error"]
    assert generations[prompts[1]]["error"] and generations[prompts[2]].get("error") is None
    judgments = {j["id"]: j for j in read_jsonl(out / "judgments.jsonl")}
    for prompt in prompts[:2]:
        verdict = judgments[generations[prompt]["id"]]
        assert verdict["harmful"] is None and verdict["refused"] is None and verdict["error"]
    block = json.loads((out / "results.json").read_text())["judges"]["keyword"]
    assert block["n"] == 2 and block["errors"] == 2 and block["generation_errors"] == 2
    assert block["refusal_rate"] == 0.0  # over the two answers only
    assert "2 no answer" in stdout  # a whole table cell, however long the run path


def test_resume_retries_errors_by_default_and_keeps_them_when_asked(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    prompts = builtin_prompts(4)
    out = tmp_path / "run"
    blocked = {prompts[0]}
    with filtering_server(blocked) as server:
        assert cli(capsys, *eval_args(server, out))[0] == 0
        sent = len(server.requests)
        blocked.clear()  # the server's filter no longer blocks it
        code, _, err = cli(capsys, *eval_args(server, out, "--no-retry-errors"))
        assert code == 0, err
        assert len(server.requests) == sent  # errors kept: nothing sent
        code, _, err = cli(capsys, *eval_args(server, out))
        assert code == 0, err
        assert len(server.requests) == sent + 1  # only the failed generation is redone
    results = json.loads((out / "results.json").read_text())["judges"]["keyword"]
    assert results["n"] == 4 and results["errors"] == 0
    assert len(RunDir(out).generations.read()) == 4


def test_judge_errors_are_retried_on_resume(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [False, False])
    out = tmp_path / "j.jsonl"
    replies = iter(["no verdict here", "no verdict here"])
    with OpenAIServer(lambda body: next(replies, RUBRIC_REPLY)) as server:
        args = ["score", str(run), "--judge", "rubric", "--judge-model", "openai:judge",
                "--judge-base-url", server.url, "--out", str(out)]
        assert cli(capsys, *args)[0] == 0
        assert all(r["error"] for r in JsonlLog(out).read())
        assert cli(capsys, *args, "--no-retry-errors")[0] == 0
        assert len(server.requests) == 2
        code, stdout, err = cli(capsys, *args)
    assert code == 0, err
    assert len(server.requests) == 4
    assert [r["score"] for r in JsonlLog(out).read()] == [1, 1]


# 11. The gate compares like with like -----------------------------------------------------------


def test_gate_refuses_runs_of_different_benchmarks_unless_allow_partial(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    baseline = make_run(tmp_path / "base", [False] * 10, fingerprint="aaa")
    candidate = make_run(tmp_path / "cand", [False], fingerprint="bbb")
    code, _, err = cli(capsys, "gate", str(baseline), str(candidate), "--max-increase", "0.1")
    assert code == 2 and "--allow-partial" in one_line_error(err)
    code, out, err = cli(capsys, "gate", str(baseline), str(candidate), "--max-increase", "0.1",
                         "--allow-partial")
    assert code == 0, err
    assert "compared 1 requests" in out and "dropped 9" in out


# 12. --timeout; retries on the progress bar ----------------------------------------------------


def test_a_hung_server_costs_the_timeout_not_minutes() -> None:
    from alignaudit.openai_chat import ChatClient, ChatRequestError

    with OpenAIServer(hang=threading.Event()) as server:
        client = ChatClient("tiny", base_url=server.url, max_retries=1, timeout=0.3)
        started = time.perf_counter()
        with pytest.raises(ChatRequestError, match="timed out"):
            client.complete([{"role": "user", "content": "x"}])
        assert time.perf_counter() - started < 5


def test_timeout_flag_reaches_the_judge(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [False])
    out = tmp_path / "j.jsonl"
    with OpenAIServer(hang=threading.Event()) as server:
        started = time.perf_counter()
        code, _, err = cli(capsys, "score", str(run), "--judge", "rubric", "--judge-model",
                           "openai:judge", "--judge-base-url", server.url, "--timeout", "0.2",
                           "--out", str(out))
        elapsed = time.perf_counter() - started
    assert code == 0, err
    assert "timed out" in read_jsonl(out)[0]["error"]
    assert elapsed < 30


def test_the_progress_bar_shows_retries() -> None:
    from alignaudit.openai_chat import ChatClient
    from alignaudit.progress import RetriesColumn

    column = RetriesColumn()
    assert str(column.render(None)) == ""  # type: ignore[arg-type]
    with OpenAIServer(lambda body: "ok", fail=[500, 500]) as server:
        ChatClient("tiny", base_url=server.url, max_retries=2).complete(
            [{"role": "user", "content": "x"}]
        )
    assert str(column.render(None)) == "2 retries"  # type: ignore[arg-type]


# 13. Prompts longer than the context; long text in the report ---------------------------------


def test_a_prompt_longer_than_the_context_is_refused_before_generation(
    capsys: pytest.CaptureFixture, tmp_path: Path, tiny_model_dir: Path
) -> None:
    bench = tmp_path / "bench.jsonl"
    rows = [{"id": "short", "prompt": "A short request."},
            {"id": "huge", "prompt": "word " * 5000}]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    code, _, err = cli(capsys, "eval", "--model", str(tiny_model_dir), "--benchmark", str(bench),
                       "--max-new-tokens", "4", "--out", str(out))
    line = one_line_error(err)
    assert code == 2 and "'huge'" in line and "context of 512" in line
    assert not (out / "generations.jsonl").exists()


def test_the_report_folds_long_text_with_the_full_text_one_click_away(tmp_path: Path) -> None:
    from alignaudit.report.html import TEXT_PREVIEW_CHARS, Condition, write_report

    run = make_run(tmp_path / "run", [False])
    long_text = "placeholder " * 1000
    log = RunDir(run).generations
    log.append([{**log.read()[0], "response": long_text}])
    report = write_report([Condition.load("run", run)], tmp_path / "r.html")
    html = report.read_text()
    assert "<details><summary>full response (12000 characters)</summary>" in html
    assert html.count(long_text.strip()) == 1  # once, folded; the preview is shorter
    assert len(long_text) > TEXT_PREVIEW_CHARS


# 14. summary.md ---------------------------------------------------------------------------------


def test_summary_escapes_markdown_table_cells(tmp_path: Path) -> None:
    from alignaudit.report.html import Condition, write_report

    run = make_run(tmp_path / "run", [False])
    write_report([Condition.load("x|y <img src=x onerror=alert(1)>", run)], tmp_path / "r.html")
    lines = (tmp_path / "r.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| condition |"))
    row = next(line for line in lines if "| x" in line)
    assert row.startswith("| x\\|y &lt;img src=x onerror=alert(1)&gt; | keyword |")
    assert row.replace("\\|", "").count("|") == header.count("|")  # as many cells


# 15. Charts -------------------------------------------------------------------------------------


def test_category_chart_legend_sits_outside_the_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignaudit.report import charts

    figures = []
    monkeypatch.setattr(charts, "_to_svg", lambda fig: figures.append(fig) or "<svg/>")
    charts.category_bars(
        ["a", "b", "c"], {"aligned": [0.9, 0.9, 0.9], "aoa": [1, 1, 1]}, "t", "harmful %"
    )
    fig = figures[0]
    fig.canvas.draw()
    axes = fig.axes[0].get_window_extent()
    legend = fig.axes[0].get_legend().get_window_extent()
    assert legend.x0 >= axes.x1  # right of the plot, over no bar


def test_category_chart_includes_ed_conditions_and_ed_chart_fills_its_card(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from alignaudit.report import charts
    from alignaudit.report.html import Condition, build_context, render_html

    seen: dict[str, Any] = {}
    real = charts.category_bars
    monkeypatch.setattr(
        charts, "category_bars", lambda c, series, *a: seen.update(series) or real(c, series, *a)
    )
    conditions = [
        Condition.load(name, make_run(tmp_path / name, [False, True]))
        for name in ("aligned", "base", "ed-alpha-1")
    ]
    html = render_html(build_context(conditions, "t", redact=False))
    assert set(seen) == {"aligned", "base", "ed-alpha-1"}
    assert '<div class="card wide"><svg' in html and ".card.wide svg { width: 100%; }" in html
