"""`kg build`: files → articles → spans → mentions → relations → graph → Turtle, JSONL, pages.

Extraction (read, NER, link, relations) is per document; the graph and the exports are global.
Everything is written into a folder beside `--out` and swapped in only when complete.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import json
import multiprocessing
import os
import pickle
import shutil
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import accumulate
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.corpus import Document, doc_ids, list_inputs, misnamed, ner_pieces, read_document, shown
from kg.errors import ConfigError, InputError, KGError
from kg.graph import EVIDENCE_SHOWN, DocInfo, GraphBuilder, MentionIndex, iri_lines, read_iri_lines, summary, text_digest
from kg.link import Linker
from kg.mention import Mention, Relation, relation_rows, relations_of_rows
from kg.ontology import KGR, Ontology, load_ontology, read_before
from kg.output import atomic_output, output_lock, replace_file
from kg.progress import Progress
from kg.rdf import CLASS_OF, DocumentParts, doc_iri, document_parts
from kg.relations import CUES, relations
from kg.strings import Made, StringFile

if TYPE_CHECKING:
    from kg.html import Prepared
    from kg.shacl import Reads
    from kg.validate import DocumentCheck, PartLoader

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ONTOLOGY = ROOT / "ontology"
# The characters the NER reads at once: spaCy refuses texts over 1,000,000 characters and needs
# about 1 GB per million; a longer file (a 20 MB page of one line) is read in pieces of this size.
NER_PIECE = 100_000
# At most this many files to an extraction worker at a time.
EXTRACT_CHUNK = 8
# What an extraction worker imports: spaCy without its command line (kg.lean, first), kg.build
# itself, the NER's components, the self-check.
WORKER_MODULES = ["kg.lean", "kg.build", "kg.ner.components", "kg.validate"]


@dataclass(slots=True)
class DocResult:
    """What extraction keeps of one document: enough for the global stages."""

    doc: DocInfo | SpooledDoc  # its text, mentions and relations are spooled in a build's results (see Spool)
    mentions: list[Mention] | SpooledMentions
    # spooled in a build's results once they are in its graph: they were two fifths of what a build
    # held a document (42 kB a page), and are read again for its article pages and by `--base`
    relations: list[Relation] | SpooledRelations | None
    parts: DocumentParts | SpooledParts  # its parts of kg.ttl, kg.jsonld and mentions.trig (default namespace)
    jsonl: bytes | Spooled  # its lines of mentions.jsonl (`mention_lines`)
    checked: str | None = None  # its key from the per-document shapes, run where it was extracted (kg.validate.DocumentCheck)
    # its projection for the self-check of a rebuild (kg.validate.Passed.reads), made where it was
    # extracted; None in a build's results once cached or handed to the self-check (30 kB a page)
    reads: tuple[str, bytes] | None = None


class Spool:
    """The documents' shares of the output files (their parts of kg.ttl, kg.jsonld and
    mentions.trig, their lines of mentions.jsonl), kept in a file from extraction to export
    instead of in memory: they are only ever concatenated, and they were three fifths of what a
    build held per document (126 of 206-216 kB a page of the seeds, 126 MB of the seeds x200).
    Their texts, mentions and relations too, which the pages read again: a `MentionIndex` holds
    what the rest of the build needs of the mentions (17 kB a page of the seeds, of which its rows
    keep 3.6), a `SpooledDoc` the length and digest of the text (7 kB a page), and the relations
    are in the graph's facts (the pages took their evidence from an index of 15 kB a page). Their
    articles and the IRIs their mentions denote as well (`PackedArticles.to_bytes`), and the rows and
    records a `MentionIndex` spills (`append`).

    The file has no name (unlinked at once) and is read back by offset (`os.pread`), so the
    processes a build forks read it as well, and nothing is left behind however the build ends."""

    def __init__(self, directory: Path) -> None:
        import tempfile

        self.directory = directory
        try:
            self.file = tempfile.TemporaryFile(dir=directory, prefix=".kg-spool-")
        except OSError as err:
            raise self._unwritable(err) from err
        self.fd = self.file.fileno()
        self.size = 0

    def keep(self, r: DocResult) -> DocResult:
        """`r` with its parts and lines in the spool (as it is, when they are there already)."""
        if isinstance(r.parts, SpooledParts):
            return r
        offsets, digest = self.write(r)
        d, relations = r.doc, r.relations
        doc = SpooledDoc(d.doc_id, Pieces(self, offsets), d.encoding, len(d.text), digest)
        kept = _spooled(doc, len(r.mentions), None if relations is None else len(relations), r.parts.digest, r.checked)
        return replace(kept, reads=r.reads)

    def write(self, r: DocResult) -> tuple[array, str]:
        """`r`'s pieces written at the spool's end: where each starts and where the last ends (its
        relations' piece empty when it has none kept), and the digest of its text."""
        p, d = r.parts, r.doc
        text = d.text.encode("utf-8", "surrogatepass")
        # the pieces TTL, JSONLD, TRIG, JSONL, MENTIONS, TEXT, ARTICLES, IRIS and RELATIONS
        mentions = pickle.dumps(r.mentions, protocol=pickle.HIGHEST_PROTOCOL)
        blobs = [p.ttl, p.jsonld, p.trig, r.jsonl, mentions, text, PackedArticles(d.articles).to_bytes(), iri_lines(sorted({m.iri for m in r.mentions}))]
        # as rows: a rebuild spools those of every document it reads from its cache
        blobs.append(pickle.dumps(relation_rows(r.relations), protocol=pickle.HIGHEST_PROTOCOL) if r.relations is not None else b"")
        offsets = array("q", [self.size])
        for blob in blobs:
            offsets.append(offsets[-1] + len(blob))
        self.append(b"".join(blobs))
        return offsets, text_digest(text)

    def append(self, data: bytes) -> int:
        """Where `data` is in the spool once written at its end (`read` gives it back)."""
        at = self.size
        try:
            self.file.write(data)
            self.file.flush()  # a full disk says so here, as often as in the write
        except OSError as err:
            raise self._unwritable(err) from err
        self.size += len(data)
        return at

    def read(self, offset: int, size: int) -> bytes:
        """The `size` bytes at `offset`, as `append` wrote them."""
        if self.file.closed:
            raise KGError(f"{self.directory}: a document's outputs were asked for after its build had ended.")
        data = os.pread(self.fd, size, offset)
        if len(data) != size:
            raise KGError(f"{self.directory}: the build's spool of outputs was cut short ({len(data)} of {size} bytes read back).")
        return data

    def _unwritable(self, err: OSError) -> KGError:
        return KGError(f"{self.directory}: cannot keep the documents' outputs there while building ({err.strerror}).")

    def close(self) -> None:
        self.file.close()


# The pieces of a document in a spool, in order (`Spool.keep`)
TTL, JSONLD, TRIG, JSONL, MENTIONS, TEXT, ARTICLES, IRIS, RELATIONS = range(9)


class Pieces:
    """Where a document's pieces are in a `Spool`: piece k is its bytes from offsets[k] to
    offsets[k + 1]. One record a document, which what reads its pieces shares: an object and two
    numbers a piece took 0.9 kB a page of the seeds in the build's process."""

    __slots__ = ("spool", "offsets")

    def __init__(self, spool: Spool, offsets: array) -> None:
        self.spool, self.offsets = spool, offsets

    def read(self, k: int) -> bytes:
        start = self.offsets[k]
        return self.spool.read(start, self.offsets[k + 1] - start)


def _spooled(doc: SpooledDoc, mentions: int, relations: int | None, parts: bytes, checked: str | None) -> DocResult:
    """The result of a document whose pieces are in a spool (`Spool.write`): its count of
    `mentions` and of `relations` (None: none kept), its `parts`' digest, its key from the
    per-document shapes (`checked`)."""
    pieces = doc._pieces
    kept = SpooledRelations(Spooled(pieces, RELATIONS), relations) if relations is not None else None
    return DocResult(doc, SpooledMentions(Spooled(pieces, MENTIONS), mentions), kept, SpooledParts(pieces, parts), Spooled(pieces, JSONL), checked)


class Spooled:
    """Bytes kept in a `Spool`, a piece of a document's (`Pieces`): `bytes(x)` reads them; pickled, they are the bytes."""

    __slots__ = ("pieces", "k")

    def __init__(self, pieces: Pieces, k: int) -> None:
        self.pieces, self.k = pieces, k

    def __bytes__(self) -> bytes:
        return self.pieces.read(self.k)

    def __reduce__(self) -> tuple:
        return (bytes, (bytes(self),))


class SpooledParts:
    """A document's `DocumentParts` kept in a `Spool`: the same attributes, read when asked for;
    pickled (into the cache, to a process), they are a DocumentParts again."""

    __slots__ = ("_pieces", "digest")

    def __init__(self, pieces: Pieces, digest: bytes) -> None:
        self._pieces, self.digest = pieces, digest

    ttl = property(lambda self: self._pieces.read(TTL))
    jsonld = property(lambda self: self._pieces.read(JSONLD))
    trig = property(lambda self: self._pieces.read(TRIG))

    def __reduce__(self) -> tuple:
        return (DocumentParts, (self.ttl, self.jsonld, self.trig, self.digest))


class SpooledDoc:
    """A `DocInfo` whose text and articles are kept in a `Spool`: the same attributes, the text
    read (and decoded) each time it is asked for, and the articles (`PackedArticles.to_bytes`: 0.9
    kB a page of the seeds x200 held in the build's process), and its length and digest kept
    (`DocInfo.characters`, `DocInfo.digest`); pickled, it is a DocInfo again."""

    __slots__ = ("doc_id", "_pieces", "encoding", "characters", "digest")

    def __init__(self, doc_id: str, pieces: Pieces, encoding: str, characters: int, digest: str) -> None:
        self.doc_id, self._pieces, self.encoding, self.characters, self.digest = doc_id, pieces, encoding, characters, digest

    @property
    def text(self) -> str:
        return self._pieces.read(TEXT).decode("utf-8", "surrogatepass")

    @property
    def articles(self) -> PackedArticles:
        return PackedArticles.from_bytes(self._pieces.read(ARTICLES))

    def __reduce__(self) -> tuple:
        return (DocInfo, (self.doc_id, self.text, self.encoding, self.articles))


class PackedArticles(Made):
    """A document's articles as `DocInfo` lists them, (index, start, end, title, byline), packed:
    their numbers in one array, their titles in one string. As tuples they were 3.2 kB a page of
    the seeds in a build's process, the largest share of what it kept of a document; packed, 1 kB.
    Read, each is a tuple again (a slice, a list of them); pickled, they are a list."""

    __slots__ = ("_numbers", "_titles")
    WIDTH = 6  # index, start, end, where its title ends in the string, the byline's start and end (-1: none)

    def __init__(self, articles: Iterable[tuple]) -> None:
        numbers, titles, end = array("q"), [], 0
        for index, start, stop, title, byline in articles:
            end += len(title)
            numbers.extend((index, start, stop, end, *(byline if byline is not None else (-1, -1))))
            titles.append(title)
        self._numbers, self._titles = numbers, "".join(titles)

    def __len__(self) -> int:
        return len(self._numbers) // self.WIDTH

    def _item(self, i: int) -> tuple:
        n, at = self._numbers, i * self.WIDTH
        title = self._titles[n[at - 3] if i else 0 : n[at + 3]]
        return (n[at], n[at + 1], n[at + 2], title, (n[at + 4], n[at + 5]) if n[at + 4] >= 0 else None)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (PackedArticles, list)) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        return (list, (list(self),))

    def to_bytes(self) -> bytes:
        """The articles as `from_bytes` reads them: their count, their numbers, their titles (UTF-8)."""
        return len(self).to_bytes(8, "little") + self._numbers.tobytes() + self._titles.encode("utf-8", "surrogatepass")

    @classmethod
    def from_bytes(cls, data: bytes) -> PackedArticles:
        """The articles of `to_bytes`, on a machine of the same byte order (a spool is read where it is written)."""
        end = 8 + int.from_bytes(data[:8], "little") * cls.WIDTH * 8
        packed = cls.__new__(cls)
        packed._numbers = array("q")
        packed._numbers.frombytes(data[8:end])
        packed._titles = data[end:].decode("utf-8", "surrogatepass")
        return packed


