"""kill -9 after a chosen line, then a rerun: every request once, nothing redone.

The model is an OpenAI-compatible server on loopback that answers the first KILL_AFTER requests
and holds the next one until released, so the run is killed exactly after line KILL_AFTER was
written (a torn last line is tested in test_store_and_metrics.py).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.openai_server import OpenAIServer

REQUESTS, KILL_AFTER = 20, 7


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_kill_9_after_a_chosen_line_then_rerun_finishes_with_one_line_each(
    tmp_path: Path,
) -> None:
    bench = tmp_path / "bench.jsonl"
    prompts = [f"Request {i}" for i in range(REQUESTS)]
    bench.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    out = tmp_path / "run"
    release = threading.Event()
    answered = iter(range(10**6))

    def hold_after_chosen_line(body: dict[str, Any]) -> float:
        if next(answered) >= KILL_AFTER:
            release.wait(timeout=300)
        return 0.0

    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    env.pop("OPENAI_BASE_URL", None)
    with OpenAIServer(lambda b: f"reply to {b['messages'][-1]['content']}",
                      delay=hold_after_chosen_line) as server:  # fmt: skip
        args = [
            sys.executable, "-m", "alignaudit", "eval", "--model", "openai:tiny",
            "--base-url", server.url, "--benchmark", str(bench), "--judge", "keyword",
            "--batch-size", "1", "--concurrency", "1", "--out", str(out),
        ]  # fmt: skip
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while len(server.requests) <= KILL_AFTER and time.time() < deadline:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.02)
        # Request KILL_AFTER + 1 is held, so line KILL_AFTER is the last one written.
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
        generations = out / "generations.jsonl"
        assert [g["prompt"] for g in read_jsonl(generations)] == prompts[:KILL_AFTER]
        assert not (out / "judgments.jsonl").exists()
        kept = generations.read_text()

        release.set()
        sent_before = len(server.requests)
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        rerun_prompts = [r.last_message for r in server.requests[sent_before:]]
    assert generations.read_text().startswith(kept)  # the first lines were kept as they were
    rows = read_jsonl(generations)
    assert len(rows) == len({g["id"] for g in rows}) == REQUESTS
    assert all(g["response"] == f"reply to {g['prompt']}" for g in rows)
    assert len(rerun_prompts) == REQUESTS - KILL_AFTER  # nothing generated twice
    assert not set(rerun_prompts) & {g["prompt"] for g in rows[:KILL_AFTER]}
    judged = [(j["id"], j["judge"]) for j in read_jsonl(out / "judgments.jsonl")]
    assert len(judged) == len(set(judged)) == REQUESTS
