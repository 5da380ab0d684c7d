"""`alignaudit eval` and `alignaudit score`."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alignaudit.cli.evaluation import EvalOptions, parse_alphas, run_evaluation
from alignaudit.cli.main import app
from alignaudit.cli.options import (
    BaseUrlOpt,
    JudgeBaseUrlOpt,
    JudgeModelOpt,
    JudgeOpt,
    RetryErrorsOpt,
    TimeoutOpt,
    split_names,
)
from alignaudit.judges import JudgeOptions
from alignaudit.report.console import print_results

console = Console()


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
    timeout: TimeoutOpt = 120.0,
    retry_errors: RetryErrorsOpt = True,
) -> None:
    """Generate responses to a benchmark, judge them, and write a resumable run directory."""
    options = EvalOptions(
        model=model,
        out=out,
        benchmark=benchmark,
        judges=split_names(judge),
        limit=limit,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        system_prompt=system_prompt,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        template=template,
        dtype=dtype,
        device=device,
        trust_remote_code=trust_remote_code,
        base_url=base_url,
        concurrency=concurrency,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
        ed_base=ed_base,
        alphas=parse_alphas(alpha),
        base_template=base_template,
        overwrite=overwrite,
        timeout=timeout,
        retry_errors=retry_errors,
    )
    run_evaluation(options, console)


@app.command("score")
def score_command(
    input: Annotated[Path, typer.Argument(help="A RUN_DIR, or a JSONL of {id, prompt, response}.")],
    out: Annotated[Path, typer.Option(help="Judgments JSONL to write (resumes if it exists).")],
    judge: JudgeOpt = "keyword",
    judge_model: JudgeModelOpt = None,
    judge_base_url: JudgeBaseUrlOpt = None,
    concurrency: Annotated[int, typer.Option()] = 8,
    timeout: TimeoutOpt = 120.0,
    retry_errors: RetryErrorsOpt = True,
) -> None:
    """Judge existing responses without generating."""
    from alignaudit.metrics import compute_results
    from alignaudit.runs.scoring import score_responses

    options = JudgeOptions(
        judge_model=judge_model, base_url=judge_base_url, concurrency=concurrency, timeout=timeout
    )
    records, judgments = score_responses(input, out, split_names(judge), options, retry_errors)
    print_results(compute_results(records, judgments), console, title=str(out))
    console.print(f"wrote {out}")
