"""The graph stage: one networkx MultiDiGraph of nodes and facts, from mentions and relations.

Node IDs are IRIs. Every node has `type` (PERSON, ORG, PLACE, PROGRAMME, POLICY, ARTICLE), `label`
(its Chinese name), `aliases`, `mentions` (how often the corpus names it) and `new` (created from
text). Every edge has `key` = predicate, `confidence`, `count` and `evidence`: the sorted list of
(doc, start, end) ranges it was read from; facts taken from the ontology carry `source="ontology"`.
Input order never changes the graph. This module imports neither spaCy nor rdflib.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kg.corpus import Document
from kg.mention import Mention, Relation
from kg.ontology import Ontology
from kg.relations import PART_OF, SERVES, WITHIN, article_iri

if TYPE_CHECKING:  # networkx is imported where a graph is built: a worker that extracts never needs it
    import networkx as nx

ARTICLE = "ARTICLE"


@dataclass(slots=True)
class DocInfo:
    """What the graph keeps of a document: enough for article pages and provenance."""

    doc_id: str
    text: str
    encoding: str
    articles: list[tuple[int, int, int, str, tuple[int, int] | None]]  # index, start, end, title, byline

    @classmethod
    def of(cls, doc: Document) -> DocInfo:
        return cls(
            doc.doc_id,
            doc.text,
            doc.encoding,
            [(a.index, a.start, a.end, a.title(doc.text), a.byline) for a in doc.articles],
        )


def build_graph(
    docs: Iterable[DocInfo], mentions: Iterable[Mention], relations: Iterable[Relation], onto: Ontology
) -> nx.MultiDiGraph:
    """The knowledge graph of a corpus. Sorted inputs, sorted insertion: the same graph every time."""
    import networkx as nx

    docs = sorted(docs, key=lambda d: d.doc_id)
    mentions = sorted(mentions, key=lambda m: (m.doc_id, m.start, m.end))
    g = nx.MultiDiGraph()
    texts = {d.doc_id: d.text for d in docs}
    for d in docs:
        for index, start, end, title, byline in d.articles:
            g.add_node(
                article_iri(d.doc_id, index),
                type=ARTICLE,
                label=title,
                aliases=[],
                mentions=0,
                new=False,
                doc=d.doc_id,
                start=start,
                end=end,
            )

    surface: dict[str, Counter] = defaultdict(Counter)
    first_sentence: dict[str, tuple[str, int, int]] = {}
    types: dict[str, str] = {}
    new: dict[str, bool] = {}
    for m in mentions:
        surface[m.iri][m.text.replace("\n", "")] += 1
        first_sentence.setdefault(m.iri, (m.doc_id, *m.sentence))
        types.setdefault(m.iri, m.label)
        new[m.iri] = m.new
    for iri in sorted(surface):
        c = onto.concepts.get(iri)
        names = surface[iri]
        label = c.pref if c else sorted(names.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0][0]
        aliases = sorted((set(names) | set(c.alts if c else ())) - {label})
        doc_id, s, e = first_sentence[iri]
        g.add_node(
            iri,
            type=types[iri],
            label=label,
            aliases=aliases,
            mentions=sum(names.values()),
            new=new[iri],
            sentence=texts[doc_id][s:e].replace("\n", "") if doc_id in texts else "",
            **_known(c),
        )

    # the ontology's structure above the linked nodes: 东煤社区 → 站前街道 → 铁西区 → 四平市
    for iri in sorted(surface):
        _add_ancestry(g, iri, onto)

    grouped: dict[tuple[str, str, str], list[Relation]] = defaultdict(list)
    for r in relations:
        grouped[(r.subject, r.predicate, r.object)].append(r)
    for (s, p, o), rs in sorted(grouped.items()):
        if s not in g or o not in g:
            continue
        if len(rs) == 1:  # most edges (an article's mention of an entity): one relation, one piece of evidence
            (r,) = rs
            e = r.evidence
            evidence, confidence, cues = [(e.doc_id, e.start, e.end)], r.confidence, [r.cue] if r.cue else []
        else:
            evidence = sorted({(r.evidence.doc_id, r.evidence.start, r.evidence.end) for r in rs})
            confidence, cues = max(r.confidence for r in rs), sorted({r.cue for r in rs if r.cue})
        g.add_edge(s, o, key=p, confidence=round(confidence, 3), count=len(evidence), evidence=evidence, cues=cues, source="text")
    return g


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


def _add_ancestry(g: nx.MultiDiGraph, iri: str, onto: Ontology) -> None:
    c = onto.concepts.get(iri)
    while c is not None:
        steps = [(WITHIN, c.place), (PART_OF, c.org), (SERVES, c.serves)]
        parent = None
        for predicate, target in steps:
            if target is None or target not in onto.concepts:
                continue
            t = onto.concepts[target]
            if target not in g:
                g.add_node(target, type=t.label, label=t.pref, aliases=sorted(t.alts), mentions=0, new=False, sentence="", **_known(t))
            if not g.has_edge(c.iri, target, key=predicate):
                g.add_edge(c.iri, target, key=predicate, confidence=1.0, count=0, evidence=[], cues=[], source="ontology")
            parent = parent or target
        c = onto.concepts.get(parent) if parent else None


def summary(g: nx.MultiDiGraph, mentions: Sequence[Mention]) -> dict[str, Counter]:
    """Counts per type of mentions, nodes and new nodes, and of edges per predicate."""
    return {
        "mentions": Counter(m.label for m in mentions),
        "nodes": Counter(t for _, t in g.nodes(data="type")),
        "new": Counter(data["type"] for _, data in g.nodes(data=True) if data.get("new")),
        "edges": Counter(k for _, _, k in g.edges(keys=True)),
    }
