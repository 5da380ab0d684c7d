"""`alignaudit judge-agreement`: how well judges agree with human labels (or with each other)."""

import json
from pathlib import Path
from typing import Annotated

import typer

from alignaudit.cli.main import app
from alignaudit.cli.options import BaseUrlOpt, JudgeModelOpt, JudgeOpt, split_names_flag
from alignaudit.judges.agreement import compare_judgment_files, judge_agreement_rows
from alignaudit.judges.registry import JudgeOptions
from alignaudit.report.console import agreement_table
from alignaudit.terminal import make_console

console = make_console()


@app.command("judge-agreement")
def judge_agreement_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="Labeled CSV/JSONL (prompt, response|completion, label), or with "
            "--against a judgments JSONL."
        ),
    ],
    judge: JudgeOpt = "refusal",
    label_col: Annotated[
        str, typer.Option(help="Label column: XSTest final_label, booleans, 0/1, refused/complied.")
    ] = "final_label",
    response_col: Annotated[
        str | None, typer.Option(help="Response column (default: response or completion).")
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(help="Second judgments JSONL: compare FILE's `refused` with it, by id."),
    ] = None,
    judge_model: JudgeModelOpt = None,
    base_url: BaseUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Accuracy, Cohen's kappa and confusion (positive = refused) of judges on labeled data."""
    if against is not None:
        rows = {f"{file.name} vs {against.name}": compare_judgment_files(file, against)}
    else:
        options = JudgeOptions(judge_model=judge_model, base_url=base_url)
        rows = judge_agreement_rows(file, split_names_flag(judge), label_col, response_col, options)
    if as_json:
        console.print_json(json.dumps(rows))
    else:
        console.print(agreement_table(rows, title=f"Agreement on {file.name}"))
