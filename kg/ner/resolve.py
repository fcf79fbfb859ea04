"""The resolver: from scored, overlapping candidates to non-overlapping mentions.

Selection maximises the summed log-odds margin of the kept candidates (weighted interval
scheduling), so a long organisation beats the place inside it only when the classifier is surer of
it, and a chain 铁西区站前街道东煤社区 stays three places when each piece is likely. A name
accepted once is then looked for again in the same document (one sense per discourse), and the
definite short form of an accepted name (法律援助中心 after 铁东区法律援助中心) too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kg.ner.candidates import Candidate


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def select(cands: Sequence[Candidate], threshold: float, *, length_bonus: float = 0.0) -> list[Candidate]:
    """The best set of non-overlapping candidates whose score passes the threshold.

    `length_bonus` (per character) leans the choice toward the outer mention when names nest, as
    the annotation guidelines ask."""
    base = _logit(threshold)
    best: dict[tuple[int, int], Candidate] = {}
    for c in cands:
        if c.score < threshold or c.end <= c.start:
            continue
        k = (c.start, c.end)
        old = best.get(k)
        if old is None or (c.score, c.label, c.kb_id) > (old.score, old.label, old.kb_id):
            best[k] = c
    items = sorted(best.values(), key=lambda c: (c.end, c.start, c.label))
    if not items:
        return []
    ends = [c.end for c in items]
    import bisect

    n = len(items)
    total = [0.0] * (n + 1)
    take = [False] * (n + 1)
    prev = [0] * (n + 1)
    for i, c in enumerate(items, 1):
        j = bisect.bisect_right(ends, c.start, 0, i - 1)
        prev[i] = j
        gain = _logit(c.score) - base + (1e-3 + length_bonus) * (c.end - c.start)
        with_c = total[j] + gain
        if with_c > total[i - 1]:
            total[i], take[i] = with_c, True
        else:
            total[i], take[i] = total[i - 1], False
    out = []
    i = n
    while i > 0:
        if take[i]:
            out.append(items[i - 1])
            i = prev[i]
        else:
            i -= 1
    return sorted(out, key=lambda c: (c.start, c.end))


def propagate(text: str, chosen: list[Candidate], place_prefixes: dict[tuple[int, int], int]) -> list[Candidate]:
    """Other occurrences of accepted names in the same text, as new candidates."""
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for c in chosen:
        name = text[c.start : c.end]
        forms = [(name, c.score * 0.95)]
        # the definite short form: the name without its place prefix (3+ characters left)
        cut = place_prefixes.get((c.start, c.end))
        if cut and c.label in ("ORG", "PLACE") and c.end - cut >= 3:
            forms.append((text[cut : c.end], c.score * 0.8))
        for form, score in forms:
            min_len = 2 if c.label == "PERSON" else 3
            if len(form) < min_len or "\n" in form or (form, c.label) in seen:
                continue
            seen.add((form, c.label))
            start = text.find(form)
            while start != -1:
                out.append(Candidate(start, start + len(form), c.label, "propagated", c.kb_id if form == name else "", {}, score))
                start = text.find(form, start + 1)
    return out
