"""Tokenize conversations for supervised fine-tuning with the loss on assistant tokens only.

SmolLM2's chat template (like most) has no `{% generation %}` markers, so TRL cannot build the
assistant mask itself. Instead each assistant turn is located as a character span: the text of
the conversation up to that turn with the generation prompt, versus the text through the turn.
Tokens whose first character falls inside a span are trained (the reply and its end-of-turn
token); everything else is labelled -100. This works for any template that renders a
conversation's prefix as a prefix of the whole, which is checked.
"""

from dataclasses import dataclass
from typing import Any

from alignaudit.attacks.recipes import Conversation, Example
from alignaudit.errors import AlignAuditError
from alignaudit.generation.prompting import PLAIN_TEMPLATE, has_chat_template

IGNORE_INDEX = -100


@dataclass
class TokenStats:
    examples: int = 0
    total_tokens: int = 0
    trained_tokens: int = 0
    truncated_examples: int = 0
    truncated_tokens: int = 0
    dropped_overlong: int = 0  # left out: no reply token within max_length (drop_overlong)


def render_conversation(
    tokenizer: Any, messages: Conversation, add_generation_prompt: bool = False
) -> str:
    """The chat template's text, or the plain `# Query:` template for models without one."""
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    parts = []
    for message in messages:
        if message["role"] == "system":
            parts.append(f"{message['content']}\n\n")
        elif message["role"] == "user":
            parts.append(PLAIN_TEMPLATE.replace("{prompt}", message["content"]))
        else:
            parts.append(f"{message['content']}{tokenizer.eos_token or ''}\n\n")
    return "".join(parts)


def assistant_spans(tokenizer: Any, messages: Conversation) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant replies."""
    text = render_conversation(tokenizer, messages)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_conversation(tokenizer, messages[:index], add_generation_prompt=True)
        through = render_conversation(tokenizer, messages[: index + 1])
        if not (through.startswith(before) and text.startswith(through)):
            raise AlignAuditError(
                "this model's chat template does not render a conversation's beginning as a "
                "prefix of the whole, so assistant tokens cannot be located; use a model whose "
                "template does, or one without a chat template"
            )
        # Trailing whitespace after the end-of-turn token is the next turn's business.
        spans.append((len(before), len(through.rstrip())))
    return text, spans


def tokenize_conversation(
    tokenizer: Any, messages: Conversation, max_length: int
) -> tuple[dict[str, list[int]], int]:
    """(row with input_ids / labels / attention_mask, tokens cut by truncation)."""
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoded["input_ids"]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    cut = max(0, len(ids) - max_length)
    ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels, "attention_mask": [1] * len(ids)}, cut


def tokenize_examples(
    tokenizer: Any, examples: list[Example], max_length: int, drop_overlong: bool = False
) -> tuple[list[dict[str, list[int]]], TokenStats]:
    """Rows for the trainer. An example whose first reply starts beyond max_length stops the
    command, or with `drop_overlong` is left out and counted."""
    if not getattr(tokenizer, "is_fast", False):
        raise AlignAuditError(
            "fine-tuning needs a fast tokenizer (tokenizer.json) to locate assistant tokens"
        )
    rows, stats = [], TokenStats()
    for example in examples:
        row, cut = tokenize_conversation(tokenizer, example.messages, max_length)
        trained = sum(label != IGNORE_INDEX for label in row["labels"])
        if trained == 0 and drop_overlong:
            stats.dropped_overlong += 1
            continue
        if trained == 0:
            raise AlignAuditError(
                f"{example.source}: with --max-length {max_length} truncation removes the whole "
                "assistant reply; raise --max-length, shorten the example or pass --drop-overlong"
            )
        rows.append(row)
        stats.examples += 1
        stats.total_tokens += len(row["input_ids"])
        stats.trained_tokens += trained
        stats.truncated_examples += cut > 0
        stats.truncated_tokens += cut
    if not rows:
        raise AlignAuditError(
            f"every example's reply starts beyond --max-length {max_length}; raise it"
        )
    return rows, stats
