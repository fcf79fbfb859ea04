"""The graph stage: one networkx MultiDiGraph of nodes and facts, from mentions and relations.

Node IDs are IRIs. Every node has `type` (PERSON, ORG, PLACE, PROGRAMME, POLICY, ARTICLE), `label`
(its Chinese name), `aliases`, `mentions` (how often the corpus names it) and `new` (created from
text). Every edge has `key` = predicate, `confidence`, `count` and `evidence`: the sorted list of
(doc, start, end) ranges it was read from; facts taken from the ontology carry `source="ontology"`.
Input order never changes the graph. This module imports neither spaCy nor rdflib.

A build's graph (`GraphBuilder(articles=False, evidence=EVIDENCE_SHOWN)`) has no ARTICLE nodes and
no edges from them, and of each fact's evidence only what the pages show: both grow with the pages.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from bisect import bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kg.corpus import Document
from kg.mention import Mention, Relation, relation_rows
from kg.ontology import Ontology
from kg.relations import ARTICLE_IRIS, AUTHOR, PART_OF, SERVES, WITHIN, article_doc, article_iri

if TYPE_CHECKING:  # networkx is imported where a graph is built: a worker that extracts never needs it
    import networkx as nx

    from kg.build import Documents

ARTICLE = "ARTICLE"
_RUN_HEAD = struct.Struct("<q")  # where a run of an entity's rows in a spill says the run before it is (MentionIndex)
EVIDENCE_SHOWN = 3  # the ranges of a fact's evidence an entity page links (kg.html); a build's graph keeps that many


@dataclass(slots=True)
class DocInfo:
    """What the graph keeps of a document: enough for article pages and provenance."""

    doc_id: str
    text: str
    encoding: str
    articles: list[tuple[int, int, int, str, tuple[int, int] | None]]  # index, start, end, title, byline

    @property
    def characters(self) -> int:
        return len(self.text)

    @property
    def digest(self) -> str:
        """Of its text (`text_digest`): a page's key holds it (kg.html)."""
        return text_digest(self.text.encode("utf-8", "surrogatepass"))

    @classmethod
    def of(cls, doc: Document) -> DocInfo:
        return cls(
            doc.doc_id,
            doc.text,
            doc.encoding,
            [(a.index, a.start, a.end, a.title(doc.text), a.byline) for a in doc.articles],
        )


