"""SDPA per packed sequence (attacks/packed_attention.py): the padded loss and gradients on a
tiny model, SDPA's own results wherever a batch is not one packed row."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from alignaudit.attacks.packed_attention import (
    PACKED_SDPA,
    _packed_sequences,
    plainly_causal,
    register_packed_sdpa,
)
from alignaudit.models.hf import load_causal_lm
from tests.helpers import sft_rows


def _loss_and_grads(model, batch) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss and every parameter's gradient; no KV cache, as SFTTrainer.compute_loss."""
    model.zero_grad()
    loss = model(**batch, use_cache=False).loss
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.fixture
def tiny(tiny_model_dir: Path):
    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    return model.float().train(), tokenizer


def test_packed_sdpa_gives_the_padded_loss_and_gradients(tiny) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model, tokenizer = tiny
    rows = sft_rows(tokenizer)
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(rows)
    flat = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(
        rows
    )
    padded_loss, padded_grads = _loss_and_grads(model, padded)
    model.set_attn_implementation(register_packed_sdpa())
    assert model.config._attn_implementation == PACKED_SDPA
    calls = _count_sdpa_calls(model, flat)
    packed_loss, packed_grads = _loss_and_grads(model, flat)

    # One SDPA call per row and layer: each row attends alone, no block mask over the whole row.
    assert calls == (len(rows) * model.config.num_hidden_layers, 0)
    torch.testing.assert_close(packed_loss, padded_loss, rtol=1e-5, atol=1e-6)
    assert len(packed_grads) == len(padded_grads)
    for packed, reference in zip(packed_grads, padded_grads, strict=True):
        torch.testing.assert_close(packed, reference, rtol=1e-4, atol=1e-6)


def _count_sdpa_calls(model, batch) -> tuple[int, int]:
    """(SDPA calls without a mask, calls with one) during one forward pass."""
    calls = [0, 0]
    original = torch.nn.functional.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls[kwargs.get("attn_mask") is not None] += 1
        return original(*args, **kwargs)

    torch.nn.functional.scaled_dot_product_attention = counting
    try:
        with torch.no_grad():
            model(**batch, use_cache=False)
    finally:
        torch.nn.functional.scaled_dot_product_attention = original
    return calls[0], calls[1]


def test_packed_sdpa_leaves_padded_batches_and_generation_as_sdpa(tiny) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model, tokenizer = tiny
    model.eval()
    batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(
        sft_rows(tokenizer)
    )
    prompts = tokenizer(["Count to 3", "Say hi"], return_tensors="pt", padding=True)
    with torch.no_grad():
        sdpa_logits = model(**batch).logits
        sdpa_text = model.generate(**prompts, max_new_tokens=6, do_sample=False)
        model.set_attn_implementation(register_packed_sdpa())
        torch.testing.assert_close(model(**batch).logits, sdpa_logits)
        assert torch.equal(model.generate(**prompts, max_new_tokens=6, do_sample=False), sdpa_text)


def test_packed_sequences_start_where_positions_restart() -> None:
    query = torch.zeros(1, 2, 7, 4)
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 1]])
    assert _packed_sequences(query, query, None, positions) == [(0, 3), (3, 5), (5, 7)]
    # One sequence, a mask, or several rows: plain SDPA.
    assert _packed_sequences(query, query, None, torch.arange(7)[None]) is None
    assert _packed_sequences(query, query, torch.ones(1, 1, 7, 7), positions) is None
    rows = torch.zeros(2, 2, 7, 4)
    assert _packed_sequences(rows, rows, None, positions.expand(2, -1)) is None


def test_only_plainly_causal_models_get_no_mask() -> None:
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    assert plainly_causal(LlamaConfig())
    assert not plainly_causal(MistralConfig(sliding_window=64))
    assert plainly_causal(Qwen2Config(use_sliding_window=False))
    assert not plainly_causal(None)


def test_finetune_trainer_attends_per_row_in_one_padding_free_row(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from alignaudit.attacks.finetune import FinetuneConfig, _build_trainer, _training_args
    from alignaudit.models.spec import parse_model_spec

    config = FinetuneConfig(model=str(tiny_model_dir), recipe="benign", out=tmp_path / "m")
    config = config.resolved()
    args = _training_args(config, tmp_path, n_rows=8)
    _, tokenizer = load_causal_lm(str(tiny_model_dir))
    rows = sft_rows(tokenizer)
    trainer = _build_trainer(config, parse_model_spec(str(tiny_model_dir)), tokenizer, rows, args)
    # Without flash attention (a CPU run): TRL's padding-free collation, attention per row.
    assert trainer.model.config._attn_implementation == PACKED_SDPA
    assert isinstance(trainer.data_collator, DataCollatorForLanguageModeling)
    batch = trainer.data_collator(rows)
    assert batch["input_ids"].shape == (1, sum(len(r["input_ids"]) for r in rows))
    trainer.compute_loss(trainer.model, batch)
    assert trainer._metrics["train"]["num_tokens"] == [sum(len(r["input_ids"]) for r in rows)]
