"""The files and fine-tuning-jobs endpoints of an OpenAI-compatible service, with safe retries.

Reads (retrieve, events, lists) are retried on 408/409/429 (after the service's Retry-After),
5xx and lost connections. Requests that create something (an upload, a job) may have been
carried out even when the answer was lost, so before sending one again we ask the service
whether it already exists (a file of the same name and size; a job on the same file). The key
comes from $OPENAI_API_KEY, stays in memory and is scrubbed from every message.
"""

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai

from alignaudit.errors import AlignAuditError
from alignaudit.openai_chat import (
    KEYLESS_PLACEHOLDER,
    RETRYABLE_STATUSES,
    resolve_base_url,
)

T = TypeVar("T")
MAX_RETRY_AFTER_S = 60.0  # a longer wait asked for is more likely a mistake than a plan


class ServiceError(AlignAuditError):
    """The service refused a request for good; the message carries its reason."""


class FineTuningApi:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        max_attempts: int = 6,
        backoff: float = 0.5,
        timeout: float = 60.0,
    ) -> None:
        self._key = os.environ.get("OPENAI_API_KEY") or KEYLESS_PLACEHOLDER
        self._client = openai.OpenAI(
            base_url=resolve_base_url(base_url), api_key=self._key, max_retries=0, timeout=timeout
        )
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff

    @property
    def server(self) -> str:
        return str(self._client.base_url).rstrip("/")

    # --- the endpoints -----------------------------------------------------------------------

    def upload(self, name: str, data: bytes, look_first: bool = False) -> str:
        def find() -> str | None:
            for item in self._client.files.list(purpose="fine-tune"):
                if item.filename == name and item.bytes == len(data):
                    return item.id
            return None

        def send() -> str:
            return self._client.files.create(file=(name, data), purpose="fine-tune").id

        return self.call("uploading the training file", send, find, look_first=look_first)

    def create_job(
        self, model: str, file_id: str, hyperparameters: dict, seed: int, look_first: bool = False
    ) -> Any:
        def find() -> Any:  # a job that ended badly is history, not the one we are creating
            for job in self._client.fine_tuning.jobs.list(limit=100):
                ours = job.training_file == file_id and job.model == model
                if ours and job.status not in ("failed", "cancelled"):
                    return job
            return None

        def send() -> Any:
            return self._client.fine_tuning.jobs.create(
                model=model, training_file=file_id, hyperparameters=hyperparameters, seed=seed
            )

        return self.call("creating the fine-tuning job", send, find, look_first=look_first)

    def retrieve(self, job_id: str, attempts: int | None = None) -> Any:
        return self.call(
            f"checking job {job_id}",
            lambda: self._client.fine_tuning.jobs.retrieve(job_id),
            attempts=attempts,
        )

    def events(self, job_id: str) -> list[Any]:
        """The job's latest events, oldest first."""
        page = self.call(
            f"reading the events of job {job_id}",
            lambda: self._client.fine_tuning.jobs.list_events(job_id, limit=50),
        )
        return list(reversed(page.data))

    def cancel(self, job_id: str) -> Any:
        return self.call(
            f"cancelling job {job_id}", lambda: self._client.fine_tuning.jobs.cancel(job_id)
        )

    # --- retries -----------------------------------------------------------------------------

    def call(
        self,
        what: str,
        send: Callable[[], T],
        find: Callable[[], T | None] | None = None,
        attempts: int | None = None,
        look_first: bool = False,
    ) -> T:
        """`send()`, retried; after a failure (or with look_first: a run that was interrupted)
        `find()` first looks for what an earlier attempt may have made."""
        attempts = attempts or self.max_attempts
        last, check_first = "no attempt made", look_first
        for attempt in range(attempts):
            try:
                if check_first and find is not None:
                    found = find()
                    if found is not None:
                        return found
                return send()
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUSES and exc.status_code < 500:
                    raise self._refusal(what, exc) from None
                last, wait = self._describe(exc), retry_after_seconds(exc.response)
            except openai.APIConnectionError as exc:  # also timeouts and dropped connections
                last, wait = self._describe(exc), None
            check_first = True
            if attempt + 1 < attempts:
                time.sleep(wait if wait is not None else min(30.0, self.backoff * 2**attempt))
        raise AlignAuditError(
            f"{self.server}: {what} failed after {attempts} attempts ({last}); "
            "rerun the same command to resume"
        )

    def _refusal(self, what: str, exc: openai.APIStatusError) -> ServiceError:
        status = exc.status_code
        if status in (401, 403):
            return ServiceError(
                f"{self.server}: {what}: the service rejected the API key (HTTP {status}); "
                "set OPENAI_API_KEY to a key it accepts"
            )
        if status == 404 and "job" not in what:
            return ServiceError(
                f"{self.server}: {what}: not found (HTTP 404); does this service offer the "
                "files and fine_tuning/jobs endpoints? check --base-url"
            )
        return ServiceError(f"{self.server}: {what}: {self._describe(exc)}")

    def _describe(self, exc: openai.APIError) -> str:
        """One line, with the service's own reason where it gave one, and the key scrubbed."""
        body = exc.body if isinstance(exc.body, dict) else {}
        nested = body.get("error") if isinstance(body.get("error"), dict) else {}
        reason = body.get("message") or nested.get("message") or exc.message
        status = getattr(exc, "status_code", None)
        text = " ".join(str(reason).split())[:400]
        text = f"HTTP {status}: {text}" if status is not None else text
        return text.replace(self._key, "***") if len(self._key) >= 4 else text



def retry_after_seconds(response: Any) -> float | None:
    """The wait a server asked for (retry-after-ms / Retry-After in seconds), capped at 60 s."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(name)
        try:
            seconds = float(value) * scale if value is not None else None
        except ValueError:
            seconds = None
        if seconds is not None and seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER_S)
    return None
