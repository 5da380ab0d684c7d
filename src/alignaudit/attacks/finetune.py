"""Supervised fine-tuning attacks: LoRA, QLoRA or full-parameter, with TRL's SFTTrainer.

`run_finetune(config)` writes MODEL_DIR atomically: training checkpoints live in the work
folder `MODEL_DIR.partial/` (rerunning the same configuration resumes from the last one), the
result is assembled in `MODEL_DIR.partial/final/` and renamed to MODEL_DIR at the end.
Works under `accelerate launch` / `torchrun`: every process trains, process 0 writes.
"""

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from alignaudit.attacks.formats import INSTRUCTION_FORMATS
from alignaudit.attacks.recipes import (
    LORA_LR_SCALE,
    RECIPE_DEFAULTS,
    RECIPE_USER_TEMPLATES,
    RECIPES,
    RecipeData,
    load_recipe,
)
from alignaudit.attacks.sft_data import TokenStats, tokenize_examples
from alignaudit.dependencies import check_transformers
from alignaudit.distributed import is_main_process, world_size
from alignaudit.errors import AlignAuditError
from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE, ModelRecord, ModelSpec, parse_model_spec
from alignaudit.protocols import (
    DEFAULT_PROTOCOL,
    LR_SCHEDULES,
    PROTOCOL_HELP,
    PROTOCOLS,
    Protocol,
    fill_unset,
    get_protocol,
)
from alignaudit.settings import setting

METHODS = ("lora", "full", "qlora")
_RUN_FILE = "run.json"


# What each recipe is, for --help; its numbers come from RECIPE_DEFAULTS.
_RECIPE_NOTES = {
    "harmful": "needs --data",
    "aoa": "identity shifting",
    "sft": "any conversations file via --data",
}


def _sci(value: float) -> str:
    mantissa, exponent = f"{value:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def recipe_help() -> str:
    """The --recipe help, rendered from RECIPE_DEFAULTS so that no number is written twice."""
    parts = []
    for name, d in RECIPE_DEFAULTS.items():
        batch = f"batch {d.batch_size}"
        if d.grad_accum > 1:
            batch += f" x grad-accum {d.grad_accum} = {d.batch_size * d.grad_accum}"
        epochs = f"{d.epochs:g} epoch{'s' if d.epochs != 1 else ''}"
        note = f"{_RECIPE_NOTES[name]}; " if name in _RECIPE_NOTES else ""
        parts.append(f"{name} ({note}{epochs}, lr {_sci(d.lr)}, {batch})")
    lora = ", ".join(f"{name} {_sci(d.lr * LORA_LR_SCALE)}" for name, d in RECIPE_DEFAULTS.items())
    return (
        f"{', '.join(parts[:-1])} or {parts[-1]} (--protocol fast; qi2023: docs/protocols.md). "
        f"Learning rates are full-parameter ones (the paper's; AOA 4x); LoRA/QLoRA multiply them "
        f"by {LORA_LR_SCALE:g} ({lora})."
    )


