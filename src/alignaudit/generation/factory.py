"""Build a generator from a model spec string: local HF weights or an OpenAI-compatible server."""

from dataclasses import dataclass

from alignaudit.generation.base import Generator, SamplingConfig
from alignaudit.models.hf import LoadOptions, load_causal_lm
from alignaudit.models.spec import ModelSpec


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
    spec: ModelSpec, sampling: SamplingConfig, options: BackendOptions
) -> Generator:
    if spec.kind == "openai":
        from alignaudit.generation.openai_backend import OpenAIGenerator

        return OpenAIGenerator(
            spec.path,
            sampling,
            base_url=options.base_url or spec.base_url,  # --base-url, else the recorded one
            concurrency=options.concurrency,
            user_template=spec.user_template,
            max_retries=options.max_retries,
            timeout=options.timeout,
        )
    from alignaudit.generation.hf import HFGenerator

    model, tokenizer = load_causal_lm(spec, options.load or LoadOptions())
    return HFGenerator(
        model,
        tokenizer,
        sampling,
        template=options.template,
        batch_size=options.batch_size,
        model_spec=spec.describe(),
    )
