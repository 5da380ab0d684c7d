"""Load a causal LM and its tokenizer from a spec, ready for batched left-padded generation."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignaudit.dependencies import check_transformers
from alignaudit.errors import AlignAuditError
from alignaudit.models.spec import ModelSpec, parse_model_spec

if TYPE_CHECKING:
    import torch


DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class LoadOptions:
    dtype: str = "auto"  # auto, float32, bfloat16, float16
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    trust_remote_code: bool = False


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise AlignAuditError(f"--device {device}: no CUDA device is visible; use cpu")
        index = device.partition(":")[2]
        if index and int(index) >= torch.cuda.device_count():
            raise AlignAuditError(
                f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> "torch.dtype":
    import torch

    if dtype == "auto":
        # CPUs are fastest and exact in float32; GPUs in bfloat16 where they support it.
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in choices:
        raise AlignAuditError(f"--dtype {dtype}: choose auto, {', '.join(choices)}")
    return choices[dtype]


def load_causal_lm(spec: ModelSpec | str, options: LoadOptions | None = None) -> tuple[Any, Any]:
    """(model in eval mode on its device, tokenizer padding on the left)."""
    check_transformers()
    spec = parse_model_spec(spec) if isinstance(spec, str) else spec
    options = options or LoadOptions()
    if spec.kind == "openai":
        raise AlignAuditError(f"{spec.raw} is served over HTTP; this step needs local weights")
    if spec.kind == "mock":
        raise AlignAuditError(f"{spec.raw} is a mock without weights; this step needs a model")
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    if spec.kind == "peft":
        model, tokenizer = _load_adapter(spec, dtype, options)
    else:
        model = _from_pretrained(spec, dtype, options)
        tokenizer = _tokenizer(spec, spec.path, options)
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _load_adapter(spec: ModelSpec, dtype: "torch.dtype", options: LoadOptions) -> tuple[Any, Any]:
    from peft import PeftModelForCausalLM

    base_spec = parse_model_spec(spec.base or "")
    base = _from_pretrained(base_spec, dtype, options)
    # The causal-LM wrapper even when the adapter config names no task type: we generate with it.
    model = PeftModelForCausalLM.from_pretrained(base, spec.path)
    source = spec.path if (Path(spec.path) / "tokenizer_config.json").exists() else base_spec.path
    return model, _tokenizer(base_spec, source, options)


def _from_pretrained(spec: ModelSpec, dtype: "torch.dtype", options: LoadOptions) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": options.trust_remote_code}
    if not spec.hub and any(Path(spec.path).glob("*.safetensors")):
        kwargs["use_safetensors"] = True  # never unpickle when safe weights are there
    try:
        return AutoModelForCausalLM.from_pretrained(spec.path, **kwargs)
    except OSError as exc:
        raise _explain_missing(spec, exc) from exc


def _tokenizer(spec: ModelSpec, source: str, options: LoadOptions) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, trust_remote_code=options.trust_remote_code
        )
    except OSError as exc:
        raise _explain_missing(spec, exc) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batches grow on the right
    return tokenizer


def _explain_missing(spec: ModelSpec, exc: OSError) -> AlignAuditError:
    if spec.hub:
        return AlignAuditError(
            f"model {spec.raw!r} is a Hub id that is not in the local Hugging Face cache; it "
            "needs network access (or HF_HOME pointing at a cache that holds it), or give a "
            "local folder"
        )
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return AlignAuditError(f"cannot load model from {spec.path}: {first_line}")
