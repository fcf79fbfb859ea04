"""The command line: `kg build`, `kg eval`, `kg train`, `kg validate`, `kg query`.

Only this module catches KGError: one line per problem on stderr and a non-zero exit code,
with `--verbose` for the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from kg.errors import KGError

EXIT_ERROR = 1
EXIT_USAGE = 2
# what a command leaves for the process's exit to drop (`run` exits without freeing objects one by one)
_AT_EXIT: list = []


def _build(args: argparse.Namespace) -> int:
    from kg.build import build
    from kg.progress import Progress

    skipped: list[tuple[str, str]] = []

    def on_skip(path: str, reason: str) -> None:
        print(f"kg: warning: {reason}", file=sys.stderr)

    report = build(
        Path(args.inputs),
        Path(args.out),
        ontology=Path(args.ontology),
        config=Path(args.config) if args.config else None,
        strict=args.strict,
        base=args.base,
        html=not args.no_html,
        jobs=args.jobs,
        dask=args.dask,
        cache=False if args.no_cache else True,
        validate=not args.no_validate,
        progress=Progress(sys.stderr),
        on_skip=on_skip,
        retain=_AT_EXIT,
        keep_workers=args.keep_workers,
    )
    skipped = report.skipped
    counts = report.counts
    labels = ("PERSON", "ORG", "PLACE", "PROGRAMME", "POLICY")
    served = f", {report.files - report.cache_hits} extracted by the worker server" if report.served else ""
    print(f"built {report.out}: {report.files} files ({report.cache_hits} from cache{served}), {report.articles} articles, "
          f"{report.characters} characters in {report.seconds['total']:.1f} s")
    print("  mentions:  " + ", ".join(f"{lab} {counts['mentions'].get(lab, 0)}" for lab in labels))
    print("  nodes:     " + ", ".join(f"{lab} {counts['nodes'].get(lab, 0)}" for lab in labels)
          + f", articles {counts['nodes'].get('ARTICLE', 0)}")
    print("  new nodes: " + ", ".join(f"{lab} {counts['new'].get(lab, 0)}" for lab in labels))
    print("  relations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts["edges"].items())))
    if skipped:
        print(f"  skipped {len(skipped)} file(s):")
        for path, reason in skipped:
            print(f"    {reason}")
    else:
        print("  skipped:   none")
    main_files = [p for p in report.outputs if p.parent == report.out and not p.name.startswith(".")]  # not .pages.json
    print("  outputs:   " + ", ".join(str(p) for p in main_files))
    return 0


def _parser() -> argparse.ArgumentParser:
    from kg.build import DEFAULT_ONTOLOGY

    parser = argparse.ArgumentParser(prog="kg", description="Knowledge graphs from Chinese local-governance news.")
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the graph of a folder of .txt files")
    b.add_argument("inputs", nargs="?", default="seeds", help="folder of .txt files (default: seeds)")
    b.add_argument("--out", default="output", help="output folder (default: output)")
    b.add_argument("--ontology", default=str(DEFAULT_ONTOLOGY), help="ontology folder of Turtle files")
    b.add_argument("--config", default=None, help="spaCy pipeline config (default: configs/ner.cfg)")
    b.add_argument("--base", default=None, help="base IRI of the resources (default https://w3id.org/kg/id/)")
    b.add_argument("--strict", action="store_true", help="stop at the first file that cannot be read")
    b.add_argument("--no-html", action="store_true", help="skip the HTML pages")
    b.add_argument("--jobs", "-j", type=int, default=1, help="extraction processes (same output for any N)")
    b.add_argument("--dask", metavar="SCHEDULER", default=None, help="run extraction on a Dask scheduler (tcp://host:8786)")
    b.add_argument("--no-cache", action="store_true", help="redo every file's extraction (no per-file cache)")
    b.add_argument("--no-validate", action="store_true", help="skip the SHACL check of the output (large archives)")
    b.add_argument(
        "--keep-workers", action="store_true",
        help="extract with the loaded workers an earlier build left running, and leave them for the next (kg workers stop)",
    )
    b.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.set_defaults(func=_build)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands that live beside their stage: each module adds its own parser."""
    found = []
    for module, attr in (
        ("kg.evaluate", "add_eval_parser"),
        ("kg.train", "add_train_parser"),
        ("kg.validate", "add_parser"),
        ("kg.query", "add_parser"),
        ("kg.store", "add_parser"),
        ("kg.workers", "add_parser"),
    ):
        try:
            mod = __import__(module, fromlist=[attr])
        except ModuleNotFoundError as err:
            if err.name == module:
                continue
            raise
        if hasattr(mod, attr):
            found.append(getattr(mod, attr))
    return found


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: the exception unwinds the build, whose cleanup removes its temporary folder."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None, *, exiting: bool = False) -> int:
    """Run one command; its exit code. `exiting`: the process exits right after (as `run` does), so
    what the command left in `_AT_EXIT` is not freed here."""
    parser = _parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except KGError as err:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        for line in str(err).splitlines() or [type(err).__name__]:
            print(f"kg: error: {line}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # a signal can land after the swap (while the old output is removed): say what is always true
        print("kg: interrupted; the output folder holds a complete build (the previous one, unless this one had finished).", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        if not exiting:
            _AT_EXIT.clear()


def run() -> None:
    """The `kg` command: `main`, then exit without tearing the interpreter down object by object.

    A build leaves a heap of a million objects whose freeing at exit took a third of a second of a
    five-second rebuild (`_AT_EXIT` keeps its results and graph from being freed as it returns, as
    much again); every file is closed and every output is in place when main returns.
    No command runs spaCy's command line: it is imported only if asked for (kg.lean).
    """
    import kg.lean  # noqa: F401

    try:
        code = main(exiting=True)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`kg build | head`): stop quietly, as a command killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
