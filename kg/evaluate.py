"""NER scores against a gold JSONL: precision, recall and F1 per label, exact and overlapping, and the
most frequent errors; cross-validation over the gold documents (`kg eval --cv`).

Linking scores (kg.link_eval) are printed beside them, on the mentions the NER found exactly.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import GoldError
from kg.mention import LABELS, Span

ERROR_KINDS = ("missed", "spurious", "boundary", "label")


@dataclass(frozen=True, slots=True)
class GoldEntity:
    start: int
    end: int
    label: str
    text: str
    canonical: str


@dataclass(slots=True)
class GoldDoc:
    doc: str
    text: str
    entities: list[GoldEntity]


def read_gold(path: Path) -> list[GoldDoc]:
    """Read a gold JSONL file (format of the annotation guidelines); errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise GoldError(f"{path}: cannot be read ({err.strerror}).") from err
    except UnicodeDecodeError as err:
        raise GoldError(f"{path}: not UTF-8 ({err.reason}); gold files must be UTF-8 JSONL.") from err
    docs: list[GoldDoc] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise GoldError(f"{where}: not valid JSON ({err.msg}); each line must be one JSON object.") from err
        if not isinstance(obj, dict):
            raise GoldError(f"{where}: a line must be a JSON object with doc, text and entities.")
        for key, typ in (("doc", str), ("text", str), ("entities", list)):
            if not isinstance(obj.get(key), typ):
                raise GoldError(f"{where}: field {key!r} is missing or not a {typ.__name__}.")
        if obj["doc"] in seen:
            raise GoldError(f"{where}: document {obj['doc']!r} appears twice; one line per document.")
        seen.add(obj["doc"])
        text = obj["text"]
        ents: list[GoldEntity] = []
        last_end = -1
        for i, e in enumerate(obj["entities"]):
            what = f"{where}: entity {i}"
            if not isinstance(e, dict):
                raise GoldError(f"{what} is not an object.")
            s, t, lab = e.get("start"), e.get("end"), e.get("label")
            if not isinstance(s, int) or not isinstance(t, int) or not 0 <= s < t <= len(text):
                raise GoldError(f"{what}: start/end {s!r}/{t!r} are not a range inside the text (length {len(text)}).")
            if lab not in LABELS:
                raise GoldError(f"{what}: label {lab!r} is not one of {', '.join(LABELS)}.")
            if e.get("text") is not None and text[s:t] != e["text"]:
                raise GoldError(f"{what}: text {e['text']!r} differs from text[{s}:{t}] = {text[s:t]!r}.")
            if s < last_end:
                raise GoldError(f"{what}: overlaps the previous entity or is out of order; entities are sorted, no nesting.")
            last_end = t
            ents.append(GoldEntity(s, t, lab, text[s:t], str(e.get("canonical", ""))))
        docs.append(GoldDoc(obj["doc"], text, ents))
    if not docs:
        raise GoldError(f"{path}: holds no documents.")
    return docs


# --------------------------------------------------------------------------------------- scoring
@dataclass(slots=True)
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(slots=True)
class NerReport:
    """Scores per label and overall (micro), exact and overlapping, and the errors with examples."""

    exact: dict[str, PRF] = field(default_factory=dict)
    overlap: dict[str, PRF] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)  # kind, label, gold, predicted, doc, start, context
    docs: int = 0

    def f1(self, label: str = "micro", *, exact: bool = True) -> float:
        return (self.exact if exact else self.overlap)[label].f1

    def as_dict(self, *, top: int = 15) -> dict:
        return {
            "docs": self.docs,
            "exact": {k: v.as_dict() for k, v in self.exact.items()},
            "overlap": {k: v.as_dict() for k, v in self.overlap.items()},
            "frequent_errors": frequent_errors(self.errors, top=top),
            "errors": self.errors,
        }

    def to_markdown(self, *, top: int = 15) -> str:
        lines = [f"NER scores over {self.docs} documents", ""]
        for title, table in (("exact span and label", self.exact), ("overlapping span, same label", self.overlap)):
            lines += [f"### {title}", "", "| label | P | R | F1 | tp | fp | fn |", "|---|---:|---:|---:|---:|---:|---:|"]
            for lab in [*LABELS, "micro"]:
                s = table[lab]
                lines.append(f"| {lab} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.tp} | {s.fp} | {s.fn} |")
            lines.append("")
        lines += ["### most frequent errors", "", "| kind | label | n | text (gold → predicted) | example |", "|---|---|---:|---|---|"]
        for e in frequent_errors(self.errors, top=top):
            lines.append(f"| {e['kind']} | {e['label']} | {e['count']} | {e['text']} | {e['example']} |")
        return "\n".join(lines) + "\n"


