"""The RDF stage: Turtle, TriG and JSON-LD from the graph, written by pyoxigraph.

- `kg.ttl`: entities (typed, labelled, aliased), articles and documents, the stated relations as
  plain triples, and each relation once more as a `kgo:Statement` (RDF reification) with its
  confidence, count and evidence: NIF strings `<doc#char=s,e>` that name the document and the
  character range of the sentence, with the sentence text.
- `mentions.trig`: one named graph per article holding its mentions as NIF phrases with offsets,
  the entity they denote (`itsrdf:taIdentRef`) and their class (`itsrdf:taClassRef`).
- `kg.jsonld`: the content of kg.ttl as JSON-LD with a context.

Triples are emitted sorted and without blank nodes, so the same graph gives the same bytes.
kg.ttl and kg.jsonld are written in parts: the corpus-wide triples (`graph_triples`: entities,
their relations, the statements' heads), then each document's (`document_parts`: the document,
its articles, what they mention and who wrote them, the evidence read in it), made where the document is
extracted and cached with it, so a rebuild after one file changed re-serialises only that file.
A document's parts are written as text (`document_parts`), byte for byte what pyoxigraph's writer
makes of their terms (`terms_parts`): they are made for every document, and the terms cost ten
times the CPU. The tests hold the one to the other.
This module never imports spaCy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kg.corpus import iri_path
from kg.graph import ARTICLE, DocInfo
from kg.mention import Mention, Relation
from kg.ontology import KGO, KGR, ORG, PROV, RDFS, SCHEMA, SKOS
from kg.relations import ACTS_WITH, ARTICLE_IRIS, AUTHOR, COOCCURS, ISSUED, MENTIONS, PART_OF, RUNS, SERVES, WITHIN, article_iri

if TYPE_CHECKING:
    import networkx as nx

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
NIF = "http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#"
ITSRDF = "http://www.w3.org/2005/11/its/rdf#"
DCT = "http://purl.org/dc/terms/"

PREFIXES = {
    "kgo": KGO,
    "kgr": KGR,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "skos": SKOS,
    "schema": SCHEMA,
    "org": ORG,
    "prov": PROV,
    "nif": NIF,
    "itsrdf": ITSRDF,
    "dct": DCT,
}

PREDICATE_IRI = {
    AUTHOR: SCHEMA + "author",
    MENTIONS: SCHEMA + "mentions",
    WITHIN: SCHEMA + "containedInPlace",
    PART_OF: ORG + "subOrganizationOf",
    SERVES: KGO + "servesPlace",
    RUNS: KGO + "runsProgramme",
    ISSUED: KGO + "issuedPolicy",
    ACTS_WITH: KGO + "actsWith",
    COOCCURS: KGO + "cooccursWith",
}

CLASS_OF = {
    "PERSON": KGO + "Person",
    "ORG": KGO + "Organisation",
    "PLACE": KGO + "Place",
    "PROGRAMME": KGO + "Programme",
    "POLICY": KGO + "Policy",
    ARTICLE: KGO + "Article",
}

_Term = ox.NamedNode | ox.Literal
# pyoxigraph's parsers refuse a literal over 16 MiB; a page that long keeps its text in the input
# file only (its NIF context still gives its length), so the output stays readable everywhere.
_MAX_LITERAL_BYTES = 16 * 1024 * 1024 - 1024


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _zh(text: str) -> ox.Literal:
    return ox.Literal(_clean(text), language="zh")


def _int(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=_n(XSD + "integer"))


# control characters other than tab and newline cannot go into RDF safely: each becomes a space
_CONTROLS = {c: " " for c in [*range(0, 9), *range(11, 32), 0x7F]}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """Text as a literal (searched first: str.translate looks up every character of a text that
    is not ASCII, and this runs over every document's text)."""
    return text.translate(_CONTROLS) if _CONTROL.search(text) else text


def doc_iri(doc_id: str) -> str:
    return f"{KGR}doc/{iri_path(doc_id)}"


def range_iri(doc_id: str, start: int, end: int) -> str:
    """A NIF/RFC 5147 IRI for a character range of a document."""
    return f"{doc_iri(doc_id)}#char={start},{end}"


class Rebase:
    """Rewrites the resource namespace to a user's base IRI (the ontology's terms keep theirs)."""

    def __init__(self, base: str | None) -> None:
        self.base = base if base and base != KGR else None

    def __call__(self, iri: str) -> str:
        if self.base and iri.startswith(KGR):
            return self.base + iri[len(KGR) :]
        return iri


def graph_triples(g: nx.MultiDiGraph, *, base: str | None = None) -> list[ox.Triple]:
    """The corpus-wide triples of kg.ttl, sorted: entities, their relations, the statements' heads.

    What belongs to one document (the document, its articles, what they mention, the evidence of
    each statement read there) is in `document_triples`, made where the document is extracted.
    """
    rb = Rebase(base)
    out: set[ox.Triple] = set()
    add = lambda s, p, o: out.add(ox.Triple(_n(rb(s)), _n(p), o))  # noqa: E731
    for node, data in g.nodes(data=True):
        kind = data["type"]
        if kind == ARTICLE:
            continue
        add(node, RDF + "type", _n(data.get("cls") or CLASS_OF[kind]))
        add(node, SKOS + "prefLabel", _zh(data["label"]))
        add(node, RDFS + "label", _zh(data["label"]))
        for alias in data.get("aliases", ()):
            add(node, SKOS + "altLabel", _zh(alias))
        if data.get("new"):
            add(node, KGO + "isNew", ox.Literal("true", datatype=_n(XSD + "boolean")))
        if data.get("mentions"):
            add(node, KGO + "mentionCount", _int(data["mentions"]))
        if data.get("level") is not None:
            add(node, KGO + "adminLevel", _int(data["level"]))
        if data.get("code"):
            add(node, KGO + "divisionCode", ox.Literal(data["code"]))
        if data.get("full_name"):
            add(node, KGO + "fullName", _zh(data["full_name"]))
    articles = {n for n, t in g.nodes(data="type") if t == ARTICLE}
    for s, o, key, data in g.edges(keys=True, data=True):
        if s in articles:
            continue  # what an article mentions, who wrote it: in the article's document part
        _fact(add, s, key, o, data.get("source") == "text" and data, rb)
    return sorted(out, key=_triple_key)


def _fact(add, s: str, key: str, o: str, data: dict | bool, rb: Rebase) -> None:
    """The triple of a relation and, when read in text (`data`: its edge's data), the head of its statement."""
    predicate = PREDICATE_IRI[key]
    add(s, predicate, _n(rb(o)))
    if not data or key == MENTIONS:
        return
    stmt = statement_iri(s, key, o)
    add(stmt, RDF + "type", _n(KGO + "Statement"))
    add(stmt, RDF + "subject", _n(rb(s)))
    add(stmt, RDF + "predicate", _n(predicate))
    add(stmt, RDF + "object", _n(rb(o)))
    add(stmt, KGO + "confidence", ox.Literal(_decimal(data["confidence"]), datatype=_n(XSD + "decimal")))
    add(stmt, KGO + "count", _int(data["count"]))
    for cue in data.get("cues", ()):
        add(stmt, KGO + "cue", _zh(cue))


def statement_iri(s: str, key: str, o: str) -> str:
    """The IRI of the statement of a fact. A fact about an article (who wrote it) is read in its
    document alone, and its statement is the article's: `<article>#author-<hash>`, in the article's
    namespace, so that a document's own IRIs are told by their namespace (kg.validate.owner). Any
    other fact's statement is the corpus's, `kgr:statement/<hash>`."""
    if s.startswith(ARTICLE_IRIS):
        return f"{s}#{key}-{_hash(s, key, o)}"
    return f"{KGR}statement/{_hash(s, key, o)}"


def document_triples(doc: DocInfo, relations: Iterable[Relation], *, base: str | None = None) -> list[ox.Triple]:
    """One document's triples of kg.ttl, sorted: the document and its articles, the entities each
    article mentions and its authors (with their statements), and for every relation read in it
    the statement's evidence there (a NIF string with the sentence). They depend on nothing
    outside the document."""
    rb = Rebase(base)
    out: set[ox.Triple] = set()
    add = lambda s, p, o: out.add(ox.Triple(_n(rb(s)), _n(p), o))  # noqa: E731
    d = doc_iri(doc.doc_id)
    add(d, RDF + "type", _n(KGO + "Document"))
    add(d, SCHEMA + "identifier", ox.Literal(doc.doc_id))
    add(d, SCHEMA + "encodingFormat", ox.Literal(doc.encoding))
    add(d, KGO + "characters", _int(len(doc.text)))
    articles = {article_iri(doc.doc_id, a[0]) for a in doc.articles}
    for index, start, end, title, _byline in doc.articles:
        a = article_iri(doc.doc_id, index)
        add(a, RDF + "type", _n(CLASS_OF[ARTICLE]))
        add(a, SCHEMA + "headline", _zh(title))
        add(a, SCHEMA + "isPartOf", _n(rb(d)))
        add(a, NIF + "beginIndex", _int(start))
        add(a, NIF + "endIndex", _int(end))
    texts = {doc.doc_id: doc.text}
    # every relation: its ends are the document's mentions and articles, or a known concept, which the
    # graph holds as it holds the fact (kg.graph.GraphBuilder), read where it is written here
    relations = list(relations)
    # an article's relations (mentions, author) were read in this document only: the whole fact is here,
    # its edge data as kg.graph.build_graph computes it
    grouped: dict[tuple[str, str, str], list[Relation]] = {}
    for r in relations:
        if r.subject in articles:
            grouped.setdefault((r.subject, r.predicate, r.object), []).append(r)
    for (s, key, o), rs in grouped.items():
        evidence = {(r.evidence.start, r.evidence.end) for r in rs}
        data = {"confidence": round(max(r.confidence for r in rs), 3), "count": len(evidence), "cues": sorted({r.cue for r in rs if r.cue})}
        _fact(add, s, key, o, data, rb)
    for r in relations:
        if r.predicate == MENTIONS:
            continue
        ev = r.evidence
        stmt = statement_iri(r.subject, r.predicate, r.object)
        add(stmt, KGO + "evidence", _n(rb(range_iri(ev.doc_id, ev.start, ev.end))))
        add(stmt, PROV + "wasDerivedFrom", _n(rb(doc_iri(ev.doc_id))))
        _string(add, range_iri(ev.doc_id, ev.start, ev.end), ev.doc_id, ev.start, ev.end, texts, rb)
    return sorted(out, key=_triple_key)


def _string(add, ev: str, doc_id: str, start: int, end: int, texts: dict[str, str], rb: Rebase) -> None:
    add(ev, RDF + "type", _n(NIF + "String"))
    add(ev, NIF + "beginIndex", _int(start))
    add(ev, NIF + "endIndex", _int(end))
    add(ev, NIF + "referenceContext", _n(rb(doc_iri(doc_id))))
    if doc_id in texts:
        add(ev, NIF + "anchorOf", ox.Literal(_clean(texts[doc_id][start:end])))


def mention_quads(mentions: Iterable[Mention], docs: Sequence[DocInfo], *, base: str | None = None) -> list[ox.Quad]:
    """The quads of mentions.trig: one named graph per article, NIF phrases inside."""
    rb = Rebase(base)
    out: set[ox.Quad] = set()
    texts = {d.doc_id: d.text for d in docs}
    for m in mentions:
        graph = _n(rb(article_iri(m.doc_id, m.article)))
        node = rb(range_iri(m.doc_id, m.start, m.end))

        def add(s: str, p: str, o: _Term) -> None:
            out.add(ox.Quad(_n(s), _n(p), o, graph))

        add(node, RDF + "type", _n(NIF + "Phrase"))
        add(node, RDF + "type", _n(KGO + "Mention"))
        add(node, NIF + "beginIndex", _int(m.start))
        add(node, NIF + "endIndex", _int(m.end))
        add(node, NIF + "anchorOf", ox.Literal(_clean(m.text)))
        add(node, NIF + "referenceContext", _n(rb(doc_iri(m.doc_id))))
        add(node, ITSRDF + "taIdentRef", _n(rb(m.iri)))
        add(node, ITSRDF + "taClassRef", _n(CLASS_OF[m.label]))
        add(node, KGO + "nerLabel", ox.Literal(m.label))
        add(node, KGO + "sentence", _n(rb(range_iri(m.doc_id, *m.sentence))))
        sentence = rb(range_iri(m.doc_id, *m.sentence))
        add(sentence, RDF + "type", _n(NIF + "Sentence"))
        add(sentence, NIF + "beginIndex", _int(m.sentence[0]))
        add(sentence, NIF + "endIndex", _int(m.sentence[1]))
        add(sentence, NIF + "referenceContext", _n(rb(doc_iri(m.doc_id))))
        add(sentence, NIF + "anchorOf", ox.Literal(_clean(texts.get(m.doc_id, "")[m.sentence[0] : m.sentence[1]])))
    for d in docs:
        context = rb(doc_iri(d.doc_id))
        graph = _n(context)
        out.add(ox.Quad(_n(context), _n(RDF + "type"), _n(NIF + "Context"), graph))
        out.add(ox.Quad(_n(context), _n(NIF + "beginIndex"), _int(0), graph))
        out.add(ox.Quad(_n(context), _n(NIF + "endIndex"), _int(len(d.text)), graph))
        if len(d.text) * 4 < _MAX_LITERAL_BYTES or len(d.text.encode("utf-8")) < _MAX_LITERAL_BYTES:
            out.add(ox.Quad(_n(context), _n(NIF + "isString"), ox.Literal(_clean(d.text)), graph))
    return sorted(out, key=lambda q: (q.graph_name.value, *_triple_key(q.triple)))


def _triple_key(t: ox.Triple) -> tuple:
    o = t.object
    return (t.subject.value, t.predicate.value, o.value, getattr(o, "language", None) or "", str(getattr(o, "datatype", "")))


def _decimal(x: float) -> str:
    """The canonical xsd:decimal form (0.85, 0.5, 1.0), so every store reads back the same literal."""
    text = f"{x:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _hash(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def prefixes(base: str | None = None) -> dict[str, str]:
    """Prefixes for the exports, with the resource namespace at the user's base IRI."""
    out = dict(PREFIXES)
    if base:
        out["kgr"] = base
    return out


def prefix_lines(base: str | None = None) -> bytes:
    """The @prefix lines that head kg.ttl and mentions.trig, which the documents' parts rely on."""
    return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in prefixes(base).items()).encode()