def text_digest(data: bytes) -> str:
    """The digest of a document's text in UTF-8 (lone surrogates passed through)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def build_graph(
    docs: Iterable[DocInfo], mentions: Iterable[Mention], relations: Iterable[Relation], onto: Ontology
) -> nx.MultiDiGraph:
    """The knowledge graph of a corpus. Sorted inputs, sorted insertion: the same graph every time."""
    builder = GraphBuilder(onto)
    builder.add(docs, mentions, relations)
    return builder.graph(release=True)


class GraphBuilder:
    """`build_graph`'s work as the inputs come, in any order and in any number of steps: what each
    entity is called and how often, and each fact's evidence, confidence and cues; `graph()` makes the
    graph, inserted in sorted order: the same graph as `build_graph` of all the inputs at once.

    `articles=False`: the graph of the entities alone, without the article level (a node for each
    article, an edge for each entity it mentions or that wrote it, with every mention as evidence),
    which grows with the pages: 40 of the 81 MB traced where a build of the seeds x200 made its pages.
    What the pages need of that level is kept by entity (`article_edges`) and by article (`authors`), and its
    counts are in `summary`. `evidence=k`: of each fact's evidence, which grows with the pages too,
    what they show: its first k ranges as `evidence`, and as `linked` its first k ranges in an
    article (where a page links them) and how many are. With either, each document's relations
    come with it, in one call (a range read twice is told apart in that call only)."""

    def __init__(
        self, onto: Ontology, *, articles: bool = True, evidence: int | None = None, spill: Spill | None = None, documents: Documents | None = None,
    ) -> None:
        self.onto = onto
        self.articles = articles
        self.evidence = evidence
        # without the article level: the articles stating each (predicate, object), and who wrote
        # each article (tuples once the graph is made with `release`); with `spill` (a build's
        # spool), kept there a document at a time (`SpilledAuthors`)
        self.article_edges: Counter = Counter()
        self.authors: dict[str, list[str] | tuple[str, ...]] | SpilledAuthors = SpilledAuthors(spill, documents) if spill is not None else {}
        # the documents by id; `documents`: where something else keeps them (a build's kg.build.Documents), which `add` leaves to it
        self.docs: Mapping[str, DocInfo] = {} if documents is None else documents.by_id
        self.own_docs = documents is None
        self.surface: dict[str, Counter] = defaultdict(Counter)
        # by entity, its first and its last mention in the order of (document, start, end): the first
        # gives its type and sentence, the last whether it is new (as a pass in that order leaves them)
        self.first: dict[str, tuple[tuple, Mention]] = {}  # ((document, start, end, arrival), mention)
        self.last: dict[str, tuple[tuple, Mention]] = {}
        self.seen = 0  # mentions so far: equal positions keep the order they came in
        # each fact's evidence, confidence and cues, gathered as its relations come: (range,
        # confidence, cue) while it has one relation (most: an article's mention of an entity), a
        # _Facts once it has more. The relations themselves are not kept: a build lets go of them
        # once they are here (two fifths of what it held a document, 42 kB a page of the seeds).
        self.facts: dict[tuple[str, str, str], tuple[tuple[str, int, int], float, str] | _Facts] = {}

    def add(self, docs: Iterable[DocInfo], mentions: Iterable[Mention], relations: Iterable[Relation]) -> None:
        if self.own_docs:
            for d in docs:
                self.docs[d.doc_id] = d
        surface, first, last = self.surface, self.first, self.last
        n = self.seen
        for m in mentions:
            surface[m.iri][m.text.replace("\n", "")] += 1
            at = (m.doc_id, m.start, m.end, n)
            n += 1
            f = first.get(m.iri)
            if f is None:
                first[m.iri] = last[m.iri] = (at, m)
            elif at < f[0]:
                first[m.iri] = (at, m)
            elif at > last[m.iri][0]:
                last[m.iri] = (at, m)
        self.seen = n
        facts = self.facts
        ranges: dict[tuple[str, int, int], tuple[str, int, int]] = {}  # the facts read in a sentence share its range
        stated: set[tuple[str, str, str]] = set()  # the articles' facts of this call, without the article level
        kept = self.evidence
        read: set[tuple[tuple[str, str, str], tuple[str, int, int]]] = set()  # this call's (fact, range), with `kept`
        spans: dict[str, tuple[list[tuple[int, int]], list[int]] | None] = {}  # documents' articles, for `kept`
        spilled = self.authors if type(self.authors) is SpilledAuthors else None
        written: dict[str, list[tuple[str, str]]] = defaultdict(list)  # this call's (article, author) by document, with `spilled`
        for r in relations:
            spo = (r.subject, r.predicate, r.object)
            if not self.articles and r.subject.startswith(ARTICLE_IRIS):
                if spo not in stated and r.evidence.doc_id in self.docs:  # else the graph would have no such article
                    stated.add(spo)
                    self.article_edges[(r.predicate, r.object)] += 1
                    if r.predicate == AUTHOR and spilled is not None:
                        written[SpilledAuthors.doc_of(r.subject)].append((r.subject, r.object))
                    elif r.predicate == AUTHOR:
                        self.authors.setdefault(r.subject, []).append(r.object)
                continue
            e = r.evidence
            at = (e.doc_id, e.start, e.end)
            at = ranges.setdefault(at, at)
            if kept is not None:
                f = facts.get(spo)
                if f is None:
                    f = facts[spo] = _Shown()
                new = (spo, at) not in read
                if new:
                    read.add((spo, at))
                f.add(at, new, new and self._in_article(e.doc_id, e.start, spans), r.confidence, r.cue, kept)
                continue
            f = facts.get(spo)
            if f is None:
                facts[spo] = (at, r.confidence, r.cue)
                continue
            if type(f) is tuple:
                f = facts[spo] = _Facts([f[0]], f[1], [f[2]] if f[2] else [])
            f.add(at, r.confidence, r.cue)
        for doc_id, pairs in written.items():
            spilled.add(doc_id, pairs)

    def graph(self, *, release: bool = False) -> nx.MultiDiGraph:
        """The graph of everything added. `release`: let go of the gathered facts once the graph
        holds them (a build, whose graph is made once: 12.5 MB of the seeds x200 while the pages are
        made); a second call then has no facts to add."""
        import networkx as nx

        onto = self.onto
        g = nx.MultiDiGraph()
        texts: dict[str, str] = {}  # of the documents read for a sentence (a build keeps the others' in its spool)
        for doc_id in sorted(self.docs) if self.articles else ():
            for index, start, end, title, byline in self.docs[doc_id].articles:
                g.add_node(
                    article_iri(doc_id, index),
                    type=ARTICLE,
                    label=title,
                    aliases=[],
                    mentions=0,
                    new=False,
                    doc=doc_id,
                    start=start,
                    end=end,
                )
        for iri in sorted(self.surface):
            c = onto.concepts.get(iri)
            names = self.surface[iri]
            label = c.pref if c else sorted(names.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0][0]
            aliases = sorted((set(names) | set(c.alts if c else ())) - {label})
            first = self.first[iri][1]
            doc_id, (s, e) = first.doc_id, first.sentence
            if doc_id not in texts and doc_id in self.docs:
                texts[doc_id] = self.docs[doc_id].text
            g.add_node(
                iri,
                type=first.label,
                label=label,
                aliases=aliases,
                mentions=sum(names.values()),
                new=self.last[iri][1].new,
                sentence=texts[doc_id][s:e].replace("\n", "") if doc_id in texts else "",
                **_known(c),
            )

        # the ontology's structure above the linked nodes: 东煤社区 → 站前街道 → 铁西区 → 四平市
        for iri in sorted(self.surface):
            _add_ancestry(g, iri, onto)

        # each fact's evidence (sorted, each range once), confidence (the highest) and cues (sorted).
        # An end no mention denotes is a known concept (kg.relations: a new body named with a known
        # place, 铁西区环卫处, serves that place), in the graph with the ontology's structure above it,
        # as the document that read the fact writes its evidence (kg.rdf.document_triples)
        for (s, p, o), f in sorted(self.facts.items()):  # the keys differ: values are never compared
            if not (_add_concept(g, s, onto) and _add_concept(g, o, onto)):
                continue
            if type(f) is _Shown:
                g.add_edge(
                    s, o, key=p, confidence=round(f.confidence, 3), count=f.count, evidence=f.first, cues=sorted(f.cues), source="text",
                    linked=(tuple(f.linked), f.in_articles),
                )
                continue
            if type(f) is tuple:
                evidence, confidence, cues = [f[0]], f[1], [f[2]] if f[2] else []
            else:
                evidence, confidence, cues = sorted(set(f.evidence)), f.confidence, sorted(f.cues)
            g.add_edge(s, o, key=p, confidence=round(confidence, 3), count=len(evidence), evidence=evidence, cues=cues, source="text")
        if type(self.authors) is SpilledAuthors:
            self.authors.nodes = g  # they are read as the graph's edges from an article would be
        else:
            for article, authors in self.authors.items():
                kept = sorted(o for o in authors if o in g)  # as the graph's edges from an article would be
                # released, no document comes after: a tuple, not a list grown by appends (88 bytes an
                # article for most, which have one author; 48 as a tuple)
                self.authors[article] = tuple(kept) if release else kept
        if release:
            self.facts = {}
        return g

    def _in_article(self, doc_id: str, offset: int, spans: dict) -> bool:
        """Whether an article of document `doc_id` holds `offset` (a page links the evidence there);
        `spans`: the documents' articles sorted, as found so far."""
        found = spans.get(doc_id, False)
        if found is False:
            d = self.docs.get(doc_id)
            rows = sorted((a[1], a[2]) for a in d.articles) if d is not None else None
            found = spans[doc_id] = (rows, [r[0] for r in rows]) if rows is not None else None
        return found is not None and article_index(found[0], found[1], offset) is not None

    def article_level(self, g: nx.MultiDiGraph) -> tuple[int, Counter]:
        """What a graph without articles leaves out, for `summary`: how many articles, and how many
        edges of each predicate lead from them to nodes of `g`."""
        edges: Counter = Counter()
        for (p, o), n in self.article_edges.items():
            if o in g:
                edges[p] += n
        return sum(len(d.articles) for d in self.docs.values()), edges


