"""Candidates: labelled character ranges proposed by the gazetteer and the rules, before resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.lang.zh import ChineseTokenizer, Segmenter
from spacy.language import Language
from spacy.tokens import Doc

_WHITESPACE = re.compile(r"\s+")  # \s is str.isspace, character for character


@dataclass(slots=True)
class Candidate:
    """A labelled range of `doc.text` that some component proposes, with the evidence it saw."""

    start: int
    end: int
    label: str
    source: str  # gazetteer, place, org, person:byline, quote, policy, …
    kb_id: str = ""
    info: dict = field(default_factory=dict)  # evidence read by the classifier (head, cue, quote …)
    score: float = 0.0  # probability that the range is a mention with this label

    @property
    def key(self) -> tuple[int, int, str]:
        return self.start, self.end, self.label


def register_extensions() -> None:
    """`doc._.kg_candidates` (all proposals), `doc._.kg_words` (dictionary words as (start, end)),
    and `doc._.kg_spans` (the chosen mentions)."""
    for name in ("kg_candidates", "kg_words", "kg_spans"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def add_candidates(doc: Doc, found: list[Candidate]) -> None:
    """Append candidates to the doc, keeping one per (start, end, label, source)."""
    have = doc._.kg_candidates
    if have is None:
        have = []
        doc._.kg_candidates = have
    seen = {(c.start, c.end, c.label, c.source) for c in have}
    for c in found:
        k = (c.start, c.end, c.label, c.source)
        if k not in seen:
            seen.add(k)
            have.append(c)


def make_doc(nlp: Language, text: str, *, tokens: bool = True) -> Doc:
    """The tokenized doc of a text, the text kept for `doc_text` (tokenization loses no character).

    Without `tokens`, a doc of no tokens that carries the text: the components read the text and
    write `doc._.kg_spans`, which is all that `extract_spans` reads; the tokens (one per character)
    are there for `doc.ents`, and making them took a twentieth of the NER's time."""
    tokenizer = nlp.tokenizer
    if not tokens and len(text) <= nlp.max_length:
        doc = Doc(nlp.vocab, words=[])
    elif isinstance(tokenizer, ChineseTokenizer) and tokenizer.segmenter == Segmenter.char and len(text) <= nlp.max_length:
        words, spaces = char_words(text)
        doc = Doc(nlp.vocab, words=words, spaces=spaces)
    else:
        doc = nlp.make_doc(text)
    doc.user_data["kg_text"] = text
    return doc


def char_words(text: str) -> tuple[list[str], list[bool]]:
    """The words and spaces of spaCy's `char` segmentation of Chinese, as `spacy.util.get_words_and_spaces`
    makes them: one word per character, a run of whitespace one word, and one space (U+0020)
    after a character its trailing space. That function looks for each character in the rest of
    the text, a copy of it each time: a tenth of the time of the NER went there.

    >>> char_words("a  b\\n")
    (['a', ' ', 'b', '\\n'], [True, False, False, False])
    """
    words: list[str] = []
    trailing: list[int] = []
    pos = 0
    for m in _WHITESPACE.finditer(text):
        a, b = m.span()
        words += text[pos:a]
        if a > 0 and text[a] == " ":
            trailing.append(len(words) - 1)
            a += 1
        if a < b:
            words.append(text[a:b])
        pos = b
    words += text[pos:]
    spaces = [False] * len(words)
    for i in trailing:
        spaces[i] = True
    return words, spaces


def doc_text(doc: Doc) -> str:
    """`doc.text`, computed once per doc (spaCy joins every token on each access)."""
    text = doc.user_data.get("kg_text")
    if text is None:
        text = doc.user_data["kg_text"] = doc.text
    return text
