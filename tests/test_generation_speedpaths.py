"""Finished rows leave the batch, batches go by prompt length: outputs must not change.

"Today's" reference is `model.generate` on left-padded batches in request order, still reachable
as `HFGenerator._generate_with_transformers`. The tiny random models rarely emit their real EOS,
so the tests add end-of-sequence ids the model does produce: rows then end at different steps
and really leave the batch.
"""

import random
from pathlib import Path

import pytest
import torch

from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, SingleModelGenerator
from alignaudit.generation.hf import HFGenerator
from alignaudit.generation.refill import _Lane
from alignaudit.models.hf import load_causal_lm
from tests.helpers import NEW_TOKENS, PROMPTS, sft_rows, today, with_early_ends


def test_rows_really_end_at_different_steps(tiny) -> None:
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=NEW_TOKENS))
    lengths = [
        len(tokenizer(t, add_special_tokens=False)["input_ids"])
        for t in generator.generate(PROMPTS)
    ]
    assert min(lengths) < NEW_TOKENS - 4 and max(lengths) >= NEW_TOKENS - 1


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_greedy_equals_batched_generate_for_any_batch_size(tiny, batch_size: int) -> None:
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = today(model, tokenizer, sampling, batch_size=7)
    generator = HFGenerator(model, tokenizer, sampling, batch_size=batch_size)
    assert generator.generate(PROMPTS) == expected


def test_greedy_answers_come_back_in_request_order_for_any_order(tiny) -> None:
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = dict(zip(PROMPTS, today(model, tokenizer, sampling, batch_size=7), strict=True))
    shuffled = PROMPTS[:]
    random.Random(3).shuffle(shuffled)
    got = HFGenerator(model, tokenizer, sampling, batch_size=2).generate(shuffled)
    assert got == [expected[p] for p in shuffled]


def test_plain_template_stop_strings_match_generate(tiny_base_model_dir: Path) -> None:
    model, tokenizer = load_causal_lm(str(tiny_base_model_dir))
    with_early_ends(model, tokenizer)
    sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
    expected = today(model, tokenizer, sampling, batch_size=7)
    assert HFGenerator(model, tokenizer, sampling, batch_size=3).generate(PROMPTS) == expected


def test_finished_rows_leave_the_batch(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer = tiny
    batch_rows: list[int] = []
    original = _Lane.step

    def counting_step(self, tokens):
        batch_rows.append(int(tokens.shape[0]))
        return original(self, tokens)

    monkeypatch.setattr(_Lane, "step", counting_step)
    HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=NEW_TOKENS), batch_size=7).generate(
        PROMPTS
    )
    assert batch_rows[0] == len(PROMPTS) and batch_rows[-1] < len(PROMPTS)
    assert batch_rows == sorted(batch_rows, reverse=True)


def test_seeded_sampling_does_not_depend_on_batch_composition(tiny) -> None:
    model, tokenizer = tiny
    config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=1.0, top_k=50, seed=7)

    def sample(prompts: list[str], batch_size: int) -> dict[str, str]:
        generator = HFGenerator(model, tokenizer, config, batch_size=batch_size)
        return dict(zip(prompts, generator.generate(prompts), strict=True))

    together = sample(PROMPTS, 7)
    alone = {p: sample([p], 1)[p] for p in PROMPTS[:3]}
    assert all(together[p] == alone[p] for p in alone)
    reordered = sample(PROMPTS[::-1], 2)
    assert reordered == together
    other_seed = HFGenerator(model, tokenizer, SamplingConfig(**{**config.__dict__, "seed": 8}))
    assert other_seed.generate(PROMPTS) != [together[p] for p in PROMPTS]


def test_ed_greedy_unchanged_by_batch_size_and_row_dropping(
    tiny_model_dir: Path, tiny_base_model_dir: Path
) -> None:
    aligned = load_causal_lm(str(tiny_model_dir))
    base = load_causal_lm(str(tiny_base_model_dir))

    def ed(batch_size: int) -> ContrastiveGenerator:
        sampling = SamplingConfig(max_new_tokens=NEW_TOKENS)
        return ContrastiveGenerator(*aligned, *base, 0.5, sampling=sampling, batch_size=batch_size)

    # End sequences on two tokens ED itself produces early in some rows.
    rows = ed(7).decode(PROMPTS).tokens
    for model, tokenizer in (aligned, base):
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, rows[0][2], rows[3][6]]
    # return_scores keeps every row in the batch: the reference without row dropping.
    kept = ed(7).decode(PROMPTS, return_scores=True).tokens
    assert len({len(row) for row in kept}) > 1  # rows ended at different steps
    assert ed(7).decode(PROMPTS).tokens == kept
    texts = ed(7).generate(PROMPTS)
    assert ed(2).generate(PROMPTS) == texts == ed(1).generate(PROMPTS)


def test_single_model_loop_sampling_is_per_request(tiny) -> None:
    model, tokenizer = tiny
    config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=1.0, top_p=0.9, seed=3)
    together = SingleModelGenerator(model, tokenizer, config, batch_size=7).generate(PROMPTS)
    alone = [
        SingleModelGenerator(model, tokenizer, config, batch_size=1).generate([p])[0]
        for p in PROMPTS[:2]
    ]
    assert together[:2] == alone