class SpooledList:
    """A document's list (its mentions, its relations) kept in a `Spool`, pickled: read again each
    time it is iterated. Pickled, it is a list again."""

    __slots__ = ("_data", "count")

    def __init__(self, data: Spooled, count: int) -> None:
        self._data, self.count = data, count

    def __iter__(self) -> Iterator:
        return iter(pickle.loads(bytes(self._data)))

    def __len__(self) -> int:
        return self.count

    def __reduce__(self) -> tuple:
        return (list, (list(self),))


class SpooledRelations(SpooledList):
    """A document's relations kept in a `Spool` as rows of plain values: iterated, they are
    Relations again; `rows()`, the rows (subject, predicate, object, doc, start, end, confidence, cue)."""

    __slots__ = ()

    def rows(self) -> list[tuple]:
        return pickle.loads(bytes(self._data))

    def __iter__(self) -> Iterator[Relation]:
        return iter(relations_of_rows(self.rows()))


class SpooledMentions(SpooledList):
    """A document's mentions kept in a `Spool`; `refs`, the distinct IRIs they denote, sorted, kept
    there too (held as a tuple a document, they took 1.0 kB a page of the seeds x200 in the build's
    process, the tuple and the strings only it kept)."""

    __slots__ = ()

    @property
    def refs(self) -> SpooledIris:
        return SpooledIris(self._data.pieces, IRIS)


