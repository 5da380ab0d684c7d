"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class AlignAuditError(Exception):
    """An error caused by user input or environment, with a message that says what to do."""


class InputFileError(AlignAuditError):
    """Malformed input file; the message names the file and the line."""

    def __init__(self, path: object, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
