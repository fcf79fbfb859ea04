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
"""

from __future__ import annotations

import argparse
import linecache
import subprocess
import sys
import tempfile
import tracemalloc
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200", help="SMALL,LARGE: the seeds repeated so many times (default 20,200)")
    parser.add_argument("--top", type=int, default=15, help="source lines to list (default 15)")
    args = parser.parse_args(argv)
    small, large = (int(x) for x in args.sizes.split(","))
    if not 0 < small < large:
        parser.error(f"--sizes {args.sizes}: give two sizes, the smaller first")
    seeds = len(list((HERE.parent / "seeds").glob("*.txt")))
    with tempfile.TemporaryDirectory(prefix="kg-memory-") as tmp:
        root = Path(tmp)
        (shots, peaks) = zip(*(snapshot(make_corpus(root / f"x{n}", n), root / f"out{n}", root / f"x{n}.snap") for n in (small, large)))
    pages = seeds * (large - small)
    totals = [sum(s.size for s in shot.statistics("filename")) for shot in shots]
    print(f"traced once the pages are written: x{small} {totals[0] / 2**20:.1f} MB, x{large} {totals[1] / 2**20:.1f} MB")
    print(f"per page of the seeds: {(totals[1] - totals[0]) / pages / 1024:.2f} kB ({pages} pages more)")
    print(f"traced peak of the rebuild: x{small} {peaks[0] / 2**20:.1f} MB, x{large} {peaks[1] / 2**20:.1f} MB")
    print(f"per page of the seeds: {(peaks[1] - peaks[0]) / pages / 1024:.2f} kB")
    print("\nwhere it grows (bytes a page, at the line that allocated it):")
    for stat in shots[1].compare_to(shots[0], "lineno")[: args.top]:
        frame = stat.traceback[0]
        line = linecache.getline(frame.filename, frame.lineno).strip()
        print(f"{stat.size_diff / pages:8.0f}  {Path(frame.filename).name}:{frame.lineno}  {line[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
