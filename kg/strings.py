"""Many strings, few bytes of memory: strings kept in a file with no name and read back by
position (`StringFile`, 8 bytes of memory a string), and a sort of more strings than are held at
once (`sort_strings`: sorted runs of them go to such a file, then are merged). The file with no
name (`Unnamed`) keeps the pages' keys and records too (kg.html). `Made`: the base of sequences
whose items are made when read, StringFile's and kg.build's.

A build writes a file a page: 74,274 pages for the seeds x2000, whose paths, held as strings to be
sorted and listed, were what grew most at the end of a build, where its process peaks.
"""

from __future__ import annotations

import heapq
import os
import pickle
import tempfile
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

SORT_RUN = 16384  # strings sorted in memory at once (about 2 MB of paths)
_BLOCK = 64  # pairs a run's reader holds at once while the runs are merged (450 runs, 7.4 M pages: 29k pairs)
_READ = 1 << 16  # bytes a StringFile's iteration reads at once


class Made(Sequence):
    """A sequence whose items are made when read (`_item`, by position); a slice is a list of them."""

    __slots__ = ()

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        return self._item(_position(i, len(self)))

    def _item(self, i: int) -> Any:
        raise NotImplementedError


def _position(i: int, count: int) -> int:
    """`i` as a position in a sequence of `count` items (a negative one counts from its end); IndexError past either end."""
    at = i + count if i < 0 else i
    if not 0 <= at < count:
        raise IndexError(i)
    return at


class Unnamed:
    """A file with no name in `directory` (the system's temporary folder by default): nothing is
    left behind however the process ends. Written and read by offset (`os.pwrite`, `os.pread`), so
    processes forked from this one read it too; its descriptor is closed once it is let go of."""

    __slots__ = ("fd", "size", "__weakref__")

    def __init__(self, directory: Path | None = None, *, prefix: str = ".kg-strings-") -> None:
        with tempfile.TemporaryFile(dir=directory, prefix=prefix) as fh:
            self.fd = os.dup(fh.fileno())
        weakref.finalize(self, os.close, self.fd)
        self.size = 0  # where its end is

    def write(self, offset: int, data: bytes) -> None:
        """`data` at `offset`, whole."""
        view = memoryview(data)
        while view:
            done = os.pwrite(self.fd, view, offset)
            view, offset = view[done:], offset + done
        self.size = max(self.size, offset)

    def append(self, data: bytes) -> int:
        """Where `data` is once written at the end."""
        at = self.size
        self.write(at, data)
        return at

    def read(self, offset: int, size: int, *, whole: bool = True) -> bytes:
        """`size` bytes from `offset`; with `whole=False`, those there are."""
        found = os.pread(self.fd, size, offset)
        if whole and len(found) != size:
            raise OSError(f"a file cut short ({len(found)} of {size} bytes read back at {offset})")
        return found


class StringFile(Made):
    """`strings`, in their order, kept in a file with no name in `directory` (the system's
    temporary folder by default): in memory, where each ends (8 bytes a string, against 60 or
    more for a short string held). Read by position (a read a string) or in order (a read of
    64 kB at a time); equal to a list of the same strings."""

    __slots__ = ("_file", "_ends")

    def __init__(self, strings: Iterable[str], *, directory: Path | None = None) -> None:
        self._file = Unnamed(directory)
        self._ends = array("q")
        chunk: list[bytes] = []
        held = end = 0
        for s in strings:
            data = s.encode("utf-8", "surrogatepass")
            end += len(data)
            self._ends.append(end)
            chunk.append(data)
            held += len(data)
            if held >= _READ:
                self._file.append(b"".join(chunk))
                chunk, held = [], 0
        self._file.append(b"".join(chunk))

    def __len__(self) -> int:
        return len(self._ends)

    def _start(self, i: int) -> int:
        return self._ends[i - 1] if i else 0

    def _item(self, i: int) -> str:
        start = self._start(i)
        return self._file.read(start, self._ends[i] - start).decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        ends, n, i = self._ends, len(self._ends), 0
        while i < n:
            start = self._start(i)
            j = i + 1  # the strings that end within _READ bytes of `start`, one at least
            while j < n and ends[j] - start <= _READ:
                j += 1
            data = self._file.read(start, ends[j - 1] - start)
            for k in range(i, j):
                yield data[self._start(k) - start : ends[k] - start].decode("utf-8", "surrogatepass")
            i = j

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (StringFile, list)) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StringFile({len(self)} strings)"


def sort_strings(strings: Iterable[str], *, directory: Path | None = None, run: int | None = None) -> tuple[StringFile, array]:
    """`strings` sorted as `sorted` sorts them, kept in a `StringFile`, and where each was among
    `strings` (its number from 0, in an array of as many). No more than `run` of them (SORT_RUN)
    are held at once: sorted runs of that many go to a file with no name, `_BLOCK` pairs of (string,
    number) a pickle, and are merged, a block of each run held at a time."""
    run = run or SORT_RUN
    spill: Unnamed | None = None
    runs: list[list[tuple[int, int]]] = []  # each run's blocks, as (offset, size) in `spill`
    held: list[tuple[str, int]] = []
    for n, s in enumerate(strings):
        held.append((s, n))
        if len(held) == run:
            spill = spill or Unnamed(directory)
            held.sort()
            runs.append([_put(spill, held[k : k + _BLOCK]) for k in range(0, len(held), _BLOCK)])
            held = []
    held.sort()
    if spill is None:  # one run: sorted in memory
        pairs: Iterable[tuple[str, int]] = held
    else:
        pairs = heapq.merge(*(_run(spill, blocks) for blocks in runs), held)
    order = array("q")

    def taken() -> Iterator[str]:
        for s, n in pairs:
            order.append(n)
            yield s

    return StringFile(taken(), directory=directory), order


def _put(spill: Unnamed, pairs: list[tuple[str, int]]) -> tuple[int, int]:
    data = pickle.dumps(pairs, protocol=pickle.HIGHEST_PROTOCOL)
    return spill.append(data), len(data)


def _run(spill: Unnamed, blocks: list[tuple[int, int]]) -> Iterator[tuple[str, int]]:
    for offset, size in blocks:
        yield from pickle.loads(spill.read(offset, size))
