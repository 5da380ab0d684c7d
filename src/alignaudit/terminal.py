"""The one way the package makes a rich console, so that every command prints alike."""

import sys

from rich.console import Console

# Output that is not a terminal (a pipe, a log file, a test's capture) has no width of its own;
# rich would take COLUMNS or assume 80 columns, and table cells and one-line errors would then
# wrap at places that depend on how long the run's paths are (pytest-xdist's workers, for one,
# run with COLUMNS=80). Such output gets a fixed width wide enough for every table we print
# instead; a terminal keeps its own width.
PIPED_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    """A console on stdout (results) or stderr (progress, messages, errors)."""
    stream = sys.stderr if stderr else sys.stdout
    is_terminal = stream is not None and stream.isatty()
    return Console(stderr=stderr, width=None if is_terminal else PIPED_WIDTH)
