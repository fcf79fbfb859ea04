"""Linking scores against the gold `canonical` field, on the mentions the NER found exactly.

B-cubed precision, recall and F1 of the mention clusters, and three pairwise scores that linking
by surface string alone cannot pass:

- alias recall: of the pairs of mentions of one thing written differently (铁东/铁东区), the share
  that share a node;
- homonym separation: of the pairs written alike that mean different things (区委 in a 铁西区
  article and 区委 in a 铁东区 article), the share that do not share a node;
- pair precision: of the pairs that share a node, the share that are one thing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from itertools import combinations


@dataclass(frozen=True, slots=True)
class LinkScores:
    mentions: int  # gold mentions the NER found exactly (span and label), which are scored
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    alias_pairs: int
    alias_recall: float
    homonym_pairs: int
    homonym_separation: float
    linked_pairs: int
    pair_precision: float

    def as_dict(self) -> dict:
        return asdict(self)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def score_links(gold: Mapping[str, Iterable[dict]], predicted: Iterable[dict]) -> LinkScores:
    """Score predicted mentions (`doc`, `start`, `end`, `label`, `entity`) against gold entities."""
    found = {(p["doc"], p["start"], p["end"], p["label"]): p["entity"] for p in predicted}
    items: list[tuple[str, str, str]] = []  # (surface, gold key, predicted node)
    for doc, entities in sorted(gold.items()):
        for e in entities:
            node = found.get((doc, e["start"], e["end"], e["label"]))
            if node is not None:
                items.append((_norm(e["text"]), f"{e['label']}|{e['canonical']}", node))
    if not items:
        return LinkScores(0, 0.0, 0.0, 0.0, 0, 0.0, 0, 0.0, 0, 0.0)

    gold_size: dict[str, int] = defaultdict(int)
    pred_size: dict[str, int] = defaultdict(int)
    both: dict[tuple[str, str], int] = defaultdict(int)
    for _, g, p in items:
        gold_size[g] += 1
        pred_size[p] += 1
        both[(g, p)] += 1
    precision = sum(both[(g, p)] / pred_size[p] for _, g, p in items) / len(items)
    recall = sum(both[(g, p)] / gold_size[g] for _, g, p in items) / len(items)

    alias = alias_hit = homonym = homonym_hit = linked = linked_hit = 0
    for (s1, g1, p1), (s2, g2, p2) in combinations(items, 2):
        if g1 == g2 and s1 != s2:
            alias += 1
            alias_hit += p1 == p2
        if s1 == s2 and g1 != g2:
            homonym += 1
            homonym_hit += p1 != p2
        if p1 == p2:
            linked += 1
            linked_hit += g1 == g2
    return LinkScores(
        mentions=len(items),
        bcubed_precision=round(precision, 4),
        bcubed_recall=round(recall, 4),
        bcubed_f1=round(_f1(precision, recall), 4),
        alias_pairs=alias,
        alias_recall=round(alias_hit / alias, 4) if alias else 1.0,
        homonym_pairs=homonym,
        homonym_separation=round(homonym_hit / homonym, 4) if homonym else 1.0,
        linked_pairs=linked,
        pair_precision=round(linked_hit / linked, 4) if linked else 1.0,
    )


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def format_scores(s: LinkScores) -> str:
    """A small table for the terminal."""
    rows = [
        ("mentions scored", str(s.mentions)),
        ("B-cubed P / R / F1", f"{s.bcubed_precision:.3f} / {s.bcubed_recall:.3f} / {s.bcubed_f1:.3f}"),
        (f"alias recall ({s.alias_pairs} pairs)", f"{s.alias_recall:.3f}"),
        (f"homonym separation ({s.homonym_pairs} pairs)", f"{s.homonym_separation:.3f}"),
        (f"pair precision ({s.linked_pairs} pairs)", f"{s.pair_precision:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def link_spans(docs: Iterable, spans_by_doc: Mapping[str, Iterable], onto) -> list[dict]:
    """Run the linker over predicted spans of gold texts; rows as in mentions.jsonl.

    `docs` are objects with `.doc` and `.text` (kg.evaluate.GoldDoc); `spans_by_doc` maps a doc
    to its kg.mention.Span list.
    """
    from pathlib import Path

    from kg.corpus import Document, split_articles
    from kg.link import Linker

    linker = Linker(onto)
    rows = []
    for g in docs:
        doc = Document(g.doc, Path(f"{g.doc}.txt"), g.text, "utf-8", split_articles(g.text))
        for m in linker.link(doc, list(spans_by_doc.get(g.doc, ()))):
            rows.append({"doc": m.doc_id, "start": m.start, "end": m.end, "label": m.label, "entity": m.iri})
    return rows


def gold_rows(docs: Iterable) -> dict[str, list[dict]]:
    """Gold entities of kg.evaluate.GoldDoc objects as the dicts `score_links` reads."""
    return {
        g.doc: [{"start": e.start, "end": e.end, "label": e.label, "text": e.text, "canonical": e.canonical} for e in g.entities]
        for g in docs
    }

