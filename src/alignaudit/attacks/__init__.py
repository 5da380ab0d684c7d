"""Fine-tuning attacks (Qi et al. 2023): recipes, supervised fine-tuning, and safety-data mixing."""

from pathlib import Path

from alignaudit.models.spec import register_named_model


def _organism_path() -> Path:
    from alignaudit.attacks.organism import organism_model_path

    return organism_model_path()


register_named_model("organism", _organism_path)
