"""The elements of a top-level JSON list, decoded one by one from a file as it is read.

A large list (a 125 MB ShareGPT dump, a 22 MB Alpaca file) is never held as one Python list:
the file is read in chunks, each element is decoded and handed on, and the text before it is
dropped. A file cut off inside an element (a truncated download, a dump published cut off)
either stops the command with FILE:LINE, or, with `allow_truncated`, ends the iteration after
the last complete element and says so in `truncated`.
"""

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignaudit.errors import InputFileError

CHUNK_CHARS = 1 << 20


class JsonArrayReader:
    """`for line, value in JsonArrayReader(path)`: each element with the line it starts on."""

    def __init__(self, path: Path | str, *, allow_truncated: bool = False) -> None:
        self.path = Path(path)
        self.allow_truncated = allow_truncated
        self.truncated = False  # set when the file ended inside an element
        self.complete = 0  # elements decoded so far

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        with self.path.open("rb") as handle:
            yield from self._elements(_Text(handle, self.path))

    def _elements(self, text: "_Text") -> Iterator[tuple[int, Any]]:
        decoder = json.JSONDecoder()
        if not text.expect("["):
            raise InputFileError(self.path, text.line_at(text.pos), "expected a JSON list ('[')")
        while True:
            if text.peek() == "]":
                return
            start = text.pos
            while True:
                try:
                    value, end = decoder.raw_decode(text.buffer, start)
                    break
                except json.JSONDecodeError as exc:
                    if text.read_more():
                        continue
                    self._end_inside_element(text, start, exc)
                    return
            line = text.line_at(start)
            text.pos = end
            self.complete += 1
            yield line, value
            separator = text.peek()
            if separator == ",":
                text.pos += 1
            elif separator != "]":
                self._after_element(text, separator)
                return
            text.forget_read()

    def _end_inside_element(self, text: "_Text", start: int, exc: json.JSONDecodeError) -> None:
        """The whole file is read and the element that starts at `start` does not decode: cut off
        (the error is at the end of the text, or a string runs to it) or broken."""
        cut_off = exc.pos >= len(text.buffer.rstrip()) or exc.msg.startswith("Unterminated string")
        if self.allow_truncated and cut_off:
            self.truncated = True
            return
        line = text.line_at(start) + text.buffer.count("\n", start, exc.pos)
        raise InputFileError(self.path, line, f"not valid JSON ({exc.msg})")

    def _after_element(self, text: "_Text", separator: str | None) -> None:
        if separator is None and self.allow_truncated:
            self.truncated = True
            return
        raise InputFileError(
            self.path, text.line_at(text.pos), "not valid JSON (expected ',' or ']' in the list)"
        )


class _Text:
    """The file's text from the current element on, and the line numbers of what was dropped."""

    def __init__(self, handle: Any, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.counted = 0  # newlines before buffer[counted_to] (dropped text included)
        self.counted_to = 0
        self.bytes_lines = 0  # newlines in the bytes already read (for decoding errors)

    def read_more(self) -> bool:
        """Append the next chunk; False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(CHUNK_CHARS)
        self.eof = not data
        try:
            self.buffer += self.decoder.decode(data, final=self.eof)
        except UnicodeDecodeError as exc:
            line = self.bytes_lines + data[: exc.start].count(b"\n") + 1
            raise InputFileError(
                self.path, line, "a byte is not UTF-8; save the file as UTF-8 and rerun"
            ) from None
        self.bytes_lines += data.count(b"\n")
        return bool(data)

    def peek(self) -> str | None:
        """The next character that is not white space (None at the end of the file)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.read_more():
                return None

    def expect(self, char: str) -> bool:
        if self.peek() != char:
            return False
        self.pos += 1
        return True

    def line_at(self, index: int) -> int:
        """The line of buffer[index]; counted on from the last call (indexes rarely go back)."""
        if index < self.counted_to:
            return self.counted - self.buffer.count("\n", index, self.counted_to) + 1
        self.counted += self.buffer.count("\n", self.counted_to, index)
        self.counted_to = index
        return self.counted + 1

    def forget_read(self) -> None:
        """Drop the text before the current position once it is large."""
        if self.pos > CHUNK_CHARS:
            self.line_at(self.pos)
            self.buffer = self.buffer[self.pos :]
            self.counted_to -= self.pos
            self.pos = 0


def iter_json_array(path: Path | str) -> Iterator[tuple[int, Any]]:
    """(line, element) for every element of the JSON list in `path`; FILE:LINE errors."""
    return iter(JsonArrayReader(path))
