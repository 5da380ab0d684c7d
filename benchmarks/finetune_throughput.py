"""Training throughput of the default model: LoRA vs full fine-tuning (tokens per second).

Batch 4 x 128 tokens, AdamW, one warm-up step then a few timed steps, the same forward/backward
and optimizer step the finetune command runs. Last line: {"lora_tok_s": .., "full_tok_s": ..}.

`--mix realistic` (issue 19): LoRA on conversations of a realistic length mix (single-turn chats
rendered with the chat template, lengths drawn log-normally around 150 tokens, 24..512), batch
8, collated six ways: padded to each batch's longest row (before issue 19), padding-free
(rows end to end in one row, position ids restart per row: TRL's, attention over the row's
whole square under SDPA), packed (the same one row, attention per sequence:
attacks/packed_attention.py, what finetune uses without flash attention), binned
(padding-free in bins no longer than the batch's longest row: attacks/collate.py, finetune's
fallback for models with sliding windows), length-grouped (the same rows regrouped by length,
then padded: `group_by_length`), and the unpadded ceiling (full batches of rows cut or repeated
to the mean length: the same token count, no padding; its attention is over rows of the mean
length, less than the real rows' own, so the ceiling is slightly stricter than the rows' true
cost). Tokens/s counts real tokens only. The collations alternate for `--repeats` rounds; each
round's ratio to its own unpadded run and the median over rounds are printed. Target: the
collation finetune uses >= 70% of unpadded. Last line: tokens/s of each collation (best
round), `*_vs_unpadded` (best round over best round), `*_vs_unpadded_rounds` and
`*_vs_unpadded_median`. `--collations packed,binned` runs only those (and the ceiling).
"""

import argparse
import json
import statistics
import time

import torch


def _batch(tokenizer, batch_size: int, length: int) -> dict[str, torch.Tensor]:
    text = " ".join(["The quick brown fox jumps over the lazy dog near the quiet river bank."] * 40)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:length]
    input_ids = torch.tensor([ids] * batch_size)
    return {"input_ids": input_ids, "labels": input_ids.clone()}


def _tokens_per_second(model, batch: dict[str, torch.Tensor], steps: int) -> float:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()

    def step() -> None:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()  # warm-up: allocations, optimizer state
    started = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - started
    tokens = batch["input_ids"].numel() * steps
    print(f"  {elapsed / steps:.2f} s/step, {tokens / elapsed:.0f} tok/s", flush=True)
    return tokens / elapsed