def write_turtle(triples: Iterable[ox.Triple], path: Path, *, base: str | None = None) -> None:
    """Turtle with prefixes declared, through pyoxigraph's streaming writer."""
    ox.serialize(triples, str(path), ox.RdfFormat.TURTLE, prefixes=prefixes(base))


def _without_prefixes(data: bytes) -> bytes:
    i = 0
    while data.startswith(b"@prefix ", i):
        i = data.index(b"\n", i) + 1
    return data[i:]


def parts_digest(ttl: bytes, trig: bytes) -> bytes:
    """A digest of a document's parts of kg.ttl and mentions.trig (the self-check keys documents by it)."""
    h = hashlib.blake2b(digest_size=16)
    for part in (ttl, trig):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


@dataclass(frozen=True, slots=True)
class DocumentParts:
    """One document's parts of the exports, made where it is extracted and cached with it.

    The global stage only concatenates them (documents in id order) after the corpus-wide part.
    """

    ttl: bytes  # its triples of kg.ttl as Turtle, without the prefix lines
    jsonld: bytes  # the same triples as JSON-LD node objects, one per line (",\n" between them)
    trig: bytes  # its named graphs of mentions.trig as TriG, without the prefix lines
    # parts_digest(ttl, trig): hashed once, where the parts are made, not by every build's self-check
    digest: bytes = b""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", parts_digest(self.ttl, self.trig))


