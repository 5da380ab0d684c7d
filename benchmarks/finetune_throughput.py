"""Training throughput of the default model: LoRA vs full fine-tuning (tokens per second).

Batch 4 x 128 tokens, AdamW, one warm-up step then a few timed steps, the same forward/backward
and optimizer step the finetune command runs. Last line: {"lora_tok_s": .., "full_tok_s": ..}.
"""

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    args = parser.parse_args()

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