class SpooledIris(Spooled, Collection[str]):
    """The distinct IRIs a document's mentions denote, sorted, kept in a `Spool` (`Spool.keep`):
    read each time they are asked for. Pickled, they are a tuple."""

    __slots__ = ()

    def __iter__(self) -> Iterator[str]:
        return iter(read_iri_lines(bytes(self)))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, iri: object) -> bool:
        return any(iri == x for x in self)

    def __reduce__(self) -> tuple:
        return (tuple, (tuple(self),))


def mention_iris(mentions: list[Mention] | SpooledMentions) -> Collection[str]:
    """The distinct IRIs a document's mentions denote, sorted: for spooled mentions, read from the spool each time they are iterated."""
    return mentions.refs if isinstance(mentions, SpooledMentions) else tuple(sorted({m.iri for m in mentions}))


class Documents(Made):
    """The results a build keeps, in the order they came, their pieces in a `Spool`: a row of
    numbers a document (where its pieces are, the counts of its text, mentions and relations) and
    its digests as bytes, its DocResult made when it is asked for. Held, a spooled DocResult was
    eleven objects, an array and three strings of hex, which the graph, the mentions' index and
    the self-check's list each held on to: with them, 1.2 kB a page of the seeds x200 more in the
    build's process once its pages were written (`benchmarks/memory.py`: 4.69 kB a page, now 3.50).
    `ids` are the documents' ids by number, `numbers` the numbers by id, `by_id` the documents by
    id (sorted)."""

    __slots__ = ("spool", "ids", "numbers", "_starts", "_rows", "_digests", "_encodings", "_sorted")
    # a row, of 32-bit numbers: the size of each piece (one after the other from where the first
    # starts, in `_starts`), the text's characters, the number of mentions and of relations (-1:
    # none kept), the encoding's number (in `_encodings`), and whether the document has a key from
    # the per-document shapes. (The pieces' 64-bit offsets took 0.14 kB a page of the seeds x200.)
    WIDTH = RELATIONS + 1 + 5
    # bytes of each digest: the text's (kg.graph.text_digest), the parts', the key from the
    # per-document shapes and the key in the cache (`Cache.key`; zeros: none)
    DIGEST = 16
    DIGESTS = 4

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.ids: list[str] = []
        self.numbers: dict[str, int] = {}
        self._starts = array("q")
        self._rows = array("i")  # a document's piece of 2 GB is not kept (as kg.graph.MentionIndex's rows)
        self._digests = bytearray()
        self._encodings: list[str] = []
        self._sorted: list[str] | None = None  # the ids in order, once asked for

    def add(self, r: DocResult, key: str | None = None) -> DocResult:
        """`r` spooled, as `__getitem__` gives it back (its projection let go of); `key`: its key in the cache."""
        if r.doc.doc_id in self.numbers:
            raise ValueError(f"{r.doc.doc_id}: a document kept twice")
        parts, checked = r.parts.digest, r.checked
        if len(parts) != self.DIGEST or any(k is not None and len(k) != 2 * self.DIGEST for k in (checked, key)):
            raise ValueError(f"{r.doc.doc_id}: a digest of {len(parts)} bytes and keys of {len(checked or '')} and {len(key or '')} hex digits, not of {self.DIGEST} bytes")
        offsets, digest = self.spool.write(r)
        d = r.doc
        if d.encoding not in self._encodings:
            self._encodings.append(d.encoding)
        number = len(self.ids)
        self.ids.append(d.doc_id)
        self.numbers[d.doc_id] = number
        relations = -1 if r.relations is None else len(r.relations)
        self._starts.append(offsets[0])
        self._rows.extend([offsets[k + 1] - offsets[k] for k in range(RELATIONS + 1)])
        self._rows.extend((len(d.text), len(r.mentions), relations, self._encodings.index(d.encoding), checked is not None))
        self._digests += bytes.fromhex(digest) + parts + bytes.fromhex(checked or "00" * self.DIGEST) + bytes.fromhex(key or "00" * self.DIGEST)
        self._sorted = None
        return self[number]

    def __len__(self) -> int:
        return len(self.ids)

    def _item(self, i: int) -> DocResult:
        doc, w, at = self.doc(i), self.WIDTH * i, self.DIGESTS * self.DIGEST * i
        mentions, relations, checked = self._rows[w + RELATIONS + 2], self._rows[w + RELATIONS + 3], self._rows[w + RELATIONS + 5]
        digests = self._digests[at + self.DIGEST : at + 3 * self.DIGEST]
        return _spooled(doc, mentions, relations if relations >= 0 else None, bytes(digests[: self.DIGEST]), digests[self.DIGEST :].hex() if checked else None)

    def doc(self, i: int) -> SpooledDoc:
        """The `i`th document, as `self[i].doc` (without the rest of its result)."""
        at, w = self.DIGESTS * self.DIGEST * i, self.WIDTH * i
        row = self._rows
        offsets = array("q", accumulate(row[w : w + RELATIONS + 1], initial=self._starts[i]))
        return SpooledDoc(
            self.ids[i], Pieces(self.spool, offsets), self._encodings[row[w + RELATIONS + 4]], row[w + RELATIONS + 1], self._digests[at : at + self.DIGEST].hex(),
        )

    def key(self, i: int) -> str:
        """The `i`th document's key in the cache, as `add` was given it (zeros: none)."""
        at = (self.DIGESTS * i + 3) * self.DIGEST
        return self._digests[at : at + self.DIGEST].hex()

    def keyed(self, prefix: str, suffix: str) -> Mapping[str, str]:
        """Each document's key in the cache between `prefix` and `suffix`, by id, made when asked for."""
        return _Keyed(self, prefix, suffix)

    @property
    def has_relations(self) -> bool:
        """Whether each document's relations are kept (there is a document)."""
        rows = self._rows
        return bool(self.ids) and all(rows[k] >= 0 for k in range(RELATIONS + 3, len(rows), self.WIDTH))

    def in_order(self) -> Sequence[DocResult]:
        """The results in the order of their ids."""
        return _Ordered(self, [self.numbers[i] for i in self.sorted_ids()])

    def sorted_ids(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.ids)
        return self._sorted

    @property
    def by_id(self) -> Mapping[str, DocInfo]:
        """The documents by id, in the order of their ids, each made when it is asked for."""
        return _ById(self)


class _Column(Made):
    """What `get` gives of each item of a sequence, as it is read."""

    __slots__ = ("_of", "_get")

    def __init__(self, of: Sequence, get: Callable[[Any], Any]) -> None:
        self._of, self._get = of, get

    def __len__(self) -> int:
        return len(self._of)

    def _item(self, i: int) -> Any:
        return self._get(self._of[i])


