"""Relations the articles state, each traced to the sentence it was read from.

- article → author (bylines and photo credits), article → each entity it mentions;
- place within place (a chain 铁西区站前街道东煤社区), organisation part of organisation and
  organisation serving a place (a name that starts with another's name: 铁西区民政局志愿者服务队);
- actor → programme it runs, actor → policy it issues, organisation ↔ organisation acting together,
  by cue words (configs/relations.toml) between the mentions of one sentence;
- entity ↔ entity in one sentence (co-occurrence), kept apart from stated relations.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from pathlib import Path
from urllib.parse import unquote

from kg.corpus import Document, iri_path
from kg.mention import Evidence, Mention, Relation
from kg.ontology import KGR, Ontology

CUES = Path(__file__).resolve().parent.parent / "configs" / "relations.toml"

# predicate keys, in the order the graph and RDF stages know them
AUTHOR = "author"
MENTIONS = "mentions"
WITHIN = "containedInPlace"
PART_OF = "subOrganizationOf"
SERVES = "servesPlace"
RUNS = "runsProgramme"
ISSUED = "issuedPolicy"
ACTS_WITH = "actsWith"
COOCCURS = "cooccursWith"
PREDICATES = (AUTHOR, MENTIONS, WITHIN, PART_OF, SERVES, RUNS, ISSUED, ACTS_WITH, COOCCURS)


@dataclass(frozen=True, slots=True)
class CueRule:
    predicate: str
    cues: tuple[str, ...]
    paired: tuple[tuple[str, str], ...]
    actor: tuple[str, ...]
    target: tuple[str, ...]
    confidence: float


@cache
def cue_rules(path: Path = CUES) -> tuple[tuple[CueRule, ...], float]:
    """The cue rules of a TOML file and the confidence of the article-actor fallback."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = tuple(
        CueRule(
            predicate=key,
            cues=tuple(sorted(spec["cues"], key=len, reverse=True)),
            paired=tuple(tuple(p) for p in spec.get("paired", ())),
            actor=tuple(spec["actor"]),
            target=tuple(spec["target"]),
            confidence=float(spec["confidence"]),
        )
        for key, spec in data.items()
        if key != "fallback"
    )
    return rules, float(data.get("fallback", {}).get("confidence", 0.6))


ARTICLE_IRIS = f"{KGR}article/"  # what every article's IRI starts with


def article_iri(doc_id: str, index: int) -> str:
    """The IRI of an article: its document and its position on the page."""
    return f"{ARTICLE_IRIS}{iri_path(doc_id)}/{index}"


def article_doc(iri: str) -> tuple[str, str] | None:
    """`article_iri` read back: the document and the index (as written) of an IRI in the articles'
    namespace (kg.corpus.iri_path is one-to-one), None for any other IRI. Whether the document has
    such an article is the caller's to tell.

    >>> article_doc(article_iri("铁西 50%#1", 3)), article_doc(f"{KGR}doc/a")
    (('铁西 50%#1', '3'), None)
    """
    if not iri.startswith(ARTICLE_IRIS):
        return None
    path, _, index = iri[len(ARTICLE_IRIS) :].rpartition("/")
    return unquote(path), index


def relations(doc: Document, mentions: Sequence[Mention], onto: Ontology) -> list[Relation]:
    """Every relation a document states, sorted, each with its evidence and confidence."""
    out: list[Relation] = []
    by_article: dict[int, list[Mention]] = {}
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        by_article.setdefault(m.article, []).append(m)
    for article in doc.articles:
        ms = by_article.get(article.index, [])
        art = article_iri(doc.doc_id, article.index)
        for m in ms:
            if m.label == "PERSON" and article.byline and article.byline[0] <= m.start < article.byline[1]:
                byline = Evidence(doc.doc_id, article.byline[0], article.byline[1])
                credit = doc.text[article.byline[0] : article.byline[1]].rstrip().endswith("摄")
                out.append(Relation(art, AUTHOR, m.iri, byline, 0.95, "摄" if credit else "署名"))
            out.append(Relation(art, MENTIONS, m.iri, Evidence(doc.doc_id, m.start, m.end), 1.0))
        out.extend(_structure(doc, ms, onto))
        by_sentence: dict[tuple[int, int], list[Mention]] = {}
        for m in ms:
            by_sentence.setdefault(m.sentence, []).append(m)
        out.extend(_stated(doc, by_sentence, _main_actor(article, ms)))
        out.extend(_cooccurrence(doc, by_sentence))
    return sorted(set(out), key=_order)


def _order(r: Relation) -> tuple:
    return (r.evidence.doc_id, r.evidence.start, r.evidence.end, r.predicate, r.subject, r.object, r.cue)


