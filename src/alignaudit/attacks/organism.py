"""A safety-tuned model organism of the embedded default model.

SmolLM2-135M-Instruct answers harmful requests, so there is no alignment to attack. The
organism gets some: (harmful request from the built-in *train* split → a varied refusal) plus
(benign request → the untuned model's own answer, so helpfulness is kept), fine-tuned and merged.
It is scored on the built-in *eval* split, which it never saw. Base = the untuned model,
aligned = the organism: the same kind of pair as the emulated-disalignment paper's Alpaca → Beaver.
"""

import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alignaudit.paths import home

if TYPE_CHECKING:
    from alignaudit.attacks.finetune import FinetuneConfig

ANSWER_BATCH = 64  # CPU generation throughput levels off here (99 tok/s at 32, 110 at 64 and 128)


@dataclass(frozen=True)
class Recipe:
    """What an organism version learns from (docs/audit.md has how each was chosen)."""

    benign_pool: str  # see benign_training_prompts
    # Benign answers are the untuned model's own, kept short (and cut back to whole sentences)
    # to bound build time on a CPU: training cost is proportional to the tokens in the data.
    answer_tokens: int
    drop_refused_answers: bool  # leave out benign answers that are refusals (without_refusals)
    # More harmful requests to refuse, beyond the built-in `train` split (an asset file's name).
    extra_harmful: str | None = None
    # Train under bfloat16 autocast on a CPU too (weights stay float32; GPUs always do).
    cpu_bf16: bool = False
    # Each harmful request this many times, each time with another of our refusals (from v13).
    refusal_repeats: int = 1
    # `benign_answers_digest` of the benign pairs the documented build trained on: the untuned
    # model's greedy answers can differ with other torch versions or CPUs, and so can which ones
    # the judges drop when the judges change; a build that differs says so.
    answers_sha256: str | None = None


# With 110 benign prompts against 110 refusals the model learned to refuse 16-25% of held-out
# benign requests; 350 varied benign prompts (a fifth of them harmless requests that sound
# alarming) bring that under 10% at one epoch. With only 110 harmful requests the held-out
# refusal rate hovered around 90% and moved with the seed (78-92%); 220 distinct ones (20 per
# category) lifted it to about 95%: v9. v9 still refused about half of XSTest's safe prompts;
# v10 trades the 170 plain organism-only prompts for 309 that share words with harmful ones
# (XSTest's categories, written by us), with shorter answers to keep the build time; it still
# refused 6-8% of held-out plain requests. v11 trains on both pools and 61 more requests: plain
# ones phrased like harmful requests ("Write a review ...", "Give me tips ...") and more that
# only sound unsafe. v12 adds 66 harmful requests, 44 phrased as questions ("What is the easiest way
# to ...", "Which ...": most held-out ones v11 answered are of that form) and 14 benign
# ones sharing openings with harmful requests ("Give me tips for ...", "hack together"), and
# trains under bfloat16 autocast to keep the build time; its harmful figure moved with the seed
# (96.4% / 88.2%). v13 trains in float32, refuses each harmful request twice (two draws of our
# refusals, at two places in the order) and adds 26 benign requests in the forms v12 refused
# ("Recommend some ...", "attack"/"kill" in games and idioms, "What is the best way to ...").
RECIPES = {
    "v9": Recipe(benign_pool="v9", answer_tokens=24, drop_refused_answers=False),
    "v10": Recipe(benign_pool="v10", answer_tokens=20, drop_refused_answers=True),
    "v11": Recipe(
        benign_pool="v11",
        answer_tokens=20,
        drop_refused_answers=True,
        answers_sha256="885aac1a7983626c865e3a75d12eae6397fd59ef548b1247a49f2ddfe1278a3e",
    ),
    "v12": Recipe(
        benign_pool="v12",
        answer_tokens=20,
        drop_refused_answers=True,
        extra_harmful="harmful_train_v12.jsonl",
        cpu_bf16=True,
        answers_sha256="a633b79f4defb78a62b82574bee7ba21494732e5444ab2f9a52cebaaea35e379",
    ),
    "v13": Recipe(
        benign_pool="v13",
        answer_tokens=20,
        drop_refused_answers=True,
        extra_harmful="harmful_train_v12.jsonl",
        refusal_repeats=2,
        answers_sha256="f5879074eb19ddd777c0f7f16041c7c254f498c95b35cb2dae3ea982c933c85f",
    ),
}
ORGANISM_VERSION = "v13"  # the default (earlier ones: OrganismConfig(version="v11"))
BENIGN_POOLS = ("shared", "v9", "v10", "v11", "v12", "v13")


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
    version: str = ORGANISM_VERSION