class _Ordered(Made):
    """Results of a `Documents` in another order (by their numbers there)."""

    __slots__ = ("_of", "_order")

    def __init__(self, of: Documents, order: Iterable[int]) -> None:
        self._of, self._order = of, array("q", order)

    def __len__(self) -> int:
        return len(self._order)

    def _item(self, i: int) -> DocResult:
        return self._of[self._order[i]]


class _ById(Mapping[str, DocInfo]):
    """The documents of a `Documents` by id, sorted, made when asked for."""

    __slots__ = ("_of",)

    def __init__(self, of: Documents) -> None:
        self._of = of

    def __getitem__(self, doc_id: str) -> Any:
        return self._of.doc(self._of.numbers[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._of.numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self._of.sorted_ids())

    def __len__(self) -> int:
        return len(self._of)


class _Keyed(_ById):
    """The keys of `Documents.keyed`, by id."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, of: Documents, prefix: str, suffix: str) -> None:
        super().__init__(of)
        self._prefix, self._suffix = prefix, suffix

    def __getitem__(self, doc_id: str) -> str:
        return f"{self._prefix}{self._of.key(self._of.numbers[doc_id])}{self._suffix}"


@dataclass(slots=True)
class BuildReport:
    """What a build did, for the summary line and for tests."""

    out: Path
    files: int = 0
    articles: int = 0
    characters: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    counts: dict[str, Counter] = field(default_factory=dict)
    outputs: Sequence[Path] = field(default_factory=list)  # the files written, sorted (`Outputs`, from a build)
    seconds: dict[str, float] = field(default_factory=dict)
    cache_hits: int = 0
    served: bool = False  # extracted by a worker server left by an earlier build (kg.workers)


class Extractor:
    """Per-document extraction with one loaded pipeline: NER spans, linking, relations."""

    def __init__(self, onto: Ontology, *, config: Path | None = None, check: DocumentCheck | None = None) -> None:
        from kg.ner import DEFAULT_CONFIG, load_nlp  # spaCy only where extraction happens

        self.onto = onto
        self.nlp = load_nlp(config or DEFAULT_CONFIG, ontology=onto)
        self.linker = Linker(onto)
        self.check = check  # the per-document shapes, run on each document's parts

    def __call__(self, doc: Document, reads: Reads | None = None) -> DocResult:
        """`reads`: the predicates of the projection the check makes of a document that passes
        (kg.validate.corpus_reads), if any."""
        from kg.ner import extract_spans

        spans = [
            replace(span, start=span.start + start, end=span.end + start)
            for start, end in ner_pieces(doc.text, NER_PIECE)
            for span in extract_spans(self.nlp, doc.text[start:end])
        ]
        mentions = self.linker.link(doc, spans)
        info = DocInfo.of(doc)
        rels = relations(doc, mentions, self.onto)
        parts = document_parts(info, mentions, rels)
        passed = self.check(parts.ttl, parts.trig, entity_classes(self.onto, mentions), parts.digest, reads, doc=doc_iri(info.doc_id)) if self.check else None
        key, projection = (passed.key, passed.reads) if passed else (None, None)
        return DocResult(info, mentions, rels, parts, mention_lines(mentions), key, projection)


def entity_classes(onto: Ontology, mentions: Sequence[Mention]) -> dict[str, str]:
    """The class each entity the mentions denote has in kg.ttl, as far as their document tells:
    a known entity's class, else that of its first mention there (`graph.build_graph` types a
    new entity by its first mention in the corpus)."""
    types: dict[str, str] = {}
    for m in mentions:
        if m.iri not in types:
            c = onto.concepts.get(m.iri)
            types[m.iri] = (c.cls if c is not None else None) or CLASS_OF[m.label]
    return types


# One extractor per worker process, made on first use (the pipeline takes a second to load).
_WORKER: dict[tuple, Extractor] = {}


def extract_file(
    path: Path, doc_id: str, ontology: Path, config: Path | None, check: bool = False, reads: Reads | None = None,
) -> DocResult | tuple[str, str]:
    """Extract one file in this process: a DocResult, or (path, reason) for a file skipped.

    `check`: run the per-document shapes on its parts too (`DocResult.checked`); `reads`: and keep
    its projection on these predicates when it passes (`DocResult.reads`)."""
    key = (str(ontology), str(config), check)
    if key not in _WORKER:
        # a pool worker's collector leaves its pipeline alone (`worker_gc`); the main process of a
        # serial build runs without the collector anyway
        worker = multiprocessing.parent_process() is not None
        if worker:
            gc.unfreeze()  # a pipeline replaced can be collected
        load_worker(ontology, config, check)
        if worker:
            worker_gc()
    try:
        doc = read_document(path)
    except InputError as err:
        return (str(path), str(err))
    doc.doc_id = doc_id
    return _WORKER[key](doc, reads)


def _extract_args(args: tuple) -> bytes:
    """`extract_file(*args)`, for a pool's `imap`, pickled here: the build unpickles it where it reads
    the results (`_unpickled`), so that a result it cannot read is an error there. Unpickled by the
    pool's result thread, it stopped that thread, and the build waited for ever."""
    return pickle.dumps(extract_file(*args), protocol=pickle.HIGHEST_PROTOCOL)


def _unpickled(path: Path, data: bytes) -> DocResult | tuple[str, str]:
    """A pool's result of `path` (`_extract_args`)."""
    try:
        return pickle.loads(data)
    except Exception as err:  # what unpickling raises is not a fixed set: a missing name, a bad byte
        raise KGError(
            f"{path}: its extraction result cannot be read ({type(err).__name__}: {err}); "
            "were kg's files changed while it was built? Build again."
        ) from err


# An extraction worker's collector thresholds (Python's: 700, 10, 10). A document's NER makes
# hundreds of thousands of short-lived objects and next to no cycles: with young collections 30
# times rarer, 119 files of the seeds x200 took 3.64 CPU s instead of 3.72 (the mean of eight
# rounds each, in one process with the pipeline frozen, as in a worker).
WORKER_GC_THRESHOLDS = (20_000, 20, 20)


def worker_gc() -> None:
    """The collector of an extraction process whose pipeline is loaded (a pool worker, a worker
    server): what is in memory now (the pipeline and ontology, some 150,000 objects that live as long
    as the process) out of its sight, so that its full passes no longer walk them (6 % of the NER's
    CPU time), and its thresholds at `WORKER_GC_THRESHOLDS`."""
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)


def load_worker(ontology: Path, config: Path | None, check: bool) -> None:
    """Load the pipeline `extract_file` runs with these arguments in this process (replacing another)."""
    from kg.validate import DocumentCheck

    _WORKER.clear()
    _WORKER[(str(ontology), str(config), check)] = Extractor(load_ontology(ontology), config=config, check=DocumentCheck(ontology=ontology) if check else None)


