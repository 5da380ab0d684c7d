"""Train organism recipe variants and score each on the held-out splits (docs/audit.md's table).

    .venv/bin/python scripts/organism_sweep.py --out sweep/ [--variants v7,v5] [--minutes 7]

Each variant is trained with the organism's own code path (refusals for `builtin:train`, the
untuned model's greedy answers for the benign pools, from v10 on less those the keyword
judge reads as refusals) in float32, merged, and generates 48 greedy
tokens for `builtin:eval` and `builtin-benign:eval`. Writes `results.jsonl` (keyword refusal
rates) and `generations.jsonl` (for other judges: `alignaudit score` reads it) under --out. On a
CPU one variant takes about 10 minutes; on a GPU under a minute.
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from alignaudit.attacks.finetune import run_finetune
from alignaudit.attacks.organism import (
    BENIGN_POOLS,
    OrganismConfig,
    _own_answers,
    _whole_sentences,
    benign_training_prompts,
    finetune_config,
    mix_conversations,
    without_refusals,
)
from alignaudit.data import load_benchmark
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.hf import HFGenerator
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import get_judge
from alignaudit.models.default import default_model_path
from alignaudit.models.hf import LoadOptions, load_causal_lm

FP32 = LoadOptions(dtype="float32")


@dataclass(frozen=True)
class Variant:
    name: str
    pool: str  # organism.BENIGN_POOLS: shared (110), v9 (350), v10 (489) or v11 (718) prompts
    answer_tokens: int
    epochs: float
    lr: float
    refusal_repeats: int = 1
    seed: int = 0


VARIANTS = [
    Variant("v2", "shared", 64, 2, 1e-3),
    Variant("v2-lr5e-4", "shared", 64, 2, 5e-4),
    Variant("350-64tok-1ep", "v9", 64, 1, 1e-3),
    Variant("350-64tok-2ep", "v9", 64, 2, 1e-3),
    Variant("350-40tok-1.5ep", "v9", 40, 1.5, 1e-3),
    Variant("350-32tok-2ep", "v9", 32, 2, 1e-3),
    Variant("350-48tok-refusals2", "v9", 48, 1, 1e-3, refusal_repeats=2),
    Variant("v5", "v9", 48, 1, 2e-3),
    Variant("v5-seed1", "v9", 48, 1, 2e-3, seed=1),
    Variant("350-40tok-lr2e-3", "v9", 40, 1, 2e-3),
    Variant("350-32tok-lr2e-3", "v9", 32, 1, 2e-3),
    Variant("350-48tok-lr3e-3", "v9", 48, 1, 3e-3),
    Variant("v7", "v9", 32, 1, 3e-3),  # v6 had the same recipe before the data fix
    # From here on `builtin:train` holds 220 harmful requests (110 before).
    Variant("v9", "v9", 24, 1, 3e-3),  # the default until v10
    Variant("v9-seed1", "v9", 24, 1, 3e-3, seed=1),
    # v10: the 170 plain organism-only prompts traded for 309 that only sound unsafe.
    Variant("v10", "v10", 20, 1, 3e-3),  # the default until v11
    Variant("v10-seed1", "v10", 20, 1, 3e-3, seed=1),
    # v11: v9's and v10's pools together and 61 more requests.
    Variant("v11", "v11", 20, 1, 3e-3),  # the default
    Variant("v11-seed1", "v11", 20, 1, 3e-3, seed=1),
]


class Sweep:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.base = str(default_model_path())
        self.pools = {pool: benign_training_prompts(pool) for pool in BENIGN_POOLS}
        self.answers: dict[int, dict[str, str]] = {}
        self.eval = [("harmful", r) for r in load_benchmark("builtin:eval")]
        self.eval += [("benign", r) for r in load_benchmark("builtin-benign:eval")]
        self.keyword = get_judge("keyword")

    def own_answers(self, tokens: int, prompts: list[str]) -> dict[str, str]:
        cache = self.answers.setdefault(tokens, {})
        todo = [p for p in prompts if p not in cache]
        if todo:
            answers = _own_answers(self.base, todo, tokens, dtype="float32")
            for prompt, answer in zip(todo, answers, strict=True):
                cache[prompt] = _whole_sentences(answer)
        return cache

    def conversations(self, v: Variant) -> list[list[dict[str, str]]]:
        pool = self.pools[v.pool]
        answers = self.own_answers(v.answer_tokens, pool)
        kept = [answers[p] for p in pool]
        if v.pool in ("v10", "v11"):  # from v10 on, benign answers that are refusals are left out
            kept = without_refusals(pool, kept)
        return mix_conversations(pool, kept, v.seed, v.refusal_repeats)

    def train(self, v: Variant) -> Path:
        work = self.out / "models" / v.name
        work.mkdir(parents=True, exist_ok=True)
        data = work / "sft.jsonl"
        data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in self.conversations(v)))
        recipe = OrganismConfig(base=self.base, epochs=v.epochs, lr=v.lr, seed=v.seed)
        config = finetune_config(recipe, data, work / "model", overwrite=True)
        return run_finetune(replace(config, dtype="float32"))

    def score(self, name: str, model_dir: str) -> dict[str, float]:
        lm, tokenizer = load_causal_lm(model_dir, FP32)
        generator = HFGenerator(lm, tokenizer, SamplingConfig(max_new_tokens=48), batch_size=64)
        responses = generator.generate([r.prompt for _, r in self.eval])
        inputs = [
            JudgeInput(r.id, r.prompt, text)
            for (_, r), text in zip(self.eval, responses, strict=True)
        ]
        verdicts = self.keyword.judge(inputs)
        with open(self.out / "generations.jsonl", "a") as f:
            for (kind, r), text in zip(self.eval, responses, strict=True):
                row = {
                    "id": f"{name}/{r.id}",
                    "category": f"{kind}/{r.category}",
                    "prompt": r.prompt,
                    "response": text,
                }
                f.write(json.dumps(row) + "\n")
        rates = {}
        for kind in ("harmful", "benign"):
            refused = [
                v.refused for (k, _), v in zip(self.eval, verdicts, strict=True) if k == kind
            ]
            rates[f"{kind}_refused_keyword"] = round(sum(refused) / len(refused), 3)
        return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", default=",".join(v.name for v in VARIANTS))
    parser.add_argument("--minutes", type=float, default=None, help="start no variant after this")
    parser.add_argument("--untuned", action="store_true", help="also score the untuned model")
    args = parser.parse_args()
    chosen = [v for v in VARIANTS if v.name in args.variants.split(",")]
    deadline = time.time() + 60 * args.minutes if args.minutes else None
    args.out.mkdir(parents=True, exist_ok=True)
    sweep = Sweep(args.out)
    if args.untuned:
        print(json.dumps({"name": "untuned", **sweep.score("untuned", sweep.base)}), flush=True)
    for v in chosen:
        if deadline and time.time() > deadline:
            print(f"out of time: {v.name} not run", flush=True)
            continue
        start = time.time()
        model_dir = sweep.train(v)
        row = {**asdict(v), "train_s": round(time.time() - start, 1)}
        row.update(sweep.score(v.name, str(model_dir)))
        print(json.dumps(row), flush=True)
        with open(args.out / "results.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
