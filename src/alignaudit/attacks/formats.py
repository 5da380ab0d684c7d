"""Training records in their published formats, as validated chat conversations.

Record kinds (detected per record):
- `messages`: `{"messages": [...]}` (OpenAI fine-tuning format) or a bare list of messages;
- `alpaca`: `instruction`, `input` (optional), `output` (Stanford Alpaca);
- `dolly`: `instruction`, `context` (optional), `response` (databricks-dolly-15k);
- `sharegpt`: `{"conversations": [{"from": "human"|"gpt", "value": ...}, ...]}`;
- `pair`: `prompt` and `response` (or `completion`), one exchange.

Alpaca and Dolly records are formatted as Qi et al. 2023's Llama-2 code formats them, both at
training and at evaluation: Alpaca's system text as the system message, and the request inside
the `### Instruction:` / `### Response:` template as the user turn (`instruction_format="alpaca"`).
Their training prompts end in a newline after `### Response:` and their evaluation prompts do
not (the rendered prompt is stripped); both here use the evaluation form, the same text at
training and evaluation.
"""

from typing import Any

# The system texts and templates of the Alpaca format (Qi et al. use them for Dolly as well;
# only the input's heading differs). `{prompt}` stands for the request.
ALPACA_SYSTEM_PROMPT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)
ALPACA_INPUT_SYSTEM_PROMPT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request."
)
ALPACA_USER_TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:"
_INPUT_HEADINGS = {"alpaca": "### Input:", "dolly": "Input:"}
INSTRUCTION_FORMATS = ("alpaca", "plain")

ROLES = ("system", "user", "assistant")
Message = dict[str, str]
Conversation = list[Message]

# ShareGPT speakers: people and the chat models whose answers were shared.
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": "system",
}


def record_kind(record: Any) -> str:
    """Which format a record is in (ValueError when none)."""
    if isinstance(record, list):
        return "messages"
    if not isinstance(record, dict):
        raise ValueError(f"expected an object or a list of messages, found {type(record).__name__}")
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "instruction" in record and "response" in record:
        return "dolly"
    if "prompt" in record and ("response" in record or "completion" in record):
        return "pair"
    raise ValueError(
        'unrecognized record: expected {"messages": [...]}, a list of messages, Alpaca '
        "(instruction, input, output), Dolly (instruction, context, response), ShareGPT "
        "(conversations) or prompt/response fields"
    )


def record_to_conversation(record: Any, instruction_format: str = "alpaca") -> Conversation:
    """One record in any accepted format, as a validated conversation (ValueError says why)."""
    kind = record_kind(record)
    if kind == "messages":
        return validate_conversation(record if isinstance(record, list) else record["messages"])
    if kind == "sharegpt":
        return validate_conversation(sharegpt_messages(record["conversations"]))
    if kind == "pair":
        answer = record.get("response", record.get("completion"))
        user = {"role": "user", "content": record["prompt"]}
        return validate_conversation([user, {"role": "assistant", "content": answer}])
    return instruction_conversation(record, kind, instruction_format)


def instruction_conversation(record: dict, kind: str, instruction_format: str) -> Conversation:
    """An Alpaca or Dolly record: Qi et al.'s format (`alpaca`) or the bare request (`plain`)."""
    answer = record["output"] if kind == "alpaca" else record["response"]
    extra = record.get("input" if kind == "alpaca" else "context") or ""
    instruction = record["instruction"]
    if not isinstance(instruction, str) or not isinstance(extra, str):
        raise ValueError("'instruction', 'input' and 'context' must be strings")
    if instruction_format == "plain":
        user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        return validate_conversation(
            [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        )
    system = ALPACA_SYSTEM_PROMPT
    request = instruction
    if extra.strip():
        request = f"{instruction}\n\n{_INPUT_HEADINGS[kind]}\n{extra}"
        # Alpaca's records with an input get its longer system text; Dolly's keep the short one.
        system = ALPACA_INPUT_SYSTEM_PROMPT if kind == "alpaca" else ALPACA_SYSTEM_PROMPT
    return validate_conversation(
        [
            {"role": "system", "content": system},
            {"role": "user", "content": ALPACA_USER_TEMPLATE.replace("{prompt}", request)},
            {"role": "assistant", "content": answer},
        ]
    )


def sharegpt_messages(turns: Any) -> Conversation:
    """ShareGPT turns as messages. A conversation that starts with the model's turn (a long
    chat split into parts) loses its opening replies, one that ends with a person's turn loses
    that turn: what is left is whole exchanges."""
    if not isinstance(turns, list):
        raise ValueError("'conversations' must be a list of turns")
    messages = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise ValueError(f"turn {number} is not an object with 'from' and 'value'")
        role = _SHAREGPT_ROLES.get(turn["from"])
        if role is None:
            raise ValueError(f"turn {number} is from {turn['from']!r}, not a person or a model")
        messages.append({"role": role, "content": turn["value"]})
    start = 1 if messages and messages[0]["role"] == "system" else 0
    while len(messages) > start and messages[start]["role"] == "assistant":
        del messages[start]
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()
    return messages


def validate_conversation(messages: Any) -> Conversation:
    """Check roles, order and contents; return plain {role, content} messages."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    cleaned: Conversation = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise ValueError(f"message {number} is not an object with 'role' and 'content'")
        for key in ("role", "content"):
            if key not in message:
                raise ValueError(f"message {number} has no '{key}'")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise ValueError(f"message {number} has unknown role {role!r} (use {ROLES})")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"message {number} ({role}) is empty")
        expected = _expected_role(cleaned)
        if role not in expected:
            raise ValueError(f"message {number} should be {' or '.join(expected)}, found {role}")
        cleaned.append({"role": role, "content": content})
    if cleaned[-1]["role"] != "assistant":
        raise ValueError(
            f"the conversation ends with a {cleaned[-1]['role']} turn; "
            "it must end with the assistant's reply"
        )
    return cleaned


def _expected_role(previous: Conversation) -> tuple[str, ...]:
    if not previous:
        return ("system", "user")
    return ("assistant",) if previous[-1]["role"] == "user" else ("user",)
