"""The generator protocol: prompts in, responses out, in order."""

from collections.abc import Callable, Sequence
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
    # None: the template's own markers (plain templates) or none; a tuple replaces them.
    stop: tuple[str, ...] | None = None
    suppress_eos: bool = False  # never end on end-of-sequence: only stop strings or the length
    min_response_tokens: int = 0  # shorter responses are drawn again (up to MAX_DRAWS in all)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


# Draws of one (request, sample) at most when responses under `min_response_tokens` are drawn
# again: the reference redraws without limit, which never ends on a model that stays terse.
MAX_DRAWS = 10


class Response(str):
    """A response text with how it ended, for backends that know (servers report it).

    `error` is set when there is no answer to judge: the request failed, or the server sent an
    empty or filtered reply. Such a response is recorded as a generation error, never judged.
    `draws` counts the draws a minimum response length took; `short` says the last one was
    still under it (it is kept and judged, and the record says so).
    """

    finish_reason: str | None
    error: str | None
    draws: int
    short: bool

    def __new__(
        cls,
        text: str,
        finish_reason: str | None = None,
        error: str | None = None,
        *,
        draws: int = 1,
        short: bool = False,
    ) -> "Response":
        response = super().__new__(cls, text)
        response.finish_reason = finish_reason
        response.error = error
        response.draws = draws
        response.short = short
        return response


# A draw of one request: (sample index, attempt). (0, 0) is the one draw of an ordinary run.
DrawKey = tuple[int, int]


def draw_seed(seed: int, prompt: str, key: DrawKey = (0, 0)) -> int:
    """A 63-bit seed for one draw of one request. The first draw of sample 0 keeps the seed
    runs had before samples existed, so their sampled outputs do not change."""
    import hashlib

    text = f"{seed}\0{prompt}" if key == (0, 0) else f"{seed}\0{prompt}\0{key[0]}\0{key[1]}"
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def redraw_short(
    draw: Callable[[list[str], list[DrawKey]], list[str]],
    prompts: Sequence[str],
    samples: Sequence[int] | None,
    too_short: Callable[[str], bool] | None,
) -> list[str]:
    """`draw` every prompt once (as sample `samples[i]`), then draw the too-short ones again,
    each attempt its own key, up to MAX_DRAWS draws per prompt (the reference demo's filter)."""
    keys = [(sample, 0) for sample in samples] if samples is not None else [(0, 0)] * len(prompts)
    responses = list(draw(list(prompts), keys))
    if too_short is None:
        return responses
    draws = [1] * len(responses)
    for attempt in range(1, MAX_DRAWS):
        short = [i for i, text in enumerate(responses) if too_short(text)]
        if not short:
            break
        again = draw([prompts[i] for i in short], [(keys[i][0], attempt) for i in short])
        for i, text in zip(short, again, strict=True):
            responses[i], draws[i] = text, attempt + 1
    return [
        Response(text, getattr(text, "finish_reason", None), getattr(text, "error", None),
                 draws=n, short=too_short(text))
        for text, n in zip(responses, draws, strict=True)
    ]


class Generator(Protocol):
    """A generation backend. `describe()` goes into the run's config.

    `samples[i]` (default 0) is which sample of its request prompt i is: a sampling backend
    draws different samples of one prompt, each reproducibly, whatever the batch.
    """

    def generate(
        self, prompts: Sequence[str], samples: Sequence[int] | None = None
    ) -> list[str]: ...

    def describe(self) -> dict[str, object]: ...