class SpilledAuthors(Mapping[str, tuple[str, ...]]):
    """Who wrote each article, as `GraphBuilder.authors` has it, kept in a spill (a build's spool)
    a document at a time: held, a tuple an article keyed by its IRI took 0.6 kB a page of the seeds
    x200 (tracemalloc), and kept each article's IRI alive. An article's authors are read from its
    document's record (`iri_lines` of "<article>\t<author>", one a statement: no IRI holds a tab),
    sorted and, once a graph is made (`nodes`), those that are its nodes, as its edges would be.

    `documents` (a build's `kg.build.Documents`): the documents numbered as they came, each added
    there before its authors come here; where each one's record is is held by that number (in
    an array, 8 bytes a document: a dict by id took 61 a page of the seeds x200). Without them,
    it numbers the documents as they come."""

    def __init__(self, spill: Spill, documents: Documents | None = None) -> None:
        self.spill = spill
        self.documents = documents
        self.ids: list[str] = [] if documents is None else documents.ids  # by number
        self.numbers: dict[str, int] = {} if documents is None else documents.numbers  # document -> that number
        self.at = array("q")  # by number: where its record is in `spill`, offset * 2**32 + size (-1: none)
        self.nodes: Container[str] | None = None

    @staticmethod
    def doc_of(article: str) -> str | None:
        """The document of an article's IRI (`article_doc`), the string a build's relations hold
        (kg.mention interns them), not one more a document; None for an IRI that is no article's."""
        found = article_doc(article) if isinstance(article, str) else None
        return sys.intern(found[0]) if found is not None else None

    def add(self, doc_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """A document's (article, author) statements, in the order they came, after any it had."""
        record = iri_lines(f"{a}\t{o}" for a, o in [*self._pairs(doc_id), *pairs])
        number = self.numbers.get(doc_id)
        if number is None:
            if self.documents is not None:
                raise ValueError(f"{doc_id}: authors of a document not among the documents")
            number = self.numbers[doc_id] = len(self.ids)
            self.ids.append(doc_id)
        if number >= len(self.at):
            self.at.extend([-1] * (number + 1 - len(self.at)))
        self.at[number] = self.spill.append(record) * 2**32 + len(record)

    def _pairs(self, doc_id: str) -> list[tuple[str, str]]:
        number = self.numbers.get(doc_id)
        at = self.at[number] if number is not None and number < len(self.at) else -1
        if at < 0:
            return []
        lines = read_iri_lines(self.spill.read(at >> 32, at & 0xFFFFFFFF))
        return [tuple(line.split("\t")) for line in lines]  # type: ignore[misc]

    def _of_doc(self, doc_id: str) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = defaultdict(list)
        for a, o in self._pairs(doc_id):
            found[a].append(o)
        nodes = self.nodes
        return {a: tuple(sorted(o for o in v if nodes is None or o in nodes)) for a, v in found.items()}

    def __getitem__(self, article: str) -> tuple[str, ...]:
        doc_id = self.doc_of(article)
        if doc_id is None:
            raise KeyError(article)
        return self._of_doc(doc_id)[article]

    def _docs(self) -> list[str]:
        """The documents with authors, in the order they came."""
        return [self.ids[n] for n, at in enumerate(self.at) if at >= 0]

    def __iter__(self) -> Iterator[str]:
        for doc_id in self._docs():
            yield from self._of_doc(doc_id)

    def __len__(self) -> int:
        return sum(len(self._of_doc(doc_id)) for doc_id in self._docs())


class _Facts:
    """The ranges, highest confidence and distinct cues of a fact read more than once; the ranges
    as read (a range read twice is rare), made a set when the graph is made: lists take a third of
    the memory of sets, and a fact has a cue or two."""

    __slots__ = ("evidence", "confidence", "cues")

    def __init__(self, evidence: list[tuple[str, int, int]], confidence: float, cues: list[str]) -> None:
        self.evidence, self.confidence, self.cues = evidence, confidence, cues

    def add(self, at: tuple[str, int, int], confidence: float, cue: str) -> None:
        self.evidence.append(at)
        self.confidence = max(self.confidence, confidence)
        if cue and cue not in self.cues:
            self.cues.append(cue)


class _Shown:
    """What the pages show of a fact's evidence, however often it is read (`GraphBuilder(evidence=k)`):
    its first k ranges, its first k ranges in an article, how many ranges and how many in an
    article; and its highest confidence and distinct cues."""

    __slots__ = ("first", "linked", "count", "in_articles", "confidence", "cues")

    def __init__(self) -> None:
        self.first: list[tuple[str, int, int]] = []
        self.linked: list[tuple[str, int, int]] = []
        self.count = self.in_articles = 0
        self.confidence = float("-inf")
        self.cues: list[str] = []

    def add(self, at: tuple[str, int, int], new: bool, linked: bool, confidence: float, cue: str, k: int) -> None:
        """A relation read at `at`: `new`, a range not read before for this fact; `linked`, in an article."""
        if new:
            self.count += 1
            _first(self.first, at, k)
            if linked:
                self.in_articles += 1
                _first(self.linked, at, k)
        self.confidence = max(self.confidence, confidence)
        if cue and cue not in self.cues:
            self.cues.append(cue)


def _first(rows: list, item: tuple, k: int) -> None:
    """Keep in sorted `rows` the first `k` of them and `item`."""
    if len(rows) < k or item < rows[-1]:
        insort(rows, item)
        del rows[k:]


def article_index(rows: Sequence[tuple], starts: Sequence[int], offset: int) -> int | None:
    """Which of a document's articles holds `offset`: `rows`, their (start, end, …) sorted, and
    `starts`, their starts. The last that starts at or before it, if it ends after it (an empty
    article holds its start).

    >>> article_index([(0, 10), (10, 10), (12, 20)], [0, 10, 12], 10), article_index([(0, 10), (12, 20)], [0, 12], 11)
    (1, None)
    """
    i = bisect_right(starts, offset) - 1
    if i >= 0 and rows[i][0] <= offset < max(rows[i][1], rows[i][0] + 1):
        return i
    return None


def _known(c) -> dict:
    if c is None:
        return {}
    extra = {"cls": c.cls}
    if c.level is not None:
        extra["level"] = c.level
    if c.code:
        extra["code"] = c.code
    if c.full_name:
        extra["full_name"] = c.full_name
    return extra


def _add_concept(g: nx.MultiDiGraph, iri: str, onto: Ontology) -> bool:
    """Whether `iri` is a node of `g`, added with the ontology's structure above it if it is a
    known concept no mention denotes."""
    if iri in g:
        return True
    if iri not in onto.concepts:
        return False
    _concept_node(g, onto.concepts[iri])
    _add_ancestry(g, iri, onto)
    return True


def _concept_node(g: nx.MultiDiGraph, c) -> None:
    """A known concept as a node no mention denotes."""
    g.add_node(c.iri, type=c.label, label=c.pref, aliases=sorted(c.alts), mentions=0, new=False, sentence="", **_known(c))


def _add_ancestry(g: nx.MultiDiGraph, iri: str, onto: Ontology) -> None:
    c = onto.concepts.get(iri)
    while c is not None:
        steps = [(WITHIN, c.place), (PART_OF, c.org), (SERVES, c.serves)]
        parent = None
        for predicate, target in steps:
            if target is None or target not in onto.concepts:
                continue
            if target not in g:
                _concept_node(g, onto.concepts[target])
            if not g.has_edge(c.iri, target, key=predicate):
                g.add_edge(c.iri, target, key=predicate, confidence=1.0, count=0, evidence=[], cues=[], source="ontology")
            parent = parent or target
        c = onto.concepts.get(parent) if parent else None


class MentionIndex:
    """What the pages read of the corpus's mentions, without holding them all: each entity's mentions
    as rows of six 32-bit integers (document, sentence, article, range), each document's count of
    mentions per article and the IRIs its articles' mentions denote, and where its mentions are read
    again: the list itself, or, in a build, its spool (a build held 17 kB of mentions a page of the
    seeds; the rows take 1.8). And, from a build, where each document's relations are read again: its
    article pages find the evidence read in it there (else in the graph's edges: 15 kB a page). `add`
    each document once.

    `spill` (a build's spool, `kg.build.Spool`): where an entity's rows go, SPILL_ROWS at a time,
    once it has that many in memory, each run after the offset of the entity's run before it; the
    index holds the offset of its last run only, so what it holds grows with the entities, not the
    mentions (the rows were 1.7 kB a page of the seeds x200, the largest thing a build kept of a
    page; with runs of 256 and their offsets held, 0.83). And where each document's record goes (its
    counts and IRIs): the index holds its offset."""

    SPILL_ROWS = 32  # 0.75 kB of rows an entity keeps in memory, at most, with a spill

    def __init__(self, spill: Spill | None = None, documents: Documents | None = None) -> None:
        """`documents`: where the documents are kept, numbered as they came, with their mentions and
        relations (a build's `kg.build.Documents`); each is added here after it is added there."""
        self.documents = documents
        self.doc_ids: list[str] = [] if documents is None else documents.ids  # by the number rows give them
        self.numbers: dict[str, int] = {} if documents is None else documents.numbers  # document -> that number
        self.rows: dict[str, array] = {}  # entity IRI -> (document number, sentence start, end, article, start, end), ...
        # entity IRI -> the offset in `spill` of the last run of its rows, when it has one; a run is
        # the offset of the run before it (-1 for none) as a 64-bit integer, then SPILL_ROWS rows
        self.spilled: dict[str, int] = {}
        self.spill = spill
        # each document's record (`_record`: its count of mentions per article, the IRIs its articles'
        # mentions denote), in `spill` or here without one; by number, its (offset, size) there. The
        # counts held as a dict a document took 0.4 kB a page of the seeds x200 (tracemalloc)
        self.records: Spill = spill if spill is not None else _Held()
        self.at = array("q")
        # without `documents`, by number: a document's mentions, read again when iterated, and its
        # relations (Relations, or an object whose rows() are those of kg.build.SpooledRelations),
        # None where they are not read again
        self.stored: list[Iterable[Mention]] = []
        self.relations: list[Iterable[Relation] | None] = []
        self.labels: Counter = Counter()  # mentions per label, in all

    @classmethod
    def of(cls, docs: Iterable[DocInfo], mentions: Iterable[Mention]) -> MentionIndex:
        """The index of mentions held in a list (those of documents not among `docs` are left out:
        no page shows them)."""
        by_doc: dict[str, list[Mention]] = defaultdict(list)
        for m in mentions:
            by_doc[m.doc_id].append(m)
        index = cls()
        for d in docs:
            index.add(d, by_doc.get(d.doc_id, []))
        return index

    def add(
        self, doc: DocInfo, mentions: Sequence[Mention], *, stored: Iterable[Mention] | None = None, relations: Iterable[Relation] | None = None,
    ) -> None:
        """A document's mentions; `stored`: where they are read again (else the sequence is kept);
        `relations`: where its relations are read again, if anywhere."""
        if self.documents is None:
            number = len(self.doc_ids)
            self.doc_ids.append(doc.doc_id)
            self.numbers[doc.doc_id] = number
            self.stored.append(mentions if stored is None else stored)
            self.relations.append(relations)
        else:
            number = self.numbers[doc.doc_id]
            if stored is not None or relations is not None or 2 * number != len(self.at):
                raise ValueError(f"{doc.doc_id}: its mentions and relations are where the index's documents keep them, and it comes in their order")
        articles = {a[0] for a in doc.articles}
        counts: Counter = Counter()
        named: set[str] = set()
        rows, full = self.rows, 6 * self.SPILL_ROWS if self.spill is not None else None
        for m in mentions:
            row = rows.get(m.iri)
            if row is None:
                row = rows[m.iri] = array("i")  # a document of 2**31 characters is not read
            row.extend((number, m.sentence[0], m.sentence[1], m.article, m.start, m.end))
            if len(row) == full:
                self.spilled[m.iri] = self.spill.append(_RUN_HEAD.pack(self.spilled.get(m.iri, -1)) + row.tobytes())
                rows[m.iri] = array("i")
            self.labels[m.label] += 1
            if m.article in articles:
                counts[m.article] += 1
                named.add(m.iri)
        record = _record(counts, sorted(named))
        self.at.extend((self.records.append(record), len(record)))

    @property
    def has_relations(self) -> bool:
        """Whether every document's relations are here: else the pages take the evidence from the graph."""
        if self.documents is not None:
            return self.documents.has_relations
        return bool(self.doc_ids) and None not in self.relations

    def counts(self, doc_id: str) -> dict[int, int]:
        """A document's count of mentions per article index (articles without any left out; none for a document not here)."""
        return self._read(doc_id)[0]

    def named(self, doc_id: str) -> tuple[str, ...]:
        """The IRIs a document's articles' mentions denote, sorted (none for a document not here)."""
        return self._read(doc_id)[1]

    def _read(self, doc_id: str) -> tuple[dict[int, int], tuple[str, ...]]:
        number = self.numbers.get(doc_id)
        if number is None:
            return {}, ()
        return _unrecord(self.records.read(self.at[2 * number], self.at[2 * number + 1]))

    def relation_rows(self, doc_id: str) -> list[tuple]:
        """A document's relations as `kg.mention.relation_rows`."""
        number = self.numbers.get(doc_id)
        if number is None:
            found = None
        else:
            found = self.relations[number] if self.documents is None else self.documents[number].relations
        rows = getattr(found, "rows", None)  # a build's spooled relations keep them so
        return rows() if rows is not None else relation_rows(found or ())

    def of_doc(self, doc_id: str) -> list[Mention]:
        """A document's mentions, sorted by (start, end, IRI), as they came for equal ones."""
        number = self.numbers.get(doc_id)
        if number is None:
            found: Iterable[Mention] = ()
        else:
            found = self.stored[number] if self.documents is None else self.documents[number].mentions
        return sorted(found, key=lambda m: (m.start, m.end, m.iri))

    def of_entity(self, iri: str) -> list[tuple[str, tuple[int, int], int, int, int]]:
        """An entity's mentions as (document, sentence, article, start, end), sorted by (document, start, end)."""
        row, ids = self.rows.get(iri, ()), self.doc_ids
        at = self.spilled.get(iri, -1)
        if at >= 0:
            held = array("i", row)
            size = _RUN_HEAD.size + 6 * self.SPILL_ROWS * held.itemsize
            while at >= 0:  # the runs from the last to the first: the order is sorted out below
                run = self.spill.read(at, size)
                held.frombytes(run[_RUN_HEAD.size :])
                (at,) = _RUN_HEAD.unpack_from(run)
            row = held
        found = [(ids[row[i]], row[i + 4], row[i + 5], (row[i + 1], row[i + 2]), row[i + 3]) for i in range(0, len(row), 6)]
        found.sort()
        return [(d, sentence, article, start, end) for d, start, end, sentence, article in found]


class Spill(Protocol):
    """Bytes kept out of memory (a build's `kg.build.Spool`): `append` gives their offset, `read` them back."""

    def append(self, data: bytes) -> int: ...

    def read(self, offset: int, size: int) -> bytes: ...


class _Held:
    """A `Spill` in memory, for an index without one."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def append(self, data: bytes) -> int:
        at = len(self.data)
        self.data += data
        return at

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])


def iri_lines(iris: Iterable[str]) -> bytes:
    """IRIs (or lines of them) as UTF-8, a newline between two: no IRI holds one. `read_iri_lines` reads them back."""
    return "\n".join(iris).encode("utf-8", "surrogatepass")


def read_iri_lines(data: bytes) -> list[str]:
    """The IRIs `iri_lines` wrote (none for no bytes).

    >>> read_iri_lines(iri_lines(["https://a", "https://b"])), read_iri_lines(iri_lines([]))
    (['https://a', 'https://b'], [])
    """
    text = data.decode("utf-8", "surrogatepass")
    return text.split("\n") if text else []


def _record(counts: Mapping[int, int], named: Sequence[str]) -> bytes:
    """A document's record in a `MentionIndex`, as `_unrecord` reads it: the number of its articles
    with mentions, their (index, count) pairs, the IRIs (`iri_lines`).

    >>> _unrecord(_record({2: 5, 0: 1}, ["https://a", "https://b"])), _unrecord(_record({}, []))
    (({0: 1, 2: 5}, ('https://a', 'https://b')), ({}, ()))
    """
    pairs = array("q", [x for pair in sorted(counts.items()) for x in pair])
    return len(counts).to_bytes(8, "little") + pairs.tobytes() + iri_lines(named)


def _unrecord(data: bytes) -> tuple[dict[int, int], tuple[str, ...]]:
    end = 8 + 16 * int.from_bytes(data[:8], "little")
    pairs = array("q")
    pairs.frombytes(data[8:end])
    return dict(zip(pairs[::2], pairs[1::2])), tuple(read_iri_lines(data[end:]))


def summary(g: nx.MultiDiGraph, labels: Counter, *, articles: tuple[int, Counter] | None = None) -> dict[str, Counter]:
    """Counts per type of mentions (`labels`, as `MentionIndex.labels` counts them), of nodes and new
    nodes, and of edges per predicate; `articles`: the article level a graph leaves out
    (`GraphBuilder.article_level`), counted in."""
    nodes = Counter(t for _, t in g.nodes(data="type"))
    edges = Counter(k for _, _, k in g.edges(keys=True))
    if articles is not None:
        if articles[0]:
            nodes[ARTICLE] += articles[0]
        edges.update(articles[1])
    return {
        "mentions": Counter(labels),
        "nodes": nodes,
        "new": Counter(data["type"] for _, data in g.nodes(data=True) if data.get("new")),
        "edges": edges,
    }
