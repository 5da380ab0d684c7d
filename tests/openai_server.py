"""A scripted OpenAI-compatible chat-completions server on loopback, for tests.

    with OpenAIServer(lambda body: "hello", fail=[429, 500]) as server:
        ... OpenAI(base_url=server.url) ...
        server.requests  # every request received: body (parsed JSON) and headers

`reply` maps the request body to the assistant's text (None: `content: null`). The first
len(`fail`) requests are answered with those HTTP statuses, in order (OpenAI-style error bodies).
`delay` (seconds, or a function of the body) is slept before each answer.

Fault modes: `finish_reason` (a string, or a function of the body) goes into each choice, e.g.
"content_filter" with a null or empty reply; `raw_body` (a function of the body returning bytes
or None) replaces a 200 answer's body, e.g. a truncated or non-JSON one; `hang` (an event) makes
every request wait until it is set (the server sets it on exit), for timeouts.

`routes` answers other endpoints (GET and POST) before any of that: it gets (method, path,
headers, raw body) and returns (status, payload, headers), DROP (hang up without answering) or
None (not its route). tests/finetune_service.py uses it for the files and fine-tuning endpoints.
"""

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str | None]
DROP = "drop"  # a route's answer: close the connection without a response
RouteAnswer = tuple[int, dict[str, Any], dict[str, str]] | str | None
Routes = Callable[[str, str, dict[str, str], bytes], RouteAnswer]


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def last_message(self) -> str:
        return self.body["messages"][-1]["content"]


@dataclass
class OpenAIServer:
    reply: Reply = field(default=lambda body: "ok")
    fail: Sequence[int] = ()
    delay: float | Callable[[dict[str, Any]], float] = 0.0
    requests: list[ReceivedRequest] = field(default_factory=list)
    finish_reason: str | Callable[[dict[str, Any]], str] = "stop"
    raw_body: Callable[[dict[str, Any]], bytes | None] | None = None
    hang: threading.Event | None = None
    routes: Routes | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "OpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hang is not None:
            self.hang.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record(self, request: ReceivedRequest) -> int:
        """Stores the request; returns how many came before it."""
        with self._lock:
            self.requests.append(request)
            return len(self.requests) - 1

    def _respond(self, path: str, body: dict[str, Any], index: int) -> tuple[int, dict[str, Any]]:
        delay = self.delay(body) if callable(self.delay) else self.delay
        time.sleep(delay)
        if self.hang is not None:
            self.hang.wait()
        if not request_path_ok(path):
            return 404, {"error": {"message": f"no route {path}", "type": "test", "code": None}}
        if index < len(self.fail):
            error = {"message": f"scripted failure {index + 1}", "type": "test", "code": None}
            return self.fail[index], {"error": error}
        reason = self.finish_reason(body) if callable(self.finish_reason) else self.finish_reason
        return 200, _completion(body.get("model", ""), self.reply(body), reason)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                if not self._route("GET", b""):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self._route("POST", raw):
                    return
                body = json.loads(raw or b"{}")
                headers = {key.lower(): value for key, value in self.headers.items()}
                index = server._record(ReceivedRequest(self.path, headers, body))
                status, payload = server._respond(self.path, body, index)
                override = server.raw_body(body) if server.raw_body and status == 200 else None
                self._send(status, payload, raw=override)

            def _route(self, method: str, raw: bytes) -> bool:
                if server.routes is None:
                    return False
                headers = {key.lower(): value for key, value in self.headers.items()}
                answer = server.routes(method, self.path, headers, raw)
                if answer is None:
                    return False
                if answer == DROP:
                    self.close_connection = True
                    return True
                status, payload, extra = answer
                self._send(status, payload, extra)
                return True

            def _send(
                self,
                status: int,
                payload: dict[str, Any],
                extra: dict[str, str] | None = None,
                raw: bytes | None = None,
            ) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                asks = any(name.lower().startswith("retry-after") for name in extra or {})
                if status != 200 and not asks:  # the client waits what we ask: tests stay fast
                    self.send_header("retry-after-ms", "10")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is part of the script, not a failure


def request_path_ok(path: str) -> bool:
    return path.rstrip("/").endswith("/chat/completions")


def _completion(model: str, text: str | None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": finish_reason,
             "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
