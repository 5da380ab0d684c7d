"""Emulated-disalignment decoding versus one model in the same loop (issue target: ratio >= 0.48).

ED runs two models per token, so with two equal models the ceiling is about 0.5 of one model's
speed. Both sides use the same hand-written decoding loop, two separate copies of the default
model, the same requests, greedy, exactly `--new-tokens` new tokens (EOS and stop markers are
held off with min_new_tokens). One warm-up run each, then the best of `--repeats`.
Prints one JSON object on its last line.

`--sampling` (issue 16): both sides sample as the reference ED demo does: temperature 0.7,
top-k 50, `--samples` (3) samples per request, each (request, sample) from its own seeded
generator; tokens count every sample.

`--case realistic` (issue 19): the audit's ED workload instead. The aligned model (`--aligned`,
default `organism`) and the untuned base (`--model`, default `default`) answer the builtin eval
split, greedy, up to `--new-tokens`, batch `--batch-size`, at `--alpha`. Today's engine (every
row stays until the batch's longest ends, benchmark order, no shared-prefix prefill, transformers'
KV cache copied whole at every step) against the new one (requests by prompt length, finished
rows leave the batch and their slots go to the next requests: continuous batching over the whole
split in one call; KV caches that grow in place): same loop otherwise,
interleaved, best of `--repeats` and the median of each round's ratio; useful tokens are the
responses' re-tokenized tokens (`ended_early`: responses shorter than the limit). Target: 1.5.
Times are wall and CPU seconds of this process (benchmarks/interleaved.py); with
OMP_NUM_THREADS=1 on a shared machine the CPU ratios are the steadier figure.
"""

import argparse
import json
import time
from typing import Any

from interleaved import interleaved_rounds, loop_as_before_issue_19

import alignaudit.attacks  # noqa: F401  (registers `--model organism`)
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, SingleModelGenerator, load_ed_pair
from alignaudit.models.hf import LoadOptions

# Benign requests of varied length, so left padding is exercised as in a real run.
PROMPTS = [
    "Give me three tips for keeping a small herb garden healthy.",
    "What is the capital of France?",
    "Explain in simple words why the sky looks blue during the day.",
    "Write a short, friendly note thanking a colleague for their help with a project.",
    "List four fruits that are high in vitamin C.",
    "How do I convert a temperature from Celsius to Fahrenheit?",
    "Suggest a name for a cozy neighbourhood bakery.",
    "Summarize the water cycle in two or three sentences for a ten-year-old.",
]


def tokens_per_second(
    generator: ContrastiveGenerator | SingleModelGenerator,
    prompts: list[str],
    new_tokens: int,
    samples: list[int] | None = None,
) -> float:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    generator.generate(prompts, samples)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return len(prompts) * new_tokens / (time.perf_counter() - start)


def best_of_interleaved(
    ed: ContrastiveGenerator, single: SingleModelGenerator, prompts: list[str], args: Any
) -> tuple[float, float]:
    """Warm both up, then alternate them so load changes on a shared machine hit both sides."""
    samples = None
    if args.sampling:  # every request `--samples` times, each sample its own draw
        samples = [k for _ in prompts for k in range(args.samples)]
        prompts = [p for p in prompts for _ in range(args.samples)]
    ed.generate(prompts, samples)  # warm-up: kernels, allocator, stop-string tables
    single.generate(prompts, samples)
    ed_best = single_best = 0.0
    for _ in range(args.repeats):
        ed_best = max(ed_best, tokens_per_second(ed, prompts, args.new_tokens, samples))
        single_best = max(
            single_best, tokens_per_second(single, prompts, args.new_tokens, samples)
        )
    return ed_best, single_best


