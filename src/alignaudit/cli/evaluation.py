"""One evaluation, from options to a finished run directory; `eval` and `audit` both call it.

`EvalOptions` is the single description of an evaluation: the CLI maps flags onto it, the audit
builds it per condition, and what determines the outputs goes into `config.json["run"]`.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from alignaudit import validation
from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import Generator, SamplingConfig
from alignaudit.judges import JudgeOptions
from alignaudit.models.hf import DTYPES, LoadOptions
from alignaudit.models.spec import ModelSpec, parse_model_spec
from alignaudit.report.console import fmt_errors, fmt_rate, fmt_score, print_results
from alignaudit.runs.environment import environment
from alignaudit.runs.evaluate import EvalPlan, run_eval
from alignaudit.runs.store import RunDir, write_json_atomic


@dataclass
class EvalOptions:
    model: str
    out: Path
    benchmark: str = "builtin"
    judges: list[str] = field(default_factory=lambda: ["keyword"])
    limit: int | None = None
    max_new_tokens: int = 128
    batch_size: int = 16
    seed: int = 0
    system_prompt: str | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    template: str = "auto"
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    base_url: str | None = None
    concurrency: int = 8
    judge_model: str | None = None
    judge_base_url: str | None = None
    ed_base: str | None = None
    alphas: list[float] = field(default_factory=lambda: [0.3])
    base_template: str = "plain"
    overwrite: bool = False
    retry_errors: bool = True  # on resume, redo failed generations and judge errors
    timeout: float = 120.0  # seconds per request to a generation or judge server

    def __post_init__(self) -> None:
        validation.at_least(self, 1, "limit", "max_new_tokens", "batch_size", "concurrency")
        validation.at_least(self, 0, "temperature", "top_k")
        validation.within(self, "top_p", 0, 1, open_low=True)
        validation.positive(self, "timeout")
        validation.one_of(self, "dtype", DTYPES)
        validation.device(self)
        if not self.alphas or any(not alpha >= 0 for alpha in self.alphas):
            raise AlignAuditError(f"--alpha {self.alphas}: every alpha must be >= 0")


def benchmark_fingerprint(requests: list[Request]) -> str:
    digest = hashlib.sha256()
    for request in requests:
        digest.update(json.dumps([request.id, request.category, request.prompt]).encode())
    return digest.hexdigest()[:16]


def load_requests(benchmark: str, limit: int | None, seed: int) -> list[Request]:
    from alignaudit.data import load_benchmark, stratified_sample

    requests = load_benchmark(benchmark)
    return stratified_sample(requests, limit, seed) if limit is not None else requests


def parse_alphas(value: str) -> list[float]:
    try:
        alphas = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise AlignAuditError(f"--alpha {value!r}: give numbers, e.g. 0.3 or 0,0.3,0.6,1") from None
    if not alphas or any(a < 0 for a in alphas):
        raise AlignAuditError(f"--alpha {value!r}: every alpha must be >= 0")
    return alphas


def alpha_label(alpha: float) -> str:
    return f"{alpha:g}"


class _Session:
    """What one evaluation shares across its runs: requests, sampling, and models loaded once."""

    def __init__(self, options: EvalOptions) -> None:
        self.options = options
        self.spec = parse_model_spec(options.model)
        self.requests = load_requests(options.benchmark, options.limit, options.seed)
        system_prompt = options.system_prompt
        self.sampling = SamplingConfig(
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            seed=options.seed,
            system_prompt=system_prompt if system_prompt is not None else self.spec.system_prompt,
        )
        self.load = LoadOptions(options.dtype, options.device, options.trust_remote_code)
        self.judge_options = JudgeOptions(
            judge_model=options.judge_model,
            base_url=options.judge_base_url or options.base_url,
            concurrency=options.concurrency,
            timeout=options.timeout,
        )
        self.load_model = cache(self._load_model)

    def _load_model(self, path: str) -> tuple[Any, Any]:
        from alignaudit.models.hf import load_causal_lm

        spec = self.spec if path == self.spec.path else parse_model_spec(path)
        return load_causal_lm(spec, self.load)

    def run_config(self, model: ModelSpec, template: str, ed: dict | None = None) -> dict:
        options = self.options
        run: dict[str, Any] = {
            "model": model.describe(),
            "benchmark": {
                "spec": options.benchmark,
                "limit": options.limit,
                "n": len(self.requests),
                "fingerprint": benchmark_fingerprint(self.requests),
            },
            "sampling": asdict(self.sampling),
            "template": template,
            "dtype": options.dtype,
        }
        if ed is not None:
            run["ed"] = ed
        return run

    def evaluate(self, out: Path, run: dict, make_generator: Callable[[], Generator]) -> dict:
        options = self.options
        settings = {
            "batch_size": options.batch_size,
            "device": options.device,
            "base_url": options.base_url,
            "judge_model": options.judge_model,
            "concurrency": options.concurrency,
        }
        if out.exists() and not out.is_dir():
            raise AlignAuditError(f"--out {out} is a file; give a directory")
        config = {
            "run": run,
            "judges": options.judges,
            "settings": settings,
            "environment": environment(),
        }
        plan = EvalPlan(
            run_dir=RunDir(out),
            requests=self.requests,
            make_generator=make_generator,
            judges=options.judges,
            config=config,
            judge_options=self.judge_options,
            batch_size=options.batch_size,
            overwrite=options.overwrite,
            retry_errors=options.retry_errors,
        )
        return run_eval(plan)

    def single_model_generator(self, spec: ModelSpec, template: str) -> Generator:
        from alignaudit.generation.factory import BackendOptions, build_generator

        options = self.options
        if spec.kind == "openai":
            backend = BackendOptions(
                template=template,
                batch_size=options.batch_size,
                base_url=options.base_url,
                concurrency=options.concurrency,
                timeout=options.timeout,
            )
            return build_generator(spec, self.sampling, backend)
        from alignaudit.generation.hf import HFGenerator

        model, tokenizer = self.load_model(spec.path)
        return HFGenerator(
            model,
            tokenizer,
            self.sampling,
            template=template,
            batch_size=options.batch_size,
            model_spec=spec.describe(),
        )


def run_evaluation(options: EvalOptions, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume) an evaluation; with `ed_base`, an alpha sweep. Returns results or sweep."""
    console = console or Console()
    session = _Session(options)
    if options.ed_base is not None:
        return _run_ed_sweep(session, console)
    run = session.run_config(session.spec, options.template)
    results = session.evaluate(
        options.out, run, lambda: session.single_model_generator(session.spec, options.template)
    )
    print_results(results, console, title=str(options.out))
    console.print(
        f"wrote {options.out}/ (config.json, generations.jsonl, judgments.jsonl, results.json)"
    )
    return results