def _match_overlap(gold: list[tuple[int, int, str]], pred: list[tuple[int, int, str]], same_label: bool) -> list[tuple[int, int]]:
    """One-to-one pairs (gold index, pred index) of overlapping ranges, greedy by overlap size."""
    pairs = []
    for i, (gs, ge, gl) in enumerate(gold):
        for j, (ps, pe, pl) in enumerate(pred):
            if ps < ge and gs < pe and (not same_label or gl == pl):
                pairs.append((-(min(ge, pe) - max(gs, ps)), i, j))
    pairs.sort()
    used_g, used_p, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
            out.append((i, j))
    return out


def evaluate_ner(gold_docs: Sequence[GoldDoc], predicted: Mapping[str, Iterable[Span]] | Sequence[Iterable[Span]]) -> NerReport:
    """Score predicted spans (per doc id, or a list aligned with gold_docs) against the gold."""
    if not isinstance(predicted, Mapping):
        predicted = {g.doc: p for g, p in zip(gold_docs, predicted, strict=True)}
    exact = {lab: PRF() for lab in [*LABELS, "micro"]}
    overlap = {lab: PRF() for lab in [*LABELS, "micro"]}
    errors: list[dict] = []
    for g in gold_docs:
        text = g.text
        gold = sorted({(e.start, e.end, e.label) for e in g.entities})
        pred = sorted({(s.start, s.end, s.label) for s in predicted.get(g.doc, ())})
        gset, pset = set(gold), set(pred)
        for lab in LABELS:
            tp = len({x for x in gset & pset if x[2] == lab})
            fp = len({x for x in pset - gset if x[2] == lab})
            fn = len({x for x in gset - pset if x[2] == lab})
            for t in (exact[lab], exact["micro"]):
                t.tp += tp
                t.fp += fp
                t.fn += fn
        pairs = _match_overlap(gold, pred, same_label=True)
        matched_g = {i for i, _ in pairs}
        matched_p = {j for _, j in pairs}
        for lab in LABELS:
            tp = sum(1 for i, _ in pairs if gold[i][2] == lab)
            fp = sum(1 for j, p in enumerate(pred) if p[2] == lab and j not in matched_p)
            fn = sum(1 for i, x in enumerate(gold) if x[2] == lab and i not in matched_g)
            for t in (overlap[lab], overlap["micro"]):
                t.tp += tp
                t.fp += fp
                t.fn += fn
        # error analysis: every gold and predicted span not matched exactly
        gi = [i for i, x in enumerate(gold) if x not in pset]
        pj = [j for j, x in enumerate(pred) if x not in gset]
        sub_g = [gold[i] for i in gi]
        sub_p = [pred[j] for j in pj]
        any_pairs = _match_overlap(sub_g, sub_p, same_label=False)
        paired_g = {i for i, _ in any_pairs}
        paired_p = {j for _, j in any_pairs}

        def ctx(s: int, e: int) -> str:
            return (text[max(0, s - 8) : s] + "[" + text[s:e] + "]" + text[e : e + 8]).replace("\n", "⏎")

        for i, j in any_pairs:
            (gs, ge, gl), (ps, pe, pl) = sub_g[i], sub_p[j]
            kind = "label" if (gs, ge) == (ps, pe) else "boundary"
            lab = gl if kind == "boundary" and gl == pl else f"{gl}→{pl}"
            errors.append(
                {"kind": kind, "label": lab, "gold": text[gs:ge], "predicted": text[ps:pe], "doc": g.doc, "start": gs, "context": ctx(gs, ge)}
            )
        for i, (gs, ge, gl) in enumerate(sub_g):
            if i not in paired_g:
                errors.append({"kind": "missed", "label": gl, "gold": text[gs:ge], "predicted": "", "doc": g.doc, "start": gs, "context": ctx(gs, ge)})
        for j, (ps, pe, pl) in enumerate(sub_p):
            if j not in paired_p:
                errors.append({"kind": "spurious", "label": pl, "gold": "", "predicted": text[ps:pe], "doc": g.doc, "start": ps, "context": ctx(ps, pe)})
    errors.sort(key=lambda e: (e["doc"], e["start"], e["kind"], e["label"]))
    return NerReport(exact, overlap, errors, len(gold_docs))


