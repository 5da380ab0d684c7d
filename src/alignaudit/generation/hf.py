"""Batched generation with Hugging Face models: left padding, KV cache, chat templates.

Decoding runs in the shared token loop of `generation.ed` (one model): requests go by prompt
length, a row leaves the batch (with its KV-cache rows) as soon as it has ended and the next
request takes its slot, and greedy choices are `model.generate`'s (argmax of the float32
logits, the same end-of-sequence ids). Models whose generation config asks for extra logits
processors still use `generate`.
"""

from collections.abc import Sequence
from typing import Any

from alignaudit.generation.base import (
    DrawKey,
    OnResponse,
    SamplingConfig,
    draw_seed,
    redraw_short,
)
from alignaudit.generation.ed import SingleModelGenerator, _Member
from alignaudit.generation.prompting import (
    STOP_TRIM,
    cut_at_stop,
    render_prompt,
    resolve_template,
    stop_strings_for,
)

# Generation-config fields that make `generate` change the logits; the loop does not apply them.
_PROCESSOR_FIELDS = {
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "sequence_bias": None,
    "min_length": 0,
    "exponential_decay_length_penalty": None,
}


class HFGenerator:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        sampling: SamplingConfig | None = None,
        template: str = "auto",
        batch_size: int = 16,
        model_spec: dict[str, object] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling or SamplingConfig()
        self.template = template = resolve_template(template, tokenizer)
        self.batch_size = batch_size
        self.model_spec = model_spec or {}
        self.stop_strings = stop_strings_for(template, tokenizer, self.sampling.stop)

    def describe(self) -> dict[str, object]:
        return {"backend": "hf", "model": self.model_spec, "template": self.template}

    @property
    def streams_responses(self) -> bool:
        """Whether `generate` reports responses as they finish (the token loop does; batches
        through `model.generate` are seeded per call, so they keep one batch per call)."""
        return not _needs_generate(self.model)

    def prompt_overflow(self, prompts: Sequence[str]) -> tuple[dict[int, int], int | None]:
        """({index: tokens} of prompts too long for the context, the context window)."""
        from alignaudit.generation.context import context_window, overflowing

        window = context_window(self.model, self.tokenizer)
        found = overflowing(
            prompts,
            self.render,
            self.tokenizer,
            window,
            self.sampling.max_new_tokens,
            add_special_tokens=self.template != "chat",
        )
        return found, window

    def render(self, prompt: str) -> str:
        sampling = self.sampling
        return render_prompt(
            self.tokenizer, prompt, sampling.system_prompt, self.template, sampling.user_template
        )

    def generate(
        self,
        prompts: Sequence[str],
        samples: Sequence[int] | None = None,
        on_response: OnResponse | None = None,
    ) -> list[str]:
        """Responses in prompt order; `on_response(i, response)` hears each final response
        as it finishes (batch by batch through `model.generate`)."""
        if not _needs_generate(self.model):
            return _GenerateLoop(self).generate(prompts, samples, on_response)
        too_short = self._too_short if self.sampling.min_response_tokens > 0 else None
        return redraw_short(self._draw_with_transformers, prompts, samples, too_short, on_response)

    def _too_short(self, text: str) -> bool:
        return len(self.tokenizer(text)["input_ids"]) < self.sampling.min_response_tokens

    def _draw_with_transformers(
        self, prompts: list[str], keys: list[DrawKey], on_draw: OnResponse | None = None
    ) -> list[str]:
        """Seeded per call and redraw, not per request: samples depend on the batch here."""
        responses: list[str] = []
        attempt = max((key[1] for key in keys), default=0)
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            responses.extend(self._generate_with_transformers(batch, attempt))
            if on_draw is not None:
                for i in range(start, len(responses)):
                    on_draw(i, responses[i])
        return responses

    def _generate_with_transformers(self, prompts: Sequence[str], attempt: int = 0) -> list[str]:
        """One batch through `model.generate` (seeded globally: depends on the batch)."""
        import torch

        texts = [self.render(p) for p in prompts]
        # Chat templates already hold BOS where the model wants it; plain text gets the default.
        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=self.template != "chat"
        ).to(self.model.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.sampling.max_new_tokens,
            "min_new_tokens": self.sampling.min_new_tokens or None,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": not self.sampling.greedy,
        }
        if self.sampling.greedy:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(
                temperature=self.sampling.temperature,
                top_p=self.sampling.top_p,
                top_k=self.sampling.top_k or None,
            )
            seed = self.sampling.seed
            torch.manual_seed(seed if attempt == 0 else draw_seed(seed, "", (0, attempt)))
        if self.stop_strings:
            kwargs.update(stop_strings=list(self.stop_strings), tokenizer=self.tokenizer)
        if self.sampling.suppress_eos:  # end-of-sequence ids get -inf at every step
            kwargs["suppress_tokens"] = _generation_eos_ids(self.model, self.tokenizer)
        with torch.inference_mode():
            output = self.model.generate(**batch, **kwargs)
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        trim = STOP_TRIM if self.sampling.stop is not None else None
        return [cut_at_stop(text, self.stop_strings, trim).strip() for text in decoded]


class _GenerateLoop(SingleModelGenerator):
    """The shared loop with `generate`'s choices: raw float32 logits, its end-of-sequence ids."""

    def __init__(self, owner: HFGenerator) -> None:
        self.sampling = owner.sampling
        self.batch_size = max(1, owner.batch_size)
        member = _Member(owner.model, owner.tokenizer, owner.template, owner.template)
        self.members = [member]
        self._setup_loop()
        self.stop_strings = owner.stop_strings
        eos = _generation_eos_ids(owner.model, owner.tokenizer)
        self.eos_token_ids = eos
        pad = owner.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (eos[0] if eos else 0)

    def _mix(self, logits: list[Any]) -> Any:
        import torch

        return logits[0].to(torch.float32)


def _generation_eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """The ids `generate` stops on: the generation config's, else the tokenizer's."""
    source = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if source is None:
        source = tokenizer.eos_token_id
    if source is None:
        return []
    return [int(source)] if isinstance(source, int) else [int(i) for i in source]


def _needs_generate(model: Any) -> bool:
    config = getattr(model, "generation_config", None)
    return config is not None and any(
        getattr(config, name, default) not in (default, None)
        for name, default in _PROCESSOR_FIELDS.items()
    )
