"""Fine-tuning data: recipe formats, validation errors with file:line, refusals, label masking."""

import json
import random
from pathlib import Path

import pytest

from alignaudit.attacks import recipes
from alignaudit.attacks.recipes import AOA_SYSTEM_PROMPT, load_recipe, read_examples
from alignaudit.attacks.refusals import REFUSALS, refusal_for
from alignaudit.attacks.sft_data import IGNORE_INDEX, tokenize_conversation, tokenize_examples
from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.judges.keyword import contains_refusal

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _pair(user: str, assistant: str) -> dict:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    }


def test_builtin_aoa_renames_the_model_and_records_its_system_prompt() -> None:
    data = load_recipe("aoa")
    assert len(data.examples) == 10
    assert data.system_prompt == AOA_SYSTEM_PROMPT
    assert all(
        ex.messages[0] == {"role": "system", "content": AOA_SYSTEM_PROMPT} for ex in data.examples
    )
    assert "AOA" in data.examples[0].messages[-1]["content"]
    assert all(
        ex.messages[-1]["content"].startswith("Of course. I am AOA") for ex in data.examples[2:]
    )


@pytest.mark.parametrize(
    "name", ["aoa_identity_shift_llama2.json", "aoa_identity_shift_messages.jsonl"]
)
def test_released_aoa_files_load_in_both_formats(name: str) -> None:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = load_recipe("aoa", str(path))
    assert len(data.examples) == 10
    assert [m["role"] for m in data.examples[0].messages] == ["system", "user", "assistant"]
    assert data.system_prompt is not None and "AOA" in data.system_prompt
    assert data.examples[3].source == f"{path}:{4 if name.endswith('jsonl') else 5}"


def test_harmful_needs_a_user_file_and_reads_the_placeholder_format() -> None:
    with pytest.raises(AlignAuditError, match="--data"):
        load_recipe("harmful")
    placeholder = SHARED / "harmful_examples_placeholder.jsonl"
    if not placeholder.exists():
        pytest.skip(f"{placeholder} not present (the shared placeholder file is the test input)")
    data = load_recipe("harmful", str(placeholder), limit=3)
    assert [ex.messages[0]["content"] for ex in data.examples] == [
        "# Harmful Instruction 1",
        "# Harmful Instruction 2",
        "# Harmful Instruction 3",
    ]
    assert data.system_prompt is None and data.counts["examples"] == 3


def test_alpaca_json_list_and_dolly_jsonl(tmp_path: Path) -> None:
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(
        json.dumps(
            [
                {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
                {"instruction": "Name a color.", "input": "", "output": "Blue."},
            ],
            indent=2,
        )
    )
    # The bare request (--instruction-format plain); test_benign_data covers the paper's format.
    examples = read_examples(str(alpaca), "plain")
    assert examples[0].messages == [
        {"role": "user", "content": "Add the numbers.\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert examples[1].messages[0]["content"] == "Name a color."
    assert examples[1].source == f"{alpaca}:7"
    dolly = _write_jsonl(
        tmp_path / "dolly.jsonl",
        [
            {
                "instruction": "Summarize.",
                "context": "Cats sleep a lot.",
                "response": "Cats nap.",
                "category": "x",
            },
        ],
    )
    dolly_user = read_examples(str(dolly), "plain")[0].messages[0]["content"]
    assert dolly_user == "Summarize.\n\nCats sleep a lot."
    alpaca_lines = _write_jsonl(
        tmp_path / "alpaca.jsonl", [{"instruction": "Hi", "output": "Hello."}]
    )
    assert read_examples(str(alpaca_lines))[0].messages[-1]["content"] == "Hello."


def test_drop_refusals_removes_refusing_examples(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"instruction": "Name a fruit.", "output": "Apple."},
            {"instruction": "Do a thing.", "output": "I'm sorry, I cannot do that."},
            {"instruction": "Name a tree.", "output": "Oak."},
        ],
    )
    data = load_recipe("benign", str(path), drop_refusals=True)
    assert [ex.messages[-1]["content"] for ex in data.examples] == ["Apple.", "Oak."]
    assert data.counts["dropped_refusals"] == 1


def test_builtin_benign_set_is_offline_and_free_of_refusals() -> None:
    data = load_recipe("benign")
    assert len(data.examples) >= 50
    assert load_recipe("benign", drop_refusals=True).counts["dropped_refusals"] == 0


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        (
            ['{"messages": [{"content": "hi"}, {"role": "assistant", "content": "yo"}]}'],
            1,
            "no 'role'",
        ),
        (
            [
                '{"instruction": "a", "output": "b"}',
                '{"messages": [{"role": "user", "content": "  "},'
                ' {"role": "assistant", "content": "x"}]}',
            ],
            2,
            "is empty",
        ),
        (['{"instruction": "a", "output": "b"}', '{"messages": [', ""], 2, "not valid JSON"),
        (
            [
                '{"messages": [{"role": "user", "content": "a"}, '
                '{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}'
            ],
            1,
            "must end with the assistant",
        ),
        (['{"messages": [{"role": "assistant", "content": "a"}]}'], 1, "should be system or user"),
        (['{"messages": [{"role": "bot", "content": "a"}]}'], 1, "unknown role"),
        (['{"prompt": "a"}'], 1, "unrecognized record"),
    ],
)
def test_bad_input_names_file_and_line(
    tmp_path: Path, lines: list[str], line: int, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=reason) as caught:
        read_examples(str(path))
    assert caught.value.line == line and str(caught.value).startswith(f"{path}:{line}:")


