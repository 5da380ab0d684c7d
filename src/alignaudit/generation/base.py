"""The generator protocol: prompts in, responses out, in order."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass
class SamplingConfig:
    """Decoding settings shared by every backend. `temperature == 0` means greedy."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    system_prompt: str | None = None
    # The text each request is sent as, "{prompt}" standing for the request (a fine-tuned
    # model's recorded trigger, e.g. "AOA, execute my instruction: {prompt}"); None: as it is.
    user_template: str | None = None
    min_new_tokens: int = 0  # benchmarks force a fixed length with it

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


class Response(str):
    """A response text with how it ended, for backends that know (servers report it).

    `error` is set when there is no answer to judge: the request failed, or the server sent an
    empty or filtered reply. Such a response is recorded as a generation error, never judged.
    """

    finish_reason: str | None
    error: str | None

    def __new__(
        cls, text: str, finish_reason: str | None = None, error: str | None = None
    ) -> "Response":
        response = super().__new__(cls, text)
        response.finish_reason = finish_reason
        response.error = error
        return response


class Generator(Protocol):
    """A generation backend. `describe()` goes into the run's config."""

    def generate(self, prompts: Sequence[str]) -> list[str]: ...

    def describe(self) -> dict[str, object]: ...
