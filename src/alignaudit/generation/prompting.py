"""Model input from a request: the chat template, or a plain template for base models."""

from typing import Any

from alignaudit.errors import AlignAuditError

# The plain query/response template of the emulated-disalignment paper's base models.
PLAIN_TEMPLATE = "# Query:\n{prompt}\n\n# Response:\n"
# The same markers under a short instruction header, as the reference demo prompts its base
# models (our wording; pass your copy of theirs with --base-template FILE for the exact text).
PLAIN_INSTRUCTED_TEMPLATE = (
    "# Instruction\n\n"
    "What follows is a conversation between a person and an AI assistant (you). The person's "
    'queries come after "# Query:" and your answers after "# Response:". Answer each query '
    "with one complete, well-organized and detailed paragraph.\n\n" + PLAIN_TEMPLATE
)
PLAIN_TEMPLATES = {"plain": PLAIN_TEMPLATE, "plain-instructed": PLAIN_INSTRUCTED_TEMPLATE}
PLAIN_STOP_STRINGS = ("# Query:", "\n# Response:")


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def load_template(template: str) -> str:
    """`chat`, `plain`, `plain-instructed`, or a path to a file holding a template with
    `{prompt}`."""
    if template == "chat" or template in PLAIN_TEMPLATES:
        return template
    from pathlib import Path

    path = Path(template)
    if not path.exists():
        raise AlignAuditError(
            f"template {template!r} is neither 'chat', 'plain', 'plain-instructed' nor an "
            "existing file"
        )
    from alignaudit.textfile import read_utf8

    text = read_utf8(path)
    if "{prompt}" not in text:
        raise AlignAuditError(f"{path}:1: a template file must contain the placeholder {{prompt}}")
    return text


def resolve_template(template: str, tokenizer: Any) -> str:
    """The one rule for `auto`: the chat template when the tokenizer has one, else plain."""
    if template == "auto":
        return "chat" if has_chat_template(tokenizer) else "plain"
    return template


def apply_user_template(prompt: str, user_template: str | None) -> str:
    """The request as the user turn says it: inside `user_template` at "{prompt}", if any."""
    return user_template.replace("{prompt}", prompt) if user_template else prompt


def render_prompt(
    tokenizer: Any,
    prompt: str,
    system_prompt: str | None = None,
    template: str = "auto",
    user_template: str | None = None,
) -> str:
    """Return the text the model sees. `auto` uses the chat template when the tokenizer has one."""
    template = resolve_template(template, tokenizer)
    prompt = apply_user_template(prompt, user_template)
    if template == "chat":
        if not has_chat_template(tokenizer):
            raise AlignAuditError(
                "this model's tokenizer has no chat template; use the plain template instead"
            )
        messages = [{"role": "user", "content": prompt}]
        if system_prompt:
            messages.insert(0, {"role": "system", "content": system_prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    body = PLAIN_TEMPLATES.get(template, template)
    text = body.replace("{prompt}", prompt)
    return f"{system_prompt}\n\n{text}" if system_prompt else text


def stop_strings_for(
    template: str, tokenizer: Any, stop: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """`stop` when given; else the plain templates' markers, or none."""
    if stop is not None:
        return tuple(stop)
    if resolve_template(template, tokenizer) in PLAIN_TEMPLATES:
        return PLAIN_STOP_STRINGS
    return ()


# Given stop strings are often bare words ("Query"): the markdown heading mark before one is
# left dangling, and is trimmed with the whitespace (as the reference trims " ", "#", "\n").
STOP_TRIM = " \t\r\n#"


def cut_at_stop(text: str, stops: tuple[str, ...], trim: str | None = None) -> str:
    """The text before the first stop string, right-trimmed (of whitespace, or of `trim`)."""
    cut = min((i for s in stops if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut].rstrip(trim) if cut < len(text) else text
