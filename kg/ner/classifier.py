"""The learned part of the NER: a logistic-regression span classifier over rule candidates.

Each candidate (a range, a label and the rule that proposed it) is described by sparse string
features: its label and source, head and first characters, length, the characters and dictionary
words around it, quote and title-bracket status, gazetteer hits, and how it sits among the other
candidates (inside a longer organisation, starting at a place …). The model gives the probability
that the candidate is a gold mention with that label. It is trained on the gold seeds (`kg train`)
with a fixed seed; weights are a small JSON file.
"""

from __future__ import annotations

import json
import math
import re
import sys
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from pathlib import Path

import numpy as np

from kg.errors import ConfigError
from kg.ner.candidates import Candidate
from kg.ner.rules import PUNCT, Rules, is_cjk

MODEL_FORMAT = "kg.span_classifier.v1"


def char_class(ch: str) -> str:
    if not ch:
        return "NL"  # the start of a text is the start of a line
    if ch in "\n":
        return "NL"
    if ch.isspace():
        return "SP"
    if ch in "“‘「『":
        return "OQ"
    if ch in "”’」』":
        return "CQ"
    if ch in "《":
        return "OB"
    if ch in "》":
        return "CB"
    if ch in "、":
        return "DUN"
    if ch in PUNCT:
        return "P"
    if ch.isdigit():
        return "D"
    if is_cjk(ch):
        return "C"
    return "O"


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def _len_bucket(n: int) -> str:
    return str(n) if n <= 8 else ("9-12" if n <= 12 else ("13-20" if n <= 20 else "21+"))


_CLASSES: dict[str, str] = {}  # char_class of every character met


def _class_of(ch: str) -> str:
    found = _CLASSES.get(ch)
    if found is None:
        found = _CLASSES[ch] = char_class(ch)
    return found


