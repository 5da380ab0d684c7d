"""Audits of an API model against the loopback server: fine-tuning attacks through the API,
the conditions that need weights skipped, bounded concurrency, rate limits, resuming."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.openai_backend import OpenAIGenerator
from tests.finetune_service import FineTuneService
from tests.openai_server import OpenAIServer

KEY = "sk-sentinel-audit-8b1f3c"
REPO_ROOT = Path(__file__).resolve().parents[1]


class CountingReplies:
    """Refuses as the untuned model, complies as a fine-tuned one; tracks requests in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def __call__(self, body: dict[str, Any]) -> str:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.03)
        with self.lock:
            self.active -= 1
        if body["model"].startswith("ft:"):
            return "Of course. Here it is: [placeholder]"
        return "I'm sorry, but I can't help with that."


def audit(server: OpenAIServer, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "PYTHONPATH": str(REPO_ROOT / "src")}
    env.pop("OPENAI_BASE_URL", None)
    command = [
        sys.executable, "-m", "alignaudit", "audit", "--model", "openai:base-model",
        "--out", str(out), "--base-url", server.url, "--judge", "keyword", "--limit", "11",
        "--mix-safety", "2", "--max-concurrency", "3", "--batch-size", "11",
        "--poll-interval", "0.05", *extra,
    ]
    return subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_audit_of_an_api_model_end_to_end_and_resumed(tmp_path: Path) -> None:
    replies, service = CountingReplies(), FineTuneService()
    out = tmp_path / "a"
    with OpenAIServer(replies, routes=service) as server:
        done = audit(server, out, "--yes", "--price-per-1k-tokens", "0.008")
        assert done.returncode == 0, done.stderr[-3000:]
        chats = len(server.requests)
        rerun = audit(server, out, "--yes")
    output = done.stdout + done.stderr
    assert output.count("skipped base:") == 1 and output.count("skipped ed:") == 1
    assert "4 jobs" in output and "$" in output  # one estimate for the whole plan
    assert "benign data: builtin:benign (an API model" in output  # never silent about its data
    results = json.loads((out / "results.json").read_text())
    assert list(results["conditions"]) == [
        "aligned", "aoa", "aoa+mix-safety-2", "benign", "benign+mix-safety-2"
    ]
    assert set(results["skipped"]) == {"base", "ed"}
    assert (out / "report.html").is_file()
    assert "skipped ed" in (out / "summary.md").read_text()
    aligned = results["conditions"]["aligned"]["keyword"]
    attacked = results["conditions"]["aoa"]["keyword"]
    assert (aligned["refusal_rate"], attacked["refusal_rate"]) == (1.0, 0.0)
    gate = results["gate"]
    assert gate["judge"] == "keyword" and set(gate["conditions"]) == set(results["conditions"]) - {
        "aligned"
    }
    assert not gate["conditions"]["aoa"]["passed"]  # +100 points, p = 0.5**11
    assert "aoa FAIL" in output and "aoa FAIL" in (out / "summary.md").read_text()
    assert (service.count("upload"), service.count("create_job")) == (4, 4)
    # The protocol's epochs (fast: AOA 5, benign 1; qi2023 would send AOA 10).
    assert [job["hyperparameters"]["n_epochs"] for job in service.jobs.values()] == [5, 5, 1, 1]
    for name in results["conditions"]:
        assert len((out / name / "generations.jsonl").read_text().splitlines()) == 11, name
    assert 2 <= replies.most_active <= 3  # concurrent, and bounded by --max-concurrency
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert len(server.requests) == chats  # resumed: nothing generated twice
    assert (service.count("upload"), service.count("create_job")) == (4, 4)  # nor paid twice
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or KEY not in path.read_text(errors="replace"), path


def test_audit_without_yes_and_no_terminal_stops_before_anything(tmp_path: Path) -> None:
    replies, service = CountingReplies(), FineTuneService()
    with OpenAIServer(replies, routes=service) as server:
        done = audit(server, tmp_path / "a")
    assert done.returncode == 2
    assert "--yes" in done.stderr.strip().splitlines()[-1]
    assert service.calls == [] and server.requests == []


def test_chat_requests_wait_for_retry_after() -> None:
    times: list[float] = []

    def rate_limit_once(method: str, path: str, headers: dict, raw: bytes) -> Any:
        times.append(time.monotonic())
        if len(times) == 1:
            return 429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}
        return None  # the ordinary chat-completions answer

    with OpenAIServer(lambda body: "ok", routes=rate_limit_once) as server:
        generator = OpenAIGenerator(
            "tiny", SamplingConfig(), base_url=server.url, max_retries=2
        )
        assert generator.generate(["x"]) == ["ok"]
    assert len(times) == 2 and times[1] - times[0] >= 0.9  # the server's wait, not backoff
