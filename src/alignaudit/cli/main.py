"""`alignaudit` entry point. Each command lives in its own module and registers on `app`."""

import importlib
import sys

import typer

from alignaudit.errors import AlignAuditError
from alignaudit.terminal import make_console

app = typer.Typer(
    name="alignaudit",
    help="Measure how much of a language model's safety alignment survives fine-tuning and "
    "emulated disalignment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = make_console(stderr=True)

# Command modules; each defines its commands with `@app.command(...)` on import.
_COMMAND_MODULES = (
    "alignaudit.cli.eval_cmd",
    "alignaudit.cli.finetune_cmd",
    "alignaudit.cli.judge_cmd",
    "alignaudit.cli.audit_cmd",
    "alignaudit.cli.report_cmd",
)


def _register_commands() -> None:
    for module in _COMMAND_MODULES:
        importlib.import_module(module)


def main() -> None:
    from alignaudit.dependencies import check_transformers
    from alignaudit.quiet import quiet_libraries

    _register_commands()
    try:
        check_transformers()  # before any command imports it: one line, not a deep KeyError
        with quiet_libraries():
            app()
    except AlignAuditError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume")
        sys.exit(130)
