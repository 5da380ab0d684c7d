"""`alignaudit eval` and `alignaudit score`."""

from pathlib import Path
from typing import Annotated

import typer

from alignaudit.cli.flags import options_command
from alignaudit.cli.main import app
from alignaudit.cli.options import (
    JudgeBaseUrlOpt,
    JudgeModelOpt,
    JudgeOpt,
    JudgeTemplateOpt,
    RetryErrorsOpt,
    TimeoutOpt,
    split_names_flag,
)
from alignaudit.runs.evaluate import EvalOptions, run_evaluation
from alignaudit.terminal import make_console

console = make_console()


@options_command(app, "eval", EvalOptions)
def eval_command(options: EvalOptions) -> None:
    """Generate responses to a benchmark, judge them, and write a resumable run directory."""
    run_evaluation(options, console)


@app.command("score")
def score_command(
    input: Annotated[Path, typer.Argument(help="A RUN_DIR, or a JSONL of {id, prompt, response}.")],
    out: Annotated[Path, typer.Option(help="Judgments JSONL to write (resumes if it exists).")],
    judge: JudgeOpt = "keyword",
    judge_model: JudgeModelOpt = None,
    judge_base_url: JudgeBaseUrlOpt = None,
    judge_template: JudgeTemplateOpt = None,
    concurrency: Annotated[int, typer.Option()] = 8,
    timeout: TimeoutOpt = 120.0,
    retry_errors: RetryErrorsOpt = True,
) -> None:
    """Judge existing responses without generating."""
    from alignaudit.report.console import print_results
    from alignaudit.runs.score import ScoreOptions, run_score

    judges = split_names_flag(judge)
    options = ScoreOptions(
        input,
        out,
        judges,
        judge_model,
        judge_base_url,
        concurrency,
        timeout=timeout,
        retry_errors=retry_errors,
        judge_template=judge_template,
    )
    print_results(run_score(options), console, title=str(out))
    console.print(f"wrote {out}")
