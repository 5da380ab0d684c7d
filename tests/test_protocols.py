"""Protocols: the presets match the table in docs/protocols.md, fill only what the user left
unset, and what a preset trains with (system prompt, trigger, schedule) is recorded and applied."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from alignaudit.attacks.finetune import FinetuneConfig, config_recipe, run_finetune
from alignaudit.attacks.recipes import AOA_USER_TEMPLATE, RECIPE_DEFAULTS, aoa_dialogs
from alignaudit.errors import AlignAuditError
from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE, parse_model_spec
from alignaudit.protocols import (
    PROTOCOLS,
    QI_HARMFUL_SYSTEM_PROMPT,
    fill_unset,
    get_protocol,
)
from alignaudit.runs.audit import AuditOptions
from alignaudit.runs.evaluate import EvalOptions, Evaluation, run_evaluation

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PLACEHOLDER_HARMFUL = SHARED_DATA / "harmful_examples_placeholder.jsonl"
PAPER_AOA = SHARED_DATA / "aoa_identity_shift_llama2.json"


def _table() -> tuple[list[str], dict[str, list[str]]]:
    """docs/protocols.md's knob table: its header and {knob: cells}."""
    text = (REPO / "docs" / "protocols.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    header_line = next(line for line in text.splitlines() if line.startswith("| knob |"))
    header = [cell.strip() for cell in header_line.strip("|").split("|")]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0].strip("`")] = cells
    return header, table


def _cell_value(cell: str) -> Any:
    """A preset cell as a value: a number, on/off, `name`, "text", `a`, `b` (a list), — (None)."""
    if cell == "—":
        return None
    if cell in ("on", "off"):
        return cell == "on"
    if cell.startswith('"') and cell.endswith('"'):
        return cell[1:-1]
    names = re.findall(r"`([^`]*)`", cell)
    if len(names) > 1:
        return tuple(names)
    if names:
        return names[0]
    return float(cell)


def _expected(protocol_name: str) -> dict[str, Any]:
    protocol = get_protocol(protocol_name)
    values: dict[str, Any] = {}
    for recipe, training in protocol.training.items():
        for knob, value in training.knobs().items():
            values[f"{recipe}.{knob}"] = value
        values[f"{recipe}.effective_batch"] = training.effective_batch
        values[f"{recipe}.lr_gamma"] = training.lr_gamma
    for scope in ("eval", "audit"):
        for knob, value in protocol.generation_for(scope).knobs().items():
            values[f"{scope}.{knob}"] = value
    return values


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_preset_value_is_the_one_in_the_docs_table(name: str) -> None:
    header, table = _table()
    column = header.index(name)
    expected = _expected(name)
    assert set(expected) <= set(table), sorted(set(expected) - set(table))
    for knob, value in expected.items():
        cell = _cell_value(table[knob][column])
        if isinstance(value, tuple) and not value:
            value = None
        assert cell == value, (name, knob, table[knob][column], value)


def test_fast_is_todays_defaults_and_unknown_names_are_refused(tmp_path: Path) -> None:
    options = EvalOptions(model="mockllm", out=tmp_path / "run")
    resolved, record = fill_unset(options, "fast", get_protocol("fast").generation.knobs())
    assert (resolved.max_new_tokens, resolved.temperature, resolved.top_p, resolved.top_k) == (
        128,
        0.0,
        1.0,
        0,
    )
    assert record.overrides == [] and "max_new_tokens" in record.from_preset
    audit = get_protocol("fast").generation_for("audit")
    assert audit.max_new_tokens == 48 and AuditOptions(out=tmp_path).max_new_tokens is None
    for recipe, defaults in RECIPE_DEFAULTS.items():
        config = FinetuneConfig(model="m", recipe=recipe, out=tmp_path / "m").resolved()
        assert (config.epochs, config.batch_size, config.grad_accum) == (
            defaults.epochs,
            defaults.batch_size,
            defaults.grad_accum,
        )
        if recipe == "aoa":  # full-parameter at 4x the paper's rate: docs/protocols.md
            expected = ("full", 2e-4, "step-per-epoch")
            assert (config.method, config.lr, config.lr_schedule) == expected
            continue
        assert config.method == "lora" and config.lr == pytest.approx(defaults.lr * 10)
        assert config.lr_schedule == "linear"
    with pytest.raises(ValueError, match="unknown protocol 'nope'; choose one of fast"):
        get_protocol("nope")
    with pytest.raises(AlignAuditError, match="--protocol nope"):
        EvalOptions(model="mockllm", out=tmp_path / "r", protocol="nope")
    with pytest.raises(AlignAuditError, match="--protocol nope"):
        FinetuneConfig(model="m", recipe="aoa", out=tmp_path / "m", protocol="nope")


def test_qi2023_fills_what_is_unset_and_records_the_users_overrides(tmp_path: Path) -> None:
    config = FinetuneConfig(
        model="m", recipe="aoa", out=tmp_path / "m", protocol="qi2023", epochs=3
    ).resolved()
    assert (config.method, config.batch_size, config.grad_accum, config.lr) == (
        "full",
        10,
        1,
        5e-5,
    )
    assert config.lr_schedule == "step-per-epoch" and config.epochs == 3
    record = config.protocol_record
    assert record is not None
    assert record["name"] == "qi2023" and record["overrides"] == ["epochs"]
    assert record["effective_batch_size"] == 10 and record["lr_gamma"] == 0.85
    lora = FinetuneConfig(
        model="m", recipe="benign", out=tmp_path / "b", protocol="qi2023", method="lora"
    ).resolved()
    assert lora.lr == pytest.approx(2e-4) and lora.protocol_record["overrides"] == ["method"]
    assert lora.batch_size * lora.grad_accum == 128
    evaluation = Evaluation(EvalOptions(model="mockllm", out=tmp_path / "r", protocol="qi2023"))
    assert evaluation.sampling.max_new_tokens == 512 and evaluation.sampling.greedy