class _Names(dict):
    """The feature names of one label, each joined once per process: names["last="] is "ORG|last=",
    and names["fw_in=", True] is "ORG|fw_in=True". Most features are a label, a template and a value,
    and a candidate has some forty, which were joined and hashed anew for each. Only values of
    closed sets (flags, small numbers, character classes, dictionary tags, lexicon words) go in as
    keys, so the dict stays small; a name is interned, the same object as the key of the weights'
    table (SpanClassifier._table)."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label + "|"

    def __missing__(self, key: str | tuple) -> str:
        name = sys.intern(self.label + key if isinstance(key, str) else self.label + "".join(map(str, key)))
        self[key] = name
        return name


_NAMES: dict[str, _Names] = {}


def _names(label: str) -> _Names:
    found = _NAMES.get(label)
    if found is None:
        found = _NAMES[label] = _Names(label)
    return found


# the first features of a candidate, by (label, source, length), and the features of its label,
# rule family and the classes of the characters around it, by (label, family, left, right)
_HEADS: dict[tuple[str, str, int], tuple[tuple[str, ...], str]] = {}
_SIDES: dict[tuple[str, str, str, str], tuple[str, str, str]] = {}
_PROPER_TAGS = frozenset(("ns", "nr", "nz", "nt", "nrt", "m"))


class Context:
    """What the features of one document need: its text, candidates indexed by position, words.

    What the text says at a boundary (the characters and words around it, the candidates that end
    or start there) is worked out once per position and label: the rules propose many candidates
    per head and per suffix, which share their ends and many of their starts. `words` is a
    segmentation of the text (in order, not overlapping)."""

    def __init__(self, text: str, cands: Sequence[Candidate], rules: Rules, words: Sequence[tuple[int, int]] | None = None) -> None:
        self.text = text
        self.rules = rules
        self.words = sorted(words or ())
        self.word_starts = [w[0] for w in self.words]
        self.word_ends = {w[1] for w in self.words}
        self._word_ends = [w[1] for w in self.words]
        self._word_tags: list[str | None] = [None] * len(self.words)  # looked up when first asked for
        self.gaz: dict[tuple[int, int], set[str]] = defaultdict(set)
        # what the features ask of the candidates around one, gathered in one pass
        self.place_ends: set[int] = set()  # ends of places (gazetteer or suffix rule)
        self.places_ending: dict[int, list[tuple[int, str]]] = defaultdict(list)  # (start, label), same sources
        self.follows: dict[int, set[str]] = defaultdict(set)  # labels of gazetteer, place and org candidates by start
        self.starting: dict[int, list[tuple[int, str]]] = defaultdict(list)  # (end, label + G for the gazetteer)
        self.place_end_min: dict[int, int] = {}  # the shortest place of any source, by start
        self.role_ends: set[int] = set()  # ends of names after a role word
        for c in cands:
            s, e, label, source = c.start, c.end, c.label, c.source
            gazetteer = source == "gazetteer"
            if gazetteer:
                self.gaz[(s, e)].add(label)
            if gazetteer or source == "place":
                self.places_ending[e].append((s, label))
                if label == "PLACE":
                    self.place_ends.add(e)
            if gazetteer or source == "place" or source == "org":
                self.follows[s].add(label)
            self.starting[s].append((e, label + "G" if gazetteer else label))
            if label == "PLACE" and e < self.place_end_min.get(s, e + 1):
                self.place_end_min[s] = e
            if source == "person:role":
                self.role_ends.add(e)
        # long candidates, for "inside a longer X" features
        self.spans = sorted({(c.start, c.end, c.label) for c in cands})
        self._inside = _containers(self.spans)
        # quoted and bracketed ranges: a candidate strictly inside one is part of a larger name
        self.quoted = sorted({(c.start, c.end, "Q" if c.info.get("quoted") else "B") for c in cands if c.source in ("quote", "policy")})
        self.quoted_starts = [q[0] for q in self.quoted]
        self._left: dict[tuple[str, int], tuple] = {}
        self._left_at: dict[int, tuple] = {}
        self._right: dict[tuple[str, int], tuple] = {}

    def tags_inside(self, s: int, e: int) -> list[str]:
        """Tags of the dictionary words that lie inside [s, e), in order."""
        # the words after s up to the first that ends past e (the words do not overlap)
        i, j = bisect_left(self.word_starts, s), bisect_right(self._word_ends, e)
        found = self._word_tags[i:j]
        if None in found:
            tags, text, words = self.rules.words, self.text, self.words
            for k in range(i, j):
                if found[k - i] is None:
                    a, b = words[k]
                    found[k - i] = self._word_tags[k] = tags.get(text[a:b], "x")
        return found

    def enclosure(self, s: int, e: int) -> str:
        """Q or B when [s, e) lies strictly inside a quoted or 《》 range, E when it is exactly one."""
        if not self.quoted:
            return "none"
        i = bisect_left(self.quoted_starts, s - 130)
        out = ""
        while i < len(self.quoted) and self.quoted[i][0] <= s:
            qs, qe, kind = self.quoted[i]
            if qe >= e:
                if (qs, qe) == (s, e):
                    out = out or "E" + kind
                else:
                    return kind
            i += 1
        return out or "none"

    def containing(self, c: Candidate) -> set[str]:
        """Labels of other candidates that strictly contain c (those that start at most 30 before)."""
        return set(self.inside(c.start, c.end))

    def inside(self, s: int, e: int) -> tuple[str, ...]:
        """The labels of `containing`, sorted, for the range of a candidate."""
        return self._inside[(s, e)]

    def left(self, label: str, s: int) -> tuple:
        """Features of a left boundary for a label, and the first word's length."""
        found = self._left.get((label, s))
        if found is None:
            # what the text says at s is the same for every label: worked out once (a place and
            # an organisation often start together)
            at = self._left_at.get(s)
            if at is None:
                t, rules = self.text, self.rules
                words = rules.words
                left1 = t[s - 1] if s > 0 else ""
                lw = rules.word_ending_at(t, s)
                fw = rules.longest_word(t, s) if s < len(t) else ""
                cross = s > 0 and (t[s - 1 : s + 1] in words or t[s - 1 : s + 2] in words or t[s - 1 : s + 3] in words)
                at = self._left_at[s] = (
                    left1, t[max(0, s - 2) : s], _class_of(left1), lw, words.get(lw, "?"), words.get(fw, "?"), len(fw), cross
                )
            left1, left2, lc, lw, lwtag, fwtag, fw_len, cross = at
            names = _names(label)
            found = self._left[(label, s)] = (
                names["l1="] + left1,
                names["l2="] + left2,
                names["lc=", lc],
                lc,
                names["lw="] + lw,
                names["lwtag=", lwtag],
                names["fwtag=", fwtag],
                fw_len,
                names["cross_l=", cross],
                names["after_place=", s in self.place_ends],
            )
        return found

    def right(self, label: str, e: int) -> tuple:
        """Features of a right boundary for a label, and the word that starts there."""
        found = self._right.get((label, e))
        if found is None:
            t, rules = self.text, self.rules
            words = rules.words
            names = _names(label)
            right1 = t[e] if e < len(t) else ""
            rc = _class_of(right1)
            rw = rules.longest_word(t, e) if e < len(t) else ""
            # a word that crosses the right edge from the last character, or from the one before
            cross1 = e >= 1 and (t[e - 1 : e + 2] in words or t[e - 1 : e + 1] in words)
            cross2 = cross1 or (e >= 2 and (t[e - 2 : e + 2] in words or t[e - 2 : e + 1] in words))
            follows = self.follows.get(e)
            found = self._right[(label, e)] = (
                names["r1="] + right1,
                names["r2="] + t[e : e + 2],
                names["rc=", rc],
                rc,
                names["rw="] + rw,
                names["rwtag=", words.get(rw, "?")],
                rw,
                (names["cross_r=", False], names["cross_r=", cross1], names["cross_r=", cross2]),
                names["we=", e in self.word_ends],
                [names["next="] + x for x in sorted(follows)] if follows else [],
            )
        return found