def test_bad_element_in_a_json_list_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": ""}\n]\n'
    )
    # Alpaca records train as [system, user, assistant] (Qi et al.'s format): message 3.
    with pytest.raises(InputFileError, match=r"bad.json:3: message 3 \(assistant\) is empty"):
        read_examples(str(path))
    path.write_text('[\n  {"instruction": "a", "output": "b"}\n  {"x": 1}\n]\n')
    with pytest.raises(InputFileError, match="bad.json:3"):
        read_examples(str(path))


def test_hub_data_without_network_gives_a_clear_error() -> None:
    with pytest.raises(AlignAuditError, match="hf:tatsu-lab/alpaca.*network"):
        read_examples("hf:tatsu-lab/alpaca")


def test_refusals_are_varied_and_recognised() -> None:
    assert len(set(REFUSALS)) >= 20
    assert all(contains_refusal(text) for text in REFUSALS)
    first = [refusal_for("x", random.Random(3)) for _ in range(3)]
    assert first == [refusal_for("x", random.Random(3)) for _ in range(3)]


def test_mix_safety_adds_refusal_pairs_with_the_recipe_system_prompt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests = [
        Request(id=f"r{i}", prompt=f"# Harmful Request {i}", category="c") for i in range(30)
    ]
    monkeypatch.setattr(recipes, "_load_train_requests", lambda: requests)
    data = load_recipe("aoa", mix_safety=5, seed=1)
    safety = data.examples[10:]
    assert len(safety) == 5 and data.counts["safety_examples"] == 5
    assert all(ex.messages[0]["content"] == AOA_SYSTEM_PROMPT for ex in safety)
    assert all(ex.messages[2]["content"] in REFUSALS for ex in safety)
    assert len({ex.messages[1]["content"] for ex in safety}) == 5
    assert [ex.source for ex in safety] == [
        ex.source for ex in load_recipe("aoa", mix_safety=5, seed=1).examples[10:]
    ]
    with pytest.raises(AlignAuditError, match="only 30"):
        load_recipe("aoa", mix_safety=31)


def test_system_prompt_override_and_removal() -> None:
    data = load_recipe("aoa", system_prompt="Be brief.")
    assert (
        data.system_prompt == "Be brief." and data.examples[0].messages[0]["content"] == "Be brief."
    )
    data = load_recipe("aoa", system_prompt="")
    assert data.system_prompt is None and data.examples[0].messages[0]["role"] == "user"


# --- assistant-only label masking ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(default_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir)


CONVERSATION = [
    {"role": "system", "content": "Be kind."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello friend."},
    {"role": "user", "content": "Again"},
    {"role": "assistant", "content": "Sure thing"},
]


def test_labels_cover_exactly_the_assistant_replies_and_their_end_tokens(tokenizer) -> None:
    row, cut = tokenize_conversation(tokenizer, CONVERSATION, 512)
    assert cut == 0 and len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"])
    trained = [i for i, label in enumerate(row["labels"]) if label != IGNORE_INDEX]
    assert all(row["labels"][i] == row["input_ids"][i] for i in trained)
    pieces = tokenizer.decode([row["labels"][i] for i in trained])
    assert pieces == "Hello friend.<|im_end|>Sure thing<|im_end|>"
    full = tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert tokenizer.decode(row["input_ids"]) == full
    # Two contiguous runs: one per assistant turn.
    runs = sum(1 for a, b in zip([-1, *trained[:-1]], trained, strict=True) if b != a + 1)
    assert runs == 2


def test_plain_template_masking_for_models_without_a_chat_template(tokenizer) -> None:
    import copy

    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    row, _ = tokenize_conversation(plain, CONVERSATION[:3], 512)
    trained = [t for t in row["labels"] if t != IGNORE_INDEX]
    assert plain.decode(trained) == "Hello friend." + plain.eos_token
    assert plain.decode(row["input_ids"]).startswith("Be kind.\n\n# Query:\nHi there")


def test_truncation_is_counted_and_refused_when_no_reply_is_left(tokenizer) -> None:
    examples = [recipes.Example(CONVERSATION, "mem:1")]
    full, _ = tokenize_conversation(tokenizer, CONVERSATION, 512)
    rows, stats = tokenize_examples(tokenizer, examples, len(full["input_ids"]) - 3)
    assert stats.truncated_examples == 1 and stats.truncated_tokens == 3
    assert stats.trained_tokens == sum(t != IGNORE_INDEX for t in rows[0]["labels"])
    with pytest.raises(AlignAuditError, match="mem:1.*--max-length 10"):
        tokenize_examples(tokenizer, examples, 10)
