"""`kg validate`: a built graph checked against the SHACL shapes of `ontology/shapes.ttl`.

kg.ttl and mentions.trig are read into one graph (a mention points to an entity of kg.ttl, so
they are checked together), with the `rdfs:subClassOf` triples of the ontology added so that a
shape for kgo:Place also reaches kgo:AdminDivision and kgo:Site: that small closure replaces
RDFS inference, which would cost seconds on every build. pySHACL then runs the shapes.

    >>> report = validate(Path("output"))  # doctest: +SKIP
    >>> report.check()  # raises ValidationError listing the violations, if there are any
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kg.errors import ValidationError
from kg.ontology import KGO, KGR
from kg.query import compact, data_files, default_output, rdflib_quads, to_rdflib
from kg.rdf import NIF
from kg.relations import ARTICLE_IRIS
from kg.shacl import OWN

if TYPE_CHECKING:
    from kg.rdf import DocumentParts
    from kg.shacl import Reads

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology"
SHAPES = ONTOLOGY / "shapes.ttl"
SH = "http://www.w3.org/ns/shacl#"
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


@dataclass(frozen=True, slots=True, order=True)
class Result:
    """One SHACL result: the node, the property path, what is wrong, and the offending value."""

    severity: str  # Violation, Warning or Info
    focus: str
    path: str
    message: str
    value: str = ""
    shape: str = ""

    def __str__(self) -> str:
        where = f"{compact(self.focus)} {self.path}".rstrip()
        value = f" (value: {self.value})" if self.value and self.value != compact(self.focus) else ""
        return f"{self.severity}: {where}: {self.message}{value}"


@dataclass(slots=True)
class Report:
    """What `validate` found in a build folder."""

    out: Path
    shapes: Path
    results: list[Result] = field(default_factory=list)
    # the triples checked, as `kg validate` reports them; None where not counted: a build's self-check
    # (`check_build`, `check_corpus`), where counting a store in memory is a pass over all of it
    # (0.19-0.25 s in the check's process of a rebuild of the seeds x200, on the path it waits for)
    triples: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    checked: tuple[int, int] = (0, 0)  # per-document shapes run here over (documents, of so many); the others passed before or in extraction

    @property
    def violations(self) -> list[Result]:
        return [r for r in self.results if r.severity == "Violation"]

    @property
    def warnings(self) -> list[Result]:
        return [r for r in self.results if r.severity != "Violation"]

    @property
    def conforms(self) -> bool:
        """True when no shape is violated (warnings allowed)."""
        return not self.violations

    def check(self, *, strict: bool = False) -> Report:
        """The report itself when the graph conforms; else ValidationError with one line per violation."""
        failing = self.results if strict else self.violations
        if failing:
            head = (
                f"{self.out}: {len(failing)} result(s) against {self.shapes.name}"
                f" ({len(self.violations)} violation(s), {len(self.warnings)} warning(s)); the output is not valid:"
            )
            raise ValidationError("\n".join([head, *map(str, failing)]))
        return self


ENGINES = ("pyshacl", "sparql")


def validate(out: Path | None = None, *, shapes: Path = SHAPES, ontology: Path = ONTOLOGY, engine: str = "pyshacl") -> Report:
    """Check a build folder (kg.ttl and mentions.trig) or one RDF file against the SHACL shapes.

    `engine`: "pyshacl" (the reference, every SHACL feature, ~15k triples/s) or "sparql" (the
    shapes compiled to SPARQL and run by pyoxigraph, kg.shacl: the same results, ~100x faster;
    what `kg build` uses). Never raises for invalid data: call `.check()` on the report for that.
    Raises ValidationError when the folder holds no graph or a file is not RDF.
    """
    if engine not in ENGINES:
        raise ValidationError(f"--engine {engine}: unknown; valid: {', '.join(ENGINES)}.")
    out = Path(out) if out is not None else default_output()
    report = Report(out=out, shapes=shapes)
    t0 = time.perf_counter()
    try:
        files = data_files(out)
    except Exception as err:  # QueryError from the shared reader: same problem, our family of error
        raise ValidationError(str(err)) from err
    if engine == "sparql":
        return _validate_sparql(report, files, ontology, t0)
    from pyshacl import validate as shacl

    data = _read_graph(files)
    report.triples = len(data)
    for t in _subclass_triples(ontology):
        data.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    report.seconds["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    _, results, _ = shacl(
        data,
        shacl_graph=_shapes(shapes, shapes.stat().st_mtime_ns),
        inference="none",
        advanced=True,  # SPARQL-based targets: one query for a rule across nodes
        inplace=True,  # the graph is ours: no copy
        allow_warnings=True,
        abort_on_first=False,
        meta_shacl=False,
        iterate_rules=False,
    )
    report.seconds["shacl"] = time.perf_counter() - t1
    report.results = _results(results)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _validate_sparql(report: Report, files: list[Path], ontology: Path, t0: float) -> Report:
    from kg.shacl import load_store, validate_store

    if not report.shapes.is_file():
        raise ValidationError(f"{report.shapes}: no such shapes file; the shapes live in ontology/shapes.ttl.")
    extra = _subclass_triples(ontology)
    store = load_store(files, extra)
    report.triples = len(store) - len(extra)
    report.seconds["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = validate_store(store, report.shapes)
    report.seconds["shacl"] = time.perf_counter() - t1
    _fill(report, found)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _fill(report: Report, found) -> None:
    """The report's results from the compiled engine's findings, as pySHACL's are reported."""
    from kg.query import compact

    out = set()
    for f in found:
        v = f.value
        value = "" if v is None else (v.value if isinstance(v, ox.Literal) else compact(str(v.value)) if isinstance(v, ox.NamedNode) else str(v))
        c = f.check
        out.add(Result(c.severity, f.focus.value, c.path, c.message, value, compact(c.shape) if c.shape else ""))
    report.results = sorted(out, key=_order)