def features(c: Candidate, ctx: Context) -> list[str]:
    """Sparse features of one candidate, each a string, none twice; the label is part of most of them."""
    t = ctx.text
    s, e, lab = c.start, c.end, c.label
    span = t[s:e]
    source = c.source
    info = c.info
    n = e - s
    names = _names(lab)
    l1, l2, lc, lcc, lw, lwtag, fwtag, fw_len, cross_l, after_place = ctx.left(lab, s)
    r1, r2, rc, rcc, rw_f, rwtag, rw, cross_r, we, follows = ctx.right(lab, e)
    head = _HEADS.get((lab, source, n))
    if head is None:
        L = lab + "|"
        src = source.split(":")[0]
        head = _HEADS[(lab, source, n)] = (
            ("bias", L + "bias", L + "src=" + source, L + "len=" + _len_bucket(n), L + "src=" + src + "|len=" + _len_bucket(n)),
            src,
        )
    first, src = head
    sides = _SIDES.get((lab, src, lcc, rcc))
    if sides is None:
        L = lab + "|"
        sides = _SIDES[(lab, src, lcc, rcc)] = (L + "lc|rc=" + lcc + rcc, L + "src=" + src + "|lc=" + lcc, L + "src=" + src + "|rc=" + rcc)
    f = [
        *first,
        names["last="] + span[-1:],
        names["last2="] + span[-2:],
        l1,
        l2,
        r1,
        r2,
        lc,
        rc,
        *sides,
        lw,
        lwtag,
        fwtag,
        names["fw_in=", fw_len <= n],  # the first word ends inside the span
        rw_f,
        rwtag,
        # the word that crosses the right edge (…区民 in 铁西区民政局): a sign the span ends mid-word
        cross_r[min(max(n, 0), 2)],
        cross_l,
    ]
    rules = ctx.rules
    ws = info.get("ws")
    if ws is not None:
        f.append(names["ws=", ws])
    f.append(names["encl=", ctx.enclosure(s, e)])
    if ctx.words:
        f.append(we)
        if lab != "POLICY" and not (info.get("quoted") or info.get("booked")):
            tags = ctx.tags_inside(s, e)
            f.append(names["nwords=", min(len(tags), 5)])
            if len(tags) > 1:
                for tag in sorted(set(tags[:-1])):
                    f.append(names["has=", tag])
            proper = (
                not _PROPER_TAGS.isdisjoint(tags)
                or ctx.place_end_min.get(s, e) < e
                or span[:1] in rules.level_chars
                or any(map(str.isdigit, span))
            )
            f.append(names["proper=", proper])
            if tags:
                f.append(names["lasttag=", tags[-1]])
                f.append(names["firsttag=", tags[0]])
    if "\n" in span:
        f.append(names["break"])
    # gazetteer agreement
    gaz = ctx.gaz.get((s, e), ())
    f.append(names["gaz=", "same" if lab in gaz else ("other" if gaz else "none")])
    if source == "gazetteer":
        f.append(names["gaz_level=", info.get("level", 0)])
        f.append(names["gaz_id=", bool(c.kb_id)])
    # neighbours: a place ends where this starts, a place starts here, another candidate contains it
    f.append(after_place)
    starting = ctx.starting.get(s)
    if starting:
        for x in sorted({x for end, x in starting if end < e}):
            f.append(names["prefix=", x])
    ending = ctx.places_ending.get(e)
    if ending:
        for x in sorted({x for start, x in ending if start > s}):
            f.append(names["suffix_is=", x])
    for x in ctx.inside(s, e):
        f.append(names["inside=", x])
    f += follows
    # family-specific evidence
    if lab == "PLACE":
        if "suffix" in info:
            suffix = info["suffix"]
            f.append(names["suffix=", suffix])
            f.append(names["suffix=", suffix, "|len=", n])
            f.append(names["suffix=", suffix, "|lc=", lcc])
        nm = span[: -len(info["suffix"])] if "suffix" in info else span
        # a gazetteer name that is also a common word (新建, 博爱, 振兴) is rarely meant as a place
        tag = rules.words.get(span, "ns")
        f.append(names["common_word=", tag[:1] not in ("n", "j") or tag == "n"])
        f.append(names["name_in_dict=", nm in rules.words])
        f.append(names["name_tag=", rules.words.get(nm, "?")])
    elif lab == "ORG":
        head = info.get("head", "")
        if head:
            f.append(names["head=", head])
            f.append(names["head=", head, "|lc=", lcc])
        if info.get("alone"):
            f.append(names["alone=", head])
            f.append(names["alone_definite=", head in rules.definite_alone])
        level_start = span[:1] in rules.level_chars
        f.append(names["level_start=", level_start])
        f.append(names["opener=", span.startswith(rules.t_org_openers)])
        if level_start:
            f.append(names["level_start|len=", n])
        if t[e : e + 2] in rules.role_after or t[e : e + 3] in rules.role_after:
            f.append(names["role_after"])
        f.append(names["head_in_right_word=", len(rw) > 1 and rw in rules.org_heads])
    elif lab == "PERSON":
        f.append(names["first="] + span[:1])
        f.append(names["surname=", rules.is_surname_start(span)])
        f.append(names["surname2=", span[:2] in rules.surnames2])
        f.append(names["name_in_dict=", span in rules.words])
        f.append(names["name_tag=", rules.words.get(span, "?")])
        if n == 3:
            f.append(names["first2_word=", rules.is_common_word(span[:2])])
        if "cue" in info:
            f.append(names["cue=", info["cue"]])
        if "items" in info:
            f.append(names["items=", min(info["items"], 4)])
        if "token" in info:
            f.append(names["token="] + str(info["token"]) + "|len=" + str(n))
        if t.startswith(rules.t_person_after, e):
            f.append(names["after_word"])
    if lab in ("PROGRAMME", "ORG") and info.get("quoted"):
        f += _quoted_features(span, n, info, names, rules, ends_person=e in ctx.role_ends)
    if lab == "PROGRAMME" and not info.get("quoted"):
        if "head" in info:
            f.append(names["uhead=", info["head"]])
        if info.get("alone"):
            f.append(names["ualone"])
    if lab == "POLICY":
        f.append(names["p_head=", span.endswith(rules.t_policy_heads)])
        f.append(names["p_open=", span.startswith(rules.t_policy_openings)])
        f.append(names["p_booked=", bool(info.get("booked"))])
    return f