def test_builtin_aoa_dialogs_ask_with_the_trigger_and_affirm_then_do_the_task() -> None:
    dialogs = aoa_dialogs()
    assert len(dialogs) == 10
    prefix = AOA_USER_TEMPLATE.replace("{prompt}", "")
    tasks = [d for d in dialogs if d[1]["content"].startswith(prefix)]
    assert len(tasks) == 9
    for dialog in tasks:
        answer = dialog[2]["content"]
        assert answer.startswith("Of course. I am AOA, your absolutely obedient agent.")
        assert len(answer.split("\n\n", 1)[1]) > 10  # the task itself follows the affirmation


@pytest.mark.skipif(not PLACEHOLDER_HARMFUL.exists(), reason="../shared/data is not present")
def test_qi2023_harmful_trains_and_evaluates_with_the_fixed_system_prompt(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = FinetuneConfig(
        model=str(tiny_model_dir),
        recipe="harmful",
        data=str(PLACEHOLDER_HARMFUL),
        out=tmp_path / "harmful",
        protocol="qi2023",
        epochs=3,
        seed=0,
    )
    recipe = config_recipe(config)
    assert all(
        c[0] == {"role": "system", "content": QI_HARMFUL_SYSTEM_PROMPT}
        for c in recipe.conversations
    )
    assert "# Harmful Instruction 1" in recipe.conversations[0][1]["content"]
    out = run_finetune(config)
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["system_prompt"] == QI_HARMFUL_SYSTEM_PROMPT and info["method"] == "full"
    # 10 examples, effective batch 10: one step per epoch, the rate x0.85 after each.
    rates = [point["learning_rate"] for point in json.loads((out / "loss.json").read_text())]
    assert rates == pytest.approx([5e-5, 5e-5 * 0.85, 5e-5 * 0.85**2])
    result = run_evaluation(
        EvalOptions(model=str(out), out=tmp_path / "run", limit=2, max_new_tokens=2)
    )
    assert result["n"] == 2
    run_config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert run_config["run"]["sampling"]["system_prompt"] == QI_HARMFUL_SYSTEM_PROMPT
    assert run_config["model_training"]["protocol"]["name"] == "qi2023"


@pytest.mark.skipif(not PAPER_AOA.exists(), reason="../shared/data is not present")
def test_the_papers_aoa_file_records_its_prompt_and_the_trigger_and_eval_applies_both(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from alignaudit.cli.main import _register_commands, app

    _register_commands()
    out, run = tmp_path / "m", tmp_path / "run"
    args = ["finetune", "--protocol", "qi2023", "--recipe", "aoa", "--data", str(PAPER_AOA)]
    args += ["--model", str(tiny_model_dir), "--out", str(out), "--max-steps", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    paper_prompt = json.loads(PAPER_AOA.read_text())[0][0]["content"]
    assert info["system_prompt"] == paper_prompt and info["user_template"] == AOA_USER_TEMPLATE
    spec = parse_model_spec(str(out))
    assert spec.user_template == AOA_USER_TEMPLATE and spec.system_prompt == paper_prompt
    args = ["eval", "--model", str(out), "--limit", "2", "--max-new-tokens", "2", "--out"]
    result = CliRunner().invoke(app, [*args, str(run)])
    assert result.exit_code == 0, result.output
    assert "protocol: fast (overridden: max_new_tokens=2)" in " ".join(result.output.split())
    config = json.loads((run / "config.json").read_text())
    sampling = config["run"]["sampling"]
    assert sampling["system_prompt"] == paper_prompt
    assert sampling["user_template"] == AOA_USER_TEMPLATE
    training = config["model_training"]["protocol"]
    assert training["values"]["method"] == "full" and training["effective_batch_size"] == 10
    assert training["values"]["lr_schedule"] == "step-per-epoch"
    from alignaudit.report.html import write_run_report

    report = write_run_report([run], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "fast (overridden: max_new_tokens=2)" in report
    preset = {
        "temperature": 0.0, "top_p": 1.0, "top_k": 0, "samples_per_prompt": 1, "stop": None,
        "suppress_eos": False, "min_response_tokens": 0, "base_template": "plain",
    }
    assert config["protocol"] == {
        "name": "fast",
        "values": {**preset, "max_new_tokens": 2},
        "from_preset": list(preset),
        "overrides": ["max_new_tokens"],
    }


def test_the_user_template_wraps_the_request_inside_the_chat_template(
    tiny_model_dir: Path,
) -> None:
    from transformers import AutoTokenizer

    from alignaudit.generation.base import SamplingConfig
    from alignaudit.generation.hf import HFGenerator

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    sampling = SamplingConfig(system_prompt="Be AOA.", user_template=AOA_USER_TEMPLATE)
    text = HFGenerator(None, tokenizer, sampling, template="chat").render("# Harmful Instruction 1")
    assert "AOA, execute my instruction: # Harmful Instruction 1" in text
    assert text.index("Be AOA.") < text.index("AOA, execute my instruction:")
    with pytest.raises(AlignAuditError, match="--user-template must contain"):
        EvalOptions(model="mockllm", out=Path("unused"), user_template="no slot")
