"""What a function prints goes to its log, as on AWS (where a function's stdout is its CloudWatch log stream).

Powertools prints metrics as EMF lines on stdout. Locally metrics are disabled, but the functions share the
process with the command line: should anything a function runs print (a metric published another way, a
library's print), it must not land in the report or in `run --json`. So while the runtime runs, `sys.stdout` is
a `FunctionOutputToLog`: what a thread prints during an invocation goes to the log file, the rest to the terminal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_invocation = threading.local()


@contextmanager
def printing_to_log() -> Iterator[None]:
    """Around one invocation: this thread's prints go to the log file (when the runtime routes stdout)."""
    depth = getattr(_invocation, "depth", 0)
    _invocation.depth = depth + 1
    try:
        yield
    finally:
        _invocation.depth = depth


class FunctionOutputToLog:
    """A stdout that sends the writes of a thread inside an invocation to `log`, the others to `terminal`."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self.terminal, self.log = terminal, log

    def _target(self) -> TextIO:
        return self.log if getattr(_invocation, "depth", 0) else self.terminal

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer...: the terminal's
        return getattr(self.terminal, name)
