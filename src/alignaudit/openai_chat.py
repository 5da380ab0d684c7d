"""The one place that talks to OpenAI-compatible chat-completions servers.

Generators and LLM judges both go through `ChatClient`: it builds the official `openai` client
from `base_url` (or $OPENAI_BASE_URL) and $OPENAI_API_KEY (a placeholder for keyless local
servers). Retries are the client's own (`max_retries`, `timeout`): exponential backoff with
jitter on 408/409/429, 5xx, timeouts and connection errors, honouring a server's Retry-After;
any other status fails at once. What is ours: one-line error messages that say what to check,
and the key scrubbed from them (it never appears in our messages or descriptions). Also ours: a
200 whose body is not chat-completions JSON (cut short, an HTML error page) is a request error,
and each retry the client makes is counted (`alignaudit.retries`) so progress bars can show it.
The reply keeps its `finish_reason`: a null or empty content with `content_filter` is the
server's own filter, which callers must not read as an answer.
"""

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import openai

from alignaudit.errors import AlignAuditError
from alignaudit.retries import note_retry

KEYLESS_PLACEHOLDER = "not-needed"  # local servers (vLLM, llama.cpp) accept any key
RETRYABLE_STATUSES = frozenset({408, 409, 429})

T = TypeVar("T")
R = TypeVar("R")


class ChatReply(str):
    """The reply text (null content reads as ""), with the server's `finish_reason`."""

    finish_reason: str | None

    def __new__(cls, text: str, finish_reason: str | None = None) -> "ChatReply":
        reply = super().__new__(cls, text)
        reply.finish_reason = finish_reason
        return reply


class ChatRequestError(AlignAuditError):
    """One request failed for good (retries exhausted, or a 4xx about this request)."""


class ChatSetupError(AlignAuditError):
    """The server refused the key or does not know the model: no request can succeed."""


def resolve_base_url(base_url: str | None) -> str | None:
    return base_url or os.environ.get("OPENAI_BASE_URL") or None


def map_ordered(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`fn` over `items` on up to `workers` threads, results in input order.

    The first exception propagates and cancels the requests not yet started, so a bad key
    does not wait for every remaining request to fail too.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(fn, item) for item in items]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class ChatClient:
    """Chat calls to one model on one server, with bounded retries."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        max_retries: int = 4,
        timeout: float = 120.0,
        url_flag: str = "--base-url",  # the option that set base_url, named in error hints
    ) -> None:
        self.model = model
        self.url_flag = url_flag
        self.base_url = resolve_base_url(base_url)
        self.max_retries = max(0, max_retries)
        self._key = os.environ.get("OPENAI_API_KEY") or KEYLESS_PLACEHOLDER
        self._attempts = threading.local()  # HTTP requests made by this thread's current call
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._key,
            max_retries=self.max_retries,
            timeout=timeout,
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [self._on_attempt]}),
        )

    def _on_attempt(self, request: Any) -> None:
        """Every HTTP request of a call after its first is one of the client's retries."""
        attempts = getattr(self._attempts, "count", 0)
        if attempts:
            note_retry()
        self._attempts.count = attempts + 1

    @property
    def server(self) -> str:
        return str(self._client.base_url).rstrip("/")

    @property
    def _where(self) -> str:
        return f"{self.server}: model {self.model!r}"

    def complete(self, messages: list[dict[str, str]], **params: Any) -> "ChatReply":
        """The reply of one chat completion; raises ChatRequestError / ChatSetupError."""
        self._attempts.count = 0
        try:
            reply = self._client.chat.completions.create(
                model=self.model, messages=messages, **params
            )
        except openai.APIStatusError as exc:
            if exc.status_code not in RETRYABLE_STATUSES and exc.status_code < 500:
                raise self._status_error(exc) from None
            raise self._gave_up(exc) from None
        except openai.APIConnectionError as exc:  # also covers timeouts
            raise self._gave_up(exc) from None
        except json.JSONDecodeError as exc:  # a 200 whose body is cut short or not JSON
            raise ChatRequestError(
                f"{self._where}: bad reply (HTTP 200 with a body that is not JSON: {exc.msg})"
            ) from None
        except openai.APIError as exc:  # e.g. a reply that is not chat-completions JSON
            raise ChatRequestError(f"{self._where}: bad reply ({self._describe(exc)})") from None
        return self._reply_text(reply)

    def _gave_up(self, exc: openai.APIError) -> ChatRequestError:
        return ChatRequestError(
            f"{self._where} failed after {self.max_retries + 1} attempts "
            f"({self._describe(exc)}); check {self.url_flag} (or $OPENAI_BASE_URL) and that the "
            "server is up"
        )

    def _status_error(self, exc: openai.APIStatusError) -> AlignAuditError:
        status, where = exc.status_code, self._where
        if status in (401, 403):
            return ChatSetupError(
                f"{where}: the server rejected the API key (HTTP {status}); "
                "set OPENAI_API_KEY to a key this server accepts"
            )
        if status == 404:
            return ChatSetupError(
                f"{where}: not found (HTTP 404); check the name after openai: and {self.url_flag}"
            )
        return ChatRequestError(f"{where}: request rejected ({self._describe(exc)})")

    def _describe(self, exc: openai.APIError) -> str:
        """A one-line error text with the key scrubbed, in case a server echoes it."""
        status = getattr(exc, "status_code", None)
        text = f"HTTP {status}: {exc.message}" if status is not None else exc.message
        text = " ".join(str(text).split())[:300]
        return text.replace(self._key, "***") if len(self._key) >= 4 else text

    def _reply_text(self, reply: Any) -> ChatReply:
        choices = getattr(reply, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise ChatRequestError(f"{self._where}: reply without choices; not OpenAI-compatible?")
        choice = choices[0]
        return ChatReply(choice.message.content or "", getattr(choice, "finish_reason", None))