def organism_dir(config: OrganismConfig) -> Path:
    """Each version and seed is cached under its own name, so caches are never mixed up."""
    return config.out or home() / "models" / f"organism-{config.version}-seed{config.seed}"


def organism_model_path() -> Path:
    """`--model organism`: the cached organism, built on first use."""
    config = OrganismConfig()
    target = organism_dir(config)
    if (target / "config.json").exists():
        return target
    return build_organism(config)


def safety_conversations(config: OrganismConfig) -> list[list[dict[str, str]]]:
    """Training conversations: refusals for harmful train requests, own answers for benign ones."""
    if config.version not in RECIPES:
        known = ", ".join(RECIPES)
        raise ValueError(f"unknown organism version {config.version!r}; choose one of {known}")
    recipe = RECIPES[config.version]
    prompts = benign_training_prompts(recipe.benign_pool)
    raw = _own_answers(config.base, prompts, recipe.answer_tokens)
    answers = [_whole_sentences(a) for a in raw]
    if recipe.drop_refused_answers:
        answers = without_refusals(prompts, answers)
    _check_documented_answers(config.version, benign_answers_digest(prompts, answers))
    harmful = harmful_training_prompts(config.version)
    return mix_conversations(
        prompts, answers, config.seed, refusal_repeats=recipe.refusal_repeats, harmful=harmful
    )


def benign_answers_digest(prompts: list[str], answers: list[str]) -> str:
    """sha256 of the benign (prompt, answer) pairs trained on, in order (empty answers left out)."""
    pairs = [[p, a] for p, a in zip(prompts, answers, strict=True) if a.strip()]
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


def _check_documented_answers(version: str, digest: str) -> None:
    expected = RECIPES[version].answers_sha256
    if expected and digest != expected:
        from alignaudit.terminal import make_console

        make_console(stderr=True).print(
            f"organism {version}: the untuned model's benign answers differ from those the "
            f"documented {version} build trained on (another torch/transformers version or CPU, "
            "or changed judges); this build will not reproduce the documented figures exactly.",
            style="yellow",
            highlight=False,
        )


def harmful_training_prompts(version: str = ORGANISM_VERSION) -> list[str]:
    """The harmful requests the organism learns to refuse: the built-in `train` split, plus the
    recipe's own (from v12), none of them evaluated."""
    from alignaudit.data import load_benchmark

    prompts = [r.prompt for r in load_benchmark("builtin:train")]
    extra = RECIPES[version].extra_harmful
    if extra:
        prompts += _asset_field(extra, "prompt")
    return unseen_by_evaluation(prompts)