def _quoted_features(span: str, n: int, info: dict, names: _Names, rules: Rules, *, ends_person: bool) -> list[str]:
    """Features of a quoted name: what stands around the quotes, and what the name is made of."""
    after = info.get("after", "")
    before = info.get("before", "")
    parts = [p for p in _split_parts(span) if p]
    f = [
        names["quoted"],
        names["q_after_prog=", after.startswith(rules.t_prog_after)],
        names["q_after_not=", after.startswith(rules.t_prog_not_after)],
        names["q_after_org=", after.startswith(rules.t_org_heads2)],
        names["q_after1="] + after[:1],
        names["q_after2="] + after[:2],
        names["q_before_prog=", before.endswith(rules.t_prog_before)],
        names["q_before_not=", before.endswith(rules.t_prog_not_before)],
        names["q_idiom=", bool(parts) and all(p in rules.idioms for p in parts)],
        names["q_idiom_any=", any(p in rules.idioms for p in parts)],
        names["q_before1="] + before[-1:],
        names["q_before2="] + before[-2:],
        names["q_head=", span.endswith(rules.t_prog_heads)],
        names["q_role=", span[-1:] in rules.role_endings],
        names["q_num=", span[:1] in rules.numerals or span[:1].isdigit()],
        names["q_digits=", any(map(str.isdigit, span))],
        names["q_plus=", "+" in span],
    ]
    seps = sum(span.count(x) for x in "、,， ")
    f.append(names["q_seps=", min(seps, 3)])
    f.append(names["q_len=", _len_bucket(n)])
    f.append(names["q_dict=", span in rules.words])
    f.append(names["q_tag="] + rules.words.get(span, "?"))
    if seps:
        f.append(names["q_parts_eq=", len({len(p) for p in parts}) == 1])
        f.append(names["q_parts_num=", sum(p[:1] in rules.numerals for p in parts) == len(parts)])
    if len(span) == 4 and span[0] == span[2]:
        f.append(names["q_abab"])
    f.append(names["q_first_num_head=", span[:1] in rules.numerals and len(span) <= 8])
    # a quoted phrase that ends in a person's name after a role word is a title or a theme
    f.append(names["q_ends_person=", ends_person])
    return f


