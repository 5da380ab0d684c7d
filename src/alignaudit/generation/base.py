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


# Called once per prompt with its final response (see `Generator`): (prompt index, response).
OnResponse = Callable[[int, str], None]
# A draw function: (prompts, draw keys, on_draw) -> responses; it calls `on_draw(i, text)` once
# per prompt as soon as that prompt's text is known (or not at all: then the list counts).
Draw = Callable[[list[str], list[DrawKey], OnResponse | None], list[str]]


def redraw_short(
    draw: Draw,
    prompts: Sequence[str],
    samples: Sequence[int] | None,
    too_short: Callable[[str], bool] | None,
    on_response: OnResponse | None = None,
) -> list[str]:
    """`draw` every prompt once (as sample `samples[i]`), then draw the too-short ones again,
    each attempt its own key, up to MAX_DRAWS draws per prompt (the reference demo's filter).

    `on_response(i, response)` hears each prompt's final response once: at once when it is
    long enough, else after its redraws (a round of redraws starts when the round before ends).
    """
    keys = [(sample, 0) for sample in samples] if samples is not None else [(0, 0)] * len(prompts)
    if too_short is None:
        return list(draw(list(prompts), keys, on_response))
    rounds = _Redraws(len(prompts), too_short, on_response)
    while True:
        pending = rounds.pending
        texts_of = [prompts[i] for i in pending]
        keys_of = [(keys[i][0], rounds.attempt) for i in pending]
        _draw_reporting_all(draw, texts_of, keys_of, rounds.settle)
        if not rounds.next_round():
            return rounds.responses


class _Redraws:
    """Rounds of draws under a minimum length: the prompts still to draw, the final responses."""

    def __init__(
        self, count: int, too_short: Callable[[str], bool], on_response: OnResponse | None
    ) -> None:
        self.too_short, self.on_response = too_short, on_response
        self.responses: list[str] = [""] * count
        self.pending = list(range(count))  # this round's prompts, in prompt order
        self.short: list[int] = []  # this round's too-short ones, drawn again next round
        self.attempt = 0

    def settle(self, j: int, text: str) -> None:
        """The `j`th prompt of this round drew `text`: final, or drawn again next round."""
        i = self.pending[j]
        if self.too_short(text) and self.attempt + 1 < MAX_DRAWS:
            self.short.append(i)
            return
        self.responses[i] = _final(text, self.attempt + 1, self.too_short)
        if self.on_response is not None:
            self.on_response(i, self.responses[i])

    def next_round(self) -> bool:
        self.pending, self.short = sorted(self.short), []
        self.attempt += 1
        return bool(self.pending)


def _draw_reporting_all(
    draw: Draw, prompts: list[str], keys: list[DrawKey], on_draw: OnResponse
) -> None:
    """`draw`, `on_draw` hearing every prompt once (also from a draw that does not report)."""
    reported: set[int] = set()

    def report(j: int, text: str) -> None:
        reported.add(j)
        on_draw(j, text)

    texts = draw(prompts, keys, report)
    for j, text in enumerate(texts):
        if j not in reported:
            on_draw(j, text)


def _final(text: str, draws: int, too_short: Callable[[str], bool]) -> Response:
    return Response(
        text,
        getattr(text, "finish_reason", None),
        getattr(text, "error", None),
        draws=draws,
        short=too_short(text),
    )


class Generator(Protocol):
    """A generation backend. `describe()` goes into the run's config.

    `samples[i]` (default 0) is which sample of its request prompt i is: a sampling backend
    draws different samples of one prompt, each reproducibly, whatever the batch.

    Streaming (optional): a generator whose `streams_responses` is true takes an `on_response`
    keyword in `generate` and calls `on_response(i, response)` once per prompt, as soon as
    prompt i's final response is known (after any redraws under `min_response_tokens`), with
    the response `generate` returns for it. The runs layer then hands it every missing draw in
    one call and writes records as they finish; others get one batch per call.
    """

    def generate(
        self, prompts: Sequence[str], samples: Sequence[int] | None = None
    ) -> list[str]: ...

    def describe(self) -> dict[str, object]: ...


def streams_responses(generator: object) -> bool:
    """Whether `generator` reports each response as it finishes (see `Generator`)."""
    return bool(getattr(generator, "streams_responses", False))