def _structure(doc: Document, ms: Sequence[Mention], onto: Ontology) -> Iterable[Relation]:
    """Chains of places and names built on other names, read where they are written."""
    for a, b in zip(ms, ms[1:]):
        if a.label == b.label == "PLACE" and a.iri != b.iri and doc.text[a.end : b.start].strip() == "":
            yield Relation(b.iri, WITHIN, a.iri, Evidence(doc.doc_id, a.start, b.end), 0.95)
    names = [(m, doc.text[m.start : m.end].replace("\n", "")) for m in ms]
    for m, name in names:
        if m.label != "ORG" or not m.new:
            continue
        best = None
        for other, other_name in names:
            if other.iri != m.iri and len(other_name) < len(name) and name.startswith(other_name):
                if other.label in ("ORG", "PLACE") and (best is None or len(other_name) > len(best[1])):
                    best = (other, other_name)
        if best is not None:
            predicate = PART_OF if best[0].label == "ORG" else SERVES
            yield Relation(m.iri, predicate, best[0].iri, Evidence(doc.doc_id, m.start, m.end), 0.9)
        elif (place := onto.place_prefix(name)) is not None:
            # a new body named with a known place prefix (铁西区环卫处) serves that place
            yield Relation(m.iri, SERVES, place.iri, Evidence(doc.doc_id, m.start, m.end), 0.7)


def _main_actor(article, ms: Sequence[Mention]) -> Mention | None:
    """The body or place an article is about: the first one its headline block names."""
    if article.headline:
        for m in ms:
            if article.headline[0] <= m.start < article.headline[1] and m.label in ("ORG", "PLACE"):
                return m
    for m in ms:
        if m.label in ("ORG", "PLACE"):
            return m
    return None


def _stated(doc: Document, sentences: dict[tuple[int, int], list[Mention]], main: Mention | None) -> Iterable[Relation]:
    rules, fallback = cue_rules()
    for (s, e), members in sentences.items():
        text = doc.text[s:e]
        for rule in rules:
            for cue, at in _cue_positions(text, rule):
                pos = s + at
                targets = [m for m in members if m.label in rule.target and m.start >= pos + len(cue)]
                if not targets:
                    continue
                if rule.predicate == ACTS_WITH:
                    # the partners are the run of bodies right after the cue (县妇联、县公安局 …)
                    targets = _run_after(doc, targets, pos + len(cue))
                actors = [m for m in members if m.label in rule.actor and m.end <= pos]
                ev = Evidence(doc.doc_id, s, e)
                found = _actor(doc, actors, s, pos)
                if found is not None:
                    actor, conf = found[0], rule.confidence * found[1]
                elif main is not None and rule.predicate != ACTS_WITH:
                    actor, conf = main, fallback
                else:
                    continue
                for t in targets if rule.predicate == ACTS_WITH else _first_clause(doc, targets, pos):
                    if t.iri != actor.iri:
                        yield Relation(actor.iri, rule.predicate, t.iri, ev, conf, cue)


_CLAUSE = re.compile(r"[,，;；:：]")
_ADVERBIAL = ("在", "按照", "根据", "围绕", "结合", "经", "为", "对", "针对", "通过", "依托", "由")


def _actor(doc: Document, actors: list[Mention], sentence_start: int, cue: int) -> tuple[Mention, float] | None:
    """Who states the action: the last actor of the cue's own clause, else the sentence's subject.

    An actor inside an adverbial phrase (在市委…的基础上, 按照区委要求) is not the subject.
    """
    clause_start = max([sentence_start, *(m.end() for m in _CLAUSE.finditer(doc.text, sentence_start, cue))])
    own = [m for m in actors if m.start >= clause_start and not _adverbial(doc, clause_start, m)]
    if own:
        return own[-1], 1.0
    first = actors[0] if actors else None
    if first is not None and first.start - sentence_start <= 4 and not _adverbial(doc, sentence_start, first):
        return first, 0.9
    return None


def _adverbial(doc: Document, clause_start: int, m: Mention) -> bool:
    lead = doc.text[clause_start : m.start].lstrip()
    return lead.startswith(_ADVERBIAL)


def _cue_positions(text: str, rule: CueRule) -> Iterable[tuple[str, int]]:
    taken: set[int] = set()
    for cue in rule.cues:
        start = text.find(cue)
        while start != -1:
            if start not in taken:
                taken.update(range(start, start + len(cue)))
                yield cue, start
            start = text.find(cue, start + 1)
    for first, second in rule.paired:
        i = text.find(first)
        j = text.find(second, i + 1) if i != -1 else -1
        if i != -1 and j != -1 and j - i <= 30:
            yield first, i


def _run_after(doc: Document, targets: list[Mention], pos: int) -> list[Mention]:
    run, end = [], pos
    for t in sorted(targets, key=lambda m: m.start):
        gap = doc.text[end : t.start]
        if len(gap) > 2 or any(ch not in "、和及与,， " for ch in gap):
            if run:
                break
            if len(gap) > 12:
                break
        run.append(t)
        end = t.end
    return run


def _first_clause(doc: Document, targets: list[Mention], pos: int) -> list[Mention]:
    """Targets of the clause the cue opens: up to the next full stop or semicolon."""
    out = []
    for t in sorted(targets, key=lambda m: m.start):
        if any(ch in "。；;" for ch in doc.text[pos : t.start]):
            break
        out.append(t)
    return out


def _cooccurrence(doc: Document, sentences: dict[tuple[int, int], list[Mention]]) -> Iterable[Relation]:
    for (s, e), members in sentences.items():
        iris = sorted({m.iri for m in members})
        for a, b in combinations(iris, 2):
            yield Relation(a, COOCCURS, b, Evidence(doc.doc_id, s, e), 0.5)