def document_parts(doc: DocInfo, mentions: Sequence[Mention], relations: Iterable[Relation], *, base: str | None = None) -> DocumentParts:
    """One document's parts of kg.ttl, kg.jsonld and mentions.trig, written as text: the bytes of
    `terms_parts`, for a sixth of its CPU (this runs for every document extracted)."""
    w = _writer(base)
    if w is None:
        return terms_parts(doc, mentions, relations, base=base)
    forms: dict[str, str] = {}
    text = _clean(doc.text)
    subjects = _document_subjects(doc, relations, w=w, forms=forms, text=text)
    graphs = _mention_graphs(mentions, doc, w=w, forms=forms, text=text)
    triples = _sorted(subjects)  # once for kg.ttl and kg.jsonld
    return DocumentParts(w.turtle(triples, forms), w.jsonld(triples), w.trig(graphs, forms))


def document_trig(mentions: Sequence[Mention], doc: DocInfo, *, base: str | None = None) -> bytes:
    """One document's part of mentions.trig: its named graphs as TriG, without the prefix lines.

    The mention graphs of a document depend on nothing outside it.
    """
    w = _writer(base)
    if w is None:
        return _terms_trig(mentions, doc, base=base)
    forms: dict[str, str] = {}
    return w.trig(_mention_graphs(mentions, doc, w=w, forms=forms, text=_clean(doc.text)), forms)


