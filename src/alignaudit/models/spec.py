"""What a `--model` string names, resolved without loading any weights."""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alignaudit.errors import AlignAuditError

# Written by `alignaudit finetune` next to the weights: base model, system prompt, training record.
ALIGNAUDIT_MODEL_FILE = "alignaudit_model.json"
OPENAI_PREFIX = "openai:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

ModelKind = Literal["hf", "peft", "openai"]


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
    if raw == "default":
        from alignaudit.models.default import default_model_path

        return _folder_spec(raw, default_model_path())
    if raw == "organism":
        from alignaudit.attacks.organism import organism_model_path

        return _folder_spec(raw, organism_model_path())
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
    info = _read_model_info(folder)
    system_prompt = info.get("system_prompt")
    if info.get("api_model") or (folder / "api_job.json").exists():
        return _api_folder_spec(raw, folder, info)
    if (folder / "adapter_config.json").exists():
        base = info.get("base_model") or _adapter_base(folder)
        if not base:
            raise AlignAuditError(
                f"adapter {folder} does not name its base model; add base_model_name_or_path "
                f"to adapter_config.json or base_model to {ALIGNAUDIT_MODEL_FILE}"
            )
        return ModelSpec(raw, "peft", str(folder), base=str(base), system_prompt=system_prompt)
    if not (folder / "config.json").exists():
        raise AlignAuditError(
            f"model {raw!r}: {folder} is not a model folder (no config.json or adapter_config.json)"
        )
    return ModelSpec(raw, "hf", str(folder), system_prompt=system_prompt)


def _api_folder_spec(raw: str, folder: Path, info: dict[str, Any]) -> ModelSpec:
    """A MODEL_DIR written by `finetune --model openai:...`: the fine-tuned model on its server."""
    if not info.get("api_model"):
        raise AlignAuditError(
            f"model {raw!r}: the fine-tuning job recorded in {folder / 'api_job.json'} has not "
            "succeeded yet; rerun the finetune command to follow it"
        )
    return ModelSpec(
        raw,
        "openai",
        str(info["api_model"]),
        system_prompt=info.get("system_prompt"),
        base_url=info.get("base_url"),
        user_template=info.get("user_template"),
    )


def _read_model_info(folder: Path) -> dict[str, Any]:
    path = folder / ALIGNAUDIT_MODEL_FILE
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AlignAuditError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return info if isinstance(info, dict) else {}


def _adapter_base(folder: Path) -> str | None:
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("base_model_name_or_path")