def _order(r: Result) -> tuple:
    return (r.severity != "Violation", r.focus, r.path, r.message, r.value)


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """One document's share of a build, for the build's self-check (`check_build`)."""

    # its parts (kg.rdf.DocumentParts, or parts a build keeps in a file: read when asked for): .ttl,
    # its triples of kg.ttl (Turtle, the prefixes of kg.ttl); .trig, its named graphs of
    # mentions.trig; .digest, kg.rdf.parts_digest(ttl, trig)
    parts: DocumentParts
    refs: Collection[str]  # the IRIs of the entities its mentions denote (authors included), as written
    key: str | None = None  # the key `DocumentCheck` gave it where it was extracted, if it passed there
    # its IRI (kg.rdf.doc_iri, the default namespace): needed where a store of projections lacks
    # its own IRIs' triples (`check_build`)
    doc: str | None = None


class PartStore:
    """The triples of kg.ttl gathered in a store from its parts rather than read back from the file,
    for `check_build`: the parts of the documents a build reads from its cache go in while the
    workers extract the others (pyoxigraph parses them without holding the GIL), and the check
    adds the rest. `base`: the resource namespace the parts were written with.

    A document may be loaded by its projection (`Passed.reads`: its triples on the predicates the
    corpus-wide shapes read, `corpus_reads`) instead of its whole part; the store is then
    `projected`, and `check_build` checks kg.ttl whole when it finds anything in it."""

    def __init__(self, base: str | None = None) -> None:
        from kg.rdf import prefix_lines

        self.store = ox.Store()
        self.head = prefix_lines(base)
        self._loaded: set[bytes] = set()  # the documents in, by the digest of their parts
        self._exists: set[tuple[bytes, ...]] = set()  # (subject, predicate) of the triples in that are asked only to exist
        self.projected = False
        # a part loaded whole, or a projection with triples of another document's own IRIs (`owner`):
        # then the corpus-wide shapes over projections prove nothing (`findings`)
        self.whole = self.foreign = False

    def has(self, digest: bytes) -> bool:
        """Whether the document of these parts (`kg.rdf.parts_digest`) is in the store."""
        return digest in self._loaded

    def _kept(self, projections: Iterable[bytes]) -> bytes:
        """The projections' triples, but of those after their line `_EXISTS` (one a subject on a
        predicate asked only to exist) the ones of a subject and predicate the store has none of."""
        out = []
        for nt in projections:
            whole, _, exist = nt.partition(_EXISTS)
            # a projection leaves out its document's own IRIs: a subject in their namespaces is another's
            self.foreign = self.foreign or any(nt.startswith(b"<" + ns) or b"\n<" + ns in nt for ns in _OWN_NAMESPACES)
            out.append(whole)
            for line in exist.splitlines(keepends=True):
                key = tuple(line.split(b" ", 2)[:2])
                if key not in self._exists:
                    self._exists.add(key)
                    out.append(line)
        return b"".join(out)

    def findings(self, corpus: Sequence[ox.Triple], extra: Sequence[ox.Triple], shapes: Path) -> list | None:
        """What the shapes not marked kgsh:perDocument find in the store completed with the corpus-wide
        triples and the ontology's subclass triples (`extra`); None when the store proves nothing.

        A document's own IRIs are described in its projection alone, which leaves them out (they
        were checked where it was extracted: DocumentCheck). A store of projections where another
        part describes them (a projection with another's own IRIs, or a part loaded whole) proves
        nothing: `check_build` then checks the whole output."""
        from kg.shacl import add_triples, validate_store

        if self.projected and (self.whole or self.foreign):
            return None
        add_triples(self.store, [*corpus, *extra])
        return validate_store(self.store, shapes, per_document=False)

    def add(self, parts: Sequence[tuple[bytes, bytes]], *, parsed: bool = False, projected: bool = False) -> None:
        """Documents' (digest, part of kg.ttl as Turtle without prefixes), each document loaded once.
        `parsed`: each passed the per-document check, which parsed it strictly (`DocumentCheck`), so
        it is loaded without checking its IRIs again (pyoxigraph's `lenient`, a seventh less time).
        `projected`: each part is a projection instead (N-Triples, written by pyoxigraph from a part
        it parsed strictly: loaded leniently)."""
        new = dict(p for p in parts if p[0] not in self._loaded)
        if new:
            try:
                if projected:
                    self.store.load(self._kept(new.values()), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph(), lenient=True)
                else:
                    # one document after another, as kg.ttl holds them; `load`, not `bulk_load`: into a
                    # store in memory it takes a seventh less time
                    self.store.load(self.head + b"".join(new.values()), format=ox.RdfFormat.TURTLE, to_graph=ox.DefaultGraph(), lenient=parsed)
            except (SyntaxError, ValueError) as err:
                what = "a document's projection is not valid N-Triples" if projected else "a document's part of kg.ttl is not valid Turtle"
                raise ValidationError(f"{what}: {err}") from err
            self._loaded.update(new)
            self.projected = self.projected or projected
            self.whole = self.whole or not projected


