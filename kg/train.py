"""`kg train`: the NER's span classifier, trained from gold documents with a fixed seed.

The rules propose candidates over each gold text; a candidate is a positive example when its range
and label are a gold mention. The classifier learns which candidates to keep. Same data and seed,
byte-identical weights.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path

from kg.corpus import NerView
from kg.errors import ConfigError
from kg.ontology import Ontology, load_ontology

CANDIDATE_PIPES = ("gazetteer", "rules")
# Share of gazetteer names hidden in the second reading of each training document.
GAZETTEER_DROPOUT = 0.7


def candidate_docs(nlp, texts: Sequence[str]):
    """(view, doc) per text with candidates proposed by the gazetteer and the rules only."""
    pipes = [nlp.get_pipe(n) for n in CANDIDATE_PIPES if n in nlp.pipe_names]
    for text in texts:
        view = NerView(text)
        doc = nlp.make_doc(view.text)
        for pipe in pipes:
            doc = pipe(doc)
        yield view, doc


def training_examples(
    gold_docs, nlp, *, ontology: Ontology | None = None, gazetteer_dropout: float = 0.0
) -> tuple[list[list], dict]:
    """Per reading of a document, (candidate key, features, 0/1 target) rows; and how many gold
    mentions the candidates cover. With `gazetteer_dropout`, every document is read a second time
    with that share of the gazetteer's names hidden (the rows of all second readings follow those
    of the first ones, in the same order).

    With an ontology, each document is read with a gazetteer that lacks the names derived from that
    document alone: the model then learns from documents as unseen as the ones it will meet, not
    from gazetteer hits that its own annotations put there.
    """
    from kg.ner.classifier import Context, grouped_features
    from kg.ner.candidates import doc_text
    from kg.ner.gazetteer import patterns_from

    rules = nlp.get_pipe("rules").rules
    gaz_pipe = nlp.get_pipe("gazetteer") if "gazetteer" in nlp.pipe_names else None
    full = gaz_pipe.gazetteer if gaz_pipe is not None else None
    data: list[list[tuple[tuple[int, int, str], list[str], int]]] = []
    covered = total = 0
    missing: list[str] = []
    readings = [(g, False) for g in gold_docs]
    if gazetteer_dropout > 0 and ontology is not None and gaz_pipe is not None:
        readings += [(g, True) for g in gold_docs]
    for g, dropped in readings:
        if ontology is not None and gaz_pipe is not None:
            patterns = patterns_from(ontology.without_documents([g.doc]))
            if dropped:
                patterns = [p for p in patterns if not _dropped(p["pattern"], g.doc, gazetteer_dropout)]
            gaz_pipe.gazetteer = gaz_pipe.build(patterns)
        view, doc = next(candidate_docs(nlp, [g.text]))
        gold = {(e.start, e.end, e.label) for e in g.entities}
        cands = doc._.kg_candidates or []
        ctx = Context(doc_text(doc), cands, rules, doc._.kg_words)
        seen = set()
        rows = []
        for members, feats in grouped_features(cands, ctx):
            c = members[0]
            s, e = view.span(c.start, c.end)
            y = int((s, e, c.label) in gold)
            seen.add((s, e, c.label))
            rows.append((c.key, feats, y))
        data.append(rows)
        if dropped:
            continue
        total += len(gold)
        covered += len(gold & seen)
        missing += [f"{lab} {g.text[s:e]!r}" for s, e, lab in sorted(gold - seen)]
    if gaz_pipe is not None:
        gaz_pipe.gazetteer = full
    return data, {"gold": total, "covered": covered, "missing": missing}


def _dropped(name: str, doc: str, rate: float) -> bool:
    """A fixed pseudo-random choice of gazetteer names to hide in the second reading of a document."""
    digest = hashlib.sha1(f"{doc}\t{name}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < rate


def train_classifier(
    gold_docs,
    *,
    ontology: Ontology | Path,
    config: Path | None = None,
    seed: int = 0,
    overrides: dict | None = None,
    gazetteer_dropout: float = GAZETTEER_DROPOUT,
):
    """A SpanClassifier fitted on the candidates of these gold documents.

    Each document is read twice: with the gazetteer (less the names derived from it), and with a
    fixed random share `gazetteer_dropout` of the gazetteer's names hidden, so that the model also
    learns to accept names that the rules alone propose (the held-out texts hold names that no
    gazetteer has)."""
    from kg.ner import DEFAULT_CONFIG, load_nlp
    from kg.ner.classifier import SpanClassifier

    if not isinstance(ontology, Ontology):
        ontology = load_ontology(Path(ontology))
    nlp = load_nlp(config or DEFAULT_CONFIG, ontology=ontology, overrides={**(overrides or {}), "paths.model": None})
    data, _ = training_examples(gold_docs, nlp, ontology=ontology, gazetteer_dropout=gazetteer_dropout)
    groups = [g.doc for g in gold_docs] * (len(data) // max(1, len(gold_docs)))
    threshold = nlp.get_pipe("classifier").threshold
    return SpanClassifier(threshold=threshold).fit_stacked(data, seed=seed, groups=groups)


def train(
    gold: Path,
    out: Path,
    *,
    seed: int = 0,
    ontology: Path = Path("ontology"),
    config: Path | None = None,
    gazetteer_dropout: float = GAZETTEER_DROPOUT,
) -> Path:
    """Train the span classifier on a gold JSONL and write its weights (JSON) to `out`."""
    from kg.evaluate import read_gold

    docs = read_gold(gold)
    model = train_classifier(
        docs, ontology=load_ontology(Path(ontology)), config=config, seed=seed, gazetteer_dropout=gazetteer_dropout
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(model.to_json() + "\n", encoding="utf-8")
    return out


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """`kg train --gold FILE.jsonl [--out models/ner-classifier.json] [--seed 0]`."""
    p = subparsers.add_parser("train", help="train the NER span classifier from a gold JSONL file")
    p.add_argument("--gold", type=Path, default=Path("tests/data/gold_seeds.jsonl"))
    p.add_argument("--out", type=Path, default=Path("models/ner-classifier.json"))
    p.add_argument("--ontology", type=Path, default=Path("ontology"))
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--gazetteer-dropout",
        type=float,
        default=GAZETTEER_DROPOUT,
        help=f"share of gazetteer names hidden in a second reading of each document (default {GAZETTEER_DROPOUT}; 0: one reading)",
    )
    p.set_defaults(func=main_train)
    return p


def main_train(args: argparse.Namespace) -> int:
    if not 0.0 <= args.gazetteer_dropout < 1.0:
        raise ConfigError(f"--gazetteer-dropout {args.gazetteer_dropout}: give a share from 0 up to (not including) 1.")
    out = train(
        args.gold, args.out, seed=args.seed, ontology=args.ontology, config=args.config, gazetteer_dropout=args.gazetteer_dropout
    )
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0

