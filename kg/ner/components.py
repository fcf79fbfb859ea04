"""The spaCy components of the NER, as registered factories.

    kg_gazetteer        ontology names → doc._.kg_candidates
    kg_rules            suffix, head, cue, quote and title rules → doc._.kg_candidates
    kg_span_classifier  scores every candidate (the learned part) → Candidate.score
    kg_resolver         non-overlapping mentions → doc.ents, doc._.kg_spans

Settings come from `configs/ner.cfg`; data (patterns, lexicon, surnames, weights) arrives in
`initialize()` and is saved by `to_disk()`.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path, filter_spans

from kg.errors import ConfigError
from kg.mention import Span as KGSpan
from kg.ner.candidates import Candidate, add_candidates, doc_text, register_extensions
from kg.ner.classifier import Context, SpanClassifier, grouped_features
from kg.ner.gazetteer import Gazetteer, local_patterns
from kg.ner.lexicon import DEFAULT_LEXICON, idioms, load_lexicon, surnames as default_surnames, word_reaches, word_segmenter, word_tags
from kg.ner.resolve import propagate, select
from kg.ner.rules import Rules

register_extensions()


# ---------------------------------------------------------------------------------------- gazetteer
@Language.factory(
    "kg_gazetteer",
    requires=[],
    assigns=["doc._.kg_candidates"],
    default_config={"home_regions": []},
)
def make_gazetteer(nlp: Language, name: str, home_regions: list[str]) -> GazetteerComponent:
    return GazetteerComponent(name, home_regions=home_regions)


class GazetteerComponent:
    """Exact matches of ontology names (labels and aliases); the IRI rides along as kb_id.

    `home_regions` (division-code prefixes) keeps the short forms of county-level divisions to the
    paper's home region; see kg.ner.gazetteer.local_patterns."""

    def __init__(self, name: str, *, home_regions: Sequence[str] = ()) -> None:
        self.name = name
        self.home_regions = list(home_regions)
        self.gazetteer = Gazetteer()

    def build(self, patterns: Iterable[dict]) -> Gazetteer:
        """A gazetteer of these patterns, short forms from outside the home regions left out."""
        return Gazetteer(local_patterns(patterns, self.home_regions))

    def initialize(self, get_examples: Callable | None = None, *, nlp: Language | None = None, patterns: Iterable[dict] = ()) -> None:
        self.gazetteer = self.build(patterns)

    def add_patterns(self, patterns: Iterable[dict]) -> None:
        self.gazetteer.add(local_patterns(patterns, self.home_regions))

    def __call__(self, doc: Doc) -> Doc:
        found = [
            Candidate(s, e, label, "gazetteer", iri, {"level": level})
            for s, e, label, iri, level in self.gazetteer.matches(doc_text(doc))
        ]
        add_candidates(doc, found)
        return doc

    def to_disk(self, path, *, exclude=()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_jsonl(path / "patterns.jsonl", self.gazetteer.to_patterns())

    def from_disk(self, path, *, exclude=()) -> GazetteerComponent:
        self.gazetteer = Gazetteer(srsly.read_jsonl(ensure_path(path) / "patterns.jsonl"))
        return self


# -------------------------------------------------------------------------------------------- rules
@Language.factory(
    "kg_rules",
    requires=["doc._.kg_candidates"],
    assigns=["doc._.kg_candidates", "doc._.kg_words"],
    default_config={"families": ["place", "org", "person", "quote", "policy", "programme"]},
)
def make_rules(nlp: Language, name: str, families: list[str]) -> RulesComponent:
    valid = {"place", "org", "person", "quote", "policy", "programme"}
    bad = sorted(set(families) - valid)
    if bad:
        raise ConfigError(f"kg_rules: unknown rule families {bad}; valid ones: {', '.join(sorted(valid))}.")
    return RulesComponent(name, families=families)


class RulesComponent:
    """Rule families over the characters of the text; see kg.ner.rules."""

    def __init__(self, name: str, *, families: list[str]) -> None:
        self.name = name
        self.families = list(families)
        self.lexicon: dict = {}
        self.surnames: list[str] = []
        self.rules: Rules | None = None

    def initialize(
        self,
        get_examples: Callable | None = None,
        *,
        nlp: Language | None = None,
        lexicon: dict | None = None,
        surnames: list[str] | None = None,
    ) -> None:
        self.lexicon = lexicon or load_lexicon(DEFAULT_LEXICON)
        self.surnames = sorted(surnames) if surnames else default_surnames()
        self._build()

    def _build(self) -> None:
        self.rules = Rules(self.lexicon, self.surnames, word_tags(), idioms(), word_reaches())

    def __call__(self, doc: Doc) -> Doc:
        if self.rules is None:
            raise ConfigError(f"{self.name}: the rules are not initialized; call nlp.initialize() first.")
        text = doc_text(doc)
        r = self.rules
        words = segment(text)
        doc._.kg_words = words
        starts = {s for s, _ in words}
        preds = r.predicate_spans(text, words)
        stops = {s for s, _ in preds}
        # inside an unknown place name a lone character is no verb (服先镇): only longer words stop it
        long_stops = {s for s, e in preds if e - s > 1}
        have = doc._.kg_candidates or []
        found: list[Candidate] = []
        fam = self.families
        if "place" in fam:
            found += r.places(text, starts, long_stops)
        place_starts = {c.start for c in have if c.label == "PLACE"} | {c.start for c in found}
        place_ends = {c.end for c in have if c.label == "PLACE"} | {c.end for c in found}
        if "org" in fam:
            word_at = _LongWordAt(words)
            inside_places = {
                i for c in have + found if c.label == "PLACE" for i in range(c.start + 1, c.end) if i in stops
            }
            found += r.orgs(text, starts | place_starts, place_ends, word_at, stops - inside_places)
        if "person" in fam:
            found += r.persons(text)
        if "quote" in fam:
            found += r.quotes(text)
        if "policy" in fam:
            found += r.policies(text)
        if "programme" in fam:
            found += r.unquoted_programmes(text, starts | place_starts, stops)
        for c in found:
            c.info["ws"] = c.start in starts
        for c in have:
            c.info["ws"] = c.start in starts
        add_candidates(doc, found)
        return doc

    def to_disk(self, path, *, exclude=()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "lexicon.json", self.lexicon)
        srsly.write_json(path / "surnames.json", self.surnames)

    def from_disk(self, path, *, exclude=()) -> RulesComponent:
        path = ensure_path(path)
        self.lexicon = srsly.read_json(path / "lexicon.json")
        self.surnames = srsly.read_json(path / "surnames.json")
        self._build()
        return self


class _LongWordAt:
    """`get(i)`: the word of two characters or more that covers offset i, else None; what a dict of
    every covered offset says, found by bisection (the few heads of a text ask, thousands of
    offsets would be stored). `words` is a segmentation: in order, not overlapping."""

    def __init__(self, words: list[tuple[int, int]]) -> None:
        self.words = words
        self.starts = [s for s, _ in words]

    def get(self, i: int) -> tuple[int, int] | None:
        k = bisect_right(self.starts, i) - 1
        if k >= 0:
            s, e = self.words[k]
            if i < e and e - s > 1:
                return self.words[k]
        return None


def segment(text: str) -> list[tuple[int, int]]:
    """Dictionary words of the text as (start, end), by jieba without HMM: the boundaries a name is
    likely to take, and the words whose tags tell a name from a phrase."""
    return word_segmenter()(text)


# --------------------------------------------------------------------------------------- classifier
@Language.factory(
    "kg_span_classifier",
    requires=["doc._.kg_candidates", "doc._.kg_words"],
    assigns=["doc._.kg_candidates"],
    default_config={"threshold": 0.5},
)
def make_classifier(nlp: Language, name: str, threshold: float) -> ClassifierComponent:
    return ClassifierComponent(name, nlp=nlp, threshold=threshold)


class ClassifierComponent:
    """Scores candidates with the trained span classifier, or with rule priors when it has no weights."""

    def __init__(self, name: str, *, nlp: Language, threshold: float) -> None:
        self.name = name
        self.nlp = nlp
        self.threshold = threshold
        self.model = SpanClassifier(threshold=threshold)

    def initialize(self, get_examples: Callable | None = None, *, nlp: Language | None = None, model: str | None = None) -> None:
        if model:
            self.model = SpanClassifier.load(Path(model))
            self.model.threshold = self.threshold

    def _rules(self) -> Rules:
        for _, proc in self.nlp.pipeline:
            if isinstance(proc, RulesComponent) and proc.rules is not None:
                return proc.rules
        raise ConfigError(f"{self.name}: needs a kg_rules component before it in the pipeline.")

    def __call__(self, doc: Doc) -> Doc:
        cands = doc._.kg_candidates or []
        if not cands:
            return doc
        if self.model:
            ctx = Context(doc_text(doc), cands, self._rules(), doc._.kg_words)
            groups = grouped_features(cands, ctx)
            for (members, _), p in zip(groups, self.model.score_groups(groups)):
                for c in members:
                    c.score = p
            _echo_scores(cands)
            _person_floor(cands, doc_text(doc), self._rules())
        else:
            for c in cands:
                c.score = prior(c)
        return doc

    def to_disk(self, path, *, exclude=()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "model.json").write_text(self.model.to_json(), encoding="utf-8")

    def from_disk(self, path, *, exclude=()) -> ClassifierComponent:
        data = json.loads((ensure_path(path) / "model.json").read_text(encoding="utf-8"))
        self.model = SpanClassifier(data["weights"], threshold=self.threshold, stage2=data.get("stage2") or {})
        return self


def _echo_scores(cands: list[Candidate]) -> None:
    """A headline that repeats a quoted name takes the score of that quote: one decision for both."""
    quoted = {(c.start, c.end): c.score for c in cands if c.source == "quote" and c.label == "PROGRAMME"}
    for c in cands:
        echo = c.info.get("echo")
        if echo is not None:
            c.score = max(c.score, quoted.get(tuple(echo), 0.0))


def _person_floor(cands: list[Candidate], text: str, rules: Rules, floor: float = 0.55) -> None:
    """A name after a role word that ends at punctuation or at a word that follows names (说, 介绍,
    表示) is a person whatever the few examples of the seeds taught the model: the rule is strict."""
    for c in cands:
        if c.source == "person:role" and c.score < floor:
            e = c.end
            if e >= len(text) or text[e] in "，,。；;：:！!？?、）)" or text.startswith(rules.t_person_after, e):
                c.score = floor


_PRIORS = {
    "gazetteer": 0.9,
    "person:byline": 0.95,
    "person:credit": 0.9,
    "person:role": 0.55,
    "person:list": 0.55,
    "policy": 0.9,
    "quote": 0.6,
    "quote:inner": 0.55,
}


def prior(c: Candidate) -> float:
    """A rough score for a candidate when no trained weights are loaded."""
    if c.source in _PRIORS:
        p = _PRIORS[c.source]
        if c.source == "quote" and c.label == "ORG":
            p = 0.4
        return p
    if c.source == "place":
        return 0.6 if c.info.get("ws") else 0.3
    if c.source == "org":
        return 0.62 if c.info.get("ws") else 0.3
    return 0.3


# ----------------------------------------------------------------------------------------- resolver
@Language.factory(
    "kg_resolver",
    requires=["doc._.kg_candidates"],
    assigns=["doc.ents", "doc._.kg_spans"],
    default_config={"threshold": 0.5, "propagate": True, "length_bonus": 0.0},
)
def make_resolver(nlp: Language, name: str, threshold: float, propagate: bool, length_bonus: float) -> Resolver:
    return Resolver(name, threshold=threshold, propagate=propagate, length_bonus=length_bonus)


class Resolver:
    """Keeps the best non-overlapping candidates, spreads accepted names over the document."""

    def __init__(self, name: str, *, threshold: float, propagate: bool, length_bonus: float = 0.0) -> None:
        self.name = name
        self.threshold = threshold
        self.propagate = propagate
        self.length_bonus = length_bonus

    def __call__(self, doc: Doc) -> Doc:
        cands = doc._.kg_candidates or []
        chosen = select(cands, self.threshold, length_bonus=self.length_bonus)
        if self.propagate and chosen:
            prefixes = _place_prefixes(cands, chosen, self.threshold)
            extra = propagate(doc_text(doc), chosen, prefixes)
            taken = [(c.start, c.end) for c in chosen]
            extra = [x for x in extra if not any(x.start < e and s < x.end for s, e in taken)]
            if extra:
                chosen = select(chosen + extra, self.threshold, length_bonus=self.length_bonus)
        ids = {}
        for c in cands:
            if c.source == "gazetteer" and c.kb_id:
                ids.setdefault((c.start, c.end, c.label), c.kb_id)
        spans = [
            KGSpan(c.start, c.end, c.label, c.source, c.kb_id or ids.get((c.start, c.end, c.label), ""))
            for c in chosen
        ]
        doc._.kg_spans = spans
        ents = []  # none in a doc of no tokens (extract_spans reads kg_spans only): no span aligns
        for s in spans:
            ent = doc.char_span(s.start, s.end, label=s.label, kb_id=s.kb_id, alignment_mode="expand")
            if ent is not None and len(ent):
                ents.append(ent)
        doc.set_ents(filter_spans(ents), default="outside")
        return doc


def _place_prefixes(cands, chosen, threshold) -> dict[tuple[int, int], int]:
    """For each chosen ORG/PLACE, where the place prefix it starts with ends (if it has one)."""
    places: dict[int, int] = {}
    for c in cands:
        if c.label == "PLACE" and c.source in ("gazetteer", "place"):
            places[c.start] = max(places.get(c.start, 0), c.end)
    out = {}
    for c in chosen:
        end = places.get(c.start)
        # follow a chain of places: 铁西区西园社区综治中心 → cut after 西园社区
        while end is not None and end < c.end and places.get(end) is not None and places[end] < c.end:
            end = places[end]
        if end is not None and end < c.end:
            out[(c.start, c.end)] = end
    return out
