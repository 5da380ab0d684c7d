"""Every generator is built here from model specs: local HF weights, an OpenAI-compatible server,
or emulated disalignment over two local models. `load_model` lets a caller share loaded weights
between runs (an alpha sweep loads each model once)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alignaudit.generation.base import Generator, SamplingConfig
from alignaudit.models.hf import LoadOptions, load_causal_lm
from alignaudit.models.spec import ModelSpec

LoadModel = Callable[[ModelSpec], tuple[Any, Any]]


@dataclass
class BackendOptions:
    template: str = "auto"
    batch_size: int = 16
    load: LoadOptions | None = None
    base_url: str | None = None
    concurrency: int = 8
    max_retries: int = 4
    timeout: float = 120.0


def build_generator(
    spec: ModelSpec,
    sampling: SamplingConfig,
    options: BackendOptions,
    load_model: LoadModel | None = None,
) -> Generator:
    if spec.kind == "openai":
        from alignaudit.generation.openai_backend import OpenAIGenerator

        return OpenAIGenerator(
            spec.path,
            sampling,
            base_url=options.base_url or spec.base_url,  # --base-url, else the recorded one
            concurrency=options.concurrency,
            user_template=sampling.user_template,  # resolved by the evaluation (spec's or user's)
            max_retries=options.max_retries,
            timeout=options.timeout,
        )
    if spec.kind == "mock":
        from alignaudit.generation.mock import MockGenerator

        return MockGenerator(spec.path)
    from alignaudit.generation.hf import HFGenerator

    model, tokenizer = (load_model or _loader(options))(spec)
    return HFGenerator(
        model,
        tokenizer,
        sampling,
        template=options.template,
        batch_size=options.batch_size,
        model_spec=spec.describe(),
    )


def build_ed_generator(
    aligned: ModelSpec,
    base: ModelSpec,
    alpha: float,
    sampling: SamplingConfig,
    options: BackendOptions,
    base_template: str,
    load_model: LoadModel | None = None,
) -> Generator:
    """Emulated disalignment; `options.template` is the aligned model's prompt template."""
    from alignaudit.generation.ed import ContrastiveGenerator

    load = load_model or _loader(options)
    aligned_lm, aligned_tokenizer = load(aligned)
    base_lm, base_tokenizer = load(base)
    return ContrastiveGenerator(
        aligned_lm,
        aligned_tokenizer,
        base_lm,
        base_tokenizer,
        alpha=alpha,
        sampling=sampling,
        base_template=base_template,
        aligned_template=options.template,
        batch_size=options.batch_size,
    )


def _loader(options: BackendOptions) -> LoadModel:
    return lambda spec: load_causal_lm(spec, options.load or LoadOptions())