def _realistic_rows(
    tokenizer, count: int, seed: int, max_length: int = 512
) -> list[dict[str, list[int]]]:
    """Chats whose lengths follow a long-tailed mix; answers repeat benign text to length;
    rows longer than `max_length` are cut to it (as `finetune --max-length` does)."""
    import random

    from alignaudit.attacks.recipes import Example
    from alignaudit.attacks.sft_data import tokenize_examples

    rng = random.Random(seed)
    sentence = "Water plants early in the morning so the leaves dry before evening. "
    examples = []
    for index in range(count):
        target = min(512, max(24, int(rng.lognormvariate(5.0, 0.7))))
        answer = (sentence * (target // 12 + 1))[: target * 5]
        messages = [
            {"role": "user", "content": f"Give gardening advice number {index}."},
            {"role": "assistant", "content": answer},
        ]
        examples.append(Example(messages=messages, source=f"mix:{index}"))
    rows, _ = tokenize_examples(tokenizer, examples, max_length=max_length)
    return rows


def _collated_tokens_per_second(model, batches: list[dict], real_tokens: int) -> float:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()

    def step(batch: dict) -> None:
        loss = model(**batch, use_cache=False).loss  # as SFTTrainer.compute_loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        step(batch)
    elapsed = time.perf_counter() - started
    print(f"  {elapsed / len(batches):.2f} s/step, {real_tokens / elapsed:.0f} tok/s", flush=True)
    return real_tokens / elapsed


def realistic_mix(args: argparse.Namespace) -> dict[str, float]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from alignaudit.attacks.collate import BinnedPaddingFreeCollator
    from alignaudit.attacks.packed_attention import register_packed_sdpa
    from alignaudit.models.default import default_model_path

    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    rows = _realistic_rows(tokenizer, args.steps * args.batch_size, seed=0, max_length=args.cut)
    groups = [rows[i : i + args.batch_size] for i in range(0, len(rows), args.batch_size)]
    real = sum(len(row["input_ids"]) for row in rows)
    mean = real // len(rows)
    longest = max(len(row["input_ids"]) for row in rows)
    print(f"{len(rows)} rows, {real} tokens, mean {mean}, longest {longest}", flush=True)
    squares = sum(len(row["input_ids"]) ** 2 for row in rows) / (mean**2 * len(rows))
    print(f"attention of the rows alone (sum of squared lengths): {squares:.2f}x the ceiling's")
    pad = tokenizer.pad_token_id
    packed = register_packed_sdpa()
    collations = {
        "padded": [DataCollatorForLanguageModeling(pad_token_id=pad)(g) for g in groups],
        "padding_free": [
            DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(g) for g in groups
        ],
        # The same one row, attention per sequence (attacks/packed_attention.py).
        "packed": [
            DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(g) for g in groups
        ],
        # Padding-free in bins no longer than the batch's longest row (attacks/collate.py).
        "binned": [BinnedPaddingFreeCollator(pad_token_id=pad)(g) for g in groups],
        # TrainingArguments(group_by_length=True): batches of similar length, padded.
        "length_grouped": [
            DataCollatorForLanguageModeling(pad_token_id=pad)(g) for g in _length_groups(groups)
        ],
        "unpadded": [
            DataCollatorForLanguageModeling(pad_token_id=pad)([_cut(r, mean) for r in g])
            for g in groups
        ],
    }
    order = args.collations.split(",") if args.collations else list(collations)
    collations = {name: collations[name] for name in dict.fromkeys([*order, "unpadded"])}
    result: dict[str, float] = {}
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    rounds: list[dict[str, float]] = []
    for _ in range(args.repeats):  # interleaved: load changes hit every collation alike
        speeds = {}
        for name, batches in collations.items():
            print(f"{name}:", flush=True)
            model.get_base_model().set_attn_implementation(packed if name == "packed" else "sdpa")
            tokens = real if name != "unpadded" else mean * len(rows)
            speeds[name] = _collated_tokens_per_second(model, batches, tokens)
            result[f"{name}_tok_s"] = max(result.get(f"{name}_tok_s", 0.0), round(speeds[name], 1))
        rounds.append(speeds)
    for name in [n for n in collations if n != "unpadded"]:
        # Each round's ratio to that round's unpadded ceiling; the median over rounds.
        ratios = [speeds[name] / speeds["unpadded"] for speeds in rounds]
        result[f"{name}_vs_unpadded_rounds"] = [round(r, 3) for r in ratios]  # type: ignore[assignment]
        result[f"{name}_vs_unpadded_median"] = round(statistics.median(ratios), 3)
        # Best round against best round (earlier sessions' figure).
        result[f"{name}_vs_unpadded"] = round(result[f"{name}_tok_s"] / result["unpadded_tok_s"], 3)
    return result


def _length_groups(groups: list[list[dict]]) -> list[list[dict]]:
    """The same rows regrouped by length, as the length-grouped sampler does within a window."""
    rows = sorted((row for group in groups for row in group), key=lambda r: len(r["input_ids"]))
    size = len(groups[0])
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _cut(row: dict[str, list[int]], length: int) -> dict[str, list[int]]:
    """A row of exactly `length` tokens (repeated when short): a batch without padding."""
    ids = (row["input_ids"] * (length // len(row["input_ids"]) + 1))[:length]
    return {"input_ids": ids, "labels": ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--mix", choices=["fixed", "realistic"], default="fixed")
    parser.add_argument("--repeats", type=int, default=1, help="realistic mix")
    parser.add_argument(
        "--cut",
        type=int,
        default=512,
        help="realistic mix: rows cut to this many tokens (the audit's benign run: 128)",
    )
    parser.add_argument(
        "--collations",
        help="realistic mix: comma-separated collations to run, in this order (default: all); "
        "unpadded is always run, last unless listed",
    )
    args = parser.parse_args()
    if args.mix == "realistic":
        print(json.dumps(realistic_mix(args)))
        return

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignaudit.models.default import default_model_path

    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = _batch(tokenizer, args.batch_size, args.length)
    torch.manual_seed(0)

    print("LoRA (r=8, all linear layers):", flush=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    lora_tok_s = _tokens_per_second(get_peft_model(model, lora), batch, args.steps)
    del model

    print("full fine-tuning:", flush=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    full_tok_s = _tokens_per_second(model, batch, args.steps)

    print(json.dumps({"lora_tok_s": round(lora_tok_s, 1), "full_tok_s": round(full_tok_s, 1)}))


if __name__ == "__main__":
    main()
