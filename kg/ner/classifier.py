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
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

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


def _len_bucket(n: int) -> str:
    return str(n) if n <= 8 else ("9-12" if n <= 12 else ("13-20" if n <= 20 else "21+"))


class Context:
    """What the features of one document need: its text, candidates indexed by position, words.

    What the text says at a boundary (the characters and words around it, the candidates that end
    or start there) is worked out once per position and label: the rules propose many candidates
    per head and per suffix, which share their ends and many of their starts."""

    def __init__(self, text: str, cands: Sequence[Candidate], rules: Rules, words: Sequence[tuple[int, int]] | None = None) -> None:
        self.text = text
        self.rules = rules
        self.words = sorted(words or ())
        self.word_starts = [w[0] for w in self.words]
        self.word_ends = {w[1] for w in self.words}
        self.by_start: dict[int, list[Candidate]] = defaultdict(list)
        self.by_end: dict[int, list[Candidate]] = defaultdict(list)
        self.gaz: dict[tuple[int, int], set[str]] = defaultdict(set)
        for c in cands:
            self.by_start[c.start].append(c)
            self.by_end[c.end].append(c)
            if c.source == "gazetteer":
                self.gaz[(c.start, c.end)].add(c.label)
        # long candidates, for "inside a longer X" features
        self.spans = sorted({(c.start, c.end, c.label) for c in cands})
        self.starts = [s for s, _, _ in self.spans]
        # quoted and bracketed ranges: a candidate strictly inside one is part of a larger name
        self.quoted = sorted({(c.start, c.end, "Q" if c.info.get("quoted") else "B") for c in cands if c.source in ("quote", "policy")})
        self.quoted_starts = [q[0] for q in self.quoted]
        self._left: dict[tuple[str, int], tuple] = {}
        self._right: dict[tuple[str, int], tuple] = {}

    def tags_inside(self, s: int, e: int) -> list[str]:
        """Tags of the dictionary words that lie inside [s, e), in order."""
        out = []
        i = bisect_left(self.word_starts, s)
        tags = self.rules.words
        while i < len(self.words) and self.words[i][1] <= e:
            ws, we = self.words[i]
            out.append(tags.get(self.text[ws:we], "x"))
            i += 1
        return out

    def enclosure(self, s: int, e: int) -> str:
        """Q or B when [s, e) lies strictly inside a quoted or 《》 range, E when it is exactly one."""
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
        """Labels of other candidates that strictly contain c (cheap scan over a window)."""
        out = set()
        i = bisect_left(self.starts, c.start - 30)
        while i < len(self.spans) and self.spans[i][0] <= c.start:
            s, e, lab = self.spans[i]
            if e >= c.end and (s, e) != (c.start, c.end):
                out.add(lab)
            i += 1
        return out

    def left(self, L: str, s: int) -> tuple:
        """Features of a left boundary for a label ("ORG|"), and the first word's length."""
        found = self._left.get((L, s))
        if found is None:
            t, rules = self.text, self.rules
            words = rules.words
            left1 = t[s - 1] if s > 0 else ""
            lc = char_class(left1)
            lw = rules.word_ending_at(t, s)
            fw = rules.longest_word(t, s) if s < len(t) else ""
            cross = any(t[s - 1 : s + k] in words for k in (1, 2, 3)) if s > 0 else False
            after_place = any(x.label == "PLACE" for x in self.by_end.get(s, ()) if x.source in ("gazetteer", "place"))
            found = self._left[(L, s)] = (
                L + "l1=" + left1,
                L + "l2=" + t[max(0, s - 2) : s],
                L + "lc=" + lc,
                lc,
                L + "lw=" + lw,
                L + "lwtag=" + words.get(lw, "?"),
                L + "fwtag=" + words.get(fw, "?"),
                len(fw),
                L + "cross_l=" + str(cross),
                L + "after_place=" + str(after_place),
            )
        return found

    def right(self, L: str, e: int) -> tuple:
        """Features of a right boundary for a label, and the word that starts there."""
        found = self._right.get((L, e))
        if found is None:
            t, rules = self.text, self.rules
            words = rules.words
            right1 = t[e] if e < len(t) else ""
            rc = char_class(right1)
            rw = rules.longest_word(t, e) if e < len(t) else ""
            # a word that crosses the right edge from the last character, or from the one before
            cross1 = e >= 1 and (t[e - 1 : e + 2] in words or t[e - 1 : e + 1] in words)
            cross2 = cross1 or (e >= 2 and (t[e - 2 : e + 2] in words or t[e - 2 : e + 1] in words))
            follows = {x.label for x in self.by_start.get(e, ()) if x.source in ("gazetteer", "place", "org")}
            found = self._right[(L, e)] = (
                L + "r1=" + right1,
                L + "r2=" + t[e : e + 2],
                L + "rc=" + rc,
                rc,
                L + "rw=" + rw,
                L + "rwtag=" + words.get(rw, "?"),
                rw,
                (L + "cross_r=False", L + "cross_r=" + str(cross1), L + "cross_r=" + str(cross2)),
                L + "we=" + str(e in self.word_ends),
                [L + "next=" + x for x in sorted(follows)],
            )
        return found


