"""Model specs (`default`, `organism`, folders, adapters, Hub ids, `openai:NAME`) and HF loading."""

from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE, ModelSpec, parse_model_spec

__all__ = ["ALIGNAUDIT_MODEL_FILE", "ModelSpec", "parse_model_spec"]
