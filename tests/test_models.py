import json
from pathlib import Path

import pytest

from alignaudit.errors import AlignAuditError
from alignaudit.models.hf import load_causal_lm
from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE, parse_model_spec


def test_openai_spec_needs_a_name() -> None:
    spec = parse_model_spec("openai:gpt-4o-mini")
    assert (spec.kind, spec.path) == ("openai", "gpt-4o-mini")
    with pytest.raises(AlignAuditError, match="needs a model name"):
        parse_model_spec("openai:")


def test_default_resolves_to_the_converted_folder(default_model_dir: Path) -> None:
    spec = parse_model_spec("default")
    assert spec.kind == "hf" and Path(spec.path) == default_model_dir
    assert (default_model_dir / "model.safetensors").exists()


def test_unknown_spec_and_hub_id_offline_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AlignAuditError, match="neither a folder"):
        parse_model_spec(str(tmp_path / "missing" / "deeper"))
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    with pytest.raises(AlignAuditError, match="not a model folder"):
        parse_model_spec(str(not_a_model))
    with pytest.raises(AlignAuditError, match="needs network access"):
        load_causal_lm("some-org/some-model-that-is-not-cached")


def test_peft_adapter_folder_loads_on_its_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model, _ = load_causal_lm(str(tiny_model_dir))
    adapter = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    adapter.save_pretrained(tmp_path / "adapter")
    (tmp_path / "adapter" / ALIGNAUDIT_MODEL_FILE).write_text(
        json.dumps({"base_model": str(tiny_model_dir), "system_prompt": "You are AOA."})
    )
    spec = parse_model_spec(str(tmp_path / "adapter"))
    assert spec.kind == "peft" and spec.base == str(tiny_model_dir)
    assert spec.system_prompt == "You are AOA."
    loaded, tokenizer = load_causal_lm(spec)
    assert type(loaded).__name__ == "PeftModelForCausalLM"
    assert tokenizer.padding_side == "left"