def features(c: Candidate, ctx: Context) -> list[str]:
    """Sparse features of one candidate, each a string; the label is part of most of them."""
    t = ctx.text
    s, e, lab = c.start, c.end, c.label
    span = t[s:e]
    src = c.source.split(":")[0]
    L = lab + "|"
    l1, l2, lc, lcc, lw, lwtag, fwtag, fw_len, cross_l, after_place = ctx.left(L, s)
    r1, r2, rc, rcc, rw_f, rwtag, rw, cross_r, we, follows = ctx.right(L, e)
    n = e - s
    f = [
        "bias",
        L + "bias",
        L + "src=" + c.source,
        L + "len=" + _len_bucket(n),
        L + "src=" + src + "|len=" + _len_bucket(n),
        L + "last=" + span[-1:],
        L + "last2=" + span[-2:],
        l1,
        l2,
        r1,
        r2,
        lc,
        rc,
        L + "lc|rc=" + lcc + rcc,
        L + "src=" + src + "|lc=" + lcc,
        L + "src=" + src + "|rc=" + rcc,
        lw,
        lwtag,
        fwtag,
        L + "fw_in=" + str(fw_len <= n),  # the first word ends inside the span
        rw_f,
        rwtag,
        # the word that crosses the right edge (…区民 in 铁西区民政局): a sign the span ends mid-word
        cross_r[min(max(n, 0), 2)],
        cross_l,
    ]
    rules = ctx.rules
    info = c.info
    ws = info.get("ws")
    if ws is not None:
        f.append(L + "ws=" + str(ws))
    f.append(L + "encl=" + ctx.enclosure(s, e))
    if ctx.words:
        f.append(we)
        if lab != "POLICY" and not info_quoted(c):
            tags = ctx.tags_inside(s, e)
            f.append(L + "nwords=" + str(min(len(tags), 5)))
            for tag in sorted(set(tags[:-1])):
                f.append(L + "has=" + tag)
            proper = any(tg in ("ns", "nr", "nz", "nt", "nrt", "m") for tg in tags) or any(
                x.label == "PLACE" for x in ctx.by_start.get(s, ()) if x.end < e
            ) or span[:1] in rules.level_chars or any(ch.isdigit() for ch in span)
            f.append(L + "proper=" + str(proper))
            if tags:
                f.append(L + "lasttag=" + tags[-1])
                f.append(L + "firsttag=" + tags[0])
    if "\n" in span:
        f.append(L + "break")
    # gazetteer agreement
    gaz = ctx.gaz.get((s, e), ())
    f.append(L + "gaz=" + ("same" if lab in gaz else ("other" if gaz else "none")))
    if c.source == "gazetteer":
        f.append(L + "gaz_level=" + str(info.get("level", 0)))
        f.append(L + "gaz_id=" + str(bool(c.kb_id)))
    # neighbours: a place ends where this starts, a place starts here, another candidate contains it
    f.append(after_place)
    starts_here = {x.label + ("G" if x.source == "gazetteer" else "") for x in ctx.by_start.get(s, ()) if x.end < e}
    for x in sorted(starts_here):
        f.append(L + "prefix=" + x)
    ends_here = {x.label for x in ctx.by_end.get(e, ()) if x.start > s and x.source in ("gazetteer", "place")}
    for x in sorted(ends_here):
        f.append(L + "suffix_is=" + x)
    for x in sorted(ctx.containing(c)):
        f.append(L + "inside=" + x)
    f += follows
    # family-specific evidence
    if lab == "PLACE":
        if "suffix" in info:
            f.append(L + "suffix=" + info["suffix"])
            f.append(L + "suffix=" + info["suffix"] + "|len=" + str(e - s))
            f.append(L + "suffix=" + info["suffix"] + "|lc=" + lcc)
        nm = span[: -len(info["suffix"])] if "suffix" in info else span
        # a gazetteer name that is also a common word (新建, 博爱, 振兴) is rarely meant as a place
        f.append(L + "common_word=" + str(rules.words.get(span, "ns")[:1] not in ("n", "j") or rules.words.get(span) == "n"))
        f.append(L + "name_in_dict=" + str(nm in rules.words))
        f.append(L + "name_tag=" + rules.words.get(nm, "?"))
    elif lab == "ORG":
        head = info.get("head", "")
        if head:
            f.append(L + "head=" + head)
            f.append(L + "head=" + head + "|lc=" + lcc)
        if info.get("alone"):
            f.append(L + "alone=" + head)
            f.append(L + "alone_definite=" + str(head in rules.definite_alone))
        f.append(L + "level_start=" + str(span[:1] in rules.level_chars))
        f.append(L + "opener=" + str(span.startswith(rules.t_org_openers)))
        if span[:1] in rules.level_chars:
            f.append(L + "level_start|len=" + str(e - s))
        for r in (t[e : e + 2], t[e : e + 3]):
            if r in rules.role_after:
                f.append(L + "role_after")
        f.append(L + "head_in_right_word=" + str(len(rw) > 1 and rw in rules.org_heads))
    elif lab == "PERSON":
        f.append(L + "first=" + span[:1])
        f.append(L + "surname=" + str(rules.is_surname_start(span)))
        f.append(L + "surname2=" + str(span[:2] in rules.surnames2))
        f.append(L + "name_in_dict=" + str(span in rules.words))
        f.append(L + "name_tag=" + rules.words.get(span, "?"))
        if e - s == 3:
            f.append(L + "first2_word=" + str(rules.is_common_word(span[:2])))
        if "cue" in info:
            f.append(L + "cue=" + info["cue"])
        if "items" in info:
            f.append(L + "items=" + str(min(info["items"], 4)))
        if "token" in info:
            f.append(L + "token=" + str(info["token"]) + "|len=" + str(e - s))
        if t.startswith(rules.t_person_after, e):
            f.append(L + "after_word")
    if lab in ("PROGRAMME", "ORG") and info.get("quoted"):
        after = info.get("after", "")
        before = info.get("before", "")
        f.append(L + "quoted")
        f.append(L + "q_after_prog=" + str(after.startswith(rules.t_prog_after)))
        f.append(L + "q_after_not=" + str(after.startswith(rules.t_prog_not_after)))
        f.append(L + "q_after_org=" + str(after.startswith(rules.t_org_heads2)))
        f.append(L + "q_after1=" + after[:1])
        f.append(L + "q_after2=" + after[:2])
        f.append(L + "q_before_prog=" + str(before.endswith(rules.t_prog_before)))
        f.append(L + "q_before_not=" + str(before.endswith(rules.t_prog_not_before)))
        parts = [p for p in _split_parts(span) if p]
        f.append(L + "q_idiom=" + str(bool(parts) and all(p in rules.idioms for p in parts)))
        f.append(L + "q_idiom_any=" + str(any(p in rules.idioms for p in parts)))
        f.append(L + "q_before1=" + before[-1:])
        f.append(L + "q_before2=" + before[-2:])
        f.append(L + "q_head=" + str(span.endswith(rules.t_prog_heads)))
        f.append(L + "q_role=" + str(span[-1:] in rules.role_endings))
        f.append(L + "q_num=" + str(span[:1] in rules.numerals or span[:1].isdigit()))
        f.append(L + "q_digits=" + str(any(ch.isdigit() for ch in span)))
        f.append(L + "q_plus=" + str("+" in span))
        seps = sum(span.count(x) for x in "、,， ")
        f.append(L + "q_seps=" + str(min(seps, 3)))
        f.append(L + "q_len=" + _len_bucket(e - s))
        f.append(L + "q_dict=" + str(span in rules.words))
        f.append(L + "q_tag=" + rules.words.get(span, "?"))
        if seps:
            parts = [p for p in _split_parts(span) if p]
            f.append(L + "q_parts_eq=" + str(len({len(p) for p in parts}) == 1))
            f.append(L + "q_parts_num=" + str(sum(p[:1] in rules.numerals for p in parts) == len(parts)))
        if len(span) == 4 and span[0] == span[2]:
            f.append(L + "q_abab")
        f.append(L + "q_first_num_head=" + str(span[:1] in rules.numerals and len(span) <= 8))
        # a quoted phrase that ends in a person's name after a role word is a title or a theme
        f.append(L + "q_ends_person=" + str(any(x.source == "person:role" for x in ctx.by_end.get(e, ()))))
    if lab == "PROGRAMME" and not info.get("quoted"):
        if "head" in info:
            f.append(L + "uhead=" + info["head"])
        if info.get("alone"):
            f.append(L + "ualone")
    if lab == "POLICY":
        f.append(L + "p_head=" + str(span.endswith(rules.t_policy_heads)))
        f.append(L + "p_open=" + str(span.startswith(rules.t_policy_openings)))
        f.append(L + "p_booked=" + str(bool(info.get("booked"))))
    return f


