"""`alignaudit eval` and `alignaudit score`."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alignaudit.cli.main import app
from alignaudit.cli.options import BaseUrlOpt, JudgeBaseUrlOpt, JudgeModelOpt, JudgeOpt, split_names
from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import SamplingConfig
from alignaudit.judges import JudgeOptions
from alignaudit.models.hf import LoadOptions
from alignaudit.report.console import print_results
from alignaudit.runs.environment import environment
from alignaudit.runs.evaluate import EvalPlan, run_eval

console = Console()


def benchmark_fingerprint(requests: list[Request]) -> str:
    digest = hashlib.sha256()
    for request in requests:
        digest.update(json.dumps([request.id, request.category, request.prompt]).encode())
    return digest.hexdigest()[:16]


def load_requests(benchmark: str, limit: int | None, seed: int) -> list[Request]:
    from alignaudit.data import load_benchmark, stratified_sample

    requests = load_benchmark(benchmark)
    if limit is not None:
        requests = stratified_sample(requests, limit, seed)
    return requests


@app.command("eval")
def eval_command(
    model: Annotated[str, typer.Option(help="default, organism, a folder, org/name, openai:NAME.")],
    out: Annotated[Path, typer.Option(help="Run directory; rerunning the same command resumes.")],
    benchmark: Annotated[
        str, typer.Option(help="builtin, builtin-benign, a file/folder, hf:ID.")
    ] = "builtin",
    judge: JudgeOpt = "keyword",
    limit: Annotated[int | None, typer.Option(help="Stratified sample of N requests.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate per response.")] = 128,
    batch_size: Annotated[int, typer.Option(help="Requests per generation batch.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed for sampling and --limit.")] = 0,
    system_prompt: Annotated[
        str | None, typer.Option(help="System prompt (default: the one a finetuned model records).")
    ] = None,
    temperature: Annotated[float, typer.Option(help="0 = greedy decoding.")] = 0.0,
    top_p: Annotated[float, typer.Option()] = 1.0,
    top_k: Annotated[int, typer.Option(help="0 = off.")] = 0,
    template: Annotated[
        str, typer.Option(help="auto (chat template if the model has one), chat, plain, or a file.")
    ] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16.")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N, mps.")] = "auto",
    trust_remote_code: Annotated[
        bool, typer.Option(help="Run model code from the folder/Hub.")
    ] = False,
    base_url: BaseUrlOpt = None,
    concurrency: Annotated[int, typer.Option(help="Parallel requests to HTTP servers.")] = 8,
    judge_model: JudgeModelOpt = None,
    judge_base_url: JudgeBaseUrlOpt = None,
    ed_base: Annotated[
        str | None,
        typer.Option(
            help="Emulated disalignment: the pre-alignment base model (--model is aligned)."
        ),
    ] = None,
    alpha: Annotated[str, typer.Option(help="ED strength; a comma list runs a sweep.")] = "0.3",
    base_template: Annotated[
        str, typer.Option(help="ED base prompt: plain, chat or a file.")
    ] = "plain",
    overwrite: Annotated[
        bool, typer.Option(help="Discard an existing run with another config.")
    ] = False,
) -> None:
    """Generate responses to a benchmark, judge them, and write a resumable run directory."""
    from alignaudit.models.spec import parse_model_spec

    spec = parse_model_spec(model)
    requests = load_requests(benchmark, limit, seed)
    sampling = SamplingConfig(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
        system_prompt=system_prompt if system_prompt is not None else spec.system_prompt,
    )
    load = LoadOptions(dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    judges = split_names(judge)
    judge_options = JudgeOptions(
        judge_model=judge_model, base_url=judge_base_url or base_url, concurrency=concurrency
    )
    run_config = {
        "model": spec.describe(),
        "benchmark": {
            "spec": benchmark,
            "limit": limit,
            "n": len(requests),
            "fingerprint": benchmark_fingerprint(requests),
        },
        "sampling": asdict(sampling),
        "template": template,
        "dtype": dtype,
    }
    settings = {
        "batch_size": batch_size,
        "device": device,
        "base_url": base_url,
        "judge_model": judge_model,
        "concurrency": concurrency,
    }
    if ed_base is not None:
        from alignaudit.cli.ed_sweep import run_ed

        run_ed(
            aligned=spec,
            base=parse_model_spec(ed_base),
            alphas=_parse_alphas(alpha),
            base_template=base_template,
            template=template,
            requests=requests,
            sampling=sampling,
            load=load,
            judges=judges,
            judge_options=judge_options,
            run_config=run_config,
            settings=settings,
            out=out,
            batch_size=batch_size,
            overwrite=overwrite,
        )
        return

    def make_generator():  # noqa: ANN202 - loads the model only when something is left to generate
        from alignaudit.generation.factory import BackendOptions, build_generator

        backend = BackendOptions(
            template=template,
            batch_size=batch_size,
            load=load,
            base_url=base_url,
            concurrency=concurrency,
        )
        return build_generator(spec, sampling, backend)

    plan = EvalPlan(
        run_dir=_run_dir(out),
        requests=requests,
        make_generator=make_generator,
        judges=judges,
        config=make_config(run_config, judges, settings),
        judge_options=judge_options,
        batch_size=batch_size,
        overwrite=overwrite,
    )
    results = run_eval(plan)
    print_results(results, console, title=str(out))
    console.print(f"wrote {out}/ (config.json, generations.jsonl, judgments.jsonl, results.json)")


def make_config(run: dict, judges: list[str], settings: dict) -> dict:
    return {"run": run, "judges": judges, "settings": settings, "environment": environment()}


def _run_dir(out: Path):  # noqa: ANN202
    from alignaudit.runs.store import RunDir

    if out.exists() and not out.is_dir():
        raise AlignAuditError(f"--out {out} is a file; give a directory")
    return RunDir(out)


def _parse_alphas(value: str) -> list[float]:
    try:
        alphas = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise AlignAuditError(f"--alpha {value!r}: give numbers, e.g. 0.3 or 0,0.3,0.6,1") from None
    if not alphas or any(a < 0 for a in alphas):
        raise AlignAuditError(f"--alpha {value!r}: every alpha must be >= 0")
    return alphas


@app.command("score")
def score_command(
    input: Annotated[Path, typer.Argument(help="A RUN_DIR, or a JSONL of {id, prompt, response}.")],
    out: Annotated[Path, typer.Option(help="Judgments JSONL to write (resumes if it exists).")],
    judge: JudgeOpt = "keyword",
    judge_model: JudgeModelOpt = None,
    judge_base_url: JudgeBaseUrlOpt = None,
    concurrency: Annotated[int, typer.Option()] = 8,
) -> None:
    """Judge existing responses without generating."""
    from alignaudit.metrics import compute_results
    from alignaudit.runs.evaluate import _judge_input, judge_missing
    from alignaudit.runs.responses import read_responses
    from alignaudit.runs.store import JsonlLog

    records = read_responses(input)
    options = JudgeOptions(
        judge_model=judge_model, base_url=judge_base_url, concurrency=concurrency
    )
    log = JsonlLog(out)
    judge_missing([_judge_input(r) for r in records], split_names(judge), options, log)
    print_results(compute_results(records, log.read()), console, title=str(out))
    console.print(f"wrote {out}")