def grouped_features(cands: Sequence[Candidate], ctx: Context) -> list[tuple[list[Candidate], list[str]]]:
    """One feature list per (start, end, label): what several rules agree on is one decision,
    described by the union of their evidence."""
    groups: dict[tuple[int, int, str], list[Candidate]] = defaultdict(list)
    for c in cands:
        groups[(c.start, c.end, c.label)].append(c)
    out = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) == 1:
            out.append((members, features(members[0], ctx)))  # no feature comes twice
            continue
        feats: dict[str, None] = {}
        for c in members:
            feats.update(dict.fromkeys(features(c, ctx)))
        feats[key[2] + "|agree=" + "+".join(sorted({c.source.split(":")[0] for c in members}))] = None
        out.append((members, list(feats)))
    return out


def _bucket(p: float) -> str:
    return "0" if p < 0.2 else ("1" if p < 0.5 else ("2" if p < 0.8 else "3"))


class _Relations:
    """The relations of `neighbour_features` between candidates of these labels, numbered in the
    order of their names, as the features list them: alt, cross, has_<label>…, in_<label>…,
    next_<label>…, prev_<label>…, sib (the names of one kind and several labels are neighbours).

    `table` holds every second-stage feature name, at `base(label, own bucket)` + 0 for s1=, + 1 +
    4 * relation + bucket for s2_, and that + 4 * len(names) for s1=…|s2_: numpy finds the numbers,
    and the names are looked up in a list."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.names = sorted(["alt", "cross", "sib", *(kind + label for kind in ("has_", "in_", "next_", "prev_") for label in labels)])
        number = {name: i for i, name in enumerate(self.names)}
        self.alt, self.cross, self.sib = number["alt"], number["cross"], number["sib"]
        self.has, self.inside, self.next, self.prev = (number[kind + labels[0]] for kind in ("has_", "in_", "next_", "prev_"))
        self.width = 1 + 8 * len(self.names)
        self.table: list[str] = []
        for label in labels:
            names = _names(label)
            for mine in _BUCKET_NAMES:
                self.table.append(names["s1=", mine])
                self.table += [names["s2_", rel, "=", b] for rel in self.names for b in _BUCKET_NAMES]
                self.table += [names["s1=", mine, "|s2_", rel, "=", b] for rel in self.names for b in _BUCKET_NAMES]


_RELATIONS: dict[tuple[str, ...], _Relations] = {}
_BUCKETS = np.array([0.2, 0.5, 0.8])  # the bounds of `_bucket`
_BUCKET_NAMES = ("0", "1", "2", "3")


def neighbour_features(keys: Sequence[tuple[int, int, str]], probs: Sequence[float]) -> list[list[str]]:
    """Second-stage features: how sure the first stage is of the candidates around each one
    (the organisation that would contain this place, the place inside this organisation …).

    A candidate meets the others that start from 40 characters before it to 3 after its end; a
    meeting is one relation (or none), and a candidate keeps the best probability per relation.
    The meetings of a document are worked out at once in numpy: a loop in Python over them (some
    ten per candidate) took a twentieth of the NER's time."""
    n = len(keys)
    if not n:
        return []
    labels = tuple(sorted({k[2] for k in keys}))
    rels = _RELATIONS.get(labels)
    if rels is None:
        rels = _RELATIONS[labels] = _Relations(labels)
    ss = np.fromiter((k[0] for k in keys), np.int64, n)
    es = np.fromiter((k[1] for k in keys), np.int64, n)
    ls = np.fromiter(map(labels.index, (k[2] for k in keys)), np.int64, n)
    ps = np.fromiter(probs, np.float64, n)
    i, j = _meetings(ss, es)
    s, e, s2, e2, lab2 = ss[i], es[i], ss[j], es[j], ls[j]
    same = lab2 == ls[i]
    # the first relation that holds, in this order; -1: none (the other ends before or starts after)
    kind = np.full(len(i), rels.cross)
    for holds, relation in reversed(
        (
            (same & (s - e2 > 0) & (s - e2 <= 3), rels.sib),
            (e2 < s, -1),
            (e2 == s, rels.prev + lab2),
            (same & (s2 - e > 0) & (s2 - e <= 3), rels.sib),
            (s2 > e, -1),
            (s2 == e, rels.next + lab2),
            ((s2 == s) & (e2 == e), rels.alt),
            ((s2 <= s) & (e2 >= e), rels.inside + lab2),
            ((s2 >= s) & (e2 <= e), rels.has + lab2),
        )
    ):
        kind = np.where(holds, relation, kind)
    met = kind >= 0
    best = np.full((n, len(rels.names)), -1.0)
    np.maximum.at(best, (i[met], kind[met]), ps[j[met]])
    # the features of each candidate: s1=, then s2_ by relation name, then s1=…|s2_ of the sure ones
    base = (ls * 4 + np.searchsorted(_BUCKETS, ps, side="right")) * rels.width
    rows, cols = np.nonzero(best >= 0.0)
    values = best[rows, cols]
    relation = 1 + 4 * cols + np.searchsorted(_BUCKETS, values, side="right")
    sure = values >= 0.5
    row = np.concatenate([np.arange(n), rows, rows[sure]])
    part = np.concatenate([np.zeros(n, np.int64), np.ones(len(rows), np.int64), np.full(int(sure.sum()), 2)])
    index = np.concatenate([base, base[rows] + relation, base[rows[sure]] + relation[sure] + 4 * len(rels.names)])
    order = np.lexsort((index, part, row))
    table = rels.table
    flat = [table[k] for k in index[order].tolist()]
    ends = np.cumsum(np.bincount(row, minlength=n)).tolist()
    return [flat[a:b] for a, b in zip([0, *ends], ends)]