def pipeline_version(ontology: Path, config: Path | None, *, memo: Path | None = None) -> str:
    """A hash of everything extraction depends on: code, config, model, ontology, cue words.

    `memo`: a file remembering the hash with the size and time stamp of every file hashed, so that
    a rebuild does not read the ontology's 40 MB again while none of them changed.
    """
    from kg import __version__
    from kg.ner import DEFAULT_CONFIG

    here = Path(__file__).resolve().parent
    # all of kg's code: extraction reaches beyond the stages' own modules (kg.ontology's concepts,
    # kg.graph's DocInfo, the cache's pickling), and a stale result costs more than a re-extraction
    sources = sorted({*here.rglob("*.py"), *(f for f in here.glob("ner/**/*") if "__pycache__" not in f.parts)})
    files = [*sources, *sorted(ontology.glob("*.ttl")), Path(config or DEFAULT_CONFIG), CUES]
    models = ROOT / "models"
    files += sorted(models.rglob("*")) if models.is_dir() else []
    files = [f for f in files if f.is_file()]
    libraries = _libraries()
    stamp = [__version__, libraries, *([str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files)]
    if memo is not None:
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if known["stamp"] == stamp:
                return str(known["version"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    h = hashlib.sha256(__version__.encode())
    h.update(repr(libraries).encode())
    for f in files:
        if f.parent != models and models not in f.parents:
            h.update(f.name.encode())
        h.update(f.read_bytes())
    version = h.hexdigest()[:16]
    if memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            replace_file(memo, json.dumps({"stamp": stamp, "version": version}).encode())
        except OSError:
            pass  # an unwritable cache only costs the hashing next time
    return version


# the libraries whose code extraction runs: another version of one (jieba's dictionary, rjieba's
# route, spaCy's tokenizer, pyoxigraph's serializer) may extract otherwise, so it is another pipeline
_EXTRACTION_LIBRARIES = ("jieba", "jionlp", "numpy", "opencc-python-reimplemented", "pyoxigraph", "rjieba", "spacy", "spacy-pkuseg", "srsly")


def _libraries() -> list[str]:
    """Python's version and those of `_EXTRACTION_LIBRARIES` ("-" for one not installed: the import
    says so, where the pipeline is loaded). They are read from the names of the `.dist-info`
    folders on sys.path, the first of each name as imports find them: `importlib.metadata` took 0.09
    s to import and ask, on the path of every rebuild before its workers start."""
    from platform import python_version

    def key(name: str) -> str:
        return name.lower().replace("-", "_").replace(".", "_")

    wanted = {key(name): name for name in _EXTRACTION_LIBRARIES}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a zip file or a folder that is gone
        for folder in names:
            if folder.endswith(".dist-info"):
                dist, _, version = folder.removesuffix(".dist-info").partition("-")
                found.setdefault(key(dist), version)
    return [f"python {python_version()}", *(f"{name} {found.get(k, '-')}" for k, name in sorted(wanted.items()))]


class Cache:
    """Per-document extraction results by content hash and pipeline version."""

    def __init__(self, directory: Path | None, version: str) -> None:
        self.version = version
        self.dir = directory / version if directory else None
        self.hits = self.misses = 0

    def key(self, path: Path, doc_id: str) -> str:
        h = hashlib.sha256(doc_id.encode() + b"\0")
        h.update(path.read_bytes())
        return h.hexdigest()[:32]

    def has(self, key: str) -> bool:
        return self.dir is not None and (self.dir / f"{key}.pickle").is_file()

    def get(self, key: str) -> DocResult | None:
        if self.dir is None:
            return None
        f = self.dir / f"{key}.pickle"
        try:
            with f.open("rb") as fh:
                result = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        return result

    def put(self, key: str, result: DocResult) -> None:
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        replace_file(self.dir / f"{key}.pickle", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    def prune(self, keep: set[str]) -> None:
        """Drop the results of files that are gone or changed, and of older pipeline versions."""
        if self.dir is None or not self.dir.parent.is_dir():
            return  # nothing was ever cached (no file could be read)
        for f in self.dir.glob("*.pickle"):
            if f.stem not in keep:
                f.unlink(missing_ok=True)
        for old in self.dir.parent.iterdir():
            if old.is_dir() and old != self.dir:
                shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration (reference counting frees as before).

    A build holds the results of every document at once, millions of objects, and makes no reference
    cycles to speak of (a build of 1,000 files leaves none); the collector would walk all of them again
    each time the heap grew by a quarter: 1.5 s of a 9 s rebuild of 1,000 files.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@without_cyclic_gc()
def build(
    inputs: Path,
    out: Path,
    *,
    ontology: Path = DEFAULT_ONTOLOGY,
    config: Path | None = None,
    strict: bool = False,
    base: str | None = None,
    html: bool = True,
    jobs: int = 1,
    dask: str | None = None,
    cache: Path | None | bool = True,
    validate: bool = True,
    progress: Progress | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    retain: list | None = None,
    keep_workers: bool = False,
) -> BuildReport:
    """Build the graph of every .txt file under `inputs` into `out`; return what was done.

    `jobs` > 1 extracts in that many processes, `dask` on a Dask scheduler; the output is the same
    byte for byte. Extraction results are cached (default: a folder beside `out`), so a rebuild
    redoes only the files that were added or changed. `retain`: a list the build's results and
    graph are appended to instead of being freed when it returns (a million objects, 0.4 s of a
    rebuild of 1,000 files): the command line's, which exits at once without freeing anything.
    `keep_workers`: extract with a worker server of this pipeline if one runs (kg.workers), and
    leave one running for the next build if none did.
    """
    progress = progress or Progress.quiet()
    report = BuildReport(out=out)
    t0 = time.perf_counter()
    if base is not None:
        _check_base(base)
    if keep_workers and dask:
        raise ConfigError("--keep-workers and --dask: choose one (a Dask cluster keeps workers of its own).")
    # an ontology read before loads without an error: it is loaded once the workers are on their way
    # (the start of their server is what a rebuild of one file waits for); any other now, so that a
    # broken one is refused before the output is touched
    onto = None if read_before(ontology) else load_ontology(ontology)
    paths = []
    for p in list_inputs(inputs):
        why = misnamed(p, inputs)
        if why is None:
            paths.append(p)
            continue
        skipped = (shown(p), f"{shown(p)}: {why}; skipped.")  # as extraction words a file it cannot read
        if strict:
            raise InputError(skipped[1])
        report.skipped.append(skipped)
        if on_skip:
            on_skip(*skipped)
    if not paths:
        raise InputError(f"{inputs}: holds no .txt files; nothing to build (the previous output is unchanged).")
    ids = doc_ids(paths, inputs)
    # held from here to the swap: a second build into `out` stops now, not after its extraction
    with output_lock(out), contextlib.ExitStack() as stack:
        cache_dir = out.resolve().parent / f".{out.resolve().name}.cache" if cache is True else (cache or None)
        store = Cache(cache_dir, pipeline_version(ontology, config, memo=cache_dir / "version.json") if cache_dir else "")
        checked = store.dir / "checked.keys" if store.dir else None  # the documents the self-check passed before
        report.seconds["load"] = time.perf_counter() - t0
        progress.start(total_files=len(paths), total_bytes=sum(p.stat().st_size for p in paths))

        t1 = time.perf_counter()
        keys = {p: store.key(p, ids[p]) for p in paths}
        spool = stack.enter_context(contextlib.closing(Spool(out.resolve().parent)))  # their parts, until they are written
        results = Documents(spool)  # what the build keeps of each document, its pieces in the spool and its key in the cache
        todo = [p for p in paths if not store.has(keys[p])]
        # the new files are extracted in the pool while the cached results are read here
        # the per-document shapes run where each document is extracted, when its parts are kg.ttl's
        check = validate and base in (None, KGR)
        # the predicates of the documents' projections, made where each is extracted: this build's
        # self-check reads them, and so does the next rebuild's, from the cache
        if check:
            from kg.validate import corpus_reads, reads_tag

            reads = corpus_reads(ontology=ontology)
        else:
            reads = None
        tag = reads_tag(reads) if reads is not None else None  # of the projections this build can use
        server = None
        if keep_workers:
            from kg import workers

            server = workers.server_socket(store.version or pipeline_version(ontology, config), ontology, config, check)
        pending = _extract(todo, ids, ontology, config, jobs=jobs, dask=dask, check=check, reads=reads, server=server)
        report.served = pending.served is not None
        pre_keys = store.dir / "pages.pre.json" if store.dir else None  # the article pages' record (kg.html.page_files)
        prepared = None  # the pages' preliminaries, made while the workers extract
        late = []  # cached results that cannot be read after all
        loader = None
        if check:
            # the self-check's store of the documents' projections (their parts whole where they have
            # none), filled in a thread as the documents are read or extracted: with more than one
            # process to use, in a process of its own (kg.validate.RemoteParts), which runs the
            # corpus-wide shapes there beside the pages; else here. Either way kg.ttl is not read
            # back (the seeds x2000: a process of 1.85 GB did)
            from kg.validate import PartLoader, PartStore, RemoteParts

            remote = pending.remote or jobs > 1
            parts = stack.enter_context(contextlib.closing(RemoteParts(base, ontology=ontology))) if remote else PartStore(base)
            loader = stack.enter_context(contextlib.closing(PartLoader(parts)))  # stopped if the build fails

            def load(result: DocResult) -> None:
                if result.reads is not None and result.reads[0] == tag:
                    loader.add(result.parts.digest, result.reads[1], projected=True)
                else:
                    loader.add(result.parts.digest, result.parts.ttl, parsed=result.checked is not None)
        with contextlib.closing(pending):
            if onto is None:
                t = time.perf_counter()
                onto = load_ontology(ontology)
                report.seconds["load"] += time.perf_counter() - t
            # fed the documents as they come; the pages read their articles from them, and a fact's evidence from its documents
            graph = GraphBuilder(onto, articles=False, evidence=EVIDENCE_SHOWN, spill=spool, documents=results)
            # what the pages read of their mentions, as they go to the spool (their rows too)
            index = MentionIndex(spill=spool, documents=results)

            def hold(p: Path, result: DocResult) -> None:
                """A result, cached or extracted: its facts to the graph, what the build keeps of it spooled."""
                kept = results.add(result, keys[p])  # once it is cached, graphed and with the loader: not its projection
                graph.add([kept.doc], result.mentions, result.relations)
                index.add(kept.doc, result.mentions)
                progress.advance(bytes_=p.stat().st_size, articles=len(result.doc.articles), mentions=len(result.mentions))

            for p in (p for p in paths if store.has(keys[p])):
                hit = store.get(keys[p])
                if hit is not None:
                    if loader:
                        load(hit)
                    hold(p, hit)
                else:
                    late.append(p)
            if pending.remote and html:
                # the pages' modules (0.4 s), while the workers extract: the cache is read by now, and
                # a rebuild would otherwise wait here for the one file it extracts
                import kg.html

                prepared = kg.html.prepare_pages(out if out.is_dir() else None, pre_keys=pre_keys, keyed=store.dir is not None)

            def take(p: Path, result: DocResult | tuple[str, str]) -> None:
                """An extracted result, as it comes: cached, its parts spooled, its facts to the graph."""
                if isinstance(result, tuple):
                    if strict:
                        raise InputError(result[1])
                    report.skipped.append(result)
                    if on_skip:
                        on_skip(*result)
                    progress.advance(bytes_=p.stat().st_size)
                    return
                store.put(keys[p], result)
                if loader:
                    load(result)
                hold(p, result)

            for p, result in pending:
                take(p, result)
        with contextlib.closing(_extract(late, ids, ontology, config, jobs=jobs, dask=dask, check=check, reads=reads)) as again:
            for p, result in again:
                take(p, result)
        progress.finish()
        store.prune({results.key(n) for n in range(len(results))})
        # the input files' Paths, ids and keys (0.7 kB a page of the seeds x200, traced): the documents keep what is left of them
        del paths, ids, keys, todo, late, pending, again
        p = hit = result = None  # the last result read or extracted, whole: a document's mentions and relations
        report.cache_hits = store.hits
        report.files = len(results)
        for d in results.by_id.values():
            report.articles += len(d.articles)
            report.characters += d.characters
        report.seconds["extract"] = time.perf_counter() - t1
        # what each document's pages are made from: its cached result (content and pipeline) and the graph's code
        graph_code = hashlib.blake2b((Path(__file__).resolve().parent / "graph.py").read_bytes(), digest_size=8).hexdigest()
        doc_keys = results.keyed(f"{store.version}:", f":{graph_code}") if store.dir else None
        report.outputs = export(
            results, onto, out, base=base, html=html, report=report, validate=validate, ontology=ontology, locked=True, jobs=jobs,
            checked=checked, preloaded=loader, retain=retain, doc_keys=doc_keys, pre_keys=pre_keys, graph=graph, prepared=prepared, index=index,
            progress=progress,
        )
        if retain is not None:
            retain += [results, loader, graph, index]  # the loader's store of the cached parts, the graph's documents and the mentions' index too
    if server is not None and not report.served and not workers.running(server):
        workers.start(server, ontology, config, check)  # it loads the pipeline while the next build is awaited
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _check_base(base: str) -> None:
    """Refuse a base IRI that cannot start the resources' IRIs before any work is done."""
    import pyoxigraph as ox

    try:
        ox.NamedNode(f"{base}doc/x")
    except ValueError as err:
        raise ConfigError(f"--base {base}: not an absolute IRI ({err}); give one such as https://example.org/id/.") from err


class _Pending:
    """Extraction results in the order of the paths; the work is under way once this exists.

    `pool`: a Future of (pool, its AsyncResult), made in a thread: a pool's start waits for its
    workers' server to import the pipeline's modules (most of a second), and the reader of the
    results has the cache to read meanwhile. `served`: a Future of the results of a worker server
    (kg.workers), with the connections it uses, closed by `close`."""

    def __init__(
        self, paths: Sequence[Path], results: Iterator | None, pool: Future | None = None, *, remote: bool = False,
        served: tuple[Future, Sequence[Any]] | None = None,
    ) -> None:
        self.paths, self.results, self.pool, self.served = paths, results, pool, served
        # other processes do the work, not the reader of the results
        self.remote = remote or pool is not None or served is not None

    def __iter__(self) -> Iterator[tuple[Path, DocResult | tuple[str, str]]]:
        if self.pool is not None:
            for p, data in zip(self.paths, self.pool.result()[1]):
                yield p, _unpickled(p, data)
            return
        results = _drained(self.served[0].result()) if self.served is not None else self.results
        yield from zip(self.paths, results)

    def close(self) -> None:
        if self.served is not None:
            future, conns = self.served
            self.served = None
            from kg.workers import hang_up

            for conn in conns:
                hang_up(conn)  # the server's processes stop at the end of what they were sent
            future.exception()  # its threads are done (a closed connection ends them)
        if self.pool is not None:
            starting, self.pool = self.pool, None
            if starting.exception() is None:  # waits for the start; a pool that failed to start is none
                pool = starting.result()[0]
                pool.terminate()  # done or abandoned: its workers have nothing left to do
                pool.join()


def _drained(items: list) -> Iterator:
    """The items of a list in order, each let go of by the list as it is taken."""
    for i in range(len(items)):
        item, items[i] = items[i], None
        yield item


def _extract(
    paths: Sequence[Path], ids: dict[Path, str], ontology: Path, config: Path | None, *, jobs: int, dask: str | None,
    check: bool = False, reads: Reads | None = None, server: Path | None = None,
) -> _Pending:
    """Extraction of `paths` in this process (as the results are read), a pool (started at
    once), a worker server listening at `server` (kg.workers; else a pool), or a Dask cluster;
    results in the order of `paths`."""
    args = [(p, ids[p], ontology, config, check, reads) for p in paths]
    if not paths:
        return _Pending([], iter(()))
    if dask:
        from kg.cluster import dask_map

        return _Pending(paths, iter(dask_map(extract_file, args, scheduler=dask)), remote=True)
    # small chunks: the last one a worker takes is what the other may wait for at the end (it
    # was 62 files of the seeds x200, seconds of work); a chunk costs a message each way
    chunk = max(1, min(EXTRACT_CHUNK, len(args) // (jobs * 8)))
    if server is not None:
        from kg import workers

        conns = workers.connections(server, min(jobs, len(paths)))
        if conns is not None:
            # the server loaded the pipeline with these very arguments: absolute paths, as it was started
            absolute = [(p.resolve(), i, ontology.resolve(), config.resolve() if config else None, c, r) for p, i, _, _, c, r in args]
            runner = ThreadPoolExecutor(1, thread_name_prefix="kg-served")
            served = runner.submit(workers.extract, conns, absolute, chunk)
            runner.shutdown(wait=False)
            return _Pending(paths, None, served=(served, conns))
    if jobs > 1:
        ctx = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "forkserver")
        if ctx.get_start_method() == "forkserver":
            # imported once, by the server the workers are forked from, instead of by each worker
            # (spaCy and the NER's modules: 0.6 CPU s a process); no effect once the server runs
            ctx.set_forkserver_preload(WORKER_MODULES)

        def start() -> tuple[Any, Any]:
            from kg.workers import name_process

            pool = ctx.Pool(min(jobs, len(paths)), initializer=name_process, initargs=("kg-extract",))
            try:
                # in order, as they come: the build caches, spools and graphs each while the workers
                # go on, and holds no more than the few that came before their turn
                return pool, pool.imap(_extract_args, args, chunksize=chunk)
            except BaseException:
                pool.terminate()
                raise

        starter = ThreadPoolExecutor(1, thread_name_prefix="kg-pool-start")
        starting = starter.submit(start)
        starter.shutdown(wait=False)  # its thread ends once the pool is made
        return _Pending(paths, None, starting)
    return _Pending(paths, (extract_file(*a) for a in args))


def export(
    results: Sequence[DocResult],
    onto: Ontology,
    out: Path,
    *,
    base: str | None,
    html: bool,
    report: BuildReport,
    validate: bool = True,
    ontology: Path = DEFAULT_ONTOLOGY,
    locked: bool = False,
    jobs: int = 1,
    checked: Path | None = None,
    preloaded: PartLoader | None = None,
    retain: list | None = None,
    doc_keys: Mapping[str, str] | None = None,
    pre_keys: Path | None = None,
    graph: GraphBuilder | None = None,
    prepared: Prepared | None = None,
    index: MentionIndex | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """The global stages: graph, Turtle, TriG, JSON-LD, mentions.jsonl and the pages.

    `locked`: the caller holds `output_lock(out)` already (as `build` does). `jobs`: processes
    for the pages (the SHACL check uses a thread per CPU whatever it is). `checked`: the file of
    documents that passed the self-check before (in the cache; see kg.validate.check_build);
    `preloaded`: documents' parts of kg.ttl on their way into a store, for that check (waited for only
    when the check starts: the graph and the RDF are made meanwhile). `retain`: as in `build`.
    `doc_keys`, `pre_keys`, `prepared`: as in `kg.html.page_files`. `graph`: the results fed to a
    GraphBuilder already (`build` feeds it as it reads them), for the graph; `index`: the
    MentionIndex of the results' mentions (`build` makes it as it spools them). `progress`: told of
    each stage and of the pages as they are done.
    """
    from kg import rdf

    progress = progress or Progress.quiet()
    t = time.perf_counter()
    if isinstance(results, Documents):  # each made when it is read (its documents' by id for the pages)
        docs: Sequence[DocInfo] | Mapping[str, DocInfo] = results.by_id
        results = results.in_order()
    else:
        results = sorted(results, key=lambda r: r.doc.doc_id)
        docs = [r.doc for r in results]
    if graph is None:
        graph = GraphBuilder(onto, articles=False, evidence=EVIDENCE_SHOWN)
        for r in results:
            graph.add([r.doc], r.mentions, r.relations)  # each document's relations with it (GraphBuilder)
    if index is None:
        index = MentionIndex()
        for r in results:
            index.add(r.doc, r.mentions)
    g = graph.graph(release=True)
    report.counts = summary(g, index.labels, articles=None if graph.articles else graph.article_level(g))
    report.seconds["graph"] = time.perf_counter() - t
    with atomic_output(out, locked=locked) as tmp, contextlib.ExitStack() as stack:
        t = time.perf_counter()
        progress.stage("RDF: kg.ttl, mentions.trig, kg.jsonld, documents.json, mentions.jsonl")
        with (tmp / "mentions.jsonl").open("wb") as fh:
            fh.writelines(bytes(r.jsonl) for r in results)  # each document's lines, made where it was extracted
        triples = rdf.graph_triples(g, base=base)
        # each document's parts were written where it was extracted (and are cached with it)
        own = base in (None, KGR)
        parts = _Column(results, attrgetter("parts")) if own else [document_parts(r.doc, list(r.mentions), list(r.relations), base=base) for r in results]
        if validate:
            # a build whose own output breaks the shapes fails loudly, and the previous output stays;
            # the shapes run compiled to SPARQL (kg.shacl), the results pySHACL would give in a
            # fraction of its time (tests/test_shacl.py holds the two engines to each other), and
            # the per-document shapes only over documents not checked before (kg.validate.check_build)
            from kg.validate import DocumentPart, RemoteParts, check_build

            rb = rdf.Rebase(base)

            def part(n: int) -> DocumentPart:
                # the IRIs as the spooled mentions keep them, read as each is checked (2.3 kB a page of the seeds as a frozenset each)
                r = results[n]
                return DocumentPart(r.parts if own else parts[n], mention_iris(r.mentions) if own else tuple(map(rb, mention_iris(r.mentions))), r.checked if own else None, rdf.doc_iri(r.doc.doc_id))

            # each made as it is read: held, with their parts, 0.3 kB a page of the seeds x200 from the pages to the check's end
            documents = _Column(range(len(results)), part)
            loaded = preloaded.done() if preloaded is not None else None
            if isinstance(loaded, RemoteParts):
                # the corpus-wide shapes start now in the store's process, on the other core while this
                # one writes the files and the pages (a document it lacks goes to it whole first)
                digests = ((p.digest or rdf.parts_digest(p.ttl, p.trig), p) for p in parts)
                loaded.add([(digest, p.ttl) for digest, p in digests if not loaded.has(digest)])
                loaded.start(triples)
            check = partial(check_build, tmp, triples, documents, checked=checked, base=base, ontology=ontology, parts=loaded)
        rdf.write_turtle_parts(triples, (p.ttl for p in parts), tmp / "kg.ttl", base=base)
        rdf.write_trig_parts((p.trig for p in parts), tmp / "mentions.trig", base=base)
        rdf.write_jsonld(triples, (p.jsonld for p in parts), tmp / "kg.jsonld", base=base)
        write_documents(results, tmp / "documents.json")
        report.seconds["rdf"] = time.perf_counter() - t
        # what this build writes, relative to the output folder, sorted as paths are (by their parts)
        written: Iterable[str] = ["documents.json", "kg.jsonld", "kg.ttl", "mentions.jsonl", "mentions.trig"]
        if html:
            t = time.perf_counter()
            from kg.html import page_files, path_order

            # the pages of the previous output whose inputs are unchanged are linked, not rendered
            pages = page_files(
                g, docs, index, tmp, jobs=jobs, previous=out if out.is_dir() else None, doc_keys=doc_keys, pre_keys=pre_keys, prepared=prepared,
                authors=None if graph.articles else graph.authors, progress=progress.pages,
            )
            written = heapq.merge(written, pages, key=path_order)
            report.seconds["html"] = time.perf_counter() - t
        if validate:
            # the check runs here once the pages are written: what it does here (the corpus-wide
            # shapes over a store filled here, the documents not checked before, or everything) is
            # not in memory beside the pages' processes (2.4 GB instead of 1.3 on the seeds x200,
            # everything checked), and what runs in the store's process (RemoteParts) is waited for
            progress.stage("self-check (SHACL)")
            t = time.perf_counter()  # what the build waits for the self-check once the pages are written
            checked_report = check()
            report.seconds["validate"] = time.perf_counter() - t
            checked_report.check()
    if retain is not None:
        retain.append(g)
    else:
        g.clear()  # a networkx graph refers to itself: emptied, it leaves the cyclic collector next to nothing
    return Outputs(out, written)


class Outputs(Made):
    """The files a build wrote under `out`, sorted as paths are (by their parts): Paths made when
    they are read, from their relative paths in a file (`kg.strings.StringFile`, 8 bytes a file in
    memory; 74,274 Paths of x2000's names took 16.6 MB, the names in one string 4.5 MB), held from
    the build's last step to its end, where its process peaks. Equal to a list of the same Paths."""

    __slots__ = ("out", "_paths")

    def __init__(self, out: Path, written: Iterable[str]) -> None:
        """`written`: the files' paths relative to `out` ("/" between two parts), sorted as paths are."""
        self.out, self._paths = out, StringFile(written)

    def __len__(self) -> int:
        return len(self._paths)

    def _item(self, i: int) -> Path:
        return self.out.joinpath(*self._paths[i].split("/"))

    def __iter__(self) -> Iterator[Path]:
        return (self.out.joinpath(*path.split("/")) for path in self._paths)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (Outputs, list)) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Outputs({str(self.out)!r}, {len(self)} files)"


def mention_lines(mentions: Sequence[Mention]) -> bytes:
    """The mentions contract: one JSON object per line, offsets into the decoded text, sorted.

    mentions.jsonl is each document's lines in the order of the documents' ids.
    """
    rows = sorted(mentions, key=lambda m: (m.doc_id, m.start, m.end))
    dump = json.JSONEncoder(ensure_ascii=False).encode
    return "".join(
        dump({"doc": m.doc_id, "start": m.start, "end": m.end, "text": m.text, "label": m.label, "entity": m.iri}) + "\n" for m in rows
    ).encode("utf-8")


def write_documents(results: Sequence[DocResult], path: Path) -> None:
    """Per document: the encoding it was read with and its articles (for notebooks and tools); a JSON
    array, a document a line (json's C encoder: with `indent`, json encodes in Python, 4 times slower).
    Written a document at a time: the rows of them all, then their text, took 8 kB a page of the
    seeds at once (8.2 MB at x200; the build's process rose by 44 MB in its RDF stage at x2000)."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        for n, r in enumerate(results):
            row = {
                "doc": r.doc.doc_id,
                "encoding": r.doc.encoding,
                "characters": r.doc.characters,
                "articles": [
                    {"index": i, "start": s, "end": e, "title": title, "byline": list(b) if b else None}
                    for i, s, e, title, b in r.doc.articles
                ],
            }
            fh.write(("" if n == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        fh.write("\n]\n")


def ensure_built(out: Path, inputs: Path = ROOT / "seeds") -> Path:
    """The output folder, built from `inputs` first when it holds no graph (for notebooks)."""
    if not (out / "kg.ttl").exists():
        build(inputs, out)
    return out