class RemoteParts:
    """A PartStore in a process of its own, for a build whose documents are extracted by workers: the
    parts and projections go to it through a pipe as the build reads them, and it runs the corpus-wide
    shapes over them there, beside the pages. The build's process holds none of the store, which
    grows with the documents: on the seeds x2000 the check read kg.ttl whole in a process of 1.85 GB.

    `start(corpus)` sends the corpus-wide triples as soon as they are known (the check then runs while
    the build writes its files); `findings` waits for what it found. `add` and `has` as a PartStore's.
    `close()` stops the process if it still runs.

    The process starts with the first thing sent (in a build, from PartLoader's thread): a fork
    server's first process waits for the server to import its modules, most of a second that the
    build's own thread spends reading its cache instead. There it reads and loads the parts in a
    thread at the lowest priority (as PartLoader does): on 2 cores it would otherwise take one from
    the extraction a rebuild waits for."""

    def __init__(self, base: str | None = None, *, shapes: Path = SHAPES, ontology: Path = ONTOLOGY) -> None:
        self.args = (base, shapes, ontology)
        self.shapes = shapes
        self.process = None  # the check's process (multiprocessing.Process), once started
        self._closed = False
        self._lock = threading.Lock()
        self._loaded: set[bytes] = set()
        self.projected = False
        self._started = False

    def _start_process(self) -> None:
        """The check's process started, if it is not yet (with the first message sent)."""
        with self._lock:
            if self.process is None:
                if self._closed:
                    raise RuntimeError("the self-check's process was closed")
                import multiprocessing

                method = "spawn" if sys.platform == "darwin" else "forkserver"
                ctx = multiprocessing.get_context(method if method in multiprocessing.get_all_start_methods() else "spawn")
                self.conn, child = ctx.Pipe()
                self.process = ctx.Process(target=_remote_parts, args=(child, *self.args), name="kg-self-check", daemon=True)
                self.process.start()
                child.close()

    def has(self, digest: bytes) -> bool:
        return digest in self._loaded

    def add(self, parts: Sequence[tuple[bytes, bytes]], *, parsed: bool = False, projected: bool = False) -> None:
        new = dict(p for p in parts if p[0] not in self._loaded)
        if new:
            if self._started:
                raise RuntimeError("a document's part added once the check started: add every part before start()")
            self._send(("add", list(new.items()), parsed, projected))
            self._loaded.update(new)
            self.projected = self.projected or projected

    def start(self, corpus: Sequence[ox.Triple]) -> None:
        """The check under way in its process, over what was added and the corpus-wide triples."""
        if self._started:
            raise RuntimeError("the check started already")
        self._send(("check", ox.serialize(corpus, format=ox.RdfFormat.N_TRIPLES)))
        self._started = True

    def findings(self, corpus: Sequence[ox.Triple], extra: Sequence[ox.Triple], shapes: Path) -> list | None:
        """As `PartStore.findings`; the ontology's subclass triples and the shapes are those the
        process was started with."""
        if shapes != self.shapes:
            raise ValueError(f"a check with {shapes} asked of a process started with {self.shapes}")
        if not self._started:
            self.start(corpus)
        try:
            kind, value = self.conn.recv()
        except EOFError:
            raise ValidationError(self._stopped()) from None
        finally:
            self.process.join(5)  # it ends once it has sent what it found
            self.close()
        if kind == "error":
            raise value
        return value

    def _send(self, message: tuple) -> None:
        self._start_process()
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError):
            raise ValidationError(self._stopped()) from None

    def _stopped(self) -> str:
        self.process.join(5)
        return (
            f"the self-check's process stopped with exit code {self.process.exitcode} before it reported"
            " (out of memory?); the previous output is unchanged."
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True  # none is started after this
            process = self.process
        if process is not None:
            self.conn.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _remote_parts(conn, base: str | None, shapes: Path, ontology: Path) -> None:
    """The process of a RemoteParts: parts into a PartStore until the corpus-wide triples come (read
    in a thread at the lowest priority), then the corpus-wide shapes over them (at the process's
    own); what they found, or the first error, is sent back."""
    from kg.workers import name_process

    name_process("kg-self-check")
    parts = PartStore(base)
    received: list = []  # what ended the parts: the check's message, or an error

    def load() -> None:
        _background_priority()
        error = None
        try:
            while (message := conn.recv())[0] == "add":
                if error is None:
                    try:
                        parts.add(message[1], parsed=message[2], projected=message[3])
                    except BaseException as err:  # reported when the check is asked for
                        error = err
            received.append(error or message)
        except BaseException as err:
            received.append(err)

    loader = threading.Thread(target=load, name="kg-check-loader")
    loader.start()
    loader.join()
    if isinstance(received[0], EOFError):
        return  # the build stopped
    try:
        if isinstance(received[0], BaseException):
            raise received[0]
        corpus = list(ox.parse(received[0][1], format=ox.RdfFormat.N_TRIPLES))
        outcome = ("value", parts.findings(corpus, _subclass_triples(ontology), shapes))
    except BaseException as err:  # handed to the build, which raises it
        outcome = ("error", err)
    try:
        conn.send(outcome)
    except Exception as err:  # an unpicklable error
        conn.send(("error", ValidationError(f"the self-check failed: {outcome[1]!r} ({err})")))


class PartLoader:
    """Documents' parts of kg.ttl into a PartStore in a thread of its own, a batch at a time, as a
    build reads them from its cache: pyoxigraph parses without holding the GIL, so the parsing
    overlaps the reading instead of following it. `done()` waits for the rest and returns the
    store; `close()` stops the thread (a build that fails half-way)."""

    def __init__(self, parts: PartStore | RemoteParts, *, batch: int = 100) -> None:
        self.parts, self.batch = parts, batch
        self.pending: dict[tuple[bool, bool], list[tuple[bytes, bytes]]] = {}
        self.queue: queue.SimpleQueue[tuple[list[tuple[bytes, bytes]], tuple[bool, bool]] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kg-part-loader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        _background_priority()
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.parts.add(item[0], parsed=item[1][0], projected=item[1][1])
                except BaseException as err:  # raised by done(), in the build's thread
                    self.error = err

    def add(self, digest: bytes, part: bytes, *, parsed: bool = False, projected: bool = False) -> None:
        """One document's part of kg.ttl (Turtle without prefixes) or its projection, by the digest
        of its parts; `parsed` and `projected` as in `PartStore.add`."""
        kind = (parsed, projected)
        pending = self.pending.setdefault(kind, [])
        pending.append((digest, part))
        if len(pending) >= self.batch:
            self.queue.put((pending, kind))
            self.pending[kind] = []

    def done(self) -> PartStore | RemoteParts:
        for kind, pending in self.pending.items():
            if pending:
                self.queue.put((pending, kind))
                self.pending[kind] = []
        self.close()
        if self.error is not None:
            raise self.error
        return self.parts

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


def _background_priority() -> None:
    """The calling thread at the lowest scheduling priority (nice 19), where a thread has one of its own
    (Linux): the loader's store is needed only once the pages start, and at the same priority it takes
    a core from what a rebuild waits for meanwhile, the new files' extraction and the cache's reading
    (a rebuild of one file added to the seeds x200: the wait for the extraction ends 0.13 s sooner, and
    the loader still finishes before the pages start). Elsewhere a thread's priority is the process's,
    left as it is."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


# what a shape marked kgsh:perDocument reads of the corpus-wide triples: the class of the entities
# a document's mentions denote (ontology/shapes.ttl)
_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_CONTEXT = (_TYPE,)


def check_build(
    out: Path,
    corpus: Sequence[ox.Triple],
    documents: Sequence[DocumentPart],
    *,
    checked: Path | None = None,
    base: str | None = None,
    shapes: Path = SHAPES,
    ontology: Path = ONTOLOGY,
    parts: PartStore | RemoteParts | None = None,
    corpus_report: Report | None = None,
) -> Report:
    """The self-check of a build in `out`: the results `validate(out, engine="sparql")` gives, with
    the per-document shapes run only over the documents not checked before.

    `corpus`: the corpus-wide triples of kg.ttl (`rdf.graph_triples`); `documents`: each
    document's parts. `checked`: a file of the keys of documents that passed earlier (a key covers
    the document's parts, the corpus-wide triples the per-document shapes read for it, and the
    shapes and their engine); with none of them known, everything is checked in one graph.
    Otherwise the shapes not marked kgsh:perDocument run over kg.ttl, and the marked ones over
    the corpus-wide triples plus the documents not yet checked. The file is rewritten when
    nothing was found. `base`: the resource namespace the parts were written with. `parts`: some
    documents' parts of kg.ttl loaded already; the shapes not marked kgsh:perDocument then read the
    store they complete, not kg.ttl. `corpus_report`: what those shapes found over kg.ttl already
    (`check_corpus`, run beside the pages); only the documents not checked before are checked here.
    """
    from kg.rdf import parts_digest
    from kg.shacl import add_triples, load_store, validate_store

    t0 = time.perf_counter()
    report = Report(out=out, shapes=shapes)
    if not shapes.is_file():
        raise ValidationError(f"{shapes}: no such shapes file; the shapes live in ontology/shapes.ttl.")
    extra = _subclass_triples(ontology)
    context: dict[str, list[ox.Triple]] = {}
    for t in corpus:
        if t.predicate in _CONTEXT:
            context.setdefault(t.subject.value, []).append(t)
    version = _engine_version(shapes, extra)
    # without a record or a key from extraction, nothing to key
    keyed = checked is not None or any(d.key for d in documents)
    digests = [d.parts.digest or parts_digest(d.parts.ttl, d.parts.trig) for d in documents]
    keys = [document_key(version, digest, d.refs, context) for d, digest in zip(documents, digests, strict=True)] if keyed else []
    known = _read_keys(checked) | {d.key for d in documents if d.key}
    todo = [d for d, k in zip(documents, keys, strict=True) if k not in known] if keys else list(documents)
    report.checked = (len(todo), len(documents))
    found = []
    if corpus_report is None and len(todo) == len(documents):
        store = load_store([out / "kg.ttl", out / "mentions.trig"], extra)
        report.seconds["read"] = time.perf_counter() - t0
        found = validate_store(store, shapes)
    else:
        # the shapes not marked kgsh:perDocument: over the store the preloaded parts complete, or
        # over kg.ttl (as `check_corpus` runs them, here or in a process beside the pages)
        if corpus_report is None and parts is not None:

            def corpus_wide(into: PartStore | RemoteParts) -> list | None:
                """The corpus-wide shapes over `into` completed with every document's part not in it
                yet (None: it proves nothing, `PartStore.findings`)."""
                into.add([(digest, d.parts.ttl) for digest, d in zip(digests, documents, strict=True) if not into.has(digest)])
                report.seconds.setdefault("read", time.perf_counter() - t0)
                return into.findings(corpus, extra, shapes)

            found = corpus_wide(parts)
            if found is None:
                # a part describes another document's own IRIs, which that one's projection leaves out
                # and its own check ran on without it: only the whole output says what breaks
                found = validate_store(load_store([out / "kg.ttl", out / "mentions.trig"], extra), shapes)
                todo = []
                report.checked = (len(documents), len(documents))
            elif found and parts.projected:
                # what a store of projections breaks, kg.ttl may not (`kg.shacl.read_predicates`): the
                # whole parts say, and what they break is what is reported
                found = corpus_wide(PartStore(base))
        else:
            if corpus_report is None:
                corpus_report = check_corpus(out, shapes=shapes, ontology=ontology)
                report.seconds["read"] = corpus_report.seconds["read"]
            else:
                report.seconds["read"] = 0.0  # read beside the pages
        if todo:
            store = ox.Store()
            add_triples(store, [*corpus, *extra])
            _load_parts(store, todo, out, base)
            # and the corpus-wide shapes on their own IRIs, which a store of their projections lacks
            # (a document whose entities the corpus types otherwise: DocumentCheck's key is not theirs)
            store.extend(ox.Quad(s, OWN, OWN, OWN) for s in _own_iris(store, todo))
            found += validate_store(store, shapes, per_document=True, owned=_OWN_CLASSES)
    report.seconds["shacl"] = time.perf_counter() - t0 - report.seconds["read"]
    _fill(report, found)
    if corpus_report is not None:
        report.results = sorted({*report.results, *corpus_report.results}, key=_order)
    if checked is not None and not report.results:
        _write_keys(checked, keys)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def check_corpus(out: Path, *, shapes: Path = SHAPES, ontology: Path = ONTOLOGY) -> Report:
    """The shapes not marked kgsh:perDocument over kg.ttl alone, for `check_build(corpus_report=)`.

    Reads only `out`/kg.ttl and the shapes, so a build runs it in a process of its own beside the
    pages once every document passed its own shapes where it was extracted.
    """
    from kg.shacl import load_store, validate_store

    t0 = time.perf_counter()
    report = Report(out=out, shapes=shapes)
    if not shapes.is_file():
        raise ValidationError(f"{shapes}: no such shapes file; the shapes live in ontology/shapes.ttl.")
    extra = _subclass_triples(ontology)
    store = load_store([out / "kg.ttl"], extra)
    report.seconds["read"] = time.perf_counter() - t0
    _fill(report, validate_store(store, shapes, per_document=False))
    report.seconds["total"] = time.perf_counter() - t0
    return report


def document_key(version: bytes, digest: bytes, refs: Iterable[str], context: Mapping[str, Sequence[ox.Triple]]) -> str:
    """What a document's per-document check depends on: the shapes and their engine (`version`),
    its parts (`digest`: `kg.rdf.parts_digest`), and the corpus-wide triples those shapes read for
    it (`context`: the rdf:type triples of the entities it refers to, by IRI)."""
    h = hashlib.blake2b(version, digest_size=16)
    h.update(digest)
    for iri in sorted(refs):
        for t in context.get(iri, ()):
            h.update(str(t).encode())
    return h.hexdigest()


class DocumentCheck:
    """The shapes marked kgsh:perDocument run over one document where it is extracted, and the
    others on its own IRIs (`owner`), which no other document describes and its projection leaves out.

    The document's parts go into a store of their own with the class of each entity it refers to
    as the document alone tells it (`types`); the shapes are compiled once per process, one query
    a shape (`kg.shacl.compile_breaches`: a query per constraint cost more to plan than to run on
    one document, and read the same focus nodes again for each). A
    document that passes gets the key `check_build` would give it: when the corpus types its
    entities as the document did, `check_build` counts it as checked and runs only the corpus-wide
    shapes over it; otherwise (or with no key, when something was found) it checks the document
    itself and reports what breaks. So a clean build checks its documents in the extraction
    workers, side by side, and a small store each is cheaper to query than the corpus's.
    """

    def __init__(self, *, shapes: Path = SHAPES, ontology: Path = ONTOLOGY) -> None:
        from kg.rdf import prefix_lines
        from kg.shacl import compile_breaches, subclass_closure

        self.extra = _subclass_triples(ontology)
        self.version = _engine_version(shapes, self.extra)
        self.head = prefix_lines(None)
        # the per-document shapes, and the others on the document's own IRIs (`owner`), which its
        # projection leaves out: in one query
        self.queries = compile_breaches(shapes, subclass_closure(self._store(())), per_document=True, one=True, owned=_OWN_CLASSES)

    def _store(self, triples: Iterable[ox.Triple]) -> ox.Store:
        from kg.shacl import add_triples

        store = ox.Store()
        add_triples(store, [*self.extra, *triples])
        return store

    def __call__(self, ttl: bytes, trig: bytes, types: Mapping[str, str], digest: bytes = b"", reads: Reads | None = None, *, doc: str) -> Passed | None:
        """What the document passed with, if the per-document shapes find nothing in it, nor the
        others on its own IRIs, else None.

        `ttl`, `trig`: its parts (default namespace); `types`: the class IRI of each entity it refers
        to; `digest`: `kg.rdf.parts_digest(ttl, trig)`, when made already; `reads`: the predicates
        of its projection (`corpus_reads`), or None for none; `doc`: its IRI (`kg.rdf.doc_iri`)."""
        from kg.rdf import parts_digest
        from kg.shacl import breaks

        context = {iri: [ox.Triple(ox.NamedNode(iri), _TYPE, ox.NamedNode(cls))] for iri, cls in types.items()}
        store = self._store(t for ts in context.values() for t in ts)
        try:
            # its part of kg.ttl in a graph of its own, apart from the context (the queries read the union)
            _load_part(store, self.head, ttl, trig, graph=_PART)
        except (SyntaxError, ValueError):
            return None  # the check of the whole build says what is wrong with it
        owned = _owned(store, doc)
        if owned is None:
            return None
        own, foreign = owned
        store.extend(ox.Quad(s, OWN, OWN, OWN) for s in own)
        if any(breaks(store, q) for q in self.queries):
            return None
        key = document_key(self.version, digest or parts_digest(ttl, trig), types, context)
        return Passed(key, None if reads is None else (reads_tag(reads), _projection(store, reads, own, foreign)))


# A document's own IRIs, as kg.rdf writes them (the default namespace): the document (doc/<id>), its
# character ranges (doc/<id>#char=…: its NIF strings, phrases and sentences), its articles
# (article/<id>/<n>) and their statements (article/<id>/<n>#author-…). An id is percent-encoded
# but for '/' (kg.corpus.iri_path), so a '#' ends it, and an article's index, after its last '/', is
# all digits: an IRI has one owner at most.
_DOC_IRIS = f"{KGR}doc/"
_OWN_NAMESPACES = (_DOC_IRIS.encode(), ARTICLE_IRIS.encode())
# the classes a document's own IRIs may have: a document's shapes (kgsh:perDocument) and those of
# statements target them, and no shape of entities does (what the document's own check runs on
# them reads their own triples and their entities' classes, which its store holds)
_OWN_CLASSES = frozenset(
    {f"{KGO}Document", f"{KGO}Article", f"{KGO}Statement", f"{KGO}Mention", f"{NIF}String", f"{NIF}Phrase", f"{NIF}Sentence", f"{NIF}Context"}
)


def owner(iri: str) -> str | None:
    """The IRI of the document whose own IRI `iri` is, "" for an IRI in their namespaces that is no
    document's (an article without its index), None for any other IRI (an entity's, a statement
    of the corpus's, the ontology's).

    A document's own IRIs are described in its parts alone (`DocumentCheck` sees to it): the
    self-check of a build checks them where the document is extracted, and the store of the
    documents' projections leaves them out (`check_build`).

    >>> owner("https://w3id.org/kg/id/article/a/b/3#author-1f2e")
    'https://w3id.org/kg/id/doc/a/b'
    >>> owner("https://w3id.org/kg/id/doc/a%23b#char=0,4")
    'https://w3id.org/kg/id/doc/a%23b'
    """
    head = iri.partition("#")[0]
    if head.startswith(_DOC_IRIS):
        return head
    if head.startswith(ARTICLE_IRIS):
        path, _, index = head[len(ARTICLE_IRIS) :].rpartition("/")
        return _DOC_IRIS + path if path and index.isascii() and index.isdigit() else ""
    return None


def _owned(store: ox.Store, doc: str) -> tuple[set[ox.NamedNode], set[ox.NamedNode]] | None:
    """(the document's own IRIs, those of another document's) among the subjects of its parts
    (every graph but the default, which holds the context), or None when one of its own is
    typed with a class not of a document's (`_OWN_CLASSES`)."""
    own: set[ox.NamedNode] = set()
    foreign: set[ox.NamedNode] = set()
    # a query, not a pass over the quads in Python: the distinct subjects are a seventh of them
    for row in store.query(_SUBJECTS):
        s = row[0]
        if isinstance(s, ox.NamedNode):
            who = owner(s.value)
            if who == doc:
                own.add(s)
            elif who is not None:
                foreign.add(s)
    if any(row[0] in own for row in store.query(_OTHER_TYPES)):
        return None
    return own, foreign


