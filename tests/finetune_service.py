"""A scripted OpenAI-compatible fine-tuning service (files and fine-tuning jobs), for tests.

    service = FineTuneService(hold=True)
    with OpenAIServer(reply, routes=service) as server:
        ... OpenAI(base_url=server.url).files.create(...) ...
        service.release()  # a held job may now finish

Jobs move queued -> running -> succeeded (or failed with `fail_job`'s reason), one step per
retrieval; with `hold` they stay running until `release()`. `reject_file` answers uploads with
HTTP 400 and that message. `faults` scripts failures per route name (upload, list_files,
create_job, list_jobs, retrieve, events, cancel), consumed in order: an HTTP status (429 comes
with `Retry-After: 1`), "drop" (hang up before doing anything) or "drop-after" (do the work,
then hang up: the client never learns the result).
"""

import email.parser
import email.policy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.openai_server import DROP, RouteAnswer

_JOB = re.compile(r"^/v1/fine_tuning/jobs/([\w-]+)(/events|/cancel)?$")


@dataclass
class FineTuneService:
    hold: bool = False
    fail_job: str | None = None
    reject_file: str | None = None
    faults: dict[str, list[int | str]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (route, path) per request
    call_times: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def count(self, route: str) -> int:
        return sum(1 for name, _ in self.calls if name == route)

    def __call__(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> RouteAnswer:
        route, job_id = _route_name(method, urlsplit(path).path)
        if route is None:
            return None
        with self._lock:
            self.calls.append((route, path))
            self.call_times.setdefault(route, []).append(time.monotonic())
            fault = self.faults.get(route, [None]).pop(0) if self.faults.get(route) else None
            if fault == "drop":
                return DROP
            if isinstance(fault, int):
                return _error(fault, f"scripted {fault} on {route}")
            answer = self._handle(route, job_id, headers, raw, urlsplit(path).query)
            return DROP if fault == "drop-after" else answer

    def _handle(
        self, route: str, job_id: str | None, headers: dict[str, str], raw: bytes, query: str
    ) -> RouteAnswer:
        if route == "upload":
            return self._upload(headers, raw)
        if route == "list_files":
            return _ok(_page(list(self.files.values())))
        if route == "create_job":
            return self._create_job(json.loads(raw or b"{}"))
        if route == "list_jobs":
            return _ok(_page(list(reversed(self.jobs.values()))))
        job = self.jobs.get(job_id or "")
        if job is None:
            return _error(404, f"no job {job_id}")
        if route == "retrieve":
            self._advance(job)
            return _ok(job)
        if route == "events":
            limit = int(parse_qs(query).get("limit", ["20"])[0])
            return _ok(_page(list(reversed(self.events[job["id"]]))[:limit]))
        if job["status"] not in ("succeeded", "failed", "cancelled"):
            job["status"] = "cancelled"
            self._event(job, "Fine-tuning job cancelled")
        return _ok(job)

    def _upload(self, headers: dict[str, str], raw: bytes) -> RouteAnswer:
        parts = _multipart(headers["content-type"], raw)
        if parts.get("purpose", b"").decode() != "fine-tune":
            return _error(400, "purpose must be fine-tune")
        if self.reject_file:
            return _error(400, self.reject_file)
        file_id = f"file-{len(self.files) + 1}"
        content = parts["file"]
        self.contents[file_id] = content
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 0,
            "filename": parts.get("filename", b"upload.jsonl").decode(),
            "purpose": "fine-tune",
            "status": "processed",
        }
        return _ok(self.files[file_id])

    def _create_job(self, body: dict[str, Any]) -> RouteAnswer:
        if body.get("training_file") not in self.files:
            return _error(400, f"invalid training_file: {body.get('training_file')}")
        job_id = f"ftjob-{len(self.jobs) + 1}"
        hyper = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
        hyper.update(body.get("hyperparameters") or {})
        self.jobs[job_id] = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": 0,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hyper,
            "model": body["model"],
            "organization_id": "org-test",
            "result_files": [],
            "seed": body.get("seed") or 0,
            "status": "queued",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": None,
            "suffix": body.get("suffix"),
        }
        self.events[job_id] = []
        self._event(self.jobs[job_id], f"Created fine-tuning job: {job_id}")
        return _ok(self.jobs[job_id])

    def _advance(self, job: dict[str, Any]) -> None:
        """One step of the state machine per retrieval."""
        if job["status"] == "queued":
            job["status"] = "running"
            self._event(job, "Fine-tuning job started")
        elif job["status"] == "running" and (not self.hold or self._released.is_set()):
            if self.fail_job:
                job["status"] = "failed"
                job["error"] = {"code": "invalid_training_file", "message": self.fail_job,
                                "param": "training_file"}
                self._event(job, f"Fine-tuning job failed: {self.fail_job}", "error")
                return
            epochs = job["hyperparameters"]["n_epochs"]
            job["status"] = "succeeded"
            job["fine_tuned_model"] = f"ft:{job['model']}:alignaudit::{job['id']}"
            job["trained_tokens"] = len(self.contents[job["training_file"]]) // 4 * (
                epochs if isinstance(epochs, int) else 1
            )
            job["finished_at"] = 1
            self._event(job, "The job has successfully completed")

    def _event(self, job: dict[str, Any], message: str, level: str = "info") -> None:
        events = self.events[job["id"]]
        events.append({
            "id": f"ftevent-{job['id']}-{len(events) + 1}",
            "object": "fine_tuning.job.event",
            "created_at": len(events),
            "level": level,
            "message": message,
            "type": "message",
        })


def _route_name(method: str, path: str) -> tuple[str | None, str | None]:
    if path == "/v1/files":
        return ("upload" if method == "POST" else "list_files"), None
    if path == "/v1/fine_tuning/jobs":
        return ("create_job" if method == "POST" else "list_jobs"), None
    match = _JOB.match(path)
    if match is None:
        return None, None
    suffix = match.group(2)
    if suffix == "/cancel":
        return ("cancel" if method == "POST" else None), match.group(1)
    return ("events" if suffix else "retrieve"), match.group(1)


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = part.get_payload(decode=True)
        filename = part.get_filename()
        if filename:
            parts["filename"] = filename.encode()
    return parts


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False}


def _ok(payload: dict[str, Any]) -> RouteAnswer:
    return 200, payload, {}


def _error(status: int, message: str) -> RouteAnswer:
    headers = {"Retry-After": "1"} if status == 429 else {}
    body = {"error": {"message": message, "type": "test", "param": None, "code": None}}
    return status, body, headers
