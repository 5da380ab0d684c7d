"""The openai: generation backend against a real OpenAI-compatible server on loopback."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.openai_backend import OpenAIGenerator
from tests.openai_server import OpenAIServer

KEY = "sk-sentinel-7f3c9e2a1b"
REPO_ROOT = Path(__file__).resolve().parents[1]


def echo(body: dict[str, Any]) -> str:
    return f"reply to {body['messages'][-1]['content']}"


def make(server: OpenAIServer, **kwargs: Any) -> OpenAIGenerator:
    sampling = kwargs.pop("sampling", SamplingConfig())
    kwargs.setdefault("max_retries", 0)
    return OpenAIGenerator("tiny", sampling, base_url=server.url, **kwargs)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_order_is_kept_under_concurrency() -> None:
    prompts = [f"prompt {i}" for i in range(10)]
    # Earlier prompts answer later, so completion order is the reverse of prompt order.
    delay = lambda body: 0.02 * (10 - int(body["messages"][-1]["content"].split()[1]))  # noqa: E731
    with OpenAIServer(echo, delay=delay) as server:
        outputs = make(server, concurrency=4).generate(prompts)
    assert outputs == [f"reply to {p}" for p in prompts]
    assert len(server.requests) == 10


def test_system_prompt_and_sampling_reach_the_server() -> None:
    sampling = SamplingConfig(
        max_new_tokens=7, temperature=0.7, top_p=0.9, seed=11, system_prompt="Be brief."
    )
    with OpenAIServer(echo) as server:
        assert make(server, sampling=sampling).generate(["hi"]) == ["reply to hi"]
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/chat/completions"
    assert body["model"] == "tiny"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (
        7, 0.7, 0.9, 11
    )
    assert "top_k" not in body and "min_tokens" not in body


def test_greedy_without_system_prompt() -> None:
    with OpenAIServer(echo) as server:
        make(server, sampling=SamplingConfig(top_k=5)).generate(["hi"])
    body = server.requests[0].body
    assert body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["top_k"] == 5  # vLLM extra, only when asked for


def test_retries_429_then_500_then_succeeds() -> None:
    with OpenAIServer(echo, fail=[429, 500]) as server:
        assert make(server, max_retries=3).generate(["x"]) == ["reply to x"]
    assert len(server.requests) == 3


def test_timeouts_are_retried() -> None:
    # The first answer is held until the retry has arrived, so the client must have given up on
    # it however slow the machine; the retry is answered at once (with seconds to spare).
    retried = threading.Event()
    calls = iter(range(10))

    def hold_first(body: dict[str, Any]) -> float:
        if next(calls) == 0:
            retried.wait(timeout=60)
        else:
            retried.set()
        return 0.0

    with OpenAIServer(echo, delay=hold_first) as server:
        assert make(server, max_retries=1, timeout=2.0).generate(["x"]) == ["reply to x"]
    assert retried.is_set() and len(server.requests) == 2


def test_clear_error_after_last_retry() -> None:
    with OpenAIServer(echo, fail=[503] * 3) as server, pytest.raises(AlignAuditError) as info:
        make(server, max_retries=2).generate(["x"])
    message = str(info.value)
    assert len(server.requests) == 3
    assert "'tiny'" in message and server.url in message and "--base-url" in message
    assert "503" in message and "\n" not in message
    assert KEY not in message


@pytest.mark.parametrize(("status", "hint"), [(401, "OPENAI_API_KEY"), (404, "openai:")])
def test_setup_errors_are_not_retried(status: int, hint: str) -> None:
    server = OpenAIServer(echo, fail=[status] * 4)
    with server, pytest.raises(AlignAuditError, match=hint) as info:
        make(server, max_retries=3).generate(["x"])
    assert len(server.requests) == 1
    assert KEY not in str(info.value)


def test_key_is_sent_but_never_described() -> None:
    with OpenAIServer(echo) as server:
        generator = make(server)
        generator.generate(["x"])
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert generator.describe() == {"backend": "openai", "model": "tiny", "base_url": server.url}
    assert KEY not in json.dumps(generator.describe())


def test_eval_cli_end_to_end(tmp_path: Path) -> None:
    benchmark = tmp_path / "bench.jsonl"
    prompts = ["How do I bake bread?", "# Harmful Instruction 1", "Name a color.", "Say hello."]
    benchmark.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    out = tmp_path / "run"
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    env.pop("OPENAI_BASE_URL", None)
    with OpenAIServer(lambda body: f"I'm sorry: {body['messages'][-1]['content']}") as server:
        command = [
            sys.executable, "-m", "alignaudit", "eval", "--model", "openai:tiny",
            "--base-url", server.url, "--benchmark", str(benchmark), "--judge", "keyword",
            "--out", str(out),
        ]
        done = subprocess.run(
            command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert sorted(line["response"] for line in lines) == sorted(f"I'm sorry: {p}" for p in prompts)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    for path in out.rglob("*"):
        assert not path.is_file() or KEY not in path.read_text(errors="replace"), path