_SUBJECTS = "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } }"
_OTHER_TYPES = (
    "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s a ?c } FILTER(?c NOT IN ("
    + ", ".join(f"<{c}>" for c in sorted(_OWN_CLASSES))
    + ")) }"
)


# the graph of a document's part of kg.ttl in DocumentCheck's store: a blank node of this process,
# which no graph of the document's mentions.trig can name
_PART = ox.BlankNode()
_PREDICATE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate")


@dataclass(frozen=True, slots=True)
class Passed:
    """A document that passed the per-document shapes (`DocumentCheck`)."""

    key: str  # its key, as `check_build` gives it (`document_key`)
    # (`reads_tag` of what it keeps, its triples of kg.ttl kept, as N-Triples: `_projection`): its projection, or None
    reads: tuple[str, bytes] | None = None


def _projection(store: ox.Store, reads: Reads, own: Collection[ox.NamedNode], foreign: Collection[ox.NamedNode]) -> bytes:
    """The triples of the part in `store` (graph `_PART`) whose predicate is one of `reads.whole`, or
    is the rdf:predicate of a statement there (a fact is asserted beside its statement, and a store
    without it would break kgsh:AssertedStatementShape for nothing, and be checked whole:
    `check_build`); of the rdf:type triples, those `reads` keeps (`Reads.keeps_type`). None of
    the document's `own` IRIs: its own check ran the corpus-wide shapes on them (`DocumentCheck`),
    and no other part describes them (its document, articles and their authors: 69 triples a page
    of the seeds). Every triple of its parts, in any graph, of another document's own IRIs
    (`foreign`): a store of projections with such a triple proves nothing (`PartStore.findings`).
    Then, after the line `_EXISTS`, one triple a subject on each predicate of `reads.exists` (the
    least by its object), which a PartStore keeps only for a subject it has none of yet: a
    statement's evidence (82 triples a page of the seeds, where a statement read on every page
    keeps one in all)."""
    whole, exists = _named(reads)
    keep = set(whole) | {q.object for q in store.quads_for_pattern(None, _PREDICATE, None, _PART) if isinstance(q.object, ox.NamedNode)}
    # a predicate at a time: only the triples kept become Python objects (a third of a document's);
    # of the rdf:type triples, those of the classes read (not a NIF string's: 32 triples a page)
    out = ox.serialize(
        [
            q.triple
            for p in sorted(keep, key=str)
            for q in store.quads_for_pattern(None, p, None, _PART)
            if q.subject not in own and (p != _TYPE or reads.keeps_type(q.object.value))
        ]
        + [q.triple for s in sorted(foreign, key=str) for q in store.quads_for_pattern(s, None, None) if not isinstance(q.graph_name, ox.DefaultGraph)],
        format=ox.RdfFormat.N_TRIPLES,
    )
    first: dict[tuple, ox.Triple] = {}
    for p in exists:
        if p not in keep:
            for q in store.quads_for_pattern(None, p, None, _PART):
                if q.subject in own:
                    continue
                t = first.get((q.subject, p))
                if t is None or str(q.object) < str(t.object):
                    first[q.subject, p] = q.triple
    if first:
        out += _EXISTS + ox.serialize(sorted(first.values(), key=str), format=ox.RdfFormat.N_TRIPLES)
    return out


