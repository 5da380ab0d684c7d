"""The least time any scheduler could take on the realistic case, outputs unchanged (issue 19).

Issue 19's targets compare the token loop with a reference (`model.generate` in benchmark
order for one model; the ED engine before issue 19 with `--aligned`). This script asks how far a
scheduler can get at all while every forward pass keeps its arithmetic (float32, the same kernels,
at most `--batch-size` rows): each model must prefill every prompt and run one decoding row for
every answer token after the first. At best, prompts are prefilled in full batches (shortest
first, the shared chat-template beginning once) and every decoding step is a full batch:

    floor = prefill of all prompts in full batches + ceil(decoding rows / batch) x full step

all timed in this process, in each of `--repeats` rounds right after the reference and today's
loop (load on a shared machine moves all three). Per round, `ceiling_ratios` = reference / floor
bounds the ratio any scheduler could reach here, `loop_ratios` = reference / loop is today's,
and `loop_share_of_ceiling` = floor / loop. The floor leaves out what real loops must also do
(rows leaving and joining, stop checks, a batch that empties at the end), so it is optimistic.
A full step is timed at the cache length of a row halfway through its answer. Prints one JSON
object on its last line.
"""

import argparse
import json
import math
import statistics
import time
from typing import Any

from interleaved import interleaved_rounds, loop_as_before_issue_19

import alignaudit.attacks  # noqa: F401  (registers `--model organism`)
from alignaudit.data import load_benchmark
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, _Stream, load_ed_pair
from alignaudit.generation.hf import HFGenerator, _GenerateLoop
from alignaudit.generation.refill import RefillLoop
from alignaudit.models.hf import load_causal_lm


def answer_tokens(loop: Any, prompts: list[str]) -> list[list[int]]:
    """Each request's generated tokens (up to the one that ended it), from today's loop."""
    order = [i for rows in loop._length_batches(prompts) for i in rows]
    return RefillLoop(loop, prompts, [None] * len(prompts), order).run()


def timed(run: Any) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def prefill_seconds(loop: Any, member: Any, prompts: list[str]) -> float:
    """One model prefilling every prompt in full batches, shortest first, the shared beginning
    computed once (as today's loop does it)."""
    texts = sorted((member.render(p, loop.sampling.system_prompt) for p in prompts), key=len)
    prefixes: dict = {}
    seconds = 0.0
    for start in range(0, len(texts), loop.batch_size):
        chunk = texts[start : start + loop.batch_size]
        device = member.model.device
        stream = _Stream(member, chunk, 0, device, True, loop._cache_reserve(), prefixes)
        seconds += timed(stream.prefill)
    return seconds


def full_step_seconds(loop: Any, member: Any, prompts: list[str], columns: int) -> float:
    """One decoding step of a full batch whose rows have `columns` answer tokens cached
    (median of 15 steps after `columns` unrecorded ones)."""
    import torch

    texts = [member.render(p, loop.sampling.system_prompt) for p in prompts[: loop.batch_size]]
    device = member.model.device
    stream = _Stream(member, texts, columns + 15, device, True, loop._cache_reserve(), {})
    stream.prefill()
    tokens = torch.full((len(texts),), int(member.tokenizer.eos_token_id or 0), device=device)
    times = [timed(lambda s=step: stream.step(tokens, s)) for step in range(columns + 15)]
    return statistics.median(times[columns:])


def floor_seconds(loop: Any, prompts: list[str], answers: list[list[int]]) -> dict[str, float]:
    rows = sum(max(len(a) - 1, 0) for a in answers)  # the first token comes from the prefill
    steps = math.ceil(rows / loop.batch_size)
    half = max(1, round(statistics.mean(len(a) for a in answers) / 2))
    prefill = step = 0.0
    for member in loop.members:
        prefill += prefill_seconds(loop, member, prompts)
        step += full_step_seconds(loop, member, prompts, half)
    return {
        "decoding_rows": rows,
        "full_steps": steps,
        "prefill_s": round(prefill, 2),
        "full_step_s": round(step, 3),
        "floor_s": round(prefill + steps * step, 2),
    }


def sides(args: argparse.Namespace, prompts: list[str]) -> tuple[Any, dict[str, Any]]:
    """(today's token loop, {"reference": ..., "loop": ...})."""
    sampling = SamplingConfig(max_new_tokens=args.new_tokens)
    if args.aligned:
        pair = load_ed_pair(args.aligned, args.model)
        engines = [
            ContrastiveGenerator(
                *pair,
                alpha=args.alpha,
                sampling=sampling,
                base_template="chat",
                aligned_template="chat",
                batch_size=args.batch_size,
            )
            for _ in range(2)
        ]
        loop_as_before_issue_19(engines[0])
        return engines[1], {
            "reference": lambda: engines[0].generate(prompts),
            "loop": lambda: engines[1].generate(prompts),
        }
    from generation_throughput import with_model_generate

    model, tokenizer = load_causal_lm(args.model)
    generator = HFGenerator(model, tokenizer, sampling, batch_size=args.batch_size)
    return _GenerateLoop(generator), {
        "reference": lambda: with_model_generate(generator, prompts),
        "loop": lambda: generator.generate(prompts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="organism", help="the model (ED: the base model)")
    parser.add_argument("--aligned", default=None, help="ED: the aligned model (e.g. organism)")
    parser.add_argument("--alpha", type=float, default=1.0, help="ED")
    parser.add_argument("--benchmark", default="builtin")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    prompts = [r.prompt for r in load_benchmark(args.benchmark)]
    loop, runs = sides(args, prompts)
    runs["loop"]()  # warm-up: kernels, allocator
    answers = answer_tokens(loop, prompts)
    rounds = []
    for _ in range(args.repeats):  # the floor is timed in each round: load moves all three
        outputs, timing = interleaved_rounds(runs, 1)
        rounds.append({**timing["best_wall_s"], **floor_seconds(loop, prompts, answers)})
    same = sum(a == b for a, b in zip(outputs["reference"], outputs["loop"], strict=True))
    result = {
        "model": args.model,
        "aligned": args.aligned,
        "requests": len(prompts),
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "rounds": rounds,
        "loop_ratios": [round(r["reference"] / r["loop"], 2) for r in rounds],
        "ceiling_ratios": [round(r["reference"] / r["floor_s"], 2) for r in rounds],
        "loop_share_of_ceiling": [round(r["floor_s"] / r["loop"], 2) for r in rounds],
        "identical": f"{same}/{len(prompts)}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
