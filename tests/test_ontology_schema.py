"""The ontology as linked data: it loads in rdflib, its terms are labelled and explained, the exports
use only terms it defines, and the SHACL shapes are themselves valid SHACL."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology"
LD = Path(__file__).parent / "data" / "ld_out"
KGO = Namespace("https://w3id.org/kg/ontology#")
SH = Namespace("http://www.w3.org/ns/shacl#")
TERM_TYPES = (OWL.Class, RDFS.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)


@pytest.fixture(scope="module")
def schema() -> Graph:
    return Graph().parse(ONTOLOGY / "schema.ttl", format="turtle")


def kgo_terms(g: Graph) -> list[URIRef]:
    return sorted({s for t in TERM_TYPES for s in g.subjects(RDF.type, t) if str(s).startswith(str(KGO))})


def merged(folder: Path) -> Graph:
    """kg.ttl and every named graph of mentions.trig, as one rdflib Graph."""
    from kg.query import data_files, to_rdflib

    g = Graph()
    for path in data_files(folder):
        for q in ox.parse(path=str(path), format=ox.RdfFormat.TRIG if path.suffix == ".trig" else ox.RdfFormat.TURTLE):
            g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    return g


def used_kgo_terms(folder: Path) -> set[URIRef]:
    """Every kgo: class and property an output folder uses (kg.ttl and mentions.trig)."""
    used = set()
    for _, p, o in merged(folder):
        if str(p).startswith(str(KGO)):
            used.add(p)
        if p == RDF.type and str(o).startswith(str(KGO)):
            used.add(o)
    return used


def test_ontology_loads_in_rdflib():
    g = Graph()
    for path in sorted(ONTOLOGY.glob("*.ttl")):
        g.parse(path, format="turtle")
    assert (KGO.Programme, RDF.type, OWL.Class) in g
    assert len(g) > 1000


def test_ontology_defines_the_classes_of_the_issue(schema):
    for cls in ("Person", "Organisation", "Place", "AdminDivision", "Site", "Programme", "Policy",
                "Article", "Document", "Mention", "Statement"):
        assert (KGO[cls], RDF.type, OWL.Class) in schema, cls


def test_ontology_every_kgo_term_has_labels_and_comment(schema):
    missing = []
    for term in kgo_terms(schema):
        labels = {lit.language for lit in schema.objects(term, RDFS.label) if isinstance(lit, Literal)}
        if not {"zh", "en"} <= labels:
            missing.append(f"{term}: rdfs:label @zh and @en (has {sorted(filter(None, labels))})")
        if not any(isinstance(c, Literal) and str(c).strip() for c in schema.objects(term, RDFS.comment)):
            missing.append(f"{term}: rdfs:comment")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("folder", [LD], ids=["fixture"])
def test_ontology_defines_every_kgo_term_the_exports_use(schema, folder):
    undefined = sorted(str(t) for t in used_kgo_terms(folder) - set(kgo_terms(schema)))
    assert not undefined, f"used by the exports, not defined in ontology/schema.ttl: {undefined}"


def test_ontology_defines_every_kgo_term_the_seeds_build_uses(schema, seeds_build):
    undefined = sorted(str(t) for t in used_kgo_terms(seeds_build.out) - set(kgo_terms(schema)))
    assert not undefined, f"used by the exports, not defined in ontology/schema.ttl: {undefined}"


def test_ontology_property_kinds_match_the_exports(schema):
    # an owl:DatatypeProperty has literal values in the output, an owl:ObjectProperty IRIs
    ds = merged(LD)
    wrong = []
    for p in schema.subjects(RDF.type, OWL.DatatypeProperty):
        wrong += [f"{p} is a DatatypeProperty but has IRI {o}" for o in ds.objects(None, p) if not isinstance(o, Literal)][:1]
    for p in schema.subjects(RDF.type, OWL.ObjectProperty):
        wrong += [f"{p} is an ObjectProperty but has literal {o!r}" for o in ds.objects(None, p) if isinstance(o, Literal)][:1]
    assert not wrong, "\n".join(wrong)


def test_ontology_shapes_are_valid_shacl():
    from pyshacl import validate

    shapes = Graph().parse(ONTOLOGY / "shapes.ttl", format="turtle")
    conforms, _, text = validate(Graph(), shacl_graph=shapes, meta_shacl=True, advanced=True)
    assert conforms, text
    assert len(set(shapes.subjects(RDF.type, SH.NodeShape))) >= 10


def test_ontology_loader_skips_the_shapes():
    from kg.ontology import ontology_files

    assert "shapes.ttl" not in {p.name for p in ontology_files(ONTOLOGY)}