def _run_ed_sweep(session: _Session, console: Console) -> dict[str, Any]:
    """Aligned alone, base alone, and one ED run per alpha, all on models loaded once."""
    from alignaudit.generation.ed import EDGenerator

    options = session.options
    aligned, base = session.spec, parse_model_spec(options.ed_base or "")
    if "openai" in (aligned.kind, base.kind):
        raise AlignAuditError(
            "emulated disalignment needs next-token probabilities of local models"
        )
    aligned_template = "chat" if options.template == "auto" else options.template
    runs: dict[str, dict[str, Any]] = {}
    sweep = len(options.alphas) > 1
    if sweep:
        runs["aligned"] = session.evaluate(
            options.out / "aligned",
            session.run_config(aligned, aligned_template),
            lambda: session.single_model_generator(aligned, aligned_template),
        )
        runs["base"] = session.evaluate(
            options.out / "base",
            session.run_config(base, options.base_template),
            lambda: session.single_model_generator(base, options.base_template),
        )
    for alpha in options.alphas:
        ed = {
            "base": base.describe(),
            "base_template": options.base_template,
            "alpha": alpha,
            "aligned_template": aligned_template,
        }

        def make(alpha: float = alpha) -> Generator:
            aligned_lm, aligned_tok = session.load_model(aligned.path)
            base_lm, base_tok = session.load_model(base.path)
            return EDGenerator(
                aligned_lm,
                aligned_tok,
                base_lm,
                base_tok,
                alpha=alpha,
                sampling=session.sampling,
                base_template=options.base_template,
                aligned_template=aligned_template,
                batch_size=options.batch_size,
            )

        out = options.out / f"alpha-{alpha_label(alpha)}" if sweep else options.out
        runs[f"alpha-{alpha_label(alpha)}"] = session.evaluate(
            out, session.run_config(aligned, aligned_template, ed), make
        )
    if not sweep:
        result = next(iter(runs.values()))
        print_results(result, console, title=str(options.out))
        return result
    summary = {"alphas": options.alphas, "runs": runs}
    write_json_atomic(options.out / "sweep.json", summary)
    console.print(sweep_table(runs, f"emulated disalignment sweep — {options.out}"))
    return summary


def sweep_table(runs: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (
        "condition",
        "judge",
        "n",
        "refusal rate",
        "harmful rate",
        "mean score",
        "errors",
    ):
        table.add_column(column, justify="left" if column in ("condition", "judge") else "right")
    for name, results in runs.items():
        for judge, block in results["judges"].items():
            ci = block["ci95"]
            table.add_row(
                name,
                judge,
                str(block["n"]),
                fmt_rate(block["refusal_rate"], ci.get("refusal_rate")),
                fmt_rate(block["harmful_rate"], ci.get("harmful_rate")),
                fmt_score(block["mean_score"], ci.get("mean_score")),
                fmt_errors(block),
            )
    return table


def with_overrides(options: EvalOptions, **changes: Any) -> EvalOptions:
    return replace(options, **changes)