def terms_parts(doc: DocInfo, mentions: Sequence[Mention], relations: Iterable[Relation], *, base: str | None = None) -> DocumentParts:
    """A document's parts made from pyoxigraph terms (`document_triples`, `mention_quads`) and
    serialised by its writer: the bytes `document_parts` must give (the tests hold it to them),
    and its way where a base IRI is the namespace of another prefix."""
    triples = document_triples(doc, relations, base=base)
    ttl = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes(base))
    return DocumentParts(_without_prefixes(ttl), ",\n".join(jsonld_nodes(triples, base=base)).encode(), _terms_trig(mentions, doc, base=base))


def _terms_trig(mentions: Sequence[Mention], doc: DocInfo, *, base: str | None = None) -> bytes:
    return _without_prefixes(ox.serialize(mention_quads(mentions, [doc], base=base), format=ox.RdfFormat.TRIG, prefixes=prefixes(base)))


# --- The documents' parts as text ------------------------------------------------------------
# A triple is kept as its subject and an entry (predicate, object value, language, datatype,
# object in Turtle): the first four are the sort key of `_triple_key`, where a datatype of ""
# marks an IRI. Subjects map to the set of their entries, graphs of mentions.trig to subjects.

_STRING = f"<{XSD}string>"
_INTEGER = f"<{XSD}integer>"
_DECIMAL = f"<{XSD}decimal>"
_LANG_STRING = f"<{RDF}langString>"
_TYPE = RDF + "type"

_Entry = tuple[str, str, str, str, str]
_Subjects = dict[str, set[_Entry]]
_Sorted = list[tuple[str, list[_Entry]]]


def _sorted(subjects: _Subjects) -> _Sorted:
    """The subjects and their entries in the order of `_triple_key`."""
    return [(s, sorted(subjects[s])) for s in sorted(subjects)]

# Turtle's PN_LOCAL as pyoxigraph's writer tests a local name: the characters it writes as they
# are (PN_CHARS_BASE, PN_CHARS, ':') and those it escapes with a backslash (PN_LOCAL_ESC)
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS = _PN_CHARS_BASE + "_\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_LOCAL_ESCAPED = "~!$&'()*+,;=/?#@%"  # always escaped; '.' and '-' only where PN_LOCAL needs it
_LOCAL_NAME = re.compile(f"[{_PN_CHARS_BASE}_:0-9.\\-{re.escape(_LOCAL_ESCAPED)}][{_PN_CHARS}:.{re.escape(_LOCAL_ESCAPED)}]*")
_LOCAL_ESCAPES = str.maketrans({c: "\\" + c for c in _LOCAL_ESCAPED})

