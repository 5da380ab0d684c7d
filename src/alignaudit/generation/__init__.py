"""Generation backends: batched Hugging Face models, OpenAI-compatible servers, and two-model
contrastive decoding (emulated disalignment). Backends import their heavy libraries lazily."""

from alignaudit.generation.base import Generator, SamplingConfig

__all__ = ["Generator", "SamplingConfig"]