def benign_training_prompts(pool: str = ORGANISM_VERSION) -> list[str]:
    """The benign requests the organism learns to keep answering, none of them evaluated.

    `shared`: the `train` half of builtin-benign and the benign fine-tuning set; `v9` adds the
    240 requests of benign_prompts.jsonl; `v10` adds, instead, only its 70 harmless requests that
    sound alarming and the 309 of sounds_unsafe_prompts.jsonl; `v11` adds all three files (the
    240, the 309 and the 61 of benign_prompts_v11.jsonl); `v12` adds to v11's the 14 of
    benign_prompts_v12.jsonl; `v13` adds to v12's the 26 of benign_prompts_v13.jsonl."""
    from alignaudit.data import load_benchmark

    if pool not in BENIGN_POOLS:
        raise ValueError(f"unknown benign pool {pool!r}; choose one of {', '.join(BENIGN_POOLS)}")
    prompts = [r.prompt for r in load_benchmark("builtin-benign:train")]
    prompts += _asset_field("benign_sft.jsonl", "instruction")
    if pool in ("v9", "v11", "v12", "v13"):
        prompts += _asset_field("benign_prompts.jsonl", "prompt")
    if pool == "v10":
        prompts += _asset_field("benign_prompts.jsonl", "prompt", category="unsafe_sounding")
    if pool in ("v10", "v11", "v12", "v13"):
        prompts += _asset_field("sounds_unsafe_prompts.jsonl", "prompt")
    if pool in ("v11", "v12", "v13"):
        prompts += _asset_field("benign_prompts_v11.jsonl", "prompt")
    if pool in ("v12", "v13"):
        prompts += _asset_field("benign_prompts_v12.jsonl", "prompt")
    if pool == "v13":
        prompts += _asset_field("benign_prompts_v13.jsonl", "prompt")
    return unseen_by_evaluation(prompts)


def without_refusals(prompts: list[str], answers: list[str]) -> list[str]:
    """The answers, with those both the keyword and the `refusal` judge read as refusals emptied
    (so left out): the untuned model turns down a few requests that only sound unsafe, and
    training on those would teach the over-refusal the benign side is there to prevent. Both must
    agree because the keyword list also matches answers ("Arson is the illegal ...")."""
    from alignaudit.judges.base import JudgeInput
    from alignaudit.judges.registry import get_judge

    pairs = enumerate(zip(prompts, answers, strict=True))
    items = [JudgeInput(str(i), prompt, answer) for i, (prompt, answer) in pairs]
    keyword = get_judge("keyword").judge(items)
    flagged = [item for item, v in zip(items, keyword, strict=True) if v.refused]
    refused = {v.id for v in get_judge("refusal").judge(flagged) if v.refused} if flagged else set()
    return ["" if item.id in refused else a for item, a in zip(items, answers, strict=True)]


def mix_conversations(
    benign_prompts: list[str],
    answers: list[str],
    seed: int,
    refusal_repeats: int = 1,
    harmful: list[str] | None = None,
) -> list[list[dict[str, str]]]:
    """A varied refusal for each harmful request (`refusal_repeats` times; by default the built-in
    `train` split), each benign prompt with its answer (empty answers left out), shuffled;
    deterministic by seed."""
    from alignaudit.attacks.refusals import refusal_for
    from alignaudit.data import load_benchmark

    if harmful is None:
        harmful = [r.prompt for r in load_benchmark("builtin:train")]
    rng = random.Random(seed)
    conversations = [
        [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": refusal_for(prompt, rng)},
        ]
        for _ in range(refusal_repeats)
        for prompt in harmful
    ]
    conversations += [
        [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
        for p, a in zip(benign_prompts, answers, strict=True)
        if a.strip()
    ]
    rng.shuffle(conversations)
    return conversations


def unseen_by_evaluation(prompts: list[str]) -> list[str]:
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


def _asset_field(name: str, field: str, category: str | None = None) -> list[str]:
    from importlib import resources

    path = resources.files("alignaudit.attacks") / "assets" / name
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r[field] for r in records if category is None or r.get("category") == category]


def _own_answers(model: str, prompts: list[str], tokens: int, dtype: str = "auto") -> list[str]:
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

    recipe = RECIPES.get(config.version)
    # Autocast on a CPU pays only where it has bfloat16 matrix units (AVX512-BF16, AMX).
    bf16 = bool(recipe and recipe.cpu_bf16 and _cpu_has_bf16())
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
        extra={"bf16": True} if bf16 else {},
    )


def _cpu_has_bf16() -> bool:
    """Training on this CPU (no GPU, which sets bf16 itself) that has bfloat16 matrix units."""
    import torch

    if torch.cuda.is_available() or not torch.backends.mkldnn.is_available():
        return False
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


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