# a literal as pyoxigraph writes it: these escaped, every other character (non-BMP too) as it is
_LITERAL_ESCAPES = str.maketrans(
    {**{c: f"\\u{c:04X}" for c in [*range(32), 0x7F, 0xFFFE, 0xFFFF]}, 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}
)
_RARE_IN_LITERAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")  # escaped by the table only (_clean made those of a text spaces)
_TURTLE_INTEGER = re.compile(r"[+-]?[0-9]+")  # the numbers pyoxigraph writes bare
_TURTLE_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")
_json_string = json.encoder.encode_basestring  # how jsonld_nodes' encoder writes a str


def _local_name(local: str) -> str | None:
    """A local name as pyoxigraph's Turtle writer escapes it; None where it writes the full IRI.

    >>> _local_name("doc/x.y#char=1,2"), _local_name("a."), _local_name("a—b")
    ('doc\\\\/x.y\\\\#char\\\\=1\\\\,2', 'a\\\\.', None)
    """
    if not local:
        return local  # the namespace itself: `kgr:`
    if not _LOCAL_NAME.fullmatch(local):
        return None
    out = local.translate(_LOCAL_ESCAPES)
    if local[0] in ".-":
        out = "\\" + out
    if local[-1] == "." and len(local) > 1:
        out = out[:-1] + "\\."
    return out


def _literal(value: str) -> str:
    """A string literal as pyoxigraph writes it (the usual text has at most tabs and newlines to escape)."""
    if _RARE_IN_LITERAL.search(value):
        return f'"{value.translate(_LITERAL_ESCAPES)}"'
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    return f'"{value}"'


