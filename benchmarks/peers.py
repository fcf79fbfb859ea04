"""Peers: jieba.posseg (nr/ns/nt) and thulac (np/ns/ni) against kg on the same gold, for PERSON,
PLACE and ORG (the labels they have). Prints a markdown table and writes it to eval/peers.md.

    python benchmarks/peers.py [--gold tests/data/gold_seeds.jsonl] [--cv]

kg is scored as shipped (trained on all seeds) and, with --cv, cross-validated (each document
scored by a model that did not see it): the fair comparison for unseen text.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg.corpus import NerView  # noqa: E402
from kg.evaluate import GoldDoc, evaluate_ner, predict, read_gold  # noqa: E402
from kg.mention import Span  # noqa: E402

LABELS = ("PERSON", "PLACE", "ORG")
JIEBA_TAGS = {"nr": "PERSON", "ns": "PLACE", "nt": "ORG"}
THULAC_TAGS = {"np": "PERSON", "ns": "PLACE", "ni": "ORG"}


def _tagged_spans(view: NerView, pairs, tags: dict[str, str]) -> list[Span]:
    """Spans from (word, tag) pairs laid over the view text, mapped back to the original."""
    out, pos, text = [], 0, view.text
    for word, tag in pairs:
        if not word:
            continue
        at = text.find(word, pos)
        if at < 0:
            continue
        pos = at + len(word)
        label = tags.get(tag)
        if label and not re.fullmatch(r"\s+", word):
            s, e = view.span(at, pos)
            out.append(Span(s, e, label, tag))
    return out


def jieba_spans(docs: list[GoldDoc]) -> dict[str, list[Span]]:
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    out = {}
    for g in docs:
        view = NerView(g.text)
        out[g.doc] = _tagged_spans(view, ((p.word, p.flag) for p in pseg.cut(view.text)), JIEBA_TAGS)
    return out


def thulac_spans(docs: list[GoldDoc]) -> dict[str, list[Span]]:
    import thulac

    model = thulac.thulac()
    out = {}
    for g in docs:
        view = NerView(g.text)
        pairs = []
        for line in view.text.split("\n"):
            pairs += [(w, t) for w, t in model.cut(line)] if line.strip() else []
        out[g.doc] = _tagged_spans(view, pairs, THULAC_TAGS)
    return out


def only(labels, docs: list[GoldDoc]) -> list[GoldDoc]:
    return [GoldDoc(g.doc, g.text, [e for e in g.entities if e.label in labels]) for g in docs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "tests/data/gold_seeds.jsonl")
    ap.add_argument("--ontology", type=Path, default=ROOT / "ontology")
    ap.add_argument("--out", type=Path, default=ROOT / "eval/peers.md")
    ap.add_argument("--cv", action="store_true", help="also score kg cross-validated")
    args = ap.parse_args(argv)

    from kg.ner import load_nlp

    gold = read_gold(args.gold)
    sub = only(LABELS, gold)
    systems: dict[str, dict[str, list[Span]]] = {}
    nlp = load_nlp(ontology=args.ontology)
    systems["kg (trained on all seeds)"] = predict(gold, nlp)
    if args.cv:
        systems["kg (cross-validated)"] = _cv_predictions(gold, args.ontology)
    systems["jieba.posseg (nr/ns/nt)"] = jieba_spans(gold)
    systems["thulac (np/ns/ni)"] = thulac_spans(gold)

    lines = [
        f"Exact span and label F1 (precision / recall) on {args.gold.name}, PERSON, PLACE and ORG only.",
        "",
        "| system | " + " | ".join(LABELS) + " | micro (3 labels) |",
        "|---|" + "---:|" * (len(LABELS) + 1),
    ]
    for name, pred in systems.items():
        pred = {d: [s for s in spans if s.label in LABELS] for d, spans in pred.items()}
        r = evaluate_ner(sub, pred)
        cells = []
        for lab in LABELS:
            s = r.exact[lab]
            cells.append(f"{s.f1:.3f} ({s.precision:.2f} / {s.recall:.2f})")
        m = r.exact["PERSON"], r.exact["PLACE"], r.exact["ORG"]
        tp, fp, fn = sum(x.tp for x in m), sum(x.fp for x in m), sum(x.fn for x in m)
        p = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * rc / (p + rc) if p + rc else 0.0
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {f:.3f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("# NER peers\n\n" + table, encoding="utf-8")
    return 0


def _cv_predictions(gold: list[GoldDoc], ontology: Path) -> dict[str, list[Span]]:
    """kg's spans for each document from a model trained on the other documents."""
    from kg.ner import load_nlp
    from kg.ontology import load_ontology
    from kg.train import train_classifier

    onto = load_ontology(ontology)
    out = {}
    for held in gold:
        fold = onto.without_documents([held.doc])
        model = train_classifier([g for g in gold if g.doc != held.doc], ontology=fold)
        nlp = load_nlp(ontology=fold, overrides={"paths.model": None})
        nlp.get_pipe("classifier").model = model
        out.update(predict([held], nlp))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