# In a projection, the line before its triples on the predicates asked only to exist (an N-Triples comment)
_EXISTS = b"# one triple a subject\n"


@lru_cache(maxsize=4)
def _named(reads: Reads) -> tuple[tuple[ox.NamedNode, ...], tuple[ox.NamedNode, ...]]:
    return tuple(ox.NamedNode(p) for p in sorted(reads.whole)), tuple(ox.NamedNode(p) for p in sorted(reads.exists))


@lru_cache(maxsize=4)
def reads_tag(reads: Reads) -> str:
    """A short name of what projections keep: a projection made for other reads is not used."""
    classes = ["*"] if reads.classes is None else sorted(reads.classes)
    text = "\n\n".join("\n".join(part) for part in (sorted(reads.whole), sorted(reads.exists), classes, sorted(reads.class_prefixes)))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def corpus_reads(*, shapes: Path = SHAPES, ontology: Path = ONTOLOGY, memo: Path | None = None) -> Reads | None:
    """The predicates whose triples the corpus-wide shapes (those not marked kgsh:perDocument) must
    see to find what breaks them (`kg.shacl.read_predicates`), or None where that is unbounded.

    A build's self-check loads each document's triples on these predicates only (its projection,
    made where it was extracted). Working them out parses the compiled queries with rdflib (half a second), so they
    are kept in `memo`, a folder (default: the ontology's `.cache`, beside its own pickle), for
    these shapes, these subclass triples and this code."""
    from kg.output import pickled

    extra = _subclass_triples(ontology)
    version = _engine_version(shapes, extra).hex()[:20]
    return pickled(memo or ontology / ".cache", "corpus-reads", version, lambda: _corpus_reads(shapes, extra))