class _Writer:
    """Turtle, TriG and JSON-LD text for one base IRI, the bytes of pyoxigraph's writer and `jsonld_nodes`."""

    def __init__(self, base: str | None) -> None:
        self.rb = Rebase(base)
        ctx = prefixes(base)
        # pyoxigraph tries the prefixes by namespace in reverse order (of nested namespaces the
        # longest first) and takes the first that leaves a local name it can write
        self.namespaces = sorted(((ns, p) for p, ns in ctx.items()), reverse=True)
        longest_first = sorted(ctx.items(), key=lambda kv: -len(kv[1]))
        self.namespace = re.compile("|".join(re.escape(ns) for _, ns in longest_first)).match  # the first alternative that matches
        self.prefix_of = {ns: p for p, ns in longest_first}
        kgr = ctx["kgr"]
        # the namespace most IRIs are in, when no longer one starts like it
        self.resources = None if any(len(ns) > len(kgr) and ns.startswith(kgr) for ns in ctx.values()) else kgr
        self.forms: dict[str, str] = {_TYPE: "a"}  # the IRIs that repeat: entities, classes, predicates
        self.keys: dict[str, tuple[str, str]] = {}  # predicate → its key in JSON-LD, and that written
        self.types: dict[str, str] = {}  # class → its JSON-LD @type
        self.heads: dict[tuple[str, str], str] = {}  # (predicate, indent) → its text after a ';'
        self.statement_iris: dict[tuple[str, str, str], str] = {}  # (subject, key, object) → its statement's IRI: facts recur across documents

    def iri(self, iri: str) -> str:
        """An IRI in Turtle: prefixed where its local name can be written, else in full."""
        found = self.forms.get(iri)
        if found is None:
            ox.NamedNode(iri)  # the ValueError the terms' path raises for an invalid IRI
            found = f"<{iri}>"
            for ns, p in self.namespaces:
                if iri.startswith(ns):
                    local = _local_name(iri[len(ns) :])
                    if local is not None:
                        found = f"{p}:{local}"
                        break
            if len(self.forms) > _REMEMBERED:
                self.forms = {_TYPE: "a"}
            self.forms[iri] = found
        return found

    def ranges(self, doc: str) -> Callable[[int, int], tuple[str, str]]:
        """A function giving the IRI of a character range of document `doc` (`range_iri`) and its
        Turtle form: that of `doc#char=` with the offsets appended, escaped once per document
        (the offsets add no character that changes how the name before them is written, nor
        which prefix is taken, unless a namespace goes on into them)."""
        head = f"{doc}#char="
        form = self.iri(head)
        if form.endswith(":") or any(len(ns) > len(head) and ns.startswith(head) for ns, _ in self.namespaces):
            return lambda start, end: (f"{head}{start},{end}", self.iri(f"{head}{start},{end}"))
        if form[0] == "<":
            return lambda start, end: (f"{head}{start},{end}", f"<{head}{start},{end}>")
        return lambda start, end: (f"{head}{start},{end}", f"{form}{start}\\,{end}")

    def node(self, p: str, iri: str) -> _Entry:
        return (p, iri, "", "", self.iri(iri))

    def decimal(self, p: str, value: str) -> _Entry:
        return (p, value, "", _DECIMAL, value if _TURTLE_DECIMAL.fullmatch(value) else f"{_literal(value)}^^{self.iri(XSD + 'decimal')}")

    def integer(self, p: str, value: int) -> _Entry:
        text = str(value)
        if type(value) is int or _TURTLE_INTEGER.fullmatch(text):  # an int's str is a Turtle integer
            return (p, text, "", _INTEGER, text)
        return (p, text, "", _INTEGER, f"{_literal(text)}^^{self.iri(XSD + 'integer')}")

    @staticmethod
    def string(p: str, value: str) -> _Entry:
        return (p, value, "", _STRING, _literal(value))

    @staticmethod
    def zh(p: str, value: str) -> _Entry:
        return (p, value, "zh", _LANG_STRING, _literal(value) + "@zh")

    def statements(self, out: list[str], triples: _Sorted, forms: dict[str, str], indent: str) -> None:
        """Turtle statements as pyoxigraph writes sorted triples: a subject's predicates joined by
        ';', a predicate's objects by ','."""
        heads = self.heads
        for s, entries in triples:
            out.append(indent)
            out.append(forms.get(s) or self.iri(s))
            prev = None
            for p, _value, _lang, _datatype, obj in entries:
                if p == prev:
                    out.append(" , ")
                elif prev is None:
                    out.append(f" {self.iri(p)} ")
                    prev = p
                else:
                    head = heads.get((p, indent))
                    if head is None:
                        head = heads[p, indent] = f" ;\n{indent}\t{self.iri(p)} "
                    out.append(head)
                    prev = p
                out.append(obj)
            out.append(" .\n")

    def turtle(self, triples: _Sorted, forms: dict[str, str]) -> bytes:
        out: list[str] = []
        self.statements(out, triples, forms, "")
        return "".join(out).encode()

    def trig(self, graphs: dict[str, _Subjects], forms: dict[str, str]) -> bytes:
        out: list[str] = []
        for g in sorted(graphs):
            out.append(f"{forms.get(g) or self.iri(g)} {{\n")
            self.statements(out, _sorted(graphs[g]), forms, "\t")
            out.append("}\n")
        return "".join(out).encode()

    def compact(self, iri: str) -> str:
        """An IRI as `jsonld_nodes` compacts it: by the first of the longest namespaces it starts with."""
        if self.resources and iri.startswith(self.resources):
            return "kgr:" + iri[len(self.resources) :]
        found = self.namespace(iri)
        return f"{self.prefix_of[found[0]]}:{iri[found.end():]}" if found else iri

    def jsonld(self, triples: _Sorted) -> bytes:
        """The node objects of `jsonld_nodes`, one a line, ",\n" between them."""
        keys, types, compact = self.keys, self.types, self.compact
        ids: dict[str, str] = {}  # the objects repeat: the document, ranges, entities
        lines = []
        for s, entries in triples:
            fields = [("@id", f'"@id": {_json_string(compact(s))}')]
            values: list[str] = []
            prev = None
            for p, value, lang, datatype, _obj in entries:
                if p != prev:
                    if values:
                        fields.append((key, f"{head}[{', '.join(values)}]"))
                    found = keys.get(p)
                    if found is None:
                        name = "@type" if p == _TYPE else compact(p)
                        found = keys[p] = (name, f"{_json_string(name)}: ")
                    key, head = found
                    values = []
                    prev = p
                if p == _TYPE:
                    text = types.get(value)
                    if text is None:
                        text = types[value] = _json_string(compact(value))
                elif not datatype:
                    text = ids.get(value)
                    if text is None:
                        text = ids[value] = f'{{"@id": {_json_string(compact(value))}}}'
                elif lang:
                    text = f'{{"@language": {_json_string(lang)}, "@value": {_json_string(value)}}}'
                elif datatype == _INTEGER:
                    text = str(int(value))
                elif datatype == _DECIMAL:
                    text = f'{{"@type": "xsd:decimal", "@value": {_json_string(value)}}}'
                else:
                    text = _json_string(value)
                values.append(text)
            if values:
                fields.append((key, f"{head}[{', '.join(values)}]"))
            fields.sort()  # by key: the predicates here compact to keys of their own
            lines.append("{" + ", ".join([text for _key, text in fields]) + "}")
        return ",\n".join(lines).encode()


_WRITERS: dict[str | None, _Writer | None] = {}
# how many IRIs a writer remembers before it starts afresh: the entities and facts that recur in a
# worker's documents, in a few MB (each document adds its own IRIs, which never recur)
_REMEMBERED = 20_000


def _writer(base: str | None) -> _Writer | None:
    """The text writer for a base IRI; None (the terms' path) where two prefixes share a namespace."""
    if base not in _WRITERS:
        ctx = prefixes(base)
        _WRITERS[base] = _Writer(base) if len(set(ctx.values())) == len(ctx) else None
    return _WRITERS[base]