# --- fine-tuning without padding ------------------------------------------------------------


def _loss_and_grad(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's loss and lm_head gradient. As SFTTrainer.compute_loss does, no KV cache: with
    one, transformers would not read the row boundaries from the position ids."""
    model.zero_grad()
    loss = model(**batch, use_cache=False).loss
    loss.backward()
    return loss.detach(), model.lm_head.weight.grad.clone()


def test_padding_free_batches_give_the_padded_loss_and_gradients(tiny_model_dir: Path) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    model.float().train()
    rows = sft_rows(tokenizer)
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(rows)
    flat = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(
        rows
    )
    real_tokens = sum(len(row["input_ids"]) for row in rows)
    assert flat["input_ids"].shape == (1, real_tokens) < padded["input_ids"].shape
    assert "attention_mask" not in flat  # boundaries come from the position ids alone

    padded_loss, padded_grad = _loss_and_grad(model, padded)
    flat_loss, flat_grad = _loss_and_grad(model, flat)
    torch.testing.assert_close(flat_loss, padded_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(flat_grad, padded_grad, rtol=1e-4, atol=1e-6)
    # Without the restarting position ids the rows would attend to each other: another loss.
    leaky = {"input_ids": flat["input_ids"], "labels": flat["labels"]}
    assert abs(float(model(**leaky, use_cache=False).loss) - float(padded_loss)) > 1e-4


def test_pack_bins_fills_bins_up_to_the_longest_row_first_fit_decreasing() -> None:
    from alignaudit.attacks.collate import pack_bins

    assert pack_bins([5, 2, 9, 4, 3]) == [[0, 3], [1, 4], [2]]
    assert pack_bins([3, 3, 3]) == [[0], [1], [2]]
    assert pack_bins([]) == []


def test_binned_padding_free_batches_give_the_padded_loss_and_gradients(
    tiny_model_dir: Path,
) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from alignaudit.attacks.collate import BinnedPaddingFreeCollator, real_tokens

    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    model.float().train()
    rows = sft_rows(tokenizer)
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(rows)
    binned = BinnedPaddingFreeCollator(pad_token_id=tokenizer.pad_token_id)(rows)
    longest = max(len(row["input_ids"]) for row in rows)
    # Four rows in fewer bins, none longer than the longest row, no attention mask.
    assert binned["input_ids"].shape[0] < len(rows) and binned["input_ids"].shape[1] == longest
    assert set(binned) == {"input_ids", "labels", "position_ids"}

    padded_loss, padded_grad = _loss_and_grad(model, padded)
    binned_loss, binned_grad = _loss_and_grad(model, binned)
    torch.testing.assert_close(binned_loss, padded_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(binned_grad, padded_grad, rtol=1e-4, atol=1e-6)
    assert int((binned["labels"] != -100).sum()) == int((padded["labels"][:, 1:] != -100).sum())
    # The bins' padding is not counted as trained tokens (TRL would count the width only).
    assert real_tokens(binned["position_ids"]) == sum(len(row["input_ids"]) for row in rows)
    assert real_tokens(binned["position_ids"]) < binned["input_ids"].numel()


def test_finetune_trainer_bins_padding_free_rows_for_other_models(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignaudit.attacks import packed_attention
    from alignaudit.attacks.collate import BinnedPaddingFreeCollator
    from alignaudit.attacks.finetune import FinetuneConfig, _build_trainer, _training_args
    from alignaudit.models.spec import parse_model_spec

    config = FinetuneConfig(model=str(tiny_model_dir), recipe="benign", out=tmp_path / "m")
    config = config.resolved()
    args = _training_args(config, tmp_path, n_rows=8)
    assert args.padding_free is True
    # Without flash attention, a model SDPA cannot split per row (a sliding window, say) gets
    # padding-free bins (plain causal models get attention per row: test_packed_attention.py).
    monkeypatch.setattr(packed_attention, "plainly_causal", lambda config: False)
    _, tokenizer = load_causal_lm(str(tiny_model_dir))
    rows = sft_rows(tokenizer)
    trainer = _build_trainer(config, parse_model_spec(str(tiny_model_dir)), tokenizer, rows, args)
    assert isinstance(trainer.data_collator, BinnedPaddingFreeCollator)
    assert trainer.model.config._attn_implementation == "sdpa"
    # The logged token count is the rows' tokens, not the bins' width.
    batch = trainer.data_collator(rows)
    trainer.compute_loss(trainer.model, batch)
    assert trainer._metrics["train"]["num_tokens"] == [sum(len(r["input_ids"]) for r in rows)]


@pytest.mark.slow
def test_default_model_greedy_matches_batched_generate(default_model_dir: Path) -> None:
    from alignaudit.data import load_benchmark

    model, tokenizer = load_causal_lm("default")
    prompts = [r.prompt for r in load_benchmark("builtin")][:12]
    sampling = SamplingConfig(max_new_tokens=24)
    reference = HFGenerator(model, tokenizer, sampling, batch_size=6)
    expected = reference._generate_with_transformers(prompts[:6])
    expected += reference._generate_with_transformers(prompts[6:])
    for batch_size in (6, 4):
        assert (
            HFGenerator(model, tokenizer, sampling, batch_size=batch_size).generate(prompts)
            == expected
        )
    assert len(set(expected)) > 6
