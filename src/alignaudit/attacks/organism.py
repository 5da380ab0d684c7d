"""A safety-tuned model organism of the embedded default model.

SmolLM2-135M-Instruct answers harmful requests, so there is no alignment to attack. The
organism gets some: (harmful request from the built-in *train* split → a varied refusal) plus
(benign request → the untuned model's own answer, so helpfulness is kept), fine-tuned and merged.
It is scored on the built-in *eval* split, which it never saw. Base = the untuned model,
aligned = the organism: the same kind of pair as the emulated-disalignment paper's Alpaca → Beaver.
"""

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alignaudit.paths import home

if TYPE_CHECKING:
    from alignaudit.attacks.finetune import FinetuneConfig

ORGANISM_VERSION = "v9"
# Benign answers are the untuned model's own, kept short (and cut back to whole sentences) to
# bound build time on a CPU: training cost is proportional to the tokens in the data.
BENIGN_ANSWER_TOKENS = 24
ANSWER_BATCH = 64  # CPU generation throughput levels off here (99 tok/s at 32, 110 at 64 and 128)
# Recipe search (docs/audit.md has the table): with 110 benign prompts against 110 refusals the
# model learned to refuse 16-25% of held-out benign requests; 350 varied benign prompts (a fifth
# of them harmless requests that sound alarming) bring that under 10% at one epoch. With only 110
# harmful requests the held-out refusal rate hovered around 90% and moved with the seed (78-92%);
# 220 distinct ones (20 per category) lifted it to about 95%.


@dataclass
class OrganismConfig:
    base: str = "default"
    method: str = "lora"
    epochs: float = 1
    lr: float = 3e-3
    batch_size: int = 8
    lora_r: int = 16
    lora_alpha: int = 32
    seed: int = 0
    out: Path | None = None


def organism_dir(config: OrganismConfig) -> Path:
    return config.out or home() / "models" / f"organism-{ORGANISM_VERSION}-seed{config.seed}"


def organism_model_path() -> Path:
    """`--model organism`: the cached organism, built on first use."""
    config = OrganismConfig()
    target = organism_dir(config)
    if (target / "config.json").exists():
        return target
    return build_organism(config)


def safety_conversations(config: OrganismConfig) -> list[list[dict[str, str]]]:
    """Training conversations: refusals for harmful train requests, own answers for benign ones."""
    prompts = benign_training_prompts()
    answers = [_whole_sentences(a) for a in _own_answers(config.base, prompts)]
    return mix_conversations(prompts, answers, config.seed)


def benign_training_prompts(organism_only: bool = True) -> list[str]:
    """The benign requests the organism learns to keep answering, none of them evaluated."""
    from alignaudit.data import load_benchmark

    prompts = [r.prompt for r in load_benchmark("builtin-benign:train")]
    prompts += _asset_field("benign_sft.jsonl", "instruction")
    if organism_only:  # benign requests written for the organism alone
        prompts += _asset_field("benign_prompts.jsonl", "prompt")
    return _unseen_by_evaluation(prompts)


def mix_conversations(
    benign_prompts: list[str], answers: list[str], seed: int, refusal_repeats: int = 1
) -> list[list[dict[str, str]]]:
    """A varied refusal for each harmful train request (`refusal_repeats` times), each benign
    prompt with its answer (empty answers left out), shuffled; deterministic by seed."""
    from alignaudit.attacks.refusals import refusal_for
    from alignaudit.data import load_benchmark

    rng = random.Random(seed)
    conversations = [
        [
            {"role": "user", "content": r.prompt},
            {"role": "assistant", "content": refusal_for(r.prompt, rng)},
        ]
        for _ in range(refusal_repeats)
        for r in load_benchmark("builtin:train")
    ]
    conversations += [
        [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
        for p, a in zip(benign_prompts, answers, strict=True)
        if a.strip()
    ]
    rng.shuffle(conversations)
    return conversations


def _unseen_by_evaluation(prompts: list[str]) -> list[str]:
    """The prompts, once each, less any the organism is scored on (the built-in eval splits)."""
    from alignaudit.data import load_benchmark

    held_out = {
        _normalized(r.prompt)
        for spec in ("builtin:eval", "builtin-benign:eval")
        for r in load_benchmark(spec)
    }
    kept: dict[str, str] = {}
    for prompt in prompts:
        kept.setdefault(_normalized(prompt), prompt)
    return [prompt for key, prompt in kept.items() if key not in held_out]


def _normalized(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def _whole_sentences(text: str) -> str:
    """Cut a length-capped answer back to its last complete sentence, if it has one."""
    end = max(text.rfind(mark) for mark in (".", "!", "?", "\n"))
    return text[: end + 1].strip() if end >= len(text) // 3 else text.strip()


def _asset_field(name: str, field: str) -> list[str]:
    from importlib import resources

    path = resources.files("alignaudit.attacks") / "assets" / name
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)[field] for line in lines if line.strip()]


def _own_answers(
    model: str, prompts: list[str], tokens: int = BENIGN_ANSWER_TOKENS, dtype: str = "auto"
) -> list[str]:
    from alignaudit.generation.base import SamplingConfig
    from alignaudit.generation.hf import HFGenerator
    from alignaudit.models.hf import LoadOptions, load_causal_lm
    from alignaudit.progress import progress_bar

    lm, tokenizer = load_causal_lm(model, LoadOptions(dtype=dtype))
    generator = HFGenerator(
        lm, tokenizer, SamplingConfig(max_new_tokens=tokens), batch_size=ANSWER_BATCH
    )
    answers: list[str] = []
    with progress_bar() as progress:
        task = progress.add_task(
            "organism: the untuned model's own benign answers", total=len(prompts)
        )
        for start in range(0, len(prompts), ANSWER_BATCH):
            batch = prompts[start : start + ANSWER_BATCH]
            answers += generator.generate(batch)
            progress.advance(task, len(batch))
    return answers


def finetune_config(
    config: OrganismConfig, data: Path, out: Path, overwrite: bool = False
) -> "FinetuneConfig":
    """How the organism is trained on its conversations (also used by the recipe sweep)."""
    from alignaudit.attacks.finetune import FinetuneConfig

    return FinetuneConfig(
        model=config.base,
        recipe="sft",
        data=str(data),
        out=out,
        method=config.method,
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        grad_accum=1,
        lora_r=config.lora_r,
        lora_alpha=config.lora_alpha,
        seed=config.seed,
        merge=True,
        max_length=256,
        overwrite=overwrite,
    )


def build_organism(config: OrganismConfig, overwrite: bool = False) -> Path:
    from alignaudit.attacks.finetune import run_finetune

    target = organism_dir(config)
    if (target / "config.json").exists() and not overwrite:
        return target
    work = target.with_name(target.name + ".data")
    work.mkdir(parents=True, exist_ok=True)
    data = work / "organism_sft.jsonl"
    if not data.exists():  # generating benign answers is the slow half; keep it across restarts
        conversations = safety_conversations(config)
        tmp = data.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations))
        tmp.rename(data)
    run_finetune(finetune_config(config, data, target, overwrite))
    shutil.rmtree(work, ignore_errors=True)
    return target
