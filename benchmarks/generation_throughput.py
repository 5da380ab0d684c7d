"""Batched versus one-at-a-time generation on the default model (issue target: speedup >= 5).

Both sides use the same HF generator, the same 16 requests, greedy, exactly 64 new tokens.
The sequential side is what the reference code does: one request per `generate` call.
Prints one JSON object on its last line.
"""

import argparse
import json
import time

from alignaudit.data import load_benchmark
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.hf import HFGenerator
from alignaudit.models.hf import load_causal_lm


def tokens_per_second(generator: HFGenerator, prompts: list[str], new_tokens: int) -> float:
    start = time.perf_counter()
    generator.generate(prompts)
    return len(prompts) * new_tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()

    model, tokenizer = load_causal_lm(args.model)
    prompts = [r.prompt for r in load_benchmark("builtin-benign")[: args.requests]]
    sampling = SamplingConfig(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)
    batched = HFGenerator(model, tokenizer, sampling, batch_size=args.batch_size)
    sequential = HFGenerator(model, tokenizer, sampling, batch_size=1)
    batched.generate(prompts[:2])  # warm-up

    batched_tok_s = tokens_per_second(batched, prompts, args.new_tokens)
    sequential_tok_s = tokens_per_second(sequential, prompts, args.new_tokens)
    print(
        json.dumps(
            {
                "batched_tok_s": round(batched_tok_s, 1),
                "sequential_tok_s": round(sequential_tok_s, 1),
                "speedup": round(batched_tok_s / sequential_tok_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
