"""`openai:NAME` models: any OpenAI-compatible chat-completions server as a generation backend.

Requests run on a bounded thread pool and come back in prompt order; retries and error messages
are `ChatClient`'s. A null or empty reply (what hosted APIs send when their own filter blocks
one) comes back as a `Response` with `error` set: a generation error for that request, retried
on resume, never an empty answer to judge. `top_k` and `min_new_tokens` have no OpenAI
parameter: when set, they go as vLLM's `top_k` / `min_tokens` extras (servers that do not
know them may reject the request); so does `suppress_eos` (vLLM's `ignore_eos`). Stop strings
go as `stop`. Each sample of a request is asked with its own seed.
"""

from collections.abc import Sequence
from typing import Any

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import Response, SamplingConfig, draw_seed
from alignaudit.generation.prompting import apply_user_template
from alignaudit.openai_chat import ChatClient, map_ordered


class OpenAIGenerator:
    def __init__(
        self,
        model: str,
        sampling: SamplingConfig,
        *,
        base_url: str | None = None,
        concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 120.0,
        user_template: str | None = None,
    ) -> None:
        if sampling.min_response_tokens > 0:
            raise AlignAuditError(
                "--min-response-tokens needs a local tokenizer to count tokens; it is not "
                "available for openai: models"
            )
        self.sampling = sampling
        self.user_template = user_template  # e.g. "AOA, execute my instruction: {prompt}"
        self.concurrency = max(1, concurrency)
        self.client = ChatClient(
            model, base_url=base_url, max_retries=max_retries, timeout=timeout
        )

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        system = self.sampling.system_prompt
        messages = [{"role": "system", "content": system}] if system else []
        prompt = apply_user_template(prompt, self.user_template)
        return [*messages, {"role": "user", "content": prompt}]

    def _params(self, prompt: str = "", sample: int = 0) -> dict[str, Any]:
        sampling = self.sampling
        seed = sampling.seed
        if sample:  # servers take 32-bit seeds
            seed = draw_seed(seed, prompt, (sample, 0)) & (2**31 - 1)
        params: dict[str, Any] = {
            "max_tokens": sampling.max_new_tokens,
            "temperature": 0.0 if sampling.greedy else sampling.temperature,
            "top_p": sampling.top_p,
            "seed": seed,
        }
        if sampling.stop is not None:
            params["stop"] = list(sampling.stop)
        extra = {
            "top_k": sampling.top_k,
            "min_tokens": sampling.min_new_tokens,
            "ignore_eos": sampling.suppress_eos,
        }
        extra = {key: value for key, value in extra.items() if value > 0}
        if extra:
            params["extra_body"] = extra
        return params

    def _generate_one(self, prompt: str, sample: int = 0) -> Response:
        reply = self.client.complete(self._messages(prompt), **self._params(prompt, sample))
        if not reply.strip():
            reason = reply.finish_reason
            return Response("", reason, f"empty reply from the server (finish_reason {reason})")
        return Response(str(reply), reply.finish_reason)

    def generate(
        self, prompts: Sequence[str], samples: Sequence[int] | None = None
    ) -> list[Response]:
        if samples is None:
            return map_ordered(self._generate_one, prompts, self.concurrency)
        pairs = list(zip(prompts, samples, strict=True))
        return map_ordered(lambda pair: self._generate_one(*pair), pairs, self.concurrency)

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            "backend": "openai", "model": self.client.model, "base_url": self.client.base_url
        }
        if self.user_template:
            info["user_template"] = self.user_template
        return info
