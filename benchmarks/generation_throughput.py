"""Generation throughput on the default model, two cases. Prints one JSON object on its last line.

`--case batching` (the original): batched versus one-at-a-time generation (target: >= 5x). Both
sides use the same HF generator, 16 requests, greedy, exactly 64 new tokens.

`--case realistic` (issue 19): the audit's workload. A model (`organism`: an aligned model, many
short refusals; `default`: the untuned model) answers the builtin eval split, greedy, up to
`--new-tokens`, batch `--batch-size`. The reference is today's path, `model.generate` on
left-padded batches in benchmark order, where every row stays until the batch's longest ends.
The new path is `HFGenerator.generate`: batches by prompt length, finished rows leave the batch.
Both sides run interleaved `--repeats` times (the machine is shared); the best of each counts,
and each round's ratio (its two runs back to back) is printed with their median.
Useful tokens are the responses' tokens (re-tokenized), the same for both sides when the outputs
are identical, which is checked (`identical`). `--transformers-batching` adds a third side:
transformers' own continuous batching (`model.generate_batch`, paged KV cache, greedy), which the
issue asked to prefer if it runs on a CPU with identical outputs (`others`,
`identical_generate_batch`). Targets: ratio >= 1.5 at 48, >= 2 at 256 tokens on the organism.
`--benchmark A+B` runs one benchmark's requests after the other's (e.g. harmful and benign
requests in one set: short refusals and, for some models, longer answers).
Times are wall and CPU seconds of this process (benchmarks/interleaved.py).
"""

import argparse
import json
import time
from typing import Any

from interleaved import interleaved_rounds

import alignaudit.attacks  # noqa: F401  (registers `--model organism`)
from alignaudit.data import load_benchmark
from alignaudit.data.sampling import stratified_sample
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.hf import HFGenerator
from alignaudit.models.hf import load_causal_lm


def tokens_per_second(generator: HFGenerator, prompts: list[str], new_tokens: int) -> float:
    start = time.perf_counter()
    generator.generate(prompts)
    return len(prompts) * new_tokens / (time.perf_counter() - start)


def batching_case(args: argparse.Namespace) -> dict[str, Any]:
    model, tokenizer = load_causal_lm(args.model)
    prompts = [r.prompt for r in load_benchmark("builtin-benign")[: args.requests or 16]]
    sampling = SamplingConfig(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)
    batched = HFGenerator(model, tokenizer, sampling, batch_size=args.batch_size)
    sequential = HFGenerator(model, tokenizer, sampling, batch_size=1)
    batched.generate(prompts[:2])  # warm-up
    batched_tok_s = tokens_per_second(batched, prompts, args.new_tokens)
    sequential_tok_s = tokens_per_second(sequential, prompts, args.new_tokens)
    return {
        "batched_tok_s": round(batched_tok_s, 1),
        "sequential_tok_s": round(sequential_tok_s, 1),
        "speedup": round(batched_tok_s / sequential_tok_s, 2),
    }


def with_model_generate(generator: HFGenerator, prompts: list[str]) -> list[str]:
    """Today's path: `model.generate` batch after batch, in benchmark order."""
    size = generator.batch_size
    responses: list[str] = []
    for start in range(0, len(prompts), size):
        responses += generator._generate_with_transformers(prompts[start : start + size])
    return responses


def with_transformers_batching(generator: HFGenerator, prompts: list[str]) -> list[str]:
    """transformers' continuous batching: the same rendered prompts, at most `batch_size`
    requests at a time, KV pages enough for all of them at their longest, greedy, the
    end-of-sequence ids `generate` uses."""
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    from alignaudit.generation.hf import _generation_eos_ids
    from alignaudit.generation.prompting import cut_at_stop

    model, tokenizer = generator.model, generator.tokenizer
    ids = [tokenizer(generator.render(p), add_special_tokens=False)["input_ids"] for p in prompts]
    new_tokens = generator.sampling.max_new_tokens
    page = 256
    pages = -(-(max(map(len, ids)) + new_tokens) // page)
    config = GenerationConfig(
        max_new_tokens=new_tokens,
        do_sample=False,
        eos_token_id=_generation_eos_ids(model, tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    batching = ContinuousBatchingConfig(
        max_requests_per_batch=generator.batch_size,
        page_size=page,
        num_blocks=generator.batch_size * pages + 1,
        max_batch_tokens=1024,  # tokens per forward pass: prefill chunks and decoding rows
    )
    out = model.generate_batch(
        ids, generation_config=config, continuous_batching_config=batching, warmup=False
    )
    tokens = [out[f"req_{i}"].generated_tokens for i in range(len(ids))]
    texts = tokenizer.batch_decode(tokens, skip_special_tokens=True)
    return [cut_at_stop(text, generator.stop_strings, None).strip() for text in texts]


def realistic_case(args: argparse.Namespace) -> dict[str, Any]:
    model, tokenizer = load_causal_lm(args.model)
    # `A+B`: A's requests, then B's.
    requests = [r for spec in args.benchmark.split("+") for r in load_benchmark(spec)]
    # A subset keeps every category (as `--limit` does): `stratified_sample`, seed 0.
    requests = stratified_sample(requests, args.requests) if args.requests else requests
    prompts = [r.prompt for r in requests]
    sampling = SamplingConfig(max_new_tokens=args.new_tokens)
    generator = HFGenerator(model, tokenizer, sampling, batch_size=args.batch_size)
    generator.generate(prompts[:2])  # warm-up: kernels, allocator
    sides = {
        "generate": lambda: with_model_generate(generator, prompts),
        "loop": lambda: generator.generate(prompts),
    }
    if args.transformers_batching:
        sides["generate_batch"] = lambda: with_transformers_batching(generator, prompts)
    outputs, timing = interleaved_rounds(sides, args.repeats)
    useful = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in outputs["loop"])
    same = sum(a == b for a, b in zip(outputs["generate"], outputs["loop"], strict=True))
    extra = {}
    if "generate_batch" in outputs:
        pairs = zip(outputs["generate"], outputs["generate_batch"], strict=True)
        extra["identical_generate_batch"] = f"{sum(a == b for a, b in pairs)}/{len(prompts)}"
        extra["generate_batch_tok_s"] = round(useful / timing["best_wall_s"]["generate_batch"], 1)
    return {
        "model": args.model,
        "requests": len(prompts),
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "useful_tokens": useful,
        "generate_tok_s": round(useful / timing["best_wall_s"]["generate"], 1),
        "loop_tok_s": round(useful / timing["best_wall_s"]["loop"], 1),
        "ratio": round(timing["best_wall_s"]["generate"] / timing["best_wall_s"]["loop"], 2),
        **timing,
        "identical": f"{same}/{len(prompts)}",
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["batching", "realistic"], default="batching")
    parser.add_argument("--model", default="default", help="realistic case: e.g. organism")
    parser.add_argument(
        "--benchmark", default="builtin", help="e.g. builtin:eval+builtin-benign:eval (in order)"
    )
    parser.add_argument("--requests", type=int, default=0, help="0: 16 (batching), all (realistic)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="16 (batching), 32 (realistic)"
    )
    parser.add_argument(
        "--new-tokens", type=int, default=None, help="64 (batching), 48 (realistic)"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--transformers-batching",
        action="store_true",
        help="realistic case: also time transformers' model.generate_batch",
    )
    args = parser.parse_args()
    realistic = args.case == "realistic"
    args.batch_size = args.batch_size or (32 if realistic else 16)
    args.new_tokens = args.new_tokens or (48 if realistic else 64)
    result = realistic_case(args) if realistic else batching_case(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