def grouped_features(cands: Sequence[Candidate], ctx: Context) -> list[tuple[list[Candidate], list[str]]]:
    """One feature list per (start, end, label): what several rules agree on is one decision,
    described by the union of their evidence."""
    groups: dict[tuple[int, int, str], list[Candidate]] = defaultdict(list)
    for c in cands:
        groups[c.key].append(c)
    out = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) == 1:
            out.append((members, list(dict.fromkeys(features(members[0], ctx)))))
            continue
        feats: dict[str, None] = {}
        for c in members:
            feats.update(dict.fromkeys(features(c, ctx)))
        feats[key[2] + "|agree=" + "+".join(sorted({c.source.split(":")[0] for c in members}))] = None
        out.append((members, list(feats)))
    return out


def _bucket(p: float) -> str:
    return "0" if p < 0.2 else ("1" if p < 0.5 else ("2" if p < 0.8 else "3"))


def neighbour_features(keys: Sequence[tuple[int, int, str]], probs: Sequence[float]) -> list[list[str]]:
    """Second-stage features: how sure the first stage is of the candidates around each one
    (the organisation that would contain this place, the place inside this organisation …)."""
    order = sorted(range(len(keys)), key=lambda i: keys[i][0])
    starts = [keys[i][0] for i in order]
    out: list[list[str]] = []
    for i, (s, e, lab) in enumerate(keys):
        best: dict[str, float] = {}
        lo = bisect_left(starts, s - 40)
        hi = bisect_right(starts, e + 3)
        for k in range(lo, hi):
            j = order[k]
            if j == i:
                continue
            s2, e2, lab2 = keys[j]
            if e2 < s and not (lab2 == lab and s - e2 <= 3):
                continue
            p = probs[j]
            if lab2 == lab and (0 < s - e2 <= 3):
                rel = "sib"  # the previous item of a run of names (“…”“…”, X、Y)
            elif e2 == s:
                rel = "prev_" + lab2
            elif lab2 == lab and 0 < s2 - e <= 3:
                rel = "sib"  # the next item of a run of names
            elif s2 > e:
                continue
            elif s2 == e:
                rel = "next_" + lab2
            elif (s2, e2) == (s, e):
                rel = "alt"
            elif s2 <= s and e2 >= e:
                rel = "in_" + lab2
            elif s2 >= s and e2 <= e:
                rel = "has_" + lab2
            else:
                rel = "cross"
            if p > best.get(rel, -1.0):
                best[rel] = p
        L = lab + "|"
        f = [L + "s1=" + _bucket(probs[i])]
        f += [L + "s2_" + rel + "=" + _bucket(p) for rel, p in sorted(best.items())]
        f += [L + "s1=" + _bucket(probs[i]) + "|s2_" + rel + "=" + _bucket(p) for rel, p in sorted(best.items()) if p >= 0.5]
        out.append(f)
    return out


