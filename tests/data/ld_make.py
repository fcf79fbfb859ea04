"""Regenerate the linked-data fixture tests/data/ld_out/ from ld_doc.txt and ld_ontology.ttl.

The fixture is what `kg build` writes for one tiny page, made by the real linker, relation,
graph and RDF stages, with a dictionary matcher standing in for the NER (no spaCy, no model):

    .venv/bin/python tests/data/ld_make.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kg import rdf
from kg.corpus import read_document
from kg.graph import DocInfo, build_graph
from kg.link import Linker
from kg.mention import Span
from kg.ontology import load_ontology
from kg.relations import relations

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PERSONS = ("孙晓楠", "于德涛")


def spans(text: str, names: dict[str, str]) -> list[Span]:
    """Longest-first dictionary matches that do not overlap."""
    taken: set[int] = set()
    out = []
    for name in sorted(names, key=len, reverse=True):
        start = text.find(name)
        while start != -1:
            if not taken & set(range(start, start + len(name))):
                taken.update(range(start, start + len(name)))
                out.append(Span(start, start + len(name), names[name], "dictionary"))
            start = text.find(name, start + 1)
    return sorted(out, key=lambda s: s.start)


def stages():
    """The documents, mentions and networkx graph of the fixture page."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "ontology" / "schema.ttl", folder / "schema.ttl")
        shutil.copy(HERE / "ld_ontology.ttl", folder / "ld_ontology.ttl")
        onto = load_ontology(folder, cache_dir=folder / ".cache")
    doc = read_document(HERE / "ld_doc.txt")
    names = {n: c.label for c in onto.concepts.values() for n in c.names}
    names.update(dict.fromkeys(PERSONS, "PERSON"))
    mentions = Linker(onto).link(doc, spans(doc.text, names))
    docs = [DocInfo.of(doc)]
    rels = relations(doc, mentions, onto)
    return docs, mentions, rels, build_graph(docs, mentions, rels, onto)


def write(out: Path):
    """Write kg.ttl and mentions.trig of the fixture page into `out`; return the networkx graph."""
    docs, mentions, rels, g = stages()
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        rdf.document_parts(d, [m for m in mentions if m.doc_id == d.doc_id], [r for r in rels if r.evidence.doc_id == d.doc_id])
        for d in sorted(docs, key=lambda d: d.doc_id)
    ]
    rdf.write_turtle_parts(rdf.graph_triples(g), [p.ttl for p in parts], out / "kg.ttl")
    rdf.write_trig_parts([p.trig for p in parts], out / "mentions.trig")
    return g


def main() -> None:
    write(HERE / "ld_out")


if __name__ == "__main__":
    main()
