"""The contracts between stages: what the graph stage knows of the text.

This module imports neither spaCy nor rdflib, so every stage can depend on it.
"""

from __future__ import annotations

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

    __reduce__ = _reduce


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a fact was read: a document and a character range (a sentence or a byline)."""

    doc_id: str
    start: int
    end: int

    __reduce__ = _reduce


@dataclass(frozen=True, slots=True)
class Relation:
    """A fact between two nodes, traced to the text that states it."""

    subject: str  # IRI
    predicate: str  # relation key, e.g. "runsProgramme"; see kg.relations.PREDICATES
    object: str  # IRI
    evidence: Evidence
    confidence: float
    cue: str = ""  # the word that states it (开展, 印发, 摄 …), empty for structural facts

    __reduce__ = _reduce