def _lbfgs_logistic(ptr, idx, y, nfeat: int, *, l2: float, sample_w, iterations: int = 300, memory: int = 10):
    """Minimise sum_i sample_w_i * logloss(x_i . w, y_i) + l2/2 |w|^2 over binary sparse rows
    (row i holds the features idx[ptr[i]:ptr[i+1]]), by L-BFGS with a backtracking line search."""
    import numpy as np

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


def info_quoted(c: Candidate) -> bool:
    return bool(c.info.get("quoted") or c.info.get("booked"))


def _split_parts(span: str) -> list[str]:
    out, cur = [], ""
    for ch in span:
        if ch in "、,， ":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
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

    def __bool__(self) -> bool:
        return bool(self.weights)

    def score_groups(self, groups: Sequence[tuple[Sequence[Candidate], list[str]]]) -> list[float]:
        """Probabilities for grouped candidates (see grouped_features), both stages."""
        probs = [self.prob(f) for _, f in groups]
        if not self.stage2:
            return probs
        keys = [m[0].key for m, _ in groups]
        extra = neighbour_features(keys, probs)
        return [self.prob(f + x, self.stage2) for (_, f), x in zip(groups, extra)]

    def prob(self, feats: Iterable[str], weights: dict[str, float] | None = None) -> float:
        w = self.weights if weights is None else weights
        z = sum(filter(None, map(w.get, feats)))  # unknown features left out, as before
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        ez = math.exp(z)
        return ez / (1.0 + ez)

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
        import numpy as np

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
