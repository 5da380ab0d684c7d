"""One look for every progress bar; bars go to stderr so stdout keeps the results table."""

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from alignaudit.retries import retry_count
from alignaudit.terminal import make_console


class RetriesColumn(ProgressColumn):
    """Requests retried since the bar started: a frozen bar with a rising count is a slow server."""

    def __init__(self) -> None:
        super().__init__()
        self.start = retry_count()

    def render(self, task: Task) -> Text:
        retried = retry_count() - self.start
        return Text(f"{retried} retries" if retried else "", style="yellow")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        RetriesColumn(),
        console=make_console(stderr=True),
    )
