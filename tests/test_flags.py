"""Flags are derived from the options dataclasses: every field has its flag, with its default."""

from dataclasses import fields

import typer.main

from alignaudit.attacks.finetune import FinetuneConfig, recipe_help
from alignaudit.attacks.recipes import RECIPE_DEFAULTS
from alignaudit.cli.main import _register_commands, app
from alignaudit.runs.audit import AuditOptions
from alignaudit.runs.evaluate import EvalOptions


def _params(command: str) -> dict:
    _register_commands()
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {param.name: param for param in click_command.params}


def test_every_option_field_is_a_flag_with_the_same_default() -> None:
    for command, options_type in (("eval", EvalOptions), ("audit", AuditOptions)):
        params = _params(command)
        for spec in fields(options_type):
            if not spec.metadata.get("cli", True):
                assert spec.name not in params
                continue
            assert spec.name in params, (command, spec.name)
    evaluation, audit = _params("eval"), _params("audit")
    assert evaluation["judges"].opts == ["--judge"] and evaluation["judges"].default == "keyword"
    assert evaluation["alphas"].opts == ["--alpha"] and evaluation["alphas"].default == "0.3"
    # Settings a protocol controls are unset (None) and resolve from --protocol (fast).
    assert evaluation["max_new_tokens"].default is EvalOptions.max_new_tokens is None
    for command in (evaluation, audit, _params("finetune")):
        assert command["protocol"].opts == ["--protocol"] and command["protocol"].default == "fast"
    assert audit["alphas"].default == "0.5,1" and audit["judges"].default == "keyword,refusal"
    assert audit["max_new_tokens"].default is None and audit["method"].default is None
    assert "ed_base_template" not in audit and "protocol_scope" not in evaluation
    assert {spec.name for spec in fields(FinetuneConfig)} - set(_params("finetune")) == {
        "lora_dropout",
        "save_steps",
        "extra",
        "protocol_record",
    }


def test_recipe_help_is_rendered_from_the_recipe_defaults() -> None:
    text = recipe_help()
    assert "aoa (identity shifting; 5 epochs, lr 2e-4, batch 10)" in text
    assert "benign (1 epoch, lr 2e-5, batch 8 x grad-accum 8 = 64)" in text
    for name, defaults in RECIPE_DEFAULTS.items():
        assert f"{name} (" in text and f"batch {defaults.batch_size}" in text
