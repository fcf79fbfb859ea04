"""The linker: every NER span of a document becomes a Mention of one ontology node.

A reader resolves names by the article they are in. So does the linker:

1. The article's scope: the places its headline, byline and first sentences name (铁西区), then the
   document's, then the home region of the ontology (the place most concepts lie in).
2. Exact names: a span whose text is a label or alias of nodes of its type picks, among homonyms,
   the node whose places agree with the scope (东煤社区 in 铁西区, not another 东煤社区).
3. Relative names: a definite short form with a level prefix (区委, 县政协, 区委社工部, 市委, 省民政厅)
   or a bare body (政协, 政府) is read against the scope place of that level (铁西区 → 铁西区委社工部).
4. Chains: adjacent places (铁西区站前街道东煤社区) resolve left to right, each inside the one before.
5. Short forms of a name given earlier in the article (法律援助中心 after 铁东区法律援助中心).
6. Anything else is a new node, whose IRI hashes its type, scope and normalised name: the same input
   gives the same IRI whatever the order of files, and one new thing in one scope is one node.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kg.corpus import Document, sentences, to_simplified
from kg.mention import Mention, Span
from kg.ontology import KGR, Concept, Ontology

# The levels a relative prefix names, by the last character of a division's official name.
_LEVEL_PREFIX = {"省": ("省",), "市": ("市",), "区": ("区",), "县": ("县", "旗"), "乡": ("乡",), "镇": ("镇",)}
_SCOPED_LABELS = ("ORG", "PLACE")
_PUNCT = re.compile(r"[\s,，、·.。;；:：!！?？]+")  # types whose new nodes are scoped by place; others are corpus-wide


def normalise(name: str) -> str:
    """A name as compared: whitespace and line breaks inside it dropped, Simplified characters."""
    return to_simplified(re.sub(r"\s+", "", name))


@dataclass(slots=True)
class Scope:
    """The places an article is about, most specific first, and the region above them."""

    places: list[str]  # place IRIs, ordered by salience in the article

    def place_of_level(self, suffixes: tuple[str, ...], onto: Ontology) -> Concept | None:
        """The salient place whose official name ends with one of the suffixes (区, 县 …)."""
        for iri in self.places:
            chain = [iri, *onto.ancestors(iri)]
            for a in chain:
                c = onto.concepts.get(a)
                if c is not None and c.label == "PLACE" and c.pref.endswith(suffixes):
                    return c
        return None

    def key(self) -> str:
        """The scope of new nodes: the county-level (or finer) place the article is about."""
        return self.places[0] if self.places else ""


class Linker:
    """Resolves the spans of one document at a time against an ontology."""

    def __init__(self, onto: Ontology) -> None:
        self.onto = onto
        self.home = onto.home

    # -- candidates -------------------------------------------------------------------------
    def _rank(self, candidates: Sequence[Concept], scope: Scope, *, inside: str | None = None) -> Concept | None:
        """The candidate whose places best agree with the scope (ties: home region, then IRI)."""
        if not candidates:
            return None
        if inside is not None:
            within = [c for c in candidates if inside in self.onto.ancestors(c.iri)]
            if within:
                candidates = within
        return max(candidates, key=lambda c: self.onto.rank(c, scope.places))

    def exact(self, name: str, label: str, scope: Scope, *, inside: str | None = None) -> Concept | None:
        return self._rank(self.onto.lookup(name, label), scope, inside=inside)

    def relative(self, name: str, label: str, scope: Scope) -> Concept | None:
        """区委 → 铁西区委, 县政协 → 梨树县政协, 政协 → 梨树县政协: read against the scope."""
        if label not in ("ORG", "PLACE") or len(name) > 12:
            return None
        tries: list[tuple[Concept, str]] = []
        lead = name[0]
        if lead in _LEVEL_PREFIX and len(name) >= 2:
            place = scope.place_of_level(_LEVEL_PREFIX[lead], self.onto)
            if place is not None:
                tries.append((place, name[1:]))
        elif label == "ORG":
            for iri in scope.places[:2]:
                place = self.onto.concepts.get(iri)
                if place is not None:
                    tries.append((place, name))
        # a short place name in front of a body (伊通气象局, 梨树卫生健康局): try the place's other names
        for end in range(min(len(name) - 2, 8), 1, -1):
            places = self.onto.lookup(name[:end], "PLACE")
            if places:
                best = self._rank(places, scope)
                ranked = [best, *(c for c in places if c is not best)]  # the scope's reading first
                tries.extend((p, name[end:]) for p in ranked[:3])
                break
        for place, rest in tries:
            for prefix in place.names:
                found = self.exact(prefix + rest, label, scope)
                if found is None and not prefix.endswith(lead) and lead in _LEVEL_PREFIX:
                    found = self.exact(prefix + lead + rest, label, scope)
                if found is not None:
                    return found
        return None

    # -- scope ------------------------------------------------------------------------------
    def scope_of(self, doc: Document, spans: Sequence[Span]) -> dict[int, Scope]:
        """Each article's scope: the places it names, weighted to its headline and opening."""
        by_article: dict[int, Counter] = {a.index: Counter() for a in doc.articles}
        doc_places: Counter = Counter()
        base = Scope(list(self.home))
        for span in spans:
            if span.label not in ("PLACE", "ORG"):
                continue
            art = doc.article_at(span.start)
            name = normalise(doc.text[span.start : span.end])
            c = self.exact(name, span.label, base)
            if c is not None:
                place = c.iri if c.label == "PLACE" else (c.serves or c.place)
            else:
                # a name with no node still says where it is (双辽政协无党派工商联 → 双辽市), as it
                # does for the scope of its own new node
                place = self._prefix_place(name)
            if place is None:
                continue
            target = place
            weight = 1.0
            if art.headline and art.headline[0] <= span.start < art.headline[1]:
                weight = 3.0
            elif span.start < art.start + (art.end - art.start) // 4:
                weight = 1.5
            by_article[art.index][target] += weight
            doc_places[target] += weight
        scopes = {}
        doc_order = [p for p, _ in sorted(doc_places.items(), key=lambda kv: (-kv[1], kv[0]))]
        for index, counts in by_article.items():
            own = [p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
            places = own + [p for p in doc_order if p not in own] + [h for h in self.home if h not in own]
            scopes[index] = Scope(places)
        return scopes

    # -- linking ----------------------------------------------------------------------------
    def link(self, doc: Document, spans: Sequence[Span]) -> list[Mention]:
        """Mentions for a document's spans, each with its node IRI, article and sentence."""
        scopes = self.scope_of(doc, spans)
        sents = sentences(doc.text)
        mentions: list[Mention] = []
        previous: Mention | None = None
        seen: dict[int, list[tuple[str, str, str]]] = {}  # article → (label, name, iri) so far
        for span in sorted(spans, key=lambda s: (s.start, s.end)):
            text = doc.text[span.start : span.end]
            name = normalise(text)
            article = doc.article_at(span.start)
            scope = scopes[article.index]
            inside = None
            if (
                previous is not None
                and span.label == "PLACE"
                and previous.label == "PLACE"
                and not previous.new
                and doc.text[previous.end : span.start].strip() == ""
            ):
                inside = previous.iri
            concept = self.exact(name, span.label, scope, inside=inside)
            if concept is None:
                concept = self.relative(name, span.label, scope)
            iri = concept.iri if concept is not None else None
            if iri is None:
                iri = _earlier_form(name, span.label, seen.get(article.index, []))
            if iri is None and span.label in _SCOPED_LABELS:
                iri = next((i for lab, n, i in seen.get(article.index, []) if lab == span.label and n == name), None)
            new = iri is None or (concept is None and iri.startswith(f"{KGR}new/"))
            if iri is None:
                iri = self.new_iri(name, span.label, scope, inside=inside)
            mention = Mention(
                doc_id=doc.doc_id,
                start=span.start,
                end=span.end,
                text=text,
                label=span.label,
                iri=iri,
                article=article.index,
                sentence=_sentence_of(span.start, span.end, sents),
                new=new,
            )
            seen.setdefault(article.index, []).append((span.label, name, iri))
            mentions.append(mention)
            previous = mention
        return mentions

    def new_iri(self, name: str, label: str, scope: Scope, *, inside: str | None = None) -> str:
        """A stable IRI for a name the ontology does not know, unique within its scope."""
        key = ""
        if label in _SCOPED_LABELS:
            key = self._county(inside or self._prefix_place(name) or scope.key())
        # the key ignores punctuation: 爱心奉献 扶危助困 and 爱心奉献,扶危助困 are one name
        digest = hashlib.sha1(f"{label}|{key}|{_PUNCT.sub('', name)}".encode()).hexdigest()[:16]
        return f"{KGR}new/{label.lower()}/{digest}"

    def _county(self, iri: str) -> str:
        """The county-level division at or above a place: the scope in which names are unique."""
        for a in [iri, *self.onto.ancestors(iri)]:
            c = self.onto.concepts.get(a)
            if c is not None and c.level is not None and c.level <= 3:
                return a
        return iri

    def _prefix_place(self, name: str) -> str | None:
        place = self.onto.place_prefix(name)
        return place.iri if place is not None else None


def _earlier_form(name: str, label: str, earlier: list[tuple[str, str, str]]) -> str | None:
    """A short form that points back to a longer name given earlier in the article, or, for a
    programme, a longer form of one named before (红心物业 … 红心物业示范小区)."""
    for other_label, other_name, iri in reversed(earlier):
        if other_label != label:
            continue
        if len(other_name) > len(name) >= 3 and (
            other_name.endswith(name) or (_is_subsequence(name, other_name) and other_name[-3:] == name[-3:])
        ):
            return iri
        if label == "PROGRAMME" and len(name) > len(other_name) >= 3 and (
            name.startswith(other_name)
            or (_is_subsequence(other_name, name) and name[0] == other_name[0] and name[-2:] == other_name[-2:])
        ):
            return iri
    return None


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _sentence_of(start: int, end: int, sents: list[tuple[int, int]]) -> tuple[int, int]:
    # sentences are sorted and disjoint: a search, not a scan, keeps a long file linear
    i = bisect_right(sents, (start, math.inf)) - 1
    if i >= 0 and sents[i][0] <= start < sents[i][1]:
        # the sentence's own range where it holds the mention: the mentions of a sentence share it,
        # and so do they unpickled (9 of the 21 kB a page of the seeds their mentions take were the
        # sentences' ranges, each a tuple of its own)
        return sents[i] if end <= sents[i][1] else (sents[i][0], end)
    return (start, end)