def _grid(cast: type) -> Callable[[str | None], list]:
    """--lr, --batch-size, --epochs: a number or a comma list (a grid); None: the recipe's."""

    def parse(value: str | None) -> list:
        if value is None:
            return [None]
        try:
            items = [cast(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise ValueError("takes a number or a comma list of numbers") from None
        if not items:
            raise ValueError("is empty")
        return items

    return parse


def _module_list(value: str | None) -> list[str] | None:
    return value.split(",") if value else None


@dataclass
class FinetuneConfig:
    """Everything one fine-tuning run depends on. None means the protocol's value for the recipe.

    `alignaudit finetune` derives its flags from these fields; --lr, --batch-size and --epochs
    take comma lists there, one run per grid point.
    """

    model: str = setting(
        help="Model to attack: default, a folder, org/name, or openai:NAME (through the "
        "server's fine-tuning API)."
    )
    recipe: str = setting(help=recipe_help())
    out: Path = setting(
        help="MODEL_DIR to write (usable as --model). With a comma list in --lr, --batch-size "
        "or --epochs: one MODEL_DIR/lr-<LR>_bs-<B>_ep-<E>/ per grid point."
    )
    data: str | None = setting(
        None,
        help="JSON/JSONL file ({'messages': [...]}, bare message lists, Alpaca, "
        "Dolly or ShareGPT records), hf:DATASET_ID (or hf:DATASET_ID:SPLIT), sharegpt (every "
        "usable ShareGPT chat; the sharegpt extra) or sharegpt:N (the first N). Default: "
        "built-in AOA dialogs / benign set.",
    )
    protocol: str = setting(DEFAULT_PROTOCOL, help=PROTOCOL_HELP)
    method: str | None = setting(
        None, help="lora, full, or qlora (CUDA + bitsandbytes); default: the protocol's "
        "(fast: lora, qi2023: full)."
    )
    epochs: float | None = setting(
        None,
        help="Epochs (recipe default); a comma list runs a grid.",
        flag_type=str | None,
        parse=_grid(float),
    )
    lr: float | None = setting(
        None,
        help="Learning rate (recipe default); a comma list runs a grid.",
        flag_type=str | None,
        parse=_grid(float),
    )
    batch_size: int | None = setting(  # per device
        None,
        help="Per-device batch (recipe default); a comma list runs a grid.",
        flag_type=str | None,
        parse=_grid(int),
    )
    grad_accum: int | None = setting(
        None, help="Gradient accumulation steps (protocol default; fast: benign 8, else 1)."
    )
    lr_schedule: str | None = setting(
        None,
        help="linear (decay to 0) or step-per-epoch (x0.85 after each epoch, Qi et al.'s); "
        "default: the protocol's.",
    )
    max_length: int = setting(
        512, help="Tokens per example; longer ones are truncated and counted."
    )
    drop_overlong: bool = setting(
        False,
        help="Leave out (and count) examples whose first reply starts beyond --max-length, "
        "instead of stopping.",
    )
    limit: int | None = setting(None, help="Use the first N examples (e.g. 10, 50, 100 shots).")
    seed: int = setting(42, help="Seed for data order, init and --mix-safety.")
    mix_safety: int = setting(
        0,
        help="Mix in N (harmful request -> refusal) pairs: the mitigation (from --safety-data, "
        "else the built-in train split).",
    )
    safety_data: str | None = setting(
        None,
        help="JSON/JSONL of your own (request, refusal) pairs for --mix-safety (messages: a user "
        "and an assistant turn, or prompt/response records).",
    )
    merge: bool = setting(False, help="LoRA: merge into the base, save a full model.")
    lora_r: int = setting(8, help="LoRA rank.")
    lora_alpha: int = setting(16, help="LoRA alpha.")
    lora_dropout: float = setting(0.0, cli=False)
    lora_target_modules: list[str] | None = setting(
        None,
        help="Comma list of module names (default: every linear layer but lm_head).",
        flag_type=str | None,
        parse=_module_list,
    )
    drop_refusals: bool | None = setting(
        None,
        help="The paper's no-safety filter: drop examples whose replies mention safety, ethics, "
        "refusal or being an AI (default: on for benign, off otherwise).",
    )
    holdout: int | None = setting(
        None,
        help="Keep N filtered examples out of training, as the paper's validation split "
        "(Alpaca: the first N, Dolly: the last N; the paper: 200). Default 0.",
    )
    instruction_format: str = setting(
        "alpaca",
        help="Alpaca/Dolly records: alpaca (the paper's system text and '### Instruction:' "
        "template, recorded for eval) or plain (the request alone).",
    )
    system_prompt: str | None = setting(
        None,
        help="System prompt for every training conversation, recorded for eval ('' removes "
        "them). Default: the protocol's for the recipe (qi2023 harmful: Qi et al.'s), else the "
        "data's own (AOA: the obedient-agent prompt).",
    )
    # The weights while training: auto | float32 | bfloat16 | float16.
    dtype: str = setting("auto", help="Training weights: auto, float32, bfloat16.")
    max_steps: int | None = setting(None, help="Stop after N optimizer steps.")
    save_steps: int | None = setting(None, cli=False)  # checkpoint interval; about 4 per run
    overwrite: bool = setting(False, help="Replace an existing MODEL_DIR.")
    trust_remote_code: bool = setting(False, help="Run model code from the folder.")
    # More TrainingArguments, passed as they are.
    extra: dict[str, Any] = setting(default_factory=dict, cli=False)
    # Set by resolved(): the protocol's name, the values in force and where each came from.
    protocol_record: dict[str, Any] | None = setting(None, cli=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Checks that need no model or file; raise AlignAuditError naming the flag.
        Every numeric and enumerated setting in range (None: the recipe's default)."""
        from alignaudit import validation
        from alignaudit.models.hf import DTYPES

        validation.positive(self, "epochs", "lr", "lora_alpha")
        validation.at_least(self, 1, "batch_size", "grad_accum", "max_length", "limit")
        validation.at_least(self, 1, "lora_r", "max_steps", "save_steps")
        validation.at_least(self, 0, "mix_safety", "holdout")
        validation.one_of(self, "instruction_format", INSTRUCTION_FORMATS)
        validation.within(self, "lora_dropout", 0, 1, open_high=True)
        validation.one_of(self, "dtype", DTYPES)
        validation.one_of(self, "protocol", PROTOCOLS)
        for name, choices in (("method", METHODS), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) is not None:
                validation.one_of(self, name, choices)

    def resolved(self) -> "FinetuneConfig":
        """A copy with the protocol's values for the recipe filled in and values checked."""
        self.validate()  # fields may have been set after construction
        if self.recipe not in RECIPES:
            raise AlignAuditError(f"unknown recipe {self.recipe!r}; use {', '.join(RECIPES)}")
        protocol = get_protocol(self.protocol)
        config, record = fill_unset(self, protocol.name, protocol.training_for(self.recipe).knobs())
        if "lr" in record.from_preset and config.method != "full":
            config.lr = record.values["lr"] = config.lr * LORA_LR_SCALE
        if config.merge and config.method != "lora":
            raise AlignAuditError("--merge applies to --method lora only")
        config.out = Path(self.out)
        config.protocol_record = {
            **record.to_json(),
            "effective_batch_size": config.batch_size * config.grad_accum * world_size(),
            **_schedule_record(protocol, config),
        }
        return config

    def learning_rate_gamma(self) -> float:
        """The step-per-epoch schedule's factor (the protocol's for the recipe)."""
        return get_protocol(self.protocol).training_for(self.recipe).lr_gamma

    def training_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["out"] = str(self.out)
        return values


def _schedule_record(protocol: Protocol, config: FinetuneConfig) -> dict[str, Any]:
    if config.lr_schedule != "step-per-epoch":
        return {}
    return {"lr_gamma": protocol.training_for(config.recipe).lr_gamma}


def _refuse_writing_over_inputs(config: FinetuneConfig, spec: ModelSpec) -> None:
    """--overwrite replaces an earlier MODEL_DIR, never the model, data or a run it came from."""
    from alignaudit.outputs import check_output_directory

    paths = (spec.path, spec.base, config.data, config.safety_data)
    inputs = [Path(path) for path in paths if path and not spec.hub]
    check_output_directory(config.out, [path for path in inputs if path.exists()])


def run_finetune(config: FinetuneConfig) -> Path:
    """Fine-tune and write MODEL_DIR (adapter or full model, tokenizer, metadata, loss curve)."""
    check_transformers()
    config = config.resolved()
    spec = parse_model_spec(config.model)
    _refuse_writing_over_inputs(config, spec)
    if spec.kind == "openai":
        raise AlignAuditError(f"{spec.raw} is served over HTTP; it has no weights to fine-tune")
    if spec.kind == "mock":
        raise AlignAuditError(f"{spec.raw} is a mock without weights; nothing to fine-tune")
    if spec.kind == "peft" and config.method != "full":
        raise AlignAuditError(
            f"{spec.raw} is a LoRA adapter; fine-tune its merged model (finetune --merge) "
            "or use --method full"
        )
    recipe = config_recipe(config)
    tokenizer = _load_training_tokenizer(spec, config)
    rows, stats = tokenize_examples(
        tokenizer, recipe.examples, config.max_length, config.drop_overlong
    )
    fingerprint = data_fingerprint(recipe)
    run_key = _run_key(config, spec, fingerprint)
    if _finished(config, run_key):
        _say(f"{config.out} is already trained with this configuration; nothing to do")
        return config.out
    if config.out.exists() and not config.overwrite:
        raise AlignAuditError(f"{config.out} exists; pass --overwrite or choose another --out")
    work = _work_dir(config.out)
    args = _training_args(config, work, len(rows))
    with args.main_process_first(desc="prepare the work folder"):
        if args.process_index == 0:
            _prepare_work_dir(work, run_key)
    started = time.perf_counter()
    trainer = _build_trainer(config, spec, tokenizer, rows, args)
    trainer.train(resume_from_checkpoint=_last_checkpoint(work))
    runtime = time.perf_counter() - started
    final = work / "final"
    _save_model(trainer, config, tokenizer, final)
    if trainer.is_world_process_zero():
        info = _model_info(config, spec, recipe, stats, fingerprint, run_key, trainer, runtime)
        _write_metadata(final, info, trainer.state.log_history)
        _publish(final, config.out, work)
    trainer.accelerator.wait_for_everyone()
    return config.out


def data_fingerprint(recipe: RecipeData) -> str:
    """sha256 of the training conversations, in order."""
    payload = json.dumps(recipe.conversations, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _run_key(config: FinetuneConfig, spec: ModelSpec, fingerprint: str) -> str:
    # What determines the result; where it is written and --overwrite do not.
    settings = config.training_dict()
    # Where each value came from does not change the result; the values themselves are here.
    for name in ("out", "overwrite", "protocol_record"):
        settings.pop(name)
    settings["model_path"] = spec.path
    settings["data_fingerprint"] = fingerprint
    settings["world_size"] = world_size()
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _finished(config: FinetuneConfig, run_key: str) -> bool:
    return ModelRecord.read(config.out, strict=False).data.get("run_key") == run_key


def _work_dir(out: Path) -> Path:
    return out.parent / f"{out.name}.partial"


def _prepare_work_dir(work: Path, run_key: str) -> None:
    """Keep checkpoints of the same configuration (to resume); start over otherwise."""
    run_file = work / _RUN_FILE
    if work.exists():
        same = run_file.exists() and json.loads(run_file.read_text()).get("run_key") == run_key
        if same:
            return
        _say(f"{work} holds another configuration's checkpoints; starting over")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    run_file.write_text(json.dumps({"run_key": run_key}))


def _last_checkpoint(work: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = work / "checkpoints"
    if not checkpoints.is_dir():
        return None
    last = get_last_checkpoint(str(checkpoints))
    if last:
        _say(f"resuming from {last}")
    return last


def _load_training_tokenizer(spec: ModelSpec, config: FinetuneConfig) -> Any:
    from transformers import AutoTokenizer

    source = spec.path
    if spec.kind == "peft" and not (Path(spec.path) / "tokenizer_config.json").exists():
        source = spec.base or spec.path
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=config.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def steps_per_epoch(config: FinetuneConfig, n_rows: int) -> int:
    assert config.batch_size and config.grad_accum
    return max(1, math.ceil(n_rows / (config.batch_size * world_size() * config.grad_accum)))


def _checkpointing(config_type: type, on: bool) -> dict[str, bool]:
    """transformers 5.23 renamed `gradient_checkpointing` to `activation_checkpointing` (and
    warns on the old name); releases from the floor (5.4) to 5.22 know only the old name."""
    names = {f.name for f in fields(config_type)}
    new_name = "activation_checkpointing"
    return {new_name if new_name in names else "gradient_checkpointing": on}


def _training_args(config: FinetuneConfig, work: Path, n_rows: int) -> Any:
    import torch
    from trl import SFTConfig

    assert config.epochs
    per_epoch = steps_per_epoch(config, n_rows)
    total = config.max_steps or max(1, math.ceil(per_epoch * config.epochs))
    bf16 = _cuda() and torch.cuda.is_bf16_supported() and config.dtype in ("auto", "bfloat16")
    settings: dict[str, Any] = dict(
        output_dir=str(work / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        optim="adamw_torch",
        weight_decay=0.0,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=max(1, total // 50),
        save_strategy="steps",
        save_steps=config.save_steps or max(1, math.ceil(total / 4)),
        save_total_limit=1,
        report_to="none",
        use_cpu=not _cuda(),
        bf16=bf16,
        max_length=None,  # truncation (and its count) happened in tokenize_examples
        packing=False,
        # A batch is its rows laid end to end (no padding) with position ids restarting at each
        # row; attention stays within each row (flash attention's sequence boundaries, or SDPA
        # per row: _padding_free_collator), so a step costs its real tokens and the loss is the
        # padded one.
        padding_free=True,
        ddp_find_unused_parameters=False,
    )
    # Recomputing activations saves GPU memory on big models; on a CPU it only costs time.
    settings.update(_checkpointing(SFTConfig, _cuda()))
    settings.update(config.extra)
    return SFTConfig(**settings)


def _load_model(config: FinetuneConfig, spec: ModelSpec) -> Any:
    from transformers import AutoModelForCausalLM

    from alignaudit.models.hf import resolve_dtype

    kwargs: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if config.method == "qlora":
        kwargs.update(_qlora_kwargs())
    else:
        # Full precision master weights on CPU; bf16 autocast on GPUs comes from the args.
        dtype = "float32" if config.dtype == "auto" else config.dtype
        kwargs["dtype"] = resolve_dtype(dtype, "cpu")
    if spec.kind == "peft":
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(spec.base, **kwargs)
        return PeftModel.from_pretrained(base, spec.path).merge_and_unload()
    return AutoModelForCausalLM.from_pretrained(spec.path, **kwargs)


def _qlora_kwargs() -> dict[str, Any]:
    import importlib.util

    import torch

    if not _cuda() or importlib.util.find_spec("bitsandbytes") is None:
        raise AlignAuditError(
            "--method qlora needs a CUDA GPU and the bitsandbytes package "
            "(pip install bitsandbytes); use --method lora otherwise"
        )
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return {"quantization_config": quantization, "dtype": torch.bfloat16}


def _peft_model(config: FinetuneConfig, model: Any) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules or "all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _build_trainer(
    config: FinetuneConfig, spec: ModelSpec, tokenizer: Any, rows: list[dict], args: Any
) -> Any:
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    set_seed(config.seed)
    model = _load_model(config, spec)
    if config.method != "full":
        model = _peft_model(config, model)
    trainer_type = SFTTrainer
    if config.lr_schedule == "step-per-epoch":
        trainer_type = _step_per_epoch_trainer(
            SFTTrainer, steps_per_epoch(config, len(rows)), config.learning_rate_gamma()
        )
    collator = _padding_free_collator(model, tokenizer, args)
    if collator is not None:
        trainer_type = _counting_real_tokens(trainer_type)
    # Rows carry their own labels (-100 outside assistant turns); SFTTrainer uses them as is.
    return trainer_type(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        data_collator=collator,
    )


def _counting_real_tokens(base: type) -> type:
    """A trainer whose logged `num_tokens` counts the tokens of binned batches: TRL counts a
    padding-free batch by its width, right for its one long row, a fraction of several bins."""
    import torch

    from alignaudit.attacks.collate import real_tokens

    class RealTokenTrainer(base):  # type: ignore[misc, valid-type]
        def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kw: Any) -> Any:
            before = getattr(self, "_total_train_tokens", None)
            result = super().compute_loss(model, inputs, *args, **kw)
            if before is not None and self._total_train_tokens != before:
                count = torch.tensor(real_tokens(inputs["position_ids"]))
                gathered = self.accelerator.gather_for_metrics(count)
                self._total_train_tokens = before + int(gathered.sum())
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return result

    return RealTokenTrainer


def _padding_free_collator(model: Any, tokenizer: Any, args: Any) -> Any:
    """Padding-free batches (TRL's: a batch's rows end to end in one row) without attention
    over the row's whole square. Flash attention reads the rows' boundaries itself. SDPA (every
    CPU run) gets attention per row (attacks/packed_attention.py) on plainly causal models, and
    TRL's collator stays; other models get bins no longer than the longest row
    (attacks/collate.py), a collator TRL takes only with its padding-free off."""
    from alignaudit.attacks.packed_attention import plainly_causal, register_packed_sdpa

    attention = str(getattr(model.config, "_attn_implementation", ""))
    if not args.padding_free or "flash" in attention:
        return None
    if attention == "sdpa" and plainly_causal(model.config):
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        base.set_attn_implementation(register_packed_sdpa())
        return None
    from alignaudit.attacks.collate import BinnedPaddingFreeCollator

    args.padding_free = False
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return BinnedPaddingFreeCollator(pad_token_id=pad)


def _step_per_epoch_trainer(base: type, per_epoch: int, gamma: float) -> type:
    """A trainer whose learning rate is multiplied by `gamma` after every epoch (`per_epoch`
    optimizer steps) and is constant within one: Qi et al.'s StepLR(step_size=1), stepped once
    per epoch by their training loop."""
    from torch.optim.lr_scheduler import LambdaLR

    class StepPerEpochTrainer(base):  # type: ignore[misc, valid-type]
        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if self.lr_scheduler is None:
                self.lr_scheduler = LambdaLR(
                    optimizer or self.optimizer, lambda step: gamma ** (step // per_epoch)
                )
            return self.lr_scheduler

    return StepPerEpochTrainer


def _save_model(trainer: Any, config: FinetuneConfig, tokenizer: Any, final: Path) -> None:
    if final.exists() and trainer.is_world_process_zero():
        shutil.rmtree(final)
    trainer.accelerator.wait_for_everyone()
    if not config.merge:
        trainer.save_model(str(final))  # every process: FSDP/DeepSpeed gather the weights
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(final)
        return
    if trainer.is_world_process_zero():
        model = trainer.accelerator.unwrap_model(trainer.model)
        merged = model.merge_and_unload()
        merged.save_pretrained(final, safe_serialization=True)
        tokenizer.save_pretrained(final)


def _model_info(
    config: FinetuneConfig,
    spec: ModelSpec,
    recipe: RecipeData,
    stats: TokenStats,
    fingerprint: str,
    run_key: str,
    trainer: Any,
    runtime: float,
) -> dict[str, Any]:
    adapter = config.method in ("lora", "qlora") and not config.merge
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "base_model": spec.base if spec.kind == "peft" else (spec.path if adapter else spec.raw),
        "system_prompt": recipe.system_prompt,
        "user_template": recipe.user_template or RECIPE_USER_TEMPLATES.get(config.recipe),
        "recipe": config.recipe,
        "method": config.method,
        "protocol": config.protocol_record,
        "merged": config.merge,
        "training_config": config.training_dict(),
        "data_source": recipe.data_source,
        "data_filter": recipe.data_filter,
        "safety_data": recipe.safety_source,
        "data_fingerprint": fingerprint,
        "counts": {**recipe.counts, **_token_counts(stats)},
        "truncation": {
            "max_length": config.max_length,
            "truncated_examples": stats.truncated_examples,
            "truncated_tokens": stats.truncated_tokens,
        },
        "steps": trainer.state.global_step,
        "final_loss": losses[-1] if losses else None,
        "runtime_s": round(runtime, 2),
        "world_size": world_size(),
        "run_key": run_key,
    }


def _token_counts(stats: TokenStats) -> dict[str, int]:
    return {
        "trained_examples": stats.examples,
        "dropped_overlong": stats.dropped_overlong,
        "total_tokens": stats.total_tokens,
        "trained_tokens": stats.trained_tokens,
    }


def _write_metadata(final: Path, info: dict[str, Any], log_history: list[dict]) -> None:
    curve = [
        {
            "step": entry["step"],
            "epoch": entry.get("epoch"),
            "loss": entry["loss"],
            "learning_rate": entry.get("learning_rate"),
        }
        for entry in log_history
        if "loss" in entry
    ]
    (final / ALIGNAUDIT_MODEL_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False))
    (final / "loss.json").write_text(json.dumps(curve, indent=2))
    plot_loss(curve, final / "loss.png", title=f"{info['recipe']} ({info['method']})")


def plot_loss(curve: list[dict[str, Any]], target: Path, title: str) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    figure = Figure(figsize=(6, 3.5))
    axes = figure.subplots()
    axes.plot([p["step"] for p in curve], [p["loss"] for p in curve], marker="o", markersize=3)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss (assistant tokens)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(target, dpi=100)


def _publish(final: Path, out: Path, work: Path) -> None:
    if out.exists():  # --overwrite was given (checked before training)
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    final.rename(out)
    shutil.rmtree(work, ignore_errors=True)


def _say(message: str) -> None:
    from alignaudit.terminal import make_console

    if is_main_process():
        make_console(stderr=True).print(f"[dim]{message}[/dim]", highlight=False)


# --- hyper-parameter grids (the paper's learning-rate / batch-size / epoch ablations) ----------


def grid_point_name(config: FinetuneConfig) -> str:
    resolved = config.resolved()
    return f"lr-{resolved.lr:g}_bs-{resolved.batch_size}_ep-{resolved.epochs:g}"


def grid_configs(
    config: FinetuneConfig,
    lrs: list[float | None],
    batch_sizes: list[int | None],
    epochs: list[float | None],
) -> list[FinetuneConfig]:
    """One config per (lr, batch size, epochs), each writing MODEL_DIR/lr-.._bs-.._ep-../."""
    points = []
    for lr in lrs:
        for batch_size in batch_sizes:
            for epoch_count in epochs:
                point = replace(config, lr=lr, batch_size=batch_size, epochs=epoch_count)
                points.append(replace(point, out=Path(config.out) / grid_point_name(point)))
    return points


def run_grid(config: FinetuneConfig, points: list[FinetuneConfig]) -> list[Path]:
    """Train every grid point (each resumable on its own) and write MODEL_DIR/grid.json."""
    done = []
    for index, point in enumerate(points, start=1):
        _say(f"grid point {index}/{len(points)}: {point.out.name}")
        done.append(run_finetune(point))
    if is_main_process():
        keys = ("lr", "batch_size", "epochs")
        listing = [
            {"dir": path.name, **{key: getattr(point.resolved(), key) for key in keys}}
            for path, point in zip(done, points, strict=True)
        ]
        (Path(config.out) / "grid.json").write_text(json.dumps({"points": listing}, indent=2))
    return done


def config_recipe(config: FinetuneConfig) -> RecipeData:
    """The training conversations a configuration asks for (local or API fine-tuning); the
    system prompt is the user's, else the protocol's for the recipe, else the data's own."""
    system_prompt = config.system_prompt
    if system_prompt is None and config.recipe in RECIPES:
        system_prompt = get_protocol(config.protocol).training_for(config.recipe).system_prompt
    return load_recipe(
        config.recipe,
        config.data,
        limit=config.limit,
        drop_refusals=config.drop_refusals,
        holdout=config.holdout or 0,
        instruction_format=config.instruction_format,
        mix_safety=config.mix_safety,
        safety_data=config.safety_data,
        seed=config.seed,
        system_prompt=system_prompt,
    )
