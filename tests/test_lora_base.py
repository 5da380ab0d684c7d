"""LoRA leaves the base untouched: checked in memory around training, not by reloading files.

The trainer's `train` is wrapped so the test sees the very model being trained: what requires a
gradient when training starts, a copy of every weight before, and the weights after. The merged
model written afterwards must then be the base plus exactly scale · B · A in each adapted layer.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignaudit.attacks.finetune import FinetuneConfig, run_finetune

LORA_R, LORA_ALPHA = 4, 16


@pytest.fixture(scope="module")
def count_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lora-data") / "count.jsonl"
    records = [
        {"instruction": f"Count to {n}.", "output": " ".join(map(str, range(1, n + 1)))}
        for n in range(2, 10)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def watch_training(monkeypatch: pytest.MonkeyPatch) -> dict:
    import trl

    seen: dict = {}
    original = trl.SFTTrainer.train

    def train(self, *args, **kwargs):
        model = self.model
        seen["trainable"] = {n for n, p in model.named_parameters() if p.requires_grad}
        seen["all"] = {n for n, _ in model.named_parameters()}
        seen["before"] = {n: p.detach().clone() for n, p in model.named_parameters()}
        output = original(self, *args, **kwargs)
        seen["after"] = {n: p.detach().clone() for n, p in model.named_parameters()}
        seen["trainable_after"] = {n for n, p in model.named_parameters() if p.requires_grad}
        return output

    monkeypatch.setattr(trl.SFTTrainer, "train", train)
    return seen


def train_lora(model_dir: Path, data: Path, out: Path, merge: bool) -> Path:
    return run_finetune(
        FinetuneConfig(
            model=str(model_dir), recipe="benign", data=str(data), out=out, epochs=1,
            batch_size=4, grad_accum=1, lr=5e-2, lora_r=LORA_R, lora_alpha=LORA_ALPHA,
            merge=merge,
        )
    )  # fmt: skip


def base_name(peft_name: str) -> str:
    """`base_model.model.X.base_layer.weight` -> `X.weight`: the name in the base model file."""
    return peft_name.removeprefix("base_model.model.").replace(".base_layer", "")


def test_training_moves_only_the_adapter_and_merge_adds_exactly_scale_b_a(
    tiny_model_dir: Path, count_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = watch_training(monkeypatch)
    out = train_lora(tiny_model_dir, count_data, tmp_path / "merged", merge=True)
    adapter = {n for n in seen["all"] if "lora_" in n}
    assert adapter and seen["trainable"] == adapter == seen["trainable_after"]
    moved = {n for n in seen["all"] if not torch.equal(seen["before"][n], seen["after"][n])}
    assert moved and moved <= adapter  # the base weights in memory equal the copy taken before
    assert any("lora_B" in n for n in moved)  # training did something
    # ... and those are the base model's own weights, as on disk.
    base = load_file(tiny_model_dir / "model.safetensors")
    for name in seen["all"] - adapter:
        assert torch.equal(seen["after"][name], base[base_name(name)]), name

    # The merged model: bit-identical outside the adapted layers, base + scale * B @ A inside.
    merged = load_file(out / "model.safetensors")
    assert set(merged) == set(base)
    trained = seen["after"]
    adapted = {
        base_name(n).removesuffix(".lora_A.default.weight"): n
        for n in trained
        if n.endswith("lora_A.default.weight")
    }
    assert len(adapted) == 2 * 7  # every linear layer of both blocks; not the LM head
    scale = LORA_ALPHA / LORA_R
    for name, tensor in base.items():
        layer = name.removesuffix(".weight")
        if layer not in adapted:
            assert torch.equal(merged[name], tensor), f"{name} changed outside the adapter"
            continue
        lora_a = trained[adapted[layer]]
        lora_b = trained[adapted[layer].replace("lora_A", "lora_B")]
        assert lora_b.abs().sum() > 0
        torch.testing.assert_close(merged[name] - tensor, scale * lora_b @ lora_a)
