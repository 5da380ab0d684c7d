"""What a `--model` string names, resolved without loading any weights."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alignaudit.errors import AlignAuditError

# Written by `alignaudit finetune` next to the weights: base model, system prompt, training record.
ALIGNAUDIT_MODEL_FILE = "alignaudit_model.json"
OPENAI_PREFIX = "openai:"
DEFAULT_MOCK_OUTPUT = "Default output from mockllm"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

ModelKind = Literal["hf", "peft", "openai", "mock"]

# Names that stand for a folder made on first use, registered by the layer that makes it
# (`organism`: alignaudit.attacks); the spec layer stays free of training code.
_NAMED_MODELS: dict[str, Callable[[], Path]] = {}


def register_named_model(name: str, locate: Callable[[], Path]) -> None:
    """`--model NAME` resolves to the folder `locate()` returns (building it if it must)."""
    _NAMED_MODELS[name] = locate


@dataclass(frozen=True)
class ModelRecord:
    """The `alignaudit_model.json` a fine-tuned folder carries (empty for other folders)."""

    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path, strict: bool = True) -> "ModelRecord":
        """strict: a file that is not valid JSON is an error; else it reads as empty."""
        path = folder / ALIGNAUDIT_MODEL_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            if not strict:
                return cls()
            raise AlignAuditError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        return cls(data if isinstance(data, dict) else {})

    @property
    def system_prompt(self) -> str | None:
        return self.data.get("system_prompt")

    @property
    def user_template(self) -> str | None:
        return self.data.get("user_template")

    @property
    def base_model(self) -> str | None:
        return self.data.get("base_model")


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model spec. `path` is a folder, a Hub id (`hub=True`) or an API model name."""

    raw: str
    kind: ModelKind
    path: str
    base: str | None = None  # PEFT adapters: the model the adapter loads on
    system_prompt: str | None = None  # recorded by `finetune` (e.g. the AOA identity prompt)
    hub: bool = False
    base_url: str | None = None  # openai: models fine-tuned through an API: their server
    user_template: str | None = None  # "{prompt}" inside the text each request is sent as

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"raw": self.raw, "kind": self.kind, "path": self.path}
        if self.base is not None:
            info["base"] = self.base
        if self.system_prompt is not None:
            info["system_prompt"] = self.system_prompt
        if self.hub:
            info["hub"] = True
        for name in ("base_url", "user_template"):
            if getattr(self, name) is not None:
                info[name] = getattr(self, name)
        return info


def parse_model_spec(raw: str) -> ModelSpec:
    if raw.startswith(OPENAI_PREFIX):
        name = raw[len(OPENAI_PREFIX) :].strip()
        if not name:
            raise AlignAuditError(f"{raw!r} needs a model name, e.g. openai:gpt-4o-mini")
        return ModelSpec(raw=raw, kind="openai", path=name)
    if raw == "mockllm" or raw.startswith("mockllm:"):
        # No weights: a generator that answers with a fixed text (generation/mock.py).
        return ModelSpec(raw=raw, kind="mock", path=raw.partition(":")[2] or DEFAULT_MOCK_OUTPUT)
    if raw == "default":
        from alignaudit.models.default import default_model_path

        return _folder_spec(raw, default_model_path())
    if raw in _NAMED_MODELS:
        return _folder_spec(raw, _NAMED_MODELS[raw]())
    folder = Path(raw).expanduser()
    if folder.exists():
        return _folder_spec(raw, folder)
    if _HUB_ID.match(raw):
        return ModelSpec(raw=raw, kind="hf", path=raw, hub=True)
    raise AlignAuditError(
        f"model {raw!r} is neither a folder nor a Hub id (org/name); use default, organism, "
        "a model folder, org/name or openai:NAME"
    )


def _folder_spec(raw: str, folder: Path) -> ModelSpec:
    folder = folder.resolve()
    if not folder.is_dir():
        raise AlignAuditError(f"model {raw!r}: {folder} is not a model folder (it is a file)")
    record = ModelRecord.read(folder)
    prompts = {"system_prompt": record.system_prompt, "user_template": record.user_template}
    if record.data.get("api_model") or (folder / "api_job.json").exists():
        return _api_folder_spec(raw, folder, record)
    if (folder / "adapter_config.json").exists():
        base = record.base_model or _adapter_base(folder)
        if not base:
            raise AlignAuditError(
                f"adapter {folder} does not name its base model; add base_model_name_or_path "
                f"to adapter_config.json or base_model to {ALIGNAUDIT_MODEL_FILE}"
            )
        return ModelSpec(raw, "peft", str(folder), base=str(base), **prompts)
    if not (folder / "config.json").exists():
        raise AlignAuditError(
            f"model {raw!r}: {folder} is not a model folder (no config.json or adapter_config.json)"
        )
    return ModelSpec(raw, "hf", str(folder), **prompts)


def _api_folder_spec(raw: str, folder: Path, record: ModelRecord) -> ModelSpec:
    """A MODEL_DIR written by `finetune --model openai:...`: the fine-tuned model on its server."""
    info = record.data
    if not info.get("api_model"):
        raise AlignAuditError(
            f"model {raw!r}: the fine-tuning job recorded in {folder / 'api_job.json'} has not "
            "succeeded yet; rerun the finetune command to follow it"
        )
    return ModelSpec(
        raw,
        "openai",
        str(info["api_model"]),
        system_prompt=record.system_prompt,
        base_url=info.get("base_url"),
        user_template=record.user_template,
    )


def _adapter_base(folder: Path) -> str | None:
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("base_model_name_or_path")