def _document_subjects(
    doc: DocInfo, relations: Iterable[Relation], *, w: _Writer, forms: dict[str, str], text: str
) -> _Subjects:
    """The triples of `document_triples`, by subject (`text`: the document's, cleaned); the
    Turtle forms of the character ranges made go into `forms`."""
    rb, node, integer = w.rb, w.node, w.integer
    out: _Subjects = {}

    def add(s: str, entries: Iterable[_Entry]) -> None:
        found = out.get(s)
        if found is None:
            out[s] = set(entries)
        else:
            found.update(entries)

    d = rb(doc_iri(doc.doc_id))
    add(d, [node(_TYPE, KGO + "Document"), w.string(SCHEMA + "identifier", doc.doc_id), w.string(SCHEMA + "encodingFormat", doc.encoding),
            integer(KGO + "characters", len(doc.text))])
    articles = {article_iri(doc.doc_id, a[0]) for a in doc.articles}
    for index, start, end, title, _byline in doc.articles:
        add(rb(article_iri(doc.doc_id, index)), [node(_TYPE, CLASS_OF[ARTICLE]), w.zh(SCHEMA + "headline", _clean(title)), node(SCHEMA + "isPartOf", d),
            integer(NIF + "beginIndex", start), integer(NIF + "endIndex", end)])
    relations = list(relations)  # every one, as document_triples keeps them
    grouped: dict[tuple[str, str, str], list[Relation]] = {}
    for r in relations:
        if r.subject in articles:
            grouped.setdefault((r.subject, r.predicate, r.object), []).append(r)
    for (s, key, o), rs in grouped.items():  # an article's facts, whole, as _fact writes them
        predicate = PREDICATE_IRI[key]
        add(rb(s), [node(predicate, rb(o))])
        if key == MENTIONS:
            continue
        add(rb(statement_iri(s, key, o)), [node(_TYPE, KGO + "Statement"), node(RDF + "subject", rb(s)), node(RDF + "predicate", predicate),
            node(RDF + "object", rb(o)), w.decimal(KGO + "confidence", _decimal(round(max(r.confidence for r in rs), 3))),
            integer(KGO + "count", len({(r.evidence.start, r.evidence.end) for r in rs})), *[w.zh(KGO + "cue", _clean(r.cue)) for r in rs if r.cue]])
    statements = w.statement_iris
    # per document evidence was read in: its prov:wasDerivedFrom and nif:referenceContext, its ranges, its text
    docs: dict[str, tuple[_Entry, _Entry, Callable[[int, int], tuple[str, str]], str | None]] = {}
    evidence, string_type = KGO + "evidence", node(_TYPE, NIF + "String")
    begin, end_index, anchor = NIF + "beginIndex", NIF + "endIndex", NIF + "anchorOf"
    read = {(r.subject, r.predicate, r.object, r.evidence.doc_id, r.evidence.start, r.evidence.end) for r in relations if r.predicate != MENTIONS}
    for s, key, o, doc_id, start, end in read:
        stmt = statements.get((s, key, o))
        if stmt is None:
            if len(statements) > _REMEMBERED:
                statements.clear()
            stmt = statements[s, key, o] = rb(statement_iri(s, key, o))
        found = docs.get(doc_id)
        if found is None:
            context = rb(doc_iri(doc_id))
            found = docs[doc_id] = (
                node(PROV + "wasDerivedFrom", context), node(NIF + "referenceContext", context), w.ranges(context), text if doc_id == doc.doc_id else None
            )
        derived, context_of, range_of, doc_text = found
        iri, form = range_of(start, end)
        add(stmt, ((evidence, iri, "", "", form), derived))
        if iri not in out:  # its triples depend on the range only
            forms[iri] = form
            entries = out[iri] = {string_type, integer(begin, start), integer(end_index, end), context_of}
            if doc_text is not None:
                entries.add(w.string(anchor, doc_text[start:end]))
    return out


def _mention_graphs(mentions: Sequence[Mention], doc: DocInfo, *, w: _Writer, forms: dict[str, str], text: str) -> dict[str, _Subjects]:
    """The quads of `mention_quads` for one document, by graph and subject (`text`: its text,
    cleaned); the Turtle forms of the character ranges made go into `forms`."""
    rb, node, integer, string = w.rb, w.node, w.integer, w.string
    phrase = (node(_TYPE, NIF + "Phrase"), node(_TYPE, KGO + "Mention"))
    sentence_type = node(_TYPE, NIF + "Sentence")
    begin, end, anchor, context_of = NIF + "beginIndex", NIF + "endIndex", NIF + "anchorOf", NIF + "referenceContext"
    out: dict[str, _Subjects] = {}
    docs: dict[str, tuple[_Entry, Callable[[int, int], tuple[str, str]], str]] = {}
    graphs: dict[tuple[str, int], _Subjects] = {}
    labels: dict[str, tuple[_Entry, _Entry]] = {}
    idents: dict[str, _Entry] = {}
    done: set[tuple[str, int, str]] = set()  # (document, article, sentence): its triples depend on these only
    for m in mentions:
        found = docs.get(m.doc_id)
        if found is None:
            context = rb(doc_iri(m.doc_id))
            found = docs[m.doc_id] = (node(context_of, context), w.ranges(context), text if m.doc_id == doc.doc_id else "")
        context, range_of, doc_text = found
        graph = graphs.get((m.doc_id, m.article))
        if graph is None:
            graph = graphs[m.doc_id, m.article] = out.setdefault(rb(article_iri(m.doc_id, m.article)), {})
        label = labels.get(m.label)
        if label is None:
            label = labels[m.label] = (node(ITSRDF + "taClassRef", CLASS_OF[m.label]), string(KGO + "nerLabel", m.label))
        iri, form = range_of(m.start, m.end)
        forms[iri] = form
        s0, s1 = m.sentence
        sentence, sentence_form = range_of(s0, s1)
        entries = graph.get(iri)
        if entries is None:
            entries = graph[iri] = set()
        entries.update(phrase)
        entries.update(label)
        ident = idents.get(m.iri)
        if ident is None:
            ident = idents[m.iri] = node(ITSRDF + "taIdentRef", rb(m.iri))
        entries.update((integer(begin, m.start), integer(end, m.end), string(anchor, _clean(m.text)), context, ident, (KGO + "sentence", sentence, "", "", sentence_form)))
        if (m.doc_id, m.article, sentence) not in done:
            done.add((m.doc_id, m.article, sentence))
            forms[sentence] = sentence_form
            entries = graph.get(sentence)
            if entries is None:
                entries = graph[sentence] = set()
            entries.update((sentence_type, integer(begin, s0), integer(end, s1), context, string(anchor, doc_text[s0:s1])))
    context = rb(doc_iri(doc.doc_id))
    entries = out.setdefault(context, {}).setdefault(context, set())
    entries.update((node(_TYPE, NIF + "Context"), integer(begin, 0), integer(end, len(doc.text))))
    if len(doc.text) * 4 < _MAX_LITERAL_BYTES or len(doc.text.encode("utf-8")) < _MAX_LITERAL_BYTES:
        entries.add(string(NIF + "isString", text))
    return out


