"""The contracts between stages: what the graph stage knows of the text.

This module imports neither spaCy nor rdflib, so every stage can depend on it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

LABELS = ("PERSON", "ORG", "PLACE", "PROGRAMME", "POLICY")


def _reduce(self) -> tuple:
    """Pickle as (class, fields): a third faster to load than a slotted dataclass's state (the
    build's cache holds every mention and relation of an archive)."""
    return (type(self), tuple([getattr(self, f) for f in self.__slots__]))


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled character range found by the NER, before linking."""

    start: int  # offsets into the original document text
    end: int
    label: str  # one of LABELS
    source: str = ""  # which component proposed it (gazetteer, rules:<family>, model)
    kb_id: str = ""  # ontology IRI when the gazetteer matched a label exactly

    __reduce__ = _reduce


@dataclass(frozen=True, slots=True)
class Mention:
    """A resolved entity mention, with the article and sentence it sits in."""

    doc_id: str
    start: int  # character offsets into the document text: independent of the tokenizer
    end: int
    text: str
    label: str
    iri: str
    article: int  # index of the article within the document
    sentence: tuple[int, int]  # character range of the sentence holding the mention
    new: bool = False  # True when the linker created the node

    def __reduce__(self) -> tuple:
        return (_mention, (self.doc_id, self.start, self.end, self.text, self.label, self.iri, self.article, self.sentence, self.new))


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a fact was read: a document and a character range (a sentence or a byline)."""

    doc_id: str
    start: int
    end: int

    def __reduce__(self) -> tuple:
        return (_evidence, (self.doc_id, self.start, self.end))


@dataclass(frozen=True, slots=True)
class Relation:
    """A fact between two nodes, traced to the text that states it."""

    subject: str  # IRI
    predicate: str  # relation key, e.g. "runsProgramme"; see kg.relations.PREDICATES
    object: str  # IRI
    evidence: Evidence
    confidence: float
    cue: str = ""  # the word that states it (开展, 印发, 摄 …), empty for structural facts

    def __reduce__(self) -> tuple:
        return (_relation, (self.subject, self.predicate, self.object, self.evidence, self.confidence, self.cue))


def relation_rows(relations: Iterable[Relation]) -> list[tuple[str, str, str, str, int, int, float, str]]:
    """Relations as rows of plain values, (subject, predicate, object, doc, start, end, confidence,
    cue): they pickle in a fifth of the time of the objects (0.04 s against 0.17 for the relations
    of 1,000 pages of the seeds)."""
    return [(r.subject, r.predicate, r.object, r.evidence.doc_id, r.evidence.start, r.evidence.end, r.confidence, r.cue) for r in relations]


def relations_of_rows(rows: Iterable[tuple]) -> list[Relation]:
    """The Relations of `relation_rows`."""
    return [Relation(s, p, o, Evidence(d, start, end), confidence, cue) for s, p, o, d, start, end, confidence, cue in rows]


# Unpickled (from a worker, from the cache), mentions and relations share their strings with every
# equal one read before (`sys.intern`): a document's pickle shares them within it only, so a build
# held a copy of each IRI, surface form and document id per document that has it (11 of the 43 kB a
# page of the seeds its mentions and document took, in the 1,000 pages of the seeds x200).
_intern = sys.intern


def _mention(doc_id: str, start: int, end: int, text: str, label: str, iri: str, article: int, sentence: tuple[int, int], new: bool) -> Mention:
    return Mention(_intern(doc_id), start, end, _intern(text), _intern(label), _intern(iri), article, sentence, new)


# And the offsets of evidence share their int objects (below OFFSETS_SHARED): CPython shares only
# those up to 256, and a build kept each fact's range, 10 MB of offsets of the seeds x200 (300,000
# of them, 937 values).
OFFSETS_SHARED = 1 << 16
_offsets: dict[int, int] = {}


def _offset(n: int) -> int:
    return _offsets.setdefault(n, n) if n < OFFSETS_SHARED else n


def _evidence(doc_id: str, start: int, end: int) -> Evidence:
    return Evidence(_intern(doc_id), _offset(start), _offset(end))


def _relation(subject: str, predicate: str, object: str, evidence: Evidence, confidence: float, cue: str) -> Relation:
    return Relation(_intern(subject), _intern(predicate), _intern(object), evidence, confidence, _intern(cue))