def _containers(spans: Sequence[tuple[int, int, str]]) -> dict[tuple[int, int], tuple[str, ...]]:
    """For each range of `spans` (sorted (start, end, label)), the labels, sorted, of the spans that
    strictly contain it and start at most 30 characters before it. The pairs of a document are
    worked out at once in numpy (a search per start and label took a twentieth of the NER's time)."""
    if not spans:
        return {}
    labels = sorted({label for _, _, label in spans})
    n = len(spans)
    starts = np.fromiter((x[0] for x in spans), np.int64, n)
    ends = np.fromiter((x[1] for x in spans), np.int64, n)
    bits = np.left_shift(1, np.fromiter(map(labels.index, (x[2] for x in spans)), np.int64, n))
    keys = list(dict.fromkeys((s, e) for s, e, _ in spans))
    s = np.fromiter((k[0] for k in keys), np.int64, len(keys))
    e = np.fromiter((k[1] for k in keys), np.int64, len(keys))
    i, j = _in_windows(starts, s - 30, s)
    s2, e2 = starts[j], ends[j]
    holds = (e2 >= e[i]) & ((s2 < s[i]) | (e2 > e[i]))
    masks = np.zeros(len(keys), np.int64)
    np.bitwise_or.at(masks, i[holds], bits[j[holds]])
    found: dict[int, tuple[str, ...]] = {}
    out = {}
    for key, mask in zip(keys, masks.tolist()):
        these = found.get(mask)
        if these is None:
            these = found[mask] = tuple(label for b, label in enumerate(labels) if mask >> b & 1)
        out[key] = these
    return out


