"""Batched generation with Hugging Face models: left padding, KV cache, chat templates."""

from collections.abc import Sequence
from typing import Any

from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.prompting import (
    cut_at_stop,
    render_prompt,
    resolve_template,
    stop_strings_for,
)


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
        self.stop_strings = stop_strings_for(template, tokenizer)

    def describe(self) -> dict[str, object]:
        return {"backend": "hf", "model": self.model_spec, "template": self.template}

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
        return render_prompt(self.tokenizer, prompt, self.sampling.system_prompt, self.template)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        responses: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            responses.extend(self._generate_batch(prompts[start : start + self.batch_size]))
        return responses

    def _generate_batch(self, prompts: Sequence[str]) -> list[str]:
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
            torch.manual_seed(self.sampling.seed)
        if self.stop_strings:
            kwargs.update(stop_strings=list(self.stop_strings), tokenizer=self.tokenizer)
        with torch.inference_mode():
            output = self.model.generate(**batch, **kwargs)
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [cut_at_stop(text, self.stop_strings).strip() for text in decoded]
