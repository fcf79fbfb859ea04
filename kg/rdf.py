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
This module never imports spaCy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pyoxigraph as ox

from kg.corpus import iri_path
from kg.graph import ARTICLE, DocInfo
from kg.mention import Mention, Relation
from kg.ontology import KGO, KGR, ORG, PROV, RDFS, SCHEMA, SKOS
from kg.relations import ACTS_WITH, AUTHOR, COOCCURS, ISSUED, MENTIONS, PART_OF, RUNS, SERVES, WITHIN, article_iri

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


def _clean(text: str) -> str:
    """Text as a literal (str.translate: this runs over every sentence and document text)."""
    return text.translate(_CONTROLS)


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
    return f"{KGR}statement/{_hash(s, key, o)}"


def document_triples(doc: DocInfo, mentions: Sequence[Mention], relations: Iterable[Relation], *, base: str | None = None) -> list[ox.Triple]:
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
    nodes = {m.iri for m in mentions} | articles
    for index, start, end, title, _byline in doc.articles:
        a = article_iri(doc.doc_id, index)
        add(a, RDF + "type", _n(CLASS_OF[ARTICLE]))
        add(a, SCHEMA + "headline", _zh(title))
        add(a, SCHEMA + "isPartOf", _n(rb(d)))
        add(a, NIF + "beginIndex", _int(start))
        add(a, NIF + "endIndex", _int(end))
    texts = {doc.doc_id: doc.text}
    relations = [r for r in relations if r.subject in nodes and r.object in nodes]  # as kg.graph.build_graph keeps them
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


@dataclass(slots=True)
class DocumentParts:
    """One document's parts of the exports, made where it is extracted and cached with it.

    The global stage only concatenates them (documents in id order) after the corpus-wide part.
    """

    ttl: bytes  # its triples of kg.ttl as Turtle, without the prefix lines
    jsonld: bytes  # the same triples as JSON-LD node objects, one per line (",\n" between them)
    trig: bytes  # its named graphs of mentions.trig as TriG, without the prefix lines


def document_parts(doc: DocInfo, mentions: Sequence[Mention], relations: Iterable[Relation], *, base: str | None = None) -> DocumentParts:
    triples = document_triples(doc, mentions, relations, base=base)
    ttl = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes(base))
    return DocumentParts(_without_prefixes(ttl), ",\n".join(jsonld_nodes(triples, base=base)).encode(), document_trig(mentions, doc, base=base))


def document_trig(mentions: Sequence[Mention], doc: DocInfo, *, base: str | None = None) -> bytes:
    """One document's part of mentions.trig: its named graphs as TriG, without the prefix lines.

    The mention graphs of a document depend on nothing outside it.
    """
    return _without_prefixes(ox.serialize(mention_quads(mentions, [doc], base=base), format=ox.RdfFormat.TRIG, prefixes=prefixes(base)))


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