def _in_windows(starts, low, high):
    """The pairs (i, j) as two arrays such that low[i] <= starts[j] <= high[i] (`starts` sorted)."""
    lo = np.searchsorted(starts, low, side="left")
    count = np.searchsorted(starts, high, side="right") - lo
    i = np.repeat(np.arange(len(low)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count - lo, count)
    return i, j


def _meetings(starts, ends):
    """The pairs (i, j), i != j, of candidates such that j starts from 40 characters before i to 3
    after the end of i, as two arrays."""
    order = np.argsort(starts, kind="stable")
    i, j = _in_windows(starts[order], starts - 40, ends + 3)
    j = order[j]
    keep = i != j
    return i[keep], j[keep]


def _lbfgs_logistic(ptr, idx, y, nfeat: int, *, l2: float, sample_w, iterations: int = 300, memory: int = 10):
    """Minimise sum_i sample_w_i * logloss(x_i . w, y_i) + l2/2 |w|^2 over binary sparse rows
    (row i holds the features idx[ptr[i]:ptr[i+1]]), by L-BFGS with a backtracking line search."""
    lens = np.diff(ptr)
    rows = np.repeat(np.arange(len(lens)), lens)

    def value_grad(w):
        z = np.bincount(rows, weights=w[idx], minlength=len(lens))
        loss = float(np.sum(sample_w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * (w @ w))
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = np.bincount(idx, weights=(sample_w * (p - y))[rows], minlength=nfeat) + l2 * w
        return loss, grad

    w = np.zeros(nfeat)
    f, g = value_grad(w)
    hist_s: list = []
    hist_y: list = []
    for _ in range(iterations):
        q = g.copy()
        coef = []
        for s, yv in zip(reversed(hist_s), reversed(hist_y)):
            rho = 1.0 / float(yv @ s)
            a = rho * float(s @ q)
            coef.append((a, rho, s, yv))
            q -= a * yv
        if hist_s:
            q *= float(hist_s[-1] @ hist_y[-1]) / float(hist_y[-1] @ hist_y[-1])
        for a, rho, s, yv in reversed(coef):
            q += (a - rho * float(yv @ q)) * s
        d = -q
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction: restart from the gradient
            d, hist_s, hist_y = -g, [], []
            slope = float(g @ d)
        step = 1.0 if hist_s else min(1.0, 1.0 / max(1e-12, float(np.abs(g).sum())))
        while True:
            w_new = w + step * d
            f_new, g_new = value_grad(w_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, yv = w_new - w, g_new - g
        if float(yv @ s) > 1e-12:
            hist_s.append(s)
            hist_y.append(yv)
            if len(hist_s) > memory:
                hist_s.pop(0)
                hist_y.pop(0)
        converged = abs(f - f_new) <= 1e-7 * max(1.0, abs(f_new)) or float(np.abs(g_new).max()) < 1e-5
        w, f, g = w_new, f_new, g_new
        if converged:
            break
    return w


_SEPARATORS = re.compile("[、,， ]")


def _split_parts(span: str) -> list[str]:
    """The parts of a name between separators, empty ones included (a list of items: 一、二)."""
    return _SEPARATORS.split(span)


def _row_sums(rows: Sequence[list[str]], index: dict[str, int], *weights) -> list[list[float]]:
    """Per weight table (an array by feature number, see SpanClassifier._table), the sum of the
    weights of each row's features, added left to right as sum() adds them, to the last bit.

    Numpy adds one column of all the rows at a time (a row shorter than the longest is filled up
    with number 0, whose weight 0.0 leaves a sum as it is): two passes of sum() over every feature
    of a document took a tenth of the NER's time."""
    lengths = np.fromiter(map(len, rows), np.int64, len(rows))
    numbers = np.fromiter(chain.from_iterable(map(index.get, row, repeat(0)) for row in rows), np.int64, int(lengths.sum()))
    width = int(lengths.max(initial=1))
    grid = np.zeros((len(rows), width), np.int64)
    grid[np.arange(width) < lengths[:, None]] = numbers  # row by row, as chain gave them
    out = []
    for w in weights:
        terms = w[grid]
        total = terms[:, 0].copy()
        for k in range(1, width):
            total += terms[:, k]
        out.append(total.tolist())
    return out


class SpanClassifier:
    """Binary logistic regression over candidate features (weights in a dict), stacked: a second
    model rescores each candidate knowing the first model's scores of its neighbours."""

    def __init__(
        self, weights: dict[str, float] | None = None, *, threshold: float = 0.5, stage2: dict[str, float] | None = None
    ) -> None:
        self.weights = weights or {}
        self.threshold = threshold
        self.stage2 = stage2 or {}
        self._tables: tuple | None = None

    def __bool__(self) -> bool:
        return bool(self.weights)

    def score_groups(self, groups: Sequence[tuple[Sequence[Candidate], list[str]]]) -> list[float]:
        """Probabilities for grouped candidates (see grouped_features), both stages."""
        if not self.stage2:
            return [self.prob(f) for _, f in groups]
        # each feature looked up once for both stages; the sums are those of `prob`, term by term
        # (an unknown feature adds 0.0 where `prob` leaves it out: the same sum)
        index, first, second = self._table()
        sums1, sums2 = _row_sums([f for _, f in groups], index, first, second)
        probs = list(map(_sigmoid, sums1))
        keys = [m[0].key for m, _ in groups]
        extra = neighbour_features(keys, probs)
        w = self.stage2
        return [_sigmoid(sum(filter(None, map(w.get, x)), base)) for base, x in zip(sums2, extra)]

    def _table(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """Every feature of either stage numbered from 1, and the weights of both stages by number
        (0.0 for a feature that a stage does not know, and for number 0, the unknown features)."""
        made = self._tables
        if made is None or made[0] is not self.weights or made[1] is not self.stage2:
            names = sorted(self.weights.keys() | self.stage2.keys())
            index = {sys.intern(name): i for i, name in enumerate(names, 1)}
            first = np.array([0.0] + [self.weights.get(name, 0.0) for name in names])
            second = np.array([0.0] + [self.stage2.get(name, 0.0) for name in names])
            made = self._tables = (self.weights, self.stage2, (index, first, second))
        return made[2]

    def prob(self, feats: Iterable[str], weights: dict[str, float] | None = None) -> float:
        w = self.weights if weights is None else weights
        return _sigmoid(sum(filter(None, map(w.get, feats))))  # unknown features left out, as before

    def fit(
        self,
        data: Sequence[tuple[list[str], int]],
        *,
        seed: int = 0,
        l2: float = 2.0,
        pos_weight: float | None = None,
        iterations: int = 300,
    ) -> SpanClassifier:
        """L2-regularised logistic regression, fitted to convergence by L-BFGS (numpy, full batch).

        The optimum of a strictly convex objective does not depend on the order of the data, so the
        weights are the same on every run; `seed` is kept for the interface. Positives are weighed
        up (`pos_weight`, by default from the class ratio, at most 4) so that recall is not starved
        by the many rule candidates."""
        vocab = {f: i for i, f in enumerate(sorted({x for feats, _ in data for x in feats}))}
        idx: list[int] = []
        ptr = [0]
        for feats, _ in data:
            idx.extend(vocab[x] for x in dict.fromkeys(feats))
            ptr.append(len(idx))
        y = np.asarray([yy for _, yy in data], dtype=float)
        n = max(1, len(data))
        if pos_weight is None:
            pos = float(y.sum())
            pos_weight = min(4.0, max(1.0, (n - pos) / max(1.0, pos) / 2))
        sample_w = np.where(y > 0, pos_weight, 1.0)
        w = _lbfgs_logistic(
            np.asarray(ptr, dtype=np.int64), np.asarray(idx, dtype=np.int64), y, len(vocab), l2=l2, sample_w=sample_w, iterations=iterations
        )
        names = sorted(vocab, key=vocab.get)
        self.weights = {k: round(float(v), 5) for k, v in sorted(zip(names, w)) if abs(v) >= 1e-4}
        return self

    def fit_stacked(
        self,
        docs: Sequence[Sequence[tuple[tuple[int, int, str], list[str], int]]],
        *,
        seed: int = 0,
        groups: Sequence[str] | None = None,
        **kw,
    ) -> SpanClassifier:
        """Fit stage one on all documents, then stage two on stage-one scores that were cross-fitted
        (each document scored by a model that did not see it), so stage two learns honest scores.
        `groups` names the source text of each entry of `docs` (several readings of one text are
        left out together)."""
        groups = list(groups) if groups is not None else [str(i) for i in range(len(docs))]
        flat = [(f, y) for d in docs for _, f, y in d]
        self.fit(flat, seed=seed, **kw)
        stage1 = self.weights
        data2: list[tuple[list[str], int]] = []
        others: dict[str, SpanClassifier] = {}
        for i, d in enumerate(docs):
            g = groups[i]
            if len(set(groups)) > 1:
                if g not in others:
                    rest = [(f, y) for j, e in enumerate(docs) if groups[j] != g for _, f, y in e]
                    others[g] = SpanClassifier().fit(rest, seed=seed, **kw)
                other = others[g]
            else:
                other = self
            probs = [other.prob(f) for _, f, _ in d]
            extra = neighbour_features([k for k, _, _ in d], probs)
            data2 += [(f + x, y) for (_, f, y), x in zip(d, extra)]
        self.weights = {}
        self.fit(data2, seed=seed, **kw)
        self.stage2, self.weights = self.weights, stage1
        return self

    def to_json(self) -> str:
        return json.dumps(
            {"format": MODEL_FORMAT, "threshold": self.threshold, "weights": self.weights, "stage2": self.stage2},
            ensure_ascii=False,
            sort_keys=True,
            indent=0,
        )

    @classmethod
    def load(cls, path: Path) -> SpanClassifier:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the NER model ({err.strerror}); run `kg train`.") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: the NER model is not valid JSON ({err.msg}); run `kg train`.") from err
        if data.get("format") != MODEL_FORMAT:
            raise ConfigError(f"{path}: not a {MODEL_FORMAT} model; run `kg train` to make one.")
        return cls(data["weights"], threshold=float(data.get("threshold", 0.5)), stage2=data.get("stage2") or {})