def frequent_errors(errors: Sequence[dict], *, top: int = 15) -> list[dict]:
    """The most frequent (kind, label, text) errors, each with a count and one example in context."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for e in errors:
        shown = e["gold"] if e["kind"] == "missed" else e["predicted"] if e["kind"] == "spurious" else f"{e['gold']} → {e['predicted']}"
        groups[(e["kind"], e["label"], shown.replace("\n", "⏎"))].append(e)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        {"kind": k, "label": lab, "text": shown, "count": len(v), "example": v[0]["context"]}
        for (k, lab, shown), v in ranked[:top]
    ]


def error_counts(errors: Sequence[dict]) -> dict[str, int]:
    c = Counter(e["kind"] for e in errors)
    return {k: c.get(k, 0) for k in ERROR_KINDS}


# ------------------------------------------------------------------------------------- running
def predict(gold_docs: Sequence[GoldDoc], nlp) -> dict[str, list[Span]]:
    """The NER's spans for every gold text."""
    from kg.ner import pipe_spans

    return {g.doc: spans for g, spans in zip(gold_docs, pipe_spans(nlp, [g.text for g in gold_docs]), strict=True)}


def cross_validate(
    gold_docs: Sequence[GoldDoc],
    *,
    ontology: Path,
    config: Path | None = None,
    seed: int = 0,
    overrides: dict | None = None,
    on_fold=None,
) -> tuple[NerReport, dict[str, NerReport]]:
    """Leave one document out: train on the others with their corpus-derived names, score the one left.

    Concepts of the ontology whose `prov:wasDerivedFrom` is only the held-out document are removed
    from the gazetteer, and the span classifier is retrained without that document.
    """
    from kg.ner import DEFAULT_CONFIG, load_nlp
    from kg.ontology import load_ontology
    from kg.train import train_classifier

    onto = load_ontology(Path(ontology))
    config = config or DEFAULT_CONFIG
    predicted: dict[str, list[Span]] = {}
    folds: dict[str, NerReport] = {}
    for held in gold_docs:
        fold_onto = onto.without_documents([held.doc])
        train_docs = [g for g in gold_docs if g.doc != held.doc]
        model = train_classifier(train_docs, ontology=fold_onto, config=config, seed=seed, overrides=overrides)
        nlp = load_nlp(config, ontology=fold_onto, overrides={**(overrides or {}), "paths.model": None})
        nlp.get_pipe("classifier").model = model
        predicted.update(predict([held], nlp))
        if on_fold is not None:  # e.g. linking the fold's spans with the fold's ontology
            on_fold(held, predicted[held.doc], fold_onto)
        folds[held.doc] = evaluate_ner([held], {held.doc: predicted[held.doc]})
    return evaluate_ner(gold_docs, predicted), folds


# ------------------------------------------------------------------------------------------ CLI
def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    """`kg eval --gold FILE.jsonl [--json OUT] [--cv]`."""
    p = subparsers.add_parser("eval", help="score the NER against a gold JSONL file")
    p.add_argument("--gold", type=Path, required=True, help="gold JSONL (annotation guidelines format)")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    p.add_argument("--cv", action="store_true", help="cross-validate: leave each document out in turn")
    p.add_argument("--config", type=Path, default=None, help="NER config (default configs/ner.cfg)")
    p.add_argument("--ontology", type=Path, default=Path("ontology"), help="ontology folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=15, help="how many frequent errors to show")
    p.set_defaults(func=main_eval)
    return p


def main_eval(args: argparse.Namespace) -> int:
    """Run `kg eval`: print the tables (markdown), write JSON when asked; 0 on success."""
    from kg.ner import DEFAULT_CONFIG, load_nlp

    from kg.link_eval import format_scores, gold_rows, link_spans, score_links
    from kg.ontology import load_ontology

    gold = read_gold(args.gold)
    config = args.config or DEFAULT_CONFIG
    linked: list[dict] = []
    if args.cv:

        def link_fold(held: GoldDoc, spans: list[Span], fold_onto) -> None:
            linked.extend(link_spans([held], {held.doc: spans}, fold_onto))

        report, folds = cross_validate(gold, ontology=args.ontology, config=config, seed=args.seed, on_fold=link_fold)
        print("## Cross-validation (leave one document out)\n")
        print("| held-out doc | F1 exact | F1 overlap |\n|---|---:|---:|")
        for doc, r in folds.items():
            print(f"| {doc} | {r.f1():.3f} | {r.f1(exact=False):.3f} |")
        print()
    else:
        onto = load_ontology(Path(args.ontology))
        nlp = load_nlp(config, ontology=onto)
        predicted = predict(gold, nlp)
        report = evaluate_ner(gold, predicted)
        linked = link_spans(gold, predicted, onto)
        folds = {}
    print(report.to_markdown(top=args.top))
    links = score_links(gold_rows(gold), linked)
    print("\n### linking (on the mentions found exactly)\n")
    print(format_scores(links))
    if args.json:
        data = report.as_dict(top=args.top)
        data["linking"] = links.as_dict()
        if folds:
            data["folds"] = {d: {"exact": {k: v.as_dict() for k, v in r.exact.items()}} for d, r in folds.items()}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0

