"""The one Hugging Face Hub dataset loader (`hf:ID[:SPLIT]` benchmarks and training data)."""

from typing import Any

from alignaudit.errors import AlignAuditError


def load_hub_rows(spec: str) -> list[dict[str, Any]]:
    """Rows of `hf:ID[:SPLIT]` (split: train by default) as dicts, or one clear error."""
    dataset_id, _, split = spec.removeprefix("hf:").partition(":")
    try:
        import datasets
    except ImportError:
        raise AlignAuditError(
            f"{spec} needs the datasets package: pip install 'alignaudit[hub]'"
        ) from None
    try:
        data = datasets.load_dataset(dataset_id, split=split or "train")
    except Exception as exc:  # the Hub raises many types; the user needs one message
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise AlignAuditError(
            f"could not load {spec} ({type(exc).__name__}: {reason}); it needs network "
            "access or a warm Hugging Face cache, or use a downloaded file instead"
        ) from exc
    return [dict(row) for row in data]
