"""The one way the package makes a rich console, so that every command prints alike."""

import os
import sys

from rich.console import Console

# Output that is not a terminal (a pipe, a log file, a test's capture) has no width of its own, and
# rich would assume 80 columns: table cells and one-line errors would then wrap at places that
# depend on how long the run's paths are. Such output gets a fixed width wide enough for every
# table we print instead. A terminal keeps its own width, and COLUMNS, where set, still rules.
PIPED_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    """A console on stdout (results) or stderr (progress, messages, errors)."""
    stream = sys.stderr if stderr else sys.stdout
    is_terminal = stream is not None and stream.isatty()
    fixed = not is_terminal and not os.environ.get("COLUMNS", "").isdigit()
    return Console(stderr=stderr, width=PIPED_WIDTH if fixed else None)
