"""A progress line on stderr while a long scan runs.

Shown only on a terminal, never with -q, in CI or on a dumb terminal,
and only once the scan has run for `JANITOR_PROGRESS_DELAY` seconds
(default 1): pipes, logs and quick scans stay clean. The line is
rewritten in place and erased before any result is printed.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

DEFAULT_DELAY = 1.0
REFRESH = 0.1  # seconds between redraws


class ProgressLine:
    """Counts of experiments and runs read so far, on one line."""

    def __init__(self, stream: TextIO, delay: float) -> None:
        self.stream = stream
        self.delay = delay
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.width = 0

    def __call__(self, experiments: int, runs: int) -> None:
        now = time.monotonic()
        if now - self.started < self.delay or now - self.drawn_at < REFRESH:
            return
        text = (
            f"janitor: reading the store: {experiments:,} "
            f"experiment{'' if experiments == 1 else 's'}, "
            f"{runs:,} run{'' if runs == 1 else 's'}"
        )
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)
        self.drawn_at = now

    def finish(self) -> None:
        """Erase the line, if one was drawn."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def progress_line(
    quiet: bool, stream: TextIO | None = None
) -> ProgressLine | None:
    """A progress line for a terminal, or None where it must not show."""
    stream = stream or sys.stderr
    if quiet or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return None
    if not stream.isatty():
        return None
    return ProgressLine(stream, _delay())


def _delay() -> float:
    try:
        return float(os.environ.get("JANITOR_PROGRESS_DELAY", DEFAULT_DELAY))
    except ValueError:
        return DEFAULT_DELAY
