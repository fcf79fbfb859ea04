"""Progress of a build: one live line on a terminal, plain lines otherwise.

Shows files, articles and mentions done, the rate in characters per second and an estimate of
the time left, from bytes read against the total size of the inputs; then a line as each global
stage starts (the RDF files, the self-check) and the pages written or linked, with the time left.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts what a build has done and reports it to a stream."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, every: float = 2.0) -> None:
        self.stream = stream
        self.live = stream is not None and (stream.isatty() if live is None else live)
        self.every = every
        self.files = self.articles = self.mentions = 0
        self.total_files = self.total_bytes = self.done_bytes = 0
        self._t0 = self._last = 0.0
        self._pages_t0 = 0.0  # when the first of the pages was reported

    @classmethod
    def quiet(cls) -> Progress:
        return cls(None)

    def start(self, *, total_files: int, total_bytes: int) -> None:
        self.total_files, self.total_bytes = total_files, total_bytes
        self._t0 = self._last = time.perf_counter()

    def advance(self, *, bytes_: int, articles: int = 0, mentions: int = 0) -> None:
        self.files += 1
        self.articles += articles
        self.mentions += mentions
        self.done_bytes += bytes_
        now = time.perf_counter()
        if self.stream is None:
            return
        if self.live or now - self._last >= self.every or self.files == self.total_files:
            self._last = now
            self._emit(now)

    def line(self, now: float | None = None) -> str:
        """`files 3/5 · articles 21 · mentions 310 · 41k chars/s · 0:02 left`."""
        elapsed = max((now or time.perf_counter()) - self._t0, 1e-9)
        rate = self.done_bytes / 3 / elapsed  # UTF-8 Chinese is about three bytes a character
        left = (self.total_bytes - self.done_bytes) / max(self.done_bytes, 1) * elapsed
        return (
            f"files {self.files}/{self.total_files} · articles {self.articles} · mentions {self.mentions}"
            f" · {_si(rate)} chars/s · {_left(left)}"
        )

    def _emit(self, now: float) -> None:
        if self.stream is None:
            return
        if self.live:
            self.stream.write("\r\x1b[2K" + self.line(now))
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None and self.live:
            self.stream.write("\n")
            self.stream.flush()

    def stage(self, name: str) -> None:
        """A global stage starts, once the files are read: one line, `name …`."""
        if self.stream is not None:
            self.stream.write(f"{name} …\n")
            self.stream.flush()

    def pages(self, done: int, total: int) -> None:
        """Pages written or linked so far, of `total`: `pages 3000/7646 · 0:04 left`. The first call,
        with none done, starts the clock and is shown, as is the last."""
        now = time.perf_counter()
        first = done == 0 or not self._pages_t0
        if first:
            self._pages_t0 = now
        # on a terminal ten times a second at most: a share of pages can take a millisecond
        if self.stream is None or not (first or done == total or now - self._last >= (0.1 if self.live else self.every)):
            return
        self._last = now
        left = (total - done) / done * (now - self._pages_t0) if done else 0.0
        line = f"pages {done}/{total}" + (f" · {_left(left)}" if 0 < done < total else "")
        if self.live:
            self.stream.write("\r\x1b[2K" + line + ("\n" if done == total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _left(seconds: float) -> str:
    """`1:05 left`."""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d} left"


def _si(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.0f}k"
    return f"{x:.0f}"


def stderr_progress() -> Progress:
    return Progress(sys.stderr)
