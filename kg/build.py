"""`kg build`: files → articles → spans → mentions → relations → graph → Turtle, JSONL, pages.

Extraction (read, NER, link, relations) is per document; the graph and the exports are global.
Everything is written into a folder beside `--out` and swapped in only when complete.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kg.corpus import Document, doc_ids, list_inputs, read_document
from kg.errors import InputError, KGError
from kg.graph import DocInfo, build_graph, summary
from kg.link import Linker
from kg.mention import Mention, Relation
from kg.ontology import Ontology, load_ontology
from kg.output import atomic_output
from kg.progress import Progress
from kg.relations import relations

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ONTOLOGY = ROOT / "ontology"


@dataclass(slots=True)
class DocResult:
    """What extraction keeps of one document: enough for the global stages."""

    doc: DocInfo
    mentions: list[Mention]
    relations: list[Relation]


@dataclass(slots=True)
class BuildReport:
    """What a build did, for the summary line and for tests."""

    out: Path
    files: int = 0
    articles: int = 0
    characters: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    counts: dict[str, Counter] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Extractor:
    """Per-document extraction with one loaded pipeline: NER spans, linking, relations."""

    def __init__(self, onto: Ontology, *, config: Path | None = None) -> None:
        from kg.ner import DEFAULT_CONFIG, load_nlp  # spaCy only where extraction happens

        self.onto = onto
        self.nlp = load_nlp(config or DEFAULT_CONFIG, ontology=onto)
        self.linker = Linker(onto)

    def __call__(self, doc: Document) -> DocResult:
        from kg.ner import extract_spans

        spans = extract_spans(self.nlp, doc.text)
        mentions = self.linker.link(doc, spans)
        return DocResult(DocInfo.of(doc), mentions, relations(doc, mentions, self.onto))


def build(
    inputs: Path,
    out: Path,
    *,
    ontology: Path = DEFAULT_ONTOLOGY,
    config: Path | None = None,
    strict: bool = False,
    base: str | None = None,
    html: bool = True,
    progress: Progress | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> BuildReport:
    """Build the graph of every .txt file under `inputs` into `out`; return what was done."""
    progress = progress or Progress.quiet()
    report = BuildReport(out=out)
    t0 = time.perf_counter()
    onto = load_ontology(ontology)
    paths = list_inputs(inputs)
    ids = doc_ids(paths, inputs)
    extractor = Extractor(onto, config=config)
    report.seconds["load"] = time.perf_counter() - t0
    progress.start(total_files=len(paths), total_bytes=sum(p.stat().st_size for p in paths))

    results: list[DocResult] = []
    t1 = time.perf_counter()
    for path in paths:
        try:
            doc = read_document(path)
        except InputError as err:
            if strict:
                raise
            report.skipped.append((str(path), str(err)))
            if on_skip:
                on_skip(str(path), str(err))
            progress.advance(bytes_=path.stat().st_size)
            continue
        doc.doc_id = ids[path]
        result = extractor(doc)
        results.append(result)
        report.files += 1
        report.articles += len(doc.articles)
        report.characters += len(doc.text)
        progress.advance(bytes_=path.stat().st_size, articles=len(doc.articles), mentions=len(result.mentions))
    progress.finish()
    report.seconds["extract"] = time.perf_counter() - t1
    report.outputs = export(results, onto, out, base=base, html=html, report=report)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def export(
    results: Sequence[DocResult], onto: Ontology, out: Path, *, base: str | None, html: bool, report: BuildReport
) -> list[Path]:
    """The global stages: graph, Turtle, TriG, JSON-LD, mentions.jsonl and the pages."""
    from kg import rdf

    t = time.perf_counter()
    results = sorted(results, key=lambda r: r.doc.doc_id)
    docs = [r.doc for r in results]
    mentions = [m for r in results for m in r.mentions]
    rels = [x for r in results for x in r.relations]
    g = build_graph(docs, mentions, rels, onto)
    report.counts = summary(g, mentions)
    report.seconds["graph"] = time.perf_counter() - t
    with atomic_output(out) as tmp:
        t = time.perf_counter()
        write_mentions(mentions, tmp / "mentions.jsonl")
        triples = rdf.graph_triples(g, docs, base=base)
        rdf.write_turtle(triples, tmp / "kg.ttl", base=base)
        rdf.write_trig(rdf.mention_quads(mentions, docs, base=base), tmp / "mentions.trig", base=base)
        rdf.write_jsonld(triples, tmp / "kg.jsonld", base=base)
        write_documents(results, tmp / "documents.json")
        report.seconds["rdf"] = time.perf_counter() - t
        if html:
            t = time.perf_counter()
            from kg.html import write_pages

            write_pages(g, docs, mentions, tmp)
            report.seconds["html"] = time.perf_counter() - t
        written = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
    return [out / p for p in written]


def write_mentions(mentions: Sequence[Mention], path: Path) -> None:
    """The mentions contract: one JSON object per line, offsets into the decoded text."""
    with path.open("w", encoding="utf-8") as fh:
        for m in sorted(mentions, key=lambda m: (m.doc_id, m.start, m.end)):
            row = {"doc": m.doc_id, "start": m.start, "end": m.end, "text": m.text, "label": m.label, "entity": m.iri}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_documents(results: Sequence[DocResult], path: Path) -> None:
    """Per document: the encoding it was read with and its articles (for notebooks and tools)."""
    rows = [
        {
            "doc": r.doc.doc_id,
            "encoding": r.doc.encoding,
            "characters": len(r.doc.text),
            "articles": [
                {"index": i, "start": s, "end": e, "title": title, "byline": list(b) if b else None}
                for i, s, e, title, b in r.doc.articles
            ],
        }
        for r in results
    ]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def ensure_built(out: Path, inputs: Path = ROOT / "seeds") -> Path:
    """The output folder, built from `inputs` first when it holds no graph (for notebooks)."""
    if not (out / "kg.ttl").exists():
        build(inputs, out)
    return out


__all__ = ["BuildReport", "DocResult", "Extractor", "KGError", "build", "ensure_built", "export"]
