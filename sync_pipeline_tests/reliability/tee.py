"""Keep everything this process prints in a file, so the secrets scan can read it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class Tee:
    """A text stream writing to two streams."""

    def __init__(self, first: TextIO, second: TextIO) -> None:
        self._streams = (first, second)

    def write(self, text: str) -> int:
        """Write to both."""
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        """Flush both."""
        for stream in self._streams:
            stream.flush()

    def isatty(self) -> bool:
        """Never a terminal (keeps tools from printing colour codes)."""
        return False


@contextmanager
def captured_output(path: Path, *, echo: bool = False) -> Iterator[Path]:
    """Send stdout and stderr into `path` for the block (and on to the terminal if `echo`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", errors="backslashreplace") as log:
        old = sys.stdout, sys.stderr
        if echo:
            sys.stdout, sys.stderr = Tee(old[0], log), Tee(old[1], log)
        else:
            sys.stdout = sys.stderr = log
        try:
            yield path
        finally:
            sys.stdout, sys.stderr = old
