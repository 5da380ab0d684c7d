"""What bfloat16 buys on a CPU, and what it changes: the token loop in float32 and in bfloat16.

Not an issue-19 path (that issue asks for identical outputs); the figures back the option
`--dtype bfloat16` in docs/speed.md. The aligned model (`--aligned`, default `organism`) alone
and ED with the untuned base (`--model`, alpha `--alpha`) answer the builtin eval split, greedy,
`--new-tokens`, batch `--batch-size`; float32 and bfloat16 alternate `--repeats` times, each
loaded afresh. Prints each run's seconds, how many answers equal float32's, and writes the first
round's answers as JSONL of {id, prompt, response} to `--out` for `alignaudit score`. Prints one
JSON object on its last line.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import alignaudit.attacks  # noqa: F401  (registers `--model organism`)
from alignaudit.data import load_benchmark
from alignaudit.data.sampling import stratified_sample
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, load_ed_pair
from alignaudit.generation.hf import HFGenerator
from alignaudit.models.hf import LoadOptions

DTYPES = ("float32", "bfloat16")


def one_round(args: argparse.Namespace, dtype: str, prompts: list[str]) -> dict[str, Any]:
    pair = load_ed_pair(args.aligned, args.model, LoadOptions(dtype=dtype))
    sampling = SamplingConfig(max_new_tokens=args.new_tokens)
    engines = {
        "aligned": HFGenerator(
            pair.aligned_model, pair.aligned_tokenizer, sampling, batch_size=args.batch_size
        ),
        "ed": ContrastiveGenerator(
            *pair,
            alpha=args.alpha,
            sampling=sampling,
            base_template="chat",
            aligned_template="chat",
            batch_size=args.batch_size,
        ),
    }
    result: dict[str, Any] = {}
    for name, engine in engines.items():
        engine.generate(prompts[:2])  # warm-up: kernels, allocator
        start = time.perf_counter()
        result[name] = (engine.generate(prompts), round(time.perf_counter() - start, 1))
        print(f"  {dtype} {name}: {result[name][1]} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aligned", default="organism")
    parser.add_argument("--model", default="default")
    parser.add_argument("--benchmark", default="builtin")
    parser.add_argument("--requests", type=int, default=0, help="0: all")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bfloat16_cost"))
    args = parser.parse_args()
    requests = load_benchmark(args.benchmark)
    # A subset keeps every category (as `--limit` does): `stratified_sample`, seed 0.
    requests = stratified_sample(requests, args.requests) if args.requests else requests
    prompts = [r.prompt for r in requests]
    rounds = [{d: one_round(args, d, prompts) for d in DTYPES} for _ in range(args.repeats)]
    first = rounds[0]
    args.out.mkdir(parents=True, exist_ok=True)
    for dtype in DTYPES:
        for name, (answers, _) in first[dtype].items():
            with open(args.out / f"{dtype}_{name}.jsonl", "w", encoding="utf-8") as file:
                for request, answer in zip(requests, answers, strict=True):
                    line = {"id": request.id, "prompt": request.prompt, "response": answer}
                    file.write(json.dumps(line) + "\n")
    same = {}
    for name in ("aligned", "ed"):
        pairs = zip(first["float32"][name][0], first["bfloat16"][name][0], strict=True)
        same[name] = sum(a == b for a, b in pairs)
    seconds = {
        f"{dtype}_{name}": [r[dtype][name][1] for r in rounds] for dtype in DTYPES for name in same
    }
    print(json.dumps({"requests": len(prompts), "seconds": seconds, "same_as_float32": same}))


if __name__ == "__main__":
    main()
