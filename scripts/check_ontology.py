#!/usr/bin/env python3
"""Check the ontology folder: every file parses, every concept is well formed, no sibling shares a label.

    .venv/bin/python scripts/check_ontology.py [ONTOLOGY_DIR]

Checks, each reported with the file or IRI at fault:
- every ontology/*.ttl parses with rdflib and with pyoxigraph, to the same number of triples, and
  is under 5 MB; no blank nodes;
- every class and property that schema.ttl defines in kgo: has rdfs:label @zh and @en and an
  rdfs:comment @en; every reused term declared there has rdfs:label @zh and @en;
- every instance (a subject of a file other than schema.ttl; shapes*.ttl are not concepts) has
  exactly one rdf:type among the kgo classes and exactly one skos:prefLabel@zh, and its labels
  are all @zh;
- links (schema:containedInPlace, org:subOrganizationOf, kgo:servesPlace, kgo:runsProgramme,
  kgo:issuedPolicy) point to instances; kgo:adminLevel is 1-5 and below the parent's level;
  prov:wasDerivedFrom points to kgr:doc/…;
- no label is claimed by two nodes with the same parent (a parent is a containedInPlace,
  subOrganizationOf or servesPlace target; nodes without any share one top-level scope).
  Homonyms under different parents (胜利村 in many townships) are legitimate.
Prints the number of instances per class and the size of each file; exits 1 on any error.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

ROOT = Path(__file__).resolve().parents[1]
KGO = rdflib.Namespace("https://w3id.org/kg/ontology#")
KGR = "https://w3id.org/kg/id/"
SCHEMA = rdflib.Namespace("https://schema.org/")
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
MAX_BYTES = 5 * 1024 * 1024
PARENT_LINKS = (SCHEMA.containedInPlace, ORG.subOrganizationOf, KGO.servesPlace)
LINKS = PARENT_LINKS + (KGO.runsProgramme, KGO.issuedPolicy)
TERM_TYPES = {OWL.Class, RDFS.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property}


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else ROOT / "ontology"
    errors: list[str] = []
    files = sorted(folder.glob("*.ttl"))
    if not any(f.name == "schema.ttl" for f in files):
        print(f"{folder}: no schema.ttl", file=sys.stderr)
        return 1

    graphs: dict[Path, rdflib.Graph] = {}
    print("file sizes:")
    for path in files:
        size = path.stat().st_size
        print(f"  {path.name:<20} {size:>10,d} bytes")
        if size > MAX_BYTES:
            errors.append(f"{path.name}: {size:,d} bytes, over the 5 MB limit")
        g = rdflib.Graph()
        try:
            g.parse(path, format="turtle")
        except Exception as err:  # rdflib raises several unrelated types for bad Turtle
            errors.append(f"{path.name}: rdflib cannot parse it: {err}")
            continue
        try:
            with path.open("rb") as fh:
                n_ox = sum(1 for _ in ox.parse(fh, format=ox.RdfFormat.TURTLE, base_iri=KGR))
        except SyntaxError as err:
            errors.append(f"{path.name}: pyoxigraph cannot parse it: {err}")
            continue
        if n_ox != len(g):
            errors.append(f"{path.name}: rdflib reads {len(g)} triples, pyoxigraph {n_ox}")
        if any(isinstance(t, BNode) for triple in g for t in triple) and not path.name.startswith("shapes"):
            errors.append(f"{path.name}: has blank nodes; give every node an IRI")
        graphs[path] = g

    schema = graphs.get(folder / "schema.ttl", rdflib.Graph())
    errors += check_schema(schema)
    classes = {s for s in schema.subjects(RDF.type, OWL.Class) if str(s).startswith(str(KGO))}

    data = rdflib.Graph()
    owner: dict[URIRef, str] = {}
    for path, g in graphs.items():
        if path.name == "schema.ttl" or path.name.startswith("shapes"):
            continue
        for s in set(g.subjects()):
            owner.setdefault(s, path.name)
        data += g
    counts, instance_errors = check_instances(data, classes, owner)
    errors += instance_errors
    errors += check_homonyms(data)

    print("instances per class:")
    for cls, n in sorted(counts.items()):
        print(f"  {cls:<20} {n:>7,d}")
    print(f"  {'total':<20} {sum(counts.values()):>7,d}")
    if errors:
        print(f"{len(errors)} error(s):", file=sys.stderr)
        for e in errors:
            print(f"  {e}", file=sys.stderr)
        return 1
    print("ontology OK")
    return 0


def langs(g: rdflib.Graph, s, p) -> Counter:
    return Counter(o.language for o in g.objects(s, p) if isinstance(o, Literal))


def check_schema(schema: rdflib.Graph) -> list[str]:
    errors = []
    terms = {s for t in TERM_TYPES for s in schema.subjects(RDF.type, t)}
    if not terms:
        return ["schema.ttl: declares no classes or properties"]
    for term in sorted(terms):
        labels = langs(schema, term, RDFS.label)
        if not (labels["zh"] and labels["en"]):
            errors.append(f"schema.ttl: {term} needs rdfs:label @zh and @en")
        if str(term).startswith(str(KGO)) and not langs(schema, term, RDFS.comment)["en"]:
            errors.append(f"schema.ttl: {term} needs an rdfs:comment @en")
    for cls, label in (("Person", "PERSON"), ("Organisation", "ORG"), ("Place", "PLACE"),
                       ("Programme", "PROGRAMME"), ("Policy", "POLICY")):
        if schema.value(KGO[cls], KGO.nerLabel) != Literal(label):
            errors.append(f"schema.ttl: kgo:{cls} needs kgo:nerLabel \"{label}\"")
    return errors


def check_instances(data: rdflib.Graph, classes: set, owner: dict) -> tuple[Counter, list[str]]:
    errors = []
    counts: Counter = Counter()
    subjects = set(data.subjects())
    level = {s: int(o) for s, o in data.subject_objects(KGO.adminLevel)}
    for s in sorted(subjects):
        where = f"{owner.get(s, '?')}: {s}"
        types = [t for t in data.objects(s, RDF.type) if t in classes]
        if len(types) != 1:
            errors.append(f"{where} has {len(types)} rdf:type among the kgo classes; it needs exactly one")
            continue
        counts[str(types[0]).rsplit("#", 1)[1]] += 1
        prefs = list(data.objects(s, SKOS.prefLabel))
        if len(prefs) != 1 or prefs[0].language != "zh":
            errors.append(f"{where} needs exactly one skos:prefLabel@zh, has {prefs}")
        for p in (SKOS.altLabel, KGO.fullName):
            for o in data.objects(s, p):
                if not isinstance(o, Literal) or o.language != "zh" or not str(o).strip():
                    errors.append(f"{where}: {p} {o!r} must be a non-empty @zh literal")
        for p in LINKS:
            for o in data.objects(s, p):
                if o not in subjects:
                    errors.append(f"{where}: {p} points to {o}, which no ontology file defines")
        if s in level:
            if not 1 <= level[s] <= 5:
                errors.append(f"{where}: kgo:adminLevel {level[s]} is not 1-5")
            for parent in data.objects(s, SCHEMA.containedInPlace):
                if parent in level and level[parent] >= level[s]:
                    errors.append(f"{where}: level {level[s]} is not below its parent's level {level[parent]}")
        for o in data.objects(s, PROV.wasDerivedFrom):
            if not str(o).startswith(KGR + "doc/"):
                errors.append(f"{where}: prov:wasDerivedFrom {o} is not a kgr:doc/… document")
    return counts, errors


def check_homonyms(data: rdflib.Graph) -> list[str]:
    """A label claimed by two nodes that share a parent cannot be resolved by context."""
    claims: dict[tuple[str, str], set] = defaultdict(set)
    alt_claims: set[tuple[str, str, URIRef]] = set()
    for s in set(data.subjects(RDF.type, None)):
        parents = {str(o) for p in PARENT_LINKS for o in data.objects(s, p)} or {"(top level)"}
        for p in (SKOS.prefLabel, SKOS.altLabel):
            for label in data.objects(s, p):
                for parent in parents:
                    claims[(str(label), parent)].add(s)
                    if p == SKOS.altLabel:
                        alt_claims.add((str(label), parent, s))
    errors = []
    for (label, parent), nodes in sorted(claims.items()):
        if len(nodes) > 1 and any((label, parent, n) in alt_claims for n in nodes):
            names = ", ".join(sorted(str(n) for n in nodes))
            errors.append(f"label {label!r} is claimed by {len(nodes)} nodes under {parent}: {names}")
    return errors


if __name__ == "__main__":
    sys.exit(main(sys.argv))