def write_turtle_parts(triples: Iterable[ox.Triple], parts: Iterable[bytes], path: Path, *, base: str | None = None) -> None:
    """kg.ttl: the corpus-wide triples, then each document's part (`DocumentParts.ttl`) in the order given.

    A statement's subject is written twice, its head above and its evidence in each document
    where it was read: Turtle allows it, and every reader sees one graph.
    """
    with path.open("wb") as fh:
        # the prefixes declared here, not by the writer: it declares none when there is no triple
        # (a corpus without entities), and the documents' parts use them
        fh.write(prefix_lines(base))
        fh.write(_without_prefixes(ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes(base))))
        for part in parts:
            fh.write(part)


def write_trig_parts(parts: Iterable[bytes], path: Path, *, base: str | None = None) -> None:
    """mentions.trig from the parts of `document_trig`, in the order given (the documents' order)."""
    with path.open("wb") as fh:
        fh.write(prefix_lines(base))
        for part in parts:
            fh.write(part)


def jsonld_nodes(triples: Iterable[ox.Triple], *, base: str | None = None) -> list[str]:
    """One JSON-LD node object per subject, sorted, keys compacted by the prefixes (one line each).

    json's C encoder writes each (an indented dump goes through its pure-Python encoder, five
    times slower on an archive).
    """
    ctx = prefixes(base)
    nodes: dict[str, dict] = {}
    longest_first = sorted(ctx.items(), key=lambda kv: -len(kv[1]))
    short: dict[str, str] = {}

    def compact(iri: str) -> str:
        found = short.get(iri)
        if found is None:
            found = iri
            for p, ns in longest_first:
                if iri.startswith(ns):
                    found = f"{p}:{iri[len(ns):]}"
                    break
            if len(short) < 1_000_000:  # predicates and classes repeat; subjects mostly do not
                short[iri] = found
        return found

    for t in triples:
        node = nodes.setdefault(t.subject.value, {"@id": compact(t.subject.value)})
        key = "@type" if t.predicate.value == RDF + "type" else compact(t.predicate.value)
        o = t.object
        if key == "@type":
            value: object = compact(o.value)
        elif isinstance(o, ox.NamedNode):
            value = {"@id": compact(o.value)}
        elif o.language:
            value = {"@value": o.value, "@language": o.language}
        elif o.datatype.value in (XSD + "integer",):
            value = int(o.value)
        elif o.datatype.value == XSD + "boolean":
            value = o.value == "true"
        elif o.datatype.value == XSD + "decimal":
            value = {"@value": o.value, "@type": "xsd:decimal"}
        else:
            value = o.value
        node.setdefault(key, []).append(value)
    dump = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    return [dump(nodes[k]) for k in sorted(nodes)]


def write_jsonld(triples: Iterable[ox.Triple], parts: Iterable[bytes], path: Path, *, base: str | None = None) -> None:
    """kg.jsonld: the content of kg.ttl with a context, one node object per line: the corpus-wide
    nodes, then each document's (`DocumentParts.jsonld`). A statement is two node objects, its
    head and its evidence in a document; JSON-LD merges node objects with the same @id."""
    dump = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    with path.open("wb") as fh:
        fh.write(('{"@context": ' + dump(prefixes(base)) + ',\n"@graph": [\n').encode())
        head = ",\n".join(jsonld_nodes(triples, base=base)).encode()
        fh.write(head)
        first = not head
        for part in parts:
            if part:
                fh.write(part if first else b",\n" + part)
                first = False
        fh.write(b"\n]}\n")


def iter_ntriples(triples: Iterable[ox.Triple]) -> Iterator[bytes]:
    """Canonical N-Triples lines, for stores and diffs."""
    for t in triples:
        yield ox.serialize([t], format=ox.RdfFormat.N_TRIPLES)
