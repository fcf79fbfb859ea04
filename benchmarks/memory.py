"""What a build's own process holds more for each page of text: `python benchmarks/memory.py`.

Builds the seeds repeated SMALL and LARGE times (default x20 and x200) with `kg build --jobs 2`,
each twice (the first fills the extraction cache; the second, a rebuild, is the one measured),
traces the process's Python allocations (tracemalloc) and takes a snapshot once the pages are
written, where a build holds the most of what it keeps per page. Both corpora have the same
entities, so what the larger holds more grows with the pages: the report gives it per page,
(LARGE - SMALL) / (pages of LARGE - pages of SMALL), and the source lines it was allocated at.
It gives the same of the traced peak, the most the process held at any one time of the rebuild
(what it makes at the pages' end, after the snapshot, included). Native memory (pyoxigraph's,
the allocator's) is not traced: RSS is in `benchmarks/run.py`.

Then it builds the SMALL corpus again with each file's text LONGER times over (default 10): the
same files and entities, LONGER times the characters (and the articles). What that rebuild holds
more than SMALL's is what grows with the size of the text, not the number of files: the report
gives it per MB of text more, beside the same of the LARGE corpus, whose text grows by its files.
"""

from __future__ import annotations

import argparse
import linecache
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import make_corpus  # noqa: E402

# run in a process of its own: tracemalloc from its start, a snapshot where the pages are written
_CHILD = """
import atexit, sys, tracemalloc
import kg.html as H
paths = H._Pages.paths
def snapshot(self):
    tracemalloc.take_snapshot().dump(sys.argv[1])
    return paths(self)
H._Pages.paths = snapshot
tracemalloc.start(1)
atexit.register(lambda: open(sys.argv[1] + ".peak", "w").write(str(tracemalloc.get_traced_memory()[1])))
from kg.cli import main
raise SystemExit(main(["build", *sys.argv[2:]]))
"""


def snapshot(corpus: Path, out: Path, dump: Path) -> tuple[tracemalloc.Snapshot, int]:
    """The snapshot of a rebuild of `corpus` into `out`, once its pages are written, and its traced peak."""
    for _ in range(2):  # the first fills the cache
        done = subprocess.run([sys.executable, "-c", _CHILD, str(dump), str(corpus), "--out", str(out), "--jobs", "2"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{corpus}: the build failed:\n{done.stderr[-2000:]}")
    return tracemalloc.Snapshot.load(str(dump)), int(Path(f"{dump}.peak").read_text())


def longer_corpus(directory: Path, times: int, longer: int) -> Path:
    """The seeds repeated `times` times, as `make_corpus` makes them, each file's text `longer` times over."""
    make_corpus(directory, times)
    for path in directory.glob("*.txt"):
        path.write_bytes(b"\n\n".join([path.read_bytes()] * longer))
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200", help="SMALL,LARGE: the seeds repeated so many times (default 20,200)")
    parser.add_argument("--longer", type=int, default=10, help="LONGER: the SMALL corpus again, each file's text so many times over (default 10)")
    parser.add_argument("--top", type=int, default=15, help="source lines to list (default 15)")
    args = parser.parse_args(argv)
    small, large = (int(x) for x in args.sizes.split(","))
    if not 0 < small < large:
        parser.error(f"--sizes {args.sizes}: give two sizes, the smaller first")
    if args.longer < 2:
        parser.error(f"--longer {args.longer}: give 2 or more")
    from run import corpus_chars

    seeds = len(list((HERE.parent / "seeds").glob("*.txt")))
    with tempfile.TemporaryDirectory(prefix="kg-memory-") as tmp:
        root = Path(tmp)
        corpora = [make_corpus(root / f"x{n}", n) for n in (small, large)] + [longer_corpus(root / "longer", small, args.longer)]
        chars = [corpus_chars(c) for c in corpora]
        (shots, peaks) = zip(*(snapshot(c, root / f"out-{c.name}", root / f"{c.name}.snap") for c in corpora))
    pages = seeds * (large - small)
    totals = [sum(s.size for s in shot.statistics("filename")) for shot in shots]
    print(f"traced once the pages are written: x{small} {totals[0] / 2**20:.1f} MB, x{large} {totals[1] / 2**20:.1f} MB")
    print(f"per page of the seeds: {(totals[1] - totals[0]) / pages / 1024:.2f} kB ({pages} pages more)")
    print(f"traced peak of the rebuild: x{small} {peaks[0] / 2**20:.1f} MB, x{large} {peaks[1] / 2**20:.1f} MB")
    print(f"per page of the seeds: {(peaks[1] - peaks[0]) / pages / 1024:.2f} kB")
    totals.append(sum(s.size for s in shots[2].statistics("filename")))

    def per_million(held: Sequence[int], k: int) -> float:  # kB more per million characters more, corpus k against SMALL
        return (held[k] - held[0]) / 1024 / ((chars[k] - chars[0]) / 1e6)

    print(f"x{small}, each page {args.longer} times as long ({chars[2]:,} characters, x{large} {chars[1]:,}):")
    for what, held in (("once the pages are written", totals), ("traced peak", peaks)):
        print(f"  {what}: {held[2] / 2**20:.1f} MB, {per_million(held, 2):.1f} kB per million characters more (x{large}: {per_million(held, 1):.1f})")
    print("\nwhere it grows (bytes a page, at the line that allocated it):")
    _lines(shots[1].compare_to(shots[0], "lineno")[: args.top], pages)
    print(f"\nwhere it grows with the pages {args.longer} times as long (bytes per thousand characters more):")
    _lines(shots[2].compare_to(shots[0], "lineno")[: args.top], (chars[2] - chars[0]) / 1000)
    return 0


def _lines(stats: list[tracemalloc.StatisticDiff], per: float) -> None:
    for stat in stats:
        frame = stat.traceback[0]
        line = linecache.getline(frame.filename, frame.lineno).strip()
        print(f"{stat.size_diff / per:8.0f}  {Path(frame.filename).name}:{frame.lineno}  {line[:90]}")


if __name__ == "__main__":
    raise SystemExit(main())