def _corpus_reads(shapes: Path, extra: Sequence[ox.Triple]) -> Reads | None:
    from kg.shacl import add_triples, compile_breaches, read_predicates, subclass_closure

    store = ox.Store()
    add_triples(store, extra)
    return read_predicates(compile_breaches(shapes, subclass_closure(store), per_document=False))


def _load_parts(store: ox.Store, parts: Sequence[DocumentPart], out: Path, base: str | None) -> None:
    """The documents' parts into the store, each under the prefixes of the file it is part of."""
    from kg.rdf import prefix_lines

    head = prefix_lines(base)
    for d in parts:
        try:
            _load_part(store, head, d.parts.ttl, d.parts.trig)
        except (SyntaxError, ValueError) as err:
            raise ValidationError(f"{out}: a document's part is not valid RDF: {err}") from err


def _own_iris(store: ox.Store, documents: Sequence[DocumentPart]) -> list[ox.NamedNode]:
    """The subjects in `store` that are the documents' own IRIs (`owner`; parts written with
    another base have none)."""
    if any(d.doc is None for d in documents):
        raise ValueError("a document's own IRIs are asked for, and its IRI is not known (DocumentPart.doc)")
    docs = {d.doc for d in documents}
    rows = store.query("SELECT DISTINCT ?s WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
    return [s for (s,) in rows if isinstance(s, ox.NamedNode) and owner(s.value) in docs]


def _load_part(store: ox.Store, head: bytes, ttl: bytes, trig: bytes, *, graph: ox.NamedNode | ox.BlankNode | None = None) -> None:
    """One document's parts into the store: its part of kg.ttl into the default graph (or `graph`),
    its named graphs of mentions.trig as they are; `head`: the prefix lines of those files."""
    if ttl:
        store.load(head + ttl, format=ox.RdfFormat.TURTLE, to_graph=graph or ox.DefaultGraph())
    if trig:
        store.load(head + trig, format=ox.RdfFormat.TRIG)


def _engine_version(shapes: Path, extra: Sequence[ox.Triple]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    here = Path(__file__).resolve().parent
    for f in (shapes, here / "shacl.py", here / "validate.py"):
        h.update(f.read_bytes())
    for t in extra:
        h.update(str(t).encode())
    return h.digest()


def _read_keys(path: Path | None) -> set[str]:
    try:
        return set(path.read_text(encoding="ascii").split()) if path else set()
    except (OSError, UnicodeDecodeError):
        return set()


def _write_keys(path: Path, keys: Sequence[str]) -> None:
    from kg.output import replace_file

    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, "".join(k + "\n" for k in sorted(set(keys))).encode("ascii"))


def _read_graph(files: list[Path]):
    """One rdflib Graph of every triple of the files (named graphs merged), parsed by pyoxigraph."""
    from rdflib import Graph

    g = Graph()
    for path in files:
        for _, s, p, o in rdflib_quads(path, ValidationError):
            g.add((s, p, o))
    return g


@lru_cache(maxsize=4)
def _shapes(path: Path, mtime: int):
    """The shapes graph, parsed once per process (and again when the file changes)."""
    from rdflib import Graph

    if not path.is_file():
        raise ValidationError(f"{path}: no such shapes file; the shapes live in ontology/shapes.ttl.")
    try:
        return Graph().parse(path, format="turtle")
    except Exception as err:  # rdflib's Turtle parser raises several unrelated types
        raise ValidationError(f"{path}: not valid Turtle: {err}") from err


@lru_cache(maxsize=4)
def _subclass_closure(directory: Path, stamp: tuple) -> tuple:
    from kg.ontology import ontology_files

    triples = []
    for path in ontology_files(directory):
        raw = path.read_bytes()
        if b"subClassOf" not in raw:
            continue  # the instance files (places, bodies …) are large and declare no classes
        for quad in ox.parse(raw, format=ox.RdfFormat.TURTLE):
            if quad.predicate.value == RDFS_SUBCLASS and isinstance(quad.object, ox.NamedNode):
                triples.append(quad.triple)
    return tuple(sorted(triples, key=str))


def _subclass_triples(directory: Path) -> tuple[ox.Triple, ...]:
    """The rdfs:subClassOf triples of the ontology folder as pyoxigraph triples (cached while its
    files are unchanged)."""
    if not directory.is_dir():
        return ()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.ttl")))
    return _subclass_closure(directory, stamp)


def _results(g) -> list[Result]:
    from rdflib import RDF, BNode, Literal, Namespace
    from rdflib.collection import Collection

    sh = Namespace(SH)

    def path_text(node) -> str:
        if node is None:
            return ""
        if isinstance(node, BNode):
            inverse = g.value(node, sh.inversePath)
            if inverse is not None:
                return f"^{path_text(inverse)}"
            if g.value(node, RDF.first) is not None:
                return "/".join(path_text(x) for x in Collection(g, node))
            return "(complex path)"
        return compact(str(node))

    out = []
    for r in g.subjects(sh.resultSeverity, None):
        value = g.value(r, sh.value)
        out.append(
            Result(
                severity=str(g.value(r, sh.resultSeverity)).removeprefix(SH),
                focus=str(g.value(r, sh.focusNode)),
                path=path_text(g.value(r, sh.resultPath)),
                message=str(g.value(r, sh.resultMessage) or "does not conform to the shape"),
                value="" if value is None else (str(value) if isinstance(value, Literal) else compact(str(value))),
                shape="" if isinstance(g.value(r, sh.sourceShape), BNode) else compact(str(g.value(r, sh.sourceShape))),
            )
        )
    # violations first, then by node: the same graph gives the same listing
    return sorted(set(out), key=lambda r: (r.severity != "Violation", r.focus, r.path, r.message, r.value))


def _validate(args: argparse.Namespace) -> int:
    report = validate(Path(args.out) if args.out else None, shapes=Path(args.shapes), engine=args.engine)
    for warning in report.warnings:
        print(f"kg: {warning}", file=sys.stderr)
    report.check(strict=args.strict)
    print(
        f"{report.out}: conforms to {report.shapes.name} ({report.triples} triples, "
        f"{len(report.warnings)} warning(s)) in {report.seconds['total']:.1f} s"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `kg validate [OUT] [--shapes FILE] [--strict]`."""
    v = subparsers.add_parser("validate", help="check a built graph against the SHACL shapes")
    v.add_argument("out", nargs="?", default=None, help="build folder or RDF file (default: $KG_OUTPUT or output/)")
    v.add_argument("--shapes", default=str(SHAPES), help="SHACL shapes file (default: ontology/shapes.ttl)")
    v.add_argument("--strict", action="store_true", help="fail on warnings too")
    v.add_argument(
        "--engine",
        choices=ENGINES,
        default="pyshacl",
        help="pyshacl (the reference, default) or sparql (the shapes compiled to SPARQL, for large graphs; what kg build uses)",
    )
    v.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    v.set_defaults(func=_validate)
