"""Prompts that do not fit the model's context, found before any generation starts.

A prompt longer than the context window makes a local model fail mid-run (or, for models with
no position limit, read garbage); it is refused up front, with the request named.
"""

from collections.abc import Callable, Sequence
from typing import Any

UNBOUNDED = 10**9  # tokenizers without a limit report a huge model_max_length


def context_window(model: Any, tokenizer: Any) -> int | None:
    """Tokens the model can attend to: its position limit, else the tokenizer's, else None."""
    limits = [
        getattr(model.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < UNBOUNDED]
    return min(usable) if usable else None


def overflowing(
    prompts: Sequence[str],
    render: Callable[[str], str],
    tokenizer: Any,
    window: int | None,
    max_new_tokens: int,
    add_special_tokens: bool,
) -> dict[int, int]:
    """{index: prompt tokens} of the prompts whose tokens plus the new ones exceed `window`."""
    if window is None:
        return {}
    room = window - max_new_tokens
    found = {}
    for index, prompt in enumerate(prompts):
        text = render(prompt)
        if len(text) <= room // 4:  # no tokenizer packs more than ~4 tokens per character
            continue
        count = len(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])
        if count > room:
            found[index] = count
    return found