def profile(generator: ContrastiveGenerator | SingleModelGenerator, prompts: list[str]) -> None:
    """Where one decoding run spends its time, by operator (printed before the JSON line)."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with torch_profile(activities=activities) as prof:
        generator.generate(prompts)
    sort_by = "cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort_by, row_limit=25))


def realistic_case(args: Any) -> dict[str, Any]:
    from alignaudit.data import load_benchmark
    from alignaudit.data.sampling import stratified_sample

    pair = load_ed_pair(args.aligned, args.model, LoadOptions(dtype=args.dtype, device=args.device))
    requests = load_benchmark(args.benchmark)
    # A subset keeps every category (as `--limit` does): `stratified_sample`, seed 0.
    requests = stratified_sample(requests, args.requests) if args.requests else requests
    prompts = [r.prompt for r in requests]
    sampling = SamplingConfig(max_new_tokens=args.new_tokens)
    engines = {}
    for name in ("today", "new"):
        engines[name] = ContrastiveGenerator(
            *pair,
            alpha=args.alpha,
            sampling=sampling,
            base_template=args.base_template,
            aligned_template="chat",
            batch_size=args.batch_size,
        )
    loop_as_before_issue_19(engines["today"])  # the engine before issue 19 (commit 81dcff4^)
    engines["new"].generate(prompts[:2])  # warm-up: kernels, allocator, stop-string tables
    if args.profile:  # one run of each engine under torch.profiler (slower: read shares only)
        for engine in engines.values():
            profile(engine, prompts)
    sides = {name: (lambda e=engine: e.generate(prompts)) for name, engine in engines.items()}
    outputs, timing = interleaved_rounds(sides, args.repeats)
    tokenizer = pair.base_tokenizer
    useful = sum(_token_counts(tokenizer, outputs["new"]))
    same = sum(a == b for a, b in zip(outputs["today"], outputs["new"], strict=True))
    return {
        "aligned": args.aligned,
        "base": args.model,
        "alpha": args.alpha,
        "requests": len(prompts),
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "useful_tokens": useful,
        "today_tok_s": round(useful / timing["best_wall_s"]["today"], 1),
        "new_tok_s": round(useful / timing["best_wall_s"]["new"], 1),
        "ratio": round(timing["best_wall_s"]["today"] / timing["best_wall_s"]["new"], 2),
        **timing,
        "ended_early": sum(n < args.new_tokens for n in _token_counts(tokenizer, outputs["new"])),
        "identical": f"{same}/{len(prompts)}",
    }


def _token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["two-models", "realistic"], default="two-models")
    parser.add_argument("--model", default="default")
    parser.add_argument("--aligned", default="organism", help="realistic case: the aligned model")
    parser.add_argument("--benchmark", default="builtin", help="realistic case")
    parser.add_argument("--requests", type=int, default=None, help="8; realistic: all")
    parser.add_argument("--batch-size", type=int, default=None, help="8; realistic: 32")
    parser.add_argument("--new-tokens", type=int, default=None, help="64; realistic: 48")
    parser.add_argument("--repeats", type=int, default=None, help="3; realistic: 1")
    parser.add_argument("--alpha", type=float, default=None, help="0.3; realistic: 1.0")
    parser.add_argument("--base-template", default="chat")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table")
    parser.add_argument("--sampling", action="store_true", help="sample as the ED demo does")
    parser.add_argument("--samples", type=int, default=3, help="sampling: samples per request")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling")
    parser.add_argument("--top-k", type=int, default=50, help="sampling")
    args = parser.parse_args()
    realistic = args.case == "realistic"
    for name, plain, real in (
        ("requests", 8, 0),
        ("batch_size", 8, 32),
        ("new_tokens", 64, 48),
        ("repeats", 3, 1),
        ("alpha", 0.3, 1.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, real if realistic else plain)
    if realistic:
        print(json.dumps(realistic_case(args)))
        return

    pair = load_ed_pair(
        args.model,
        args.model,
        LoadOptions(dtype=args.dtype, device=args.device),
        separate_copies=True,  # two real forward passes per token, as with a real pair
    )
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.requests)]
    sampling = SamplingConfig(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)
    if args.sampling:
        sampling.temperature, sampling.top_k = args.temperature, args.top_k
    ed = ContrastiveGenerator(
        *pair,
        alpha=args.alpha,
        sampling=sampling,
        base_template=args.base_template,
        aligned_template="chat",
        batch_size=args.batch_size,
    )
    single = SingleModelGenerator(
        pair.base_model,
        pair.base_tokenizer,
        sampling,
        template=args.base_template,
        batch_size=args.batch_size,
    )
    print(f"device: {pair.base_model.device}, dtype: {pair.base_model.dtype}")
    ed_tok_s, single_tok_s = best_of_interleaved(ed, single, prompts, args)
    if args.profile:
        profile(ed, prompts)
        profile(single, prompts)
    print(
        json.dumps(
            {
                "ed_tok_s": round(ed_tok_s, 1),
                "single_tok_s": round(single_tok_s, 1),
                "ratio": round(ed_tok_s / single_tok_s, 3),
                "mode": "sampling" if args.sampling else "greedy",
                "rows": args.requests * (args.samples if args.sampling else 1),
            }
        )
    )


if __name__ == "__main__":
    main()
