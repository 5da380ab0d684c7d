"""Reading user files as UTF-8 text: a byte that is not UTF-8 is an error naming file and line."""

from pathlib import Path

from alignaudit.errors import InputFileError

BOM = b"\xef\xbb\xbf"


def decode_utf8(path: Path | str, data: bytes) -> str:
    """`data` as text (a byte-order mark dropped); InputFileError at the first invalid byte."""
    data = data.removeprefix(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputFileError(
            path,
            line,
            f"byte 0x{data[exc.start]:02x} at column {column} is not UTF-8; "
            "save the file as UTF-8 and rerun",
        ) from None


def read_utf8(path: Path | str) -> str:
    return decode_utf8(path, Path(path).read_bytes())
