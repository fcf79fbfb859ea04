"""kg.shacl: the shapes compiled to SPARQL give the results pySHACL gives, node for node.

`kg build` validates its output with the compiled engine (pySHACL takes minutes on an archive);
these tests hold it to the reference on every broken fixture of test_validate, on a real build,
and on small graphs that exercise SHACL Core components kg's own shapes do not use yet.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kg.cli import main
from kg.errors import ValidationError
from kg.validate import validate
from tests.test_validate import BROKEN, GOOD, broken

PREFIXES = """\
@prefix sh:   <http://www.w3.org/ns/shacl#> .
@prefix ex:   <http://example.org/> .
@prefix rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
"""


def same(out: Path, **kwargs) -> list:
    """The results of both engines, which must be equal; returned for further checks."""
    reference = validate(out, **kwargs).results
    compiled = validate(out, engine="sparql", **kwargs).results
    assert compiled == reference
    return compiled


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_engines_agree_on_each_broken_output(tmp_path, case):
    file, old, new, expected = BROKEN[case]
    results = same(broken(tmp_path, file, old, new))
    assert any(expected in str(r) for r in results)


def test_engines_agree_on_the_good_fixture_and_a_warning(tmp_path):
    assert same(GOOD) == []
    out = broken(
        tmp_path,
        "kg.ttl",
        "kgr:place\\/220303 a kgo:AdminDivision ;",
        "kgr:place\\/220303 a kgo:AdminDivision ; schema:containedInPlace kgr:place\\/220303-t01 ;",
    )
    assert [r.severity for r in same(out)] == ["Warning"]


def test_engines_agree_on_the_seeds_build(seeds_build):
    assert same(seeds_build.out) == []


# Small graphs for the components kg's shapes do not use (yet): each shape carries its message,
# so the text of a result is the shape's and not the engine's own wording.
CORE = {
    "languages-and-patterns": (
        """
        ex:S a sh:NodeShape ; sh:targetClass ex:Thing ;
            sh:property [ sh:path ex:name ; sh:languageIn ( "zh" "en" ) ; sh:uniqueLang true ; sh:message "name" ] ;
            sh:property [ sh:path ex:code ; sh:pattern "^[a-z]+$" ; sh:flags "i" ; sh:maxLength 4 ; sh:message "code" ] .
        """,
        """
        ex:a a ex:Thing ; ex:name "一"@zh , "二"@zh , "x"@fr ; ex:code "AbC" , "abcdef" , "a1" .
        ex:b a ex:Thing ; ex:name "b"@en-GB ; ex:code "ok" .
        """,
    ),
    "values-and-ranges": (
        """
        ex:S a sh:NodeShape ; sh:targetClass ex:Thing ;
            sh:property [ sh:path ex:colour ; sh:in ( ex:red ex:blue ) ; sh:hasValue ex:red ; sh:message "colour" ] ;
            sh:property [ sh:path ex:size ; sh:minExclusive 0 ; sh:maxExclusive 10 ; sh:datatype xsd:integer ; sh:message "size" ] ;
            sh:property [ sh:path ex:flag ; sh:datatype xsd:boolean ; sh:maxCount 1 ; sh:minCount 2 ; sh:message "flag" ] ;
            sh:property [ sh:path ex:low ; sh:lessThanOrEquals ex:high ; sh:message "low" ] .
        """,
        """
        ex:a a ex:Thing ; ex:colour ex:green ; ex:size 0 , 10 , 5 , "7" , "x1"^^xsd:integer ; ex:flag "0"^^xsd:boolean , true ; ex:low 3 ; ex:high 2 .
        ex:b a ex:Thing ; ex:colour ex:red , ex:blue ; ex:size 9 ; ex:flag false , true ; ex:low 1 ; ex:high 1 .
        """,
    ),
    "logic-and-nodes": (
        """
        ex:Named a sh:NodeShape ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .
        ex:Aged a sh:NodeShape ; sh:property [ sh:path ex:age ; sh:minCount 1 ] .
        ex:Or a sh:NodeShape ; sh:targetClass ex:Thing ; sh:or ( ex:Named ex:Aged ) ; sh:message "or" .
        ex:Xone a sh:NodeShape ; sh:targetClass ex:Thing ; sh:xone ( ex:Named ex:Aged ) ; sh:message "xone" .
        ex:Not a sh:NodeShape ; sh:targetClass ex:Thing ; sh:not [ sh:class ex:Banned ] ; sh:message "not" .
        ex:Friends a sh:NodeShape ; sh:targetClass ex:Thing ;
            sh:property [ sh:path ex:friend ; sh:class ex:Thing ; sh:nodeKind sh:IRI ; sh:message "friend" ] .
        """,
        """
        ex:Special rdfs:subClassOf ex:Thing .
        ex:a a ex:Thing ; ex:name "a" ; ex:age 3 ; ex:friend ex:b , ex:c , "d" .
        ex:b a ex:Special , ex:Banned .
        ex:c a ex:Thing ; ex:name "c" .
        """,
    ),
    "targets-and-paths": (
        """
        ex:ByNode a sh:NodeShape ; sh:targetNode ex:a , ex:z ;
            sh:property [ sh:path ( ex:part ex:name ) ; sh:minCount 1 ; sh:message "part name" ] .
        ex:ByObject a sh:NodeShape ; sh:targetObjectsOf ex:part ;
            sh:property [ sh:path [ sh:inversePath ex:part ] ; sh:maxCount 1 ; sh:message "one whole" ] ;
            sh:property [ sh:path [ sh:alternativePath ( ex:name ex:label ) ] ; sh:minCount 1 ; sh:message "named" ] .
        ex:Chain a sh:NodeShape ; sh:targetSubjectsOf ex:next ;
            sh:property [ sh:path [ sh:zeroOrMorePath ex:next ] ; sh:class ex:Step ; sh:message "chain" ] ;
            sh:property [ sh:path ex:next ; sh:disjoint ex:previous ; sh:message "disjoint" ] .
        """,
        """
        ex:a ex:part ex:p1 , ex:p2 . ex:w ex:part ex:p2 .
        ex:p1 ex:label "p1" .
        ex:s1 a ex:Step ; ex:next ex:s2 ; ex:previous ex:s2 . ex:s2 ex:next ex:s3 . ex:s3 a ex:Step .
        """,
    ),
    # literals as focus nodes cannot be kept as subjects of a triple: their checks keep the target
    "literal-focus-nodes": (
        """
        ex:Sizes a sh:NodeShape ; sh:targetObjectsOf ex:size ; sh:datatype xsd:integer ; sh:message "size" .
        ex:Things a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:size ; sh:maxCount 1 ; sh:message "one size" ] .
        """,
        """
        ex:a a ex:Thing ; ex:size 3 , "7" .
        ex:b a ex:Thing ; ex:size 4 .
        """,
    ),
}


@pytest.mark.parametrize("case", sorted(CORE))
def test_engines_agree_on_core_components(tmp_path, case):
    shapes, data = CORE[case]
    (tmp_path / "shapes.ttl").write_text(PREFIXES + textwrap.dedent(shapes), encoding="utf-8")
    (tmp_path / "data.ttl").write_text(PREFIXES + textwrap.dedent(data), encoding="utf-8")
    onto = tmp_path / "ontology"  # no kg classes: the data's own rdfs:subClassOf is what counts
    onto.mkdir()
    (onto / "schema.ttl").write_text(PREFIXES, encoding="utf-8")
    results = same(tmp_path / "data.ttl", shapes=tmp_path / "shapes.ttl", ontology=onto)
    assert results, "each case holds at least one violation"


def test_node_gives_one_result_per_value(tmp_path):
    # pySHACL adds the nested shape's own results (its sh:detail) to the list; the compiled engine
    # gives the one result the spec defines: focus, path and the value that does not conform
    shapes, data = CORE["logic-and-nodes"]
    shapes += 'ex:Node a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:friend ; sh:node ex:Named ; sh:message "node" ] .\n'
    (tmp_path / "shapes.ttl").write_text(PREFIXES + textwrap.dedent(shapes), encoding="utf-8")
    (tmp_path / "data.ttl").write_text(PREFIXES + textwrap.dedent(data), encoding="utf-8")
    (tmp_path / "schema.ttl").write_text(PREFIXES, encoding="utf-8")
    report = validate(tmp_path / "data.ttl", shapes=tmp_path / "shapes.ttl", ontology=tmp_path, engine="sparql")
    node = [(r.focus, r.value) for r in report.results if r.message == "node"]
    assert node == [("http://example.org/a", "d"), ("http://example.org/a", "http://example.org/b")]


def test_a_component_the_engine_lacks_is_refused_by_name(tmp_path):
    (tmp_path / "shapes.ttl").write_text(
        PREFIXES + "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:p ; sh:equals ex:q ] .\n",
        encoding="utf-8",
    )
    (tmp_path / "data.ttl").write_text(PREFIXES + "ex:a a ex:Thing ; ex:p 1 .\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"shapes.ttl: .*sh:equals is not validated"):
        validate(tmp_path / "data.ttl", shapes=tmp_path / "shapes.ttl", engine="sparql")


def test_a_broken_sparql_target_names_the_shapes_file(tmp_path):
    (tmp_path / "shapes.ttl").write_text(
        PREFIXES + 'ex:S a sh:NodeShape ; sh:target [ a sh:SPARQLTarget ; sh:select "SELECT ?this WHERE {" ] ;'
        ' sh:property [ sh:path ex:p ; sh:maxCount 0 ] .\n',
        encoding="utf-8",
    )
    (tmp_path / "data.ttl").write_text(PREFIXES + "ex:a ex:p 1 .\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"shapes.ttl: the check of .* is not valid SPARQL"):
        validate(tmp_path / "data.ttl", shapes=tmp_path / "shapes.ttl", engine="sparql")


def test_cli_engine_choice(tmp_path, capsys):
    out = broken(tmp_path, "kg.ttl", "kgo:confidence 0.8 ;", "kgo:confidence 1.5 ;")
    assert main(["validate", "--engine", "sparql", str(out)]) == 1
    assert "kgo:confidence:" in capsys.readouterr().err
    assert main(["validate", "--engine", "sparql", str(GOOD)]) == 0


def test_validation_leaves_the_store_as_it_found_it(tmp_path):
    """The focus nodes the checks share live in a graph of the store only while they run."""
    import pyoxigraph as ox

    from kg.shacl import FOCUS, load_store, validate_store
    from kg.validate import SHAPES

    store = load_store([GOOD / "kg.ttl", GOOD / "mentions.trig"])
    before = set(store)
    found = validate_store(store, SHAPES)
    assert set(store) == before
    assert validate_store(store, SHAPES) == found
    store.add(ox.Quad(ox.NamedNode("http://example.org/a"), FOCUS, ox.NamedNode("http://example.org/b"), FOCUS))
    with pytest.raises(ValidationError, match="keeps for itself"):
        validate_store(store, SHAPES)


# ---------------------------------------------------------------------------------------------
# compile_breaches: a shape's checks in one query, for the check of one document
# (kg.validate.DocumentCheck): a graph must break some breach query exactly when it breaks some check


def _fires(store, query: str) -> bool:
    return next(iter(store.query(query, use_default_graph_as_union=True)), None) is not None


def _store(quads):
    import pyoxigraph as ox

    store = ox.Store()
    store.extend(quads)
    return store


def _objects(quads, o):
    """What may stand in place of, or beside, the object `o`: wrong datatypes, kinds and values."""
    import pyoxigraph as ox

    xsd = "http://www.w3.org/2001/XMLSchema#"
    if isinstance(o, ox.Literal) and o.datatype.value == xsd + "integer":
        n = int(o.value)
        return [ox.Literal(str(n + d), datatype=o.datatype) for d in (-1, 1, -n - 1)] + [ox.Literal(f"{n}.0", datatype=ox.NamedNode(xsd + "decimal")), ox.Literal(str(n))]
    if isinstance(o, ox.Literal):
        return [ox.Literal(""), ox.Literal("x", language="en"), ox.Literal("1", datatype=ox.NamedNode(xsd + "integer")), ox.NamedNode("urn:kg:test:iri")]
    return [ox.Literal("x"), ox.BlankNode("b"), ox.NamedNode("urn:kg:test:iri"), ox.NamedNode("https://w3id.org/kg/ontology#Statement")]


def _mutants(quads):
    """The graph with one triple taken out, its object changed, or a second object added (a copy of
    the first, too); for one triple of each predicate on each kind of subject (its classes)."""
    import pyoxigraph as ox

    classes: dict = {}
    for q in quads:
        if q.predicate.value == RDF_TYPE:
            classes.setdefault(q.subject, set()).add(q.object.value)
    seen = set()
    for i, q in enumerate(quads):
        kind = (q.predicate, frozenset(classes.get(q.subject, ())), q.object if q.predicate.value == RDF_TYPE else None)
        if kind in seen:
            continue
        seen.add(kind)
        rest = quads[:i] + quads[i + 1 :]
        yield rest
        for o in _objects(quads, q.object):
            yield [*rest, ox.Quad(q.subject, q.predicate, o, q.graph_name)]
            yield [*quads, ox.Quad(q.subject, q.predicate, o, q.graph_name)]
        if not isinstance(q.object, ox.Literal):
            # a second object like the first (a copy of its triples), and one some other subject has
            for copy in (ox.NamedNode("urn:kg:test:copy"), ox.BlankNode("copy")):
                twin = [ox.Quad(copy, x.predicate, x.object, x.graph_name) for x in quads if x.subject == q.object]
                yield [*rest, ox.Quad(q.subject, q.predicate, copy, q.graph_name), *twin]
                yield [*quads, ox.Quad(q.subject, q.predicate, copy, q.graph_name), *twin]
            other = next((x.object for x in quads if x.predicate == q.predicate and x.object != q.object), None)
            if other is not None:
                yield [*quads, ox.Quad(q.subject, q.predicate, other, q.graph_name)]


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def test_breaches_of_the_per_document_shapes_find_what_their_checks_find():
    """On a thousand broken variants of the good fixture. Each check is also the only one broken
    in some variant, so a check lost from its shape's breach query fails this test; except two
    that never break alone: a negative kgo:characters also puts every string past the end of the
    document, and a mention without itsrdf:taIdentRef has no class through it either."""
    from kg.shacl import compile_breaches, compile_shapes, load_store, subclass_closure
    from kg.validate import ONTOLOGY, SHAPES, _subclass_triples

    good = load_store([GOOD / "kg.ttl", GOOD / "mentions.trig"], _subclass_triples(ONTOLOGY))
    quads = sorted(good, key=str)
    checks = compile_shapes(SHAPES, subclass_closure(good), per_document=True)
    breaches = compile_breaches(SHAPES, subclass_closure(good), per_document=True)
    (one,) = compile_breaches(SHAPES, subclass_closure(good), per_document=True, one=True)  # what DocumentCheck runs
    assert len(breaches) < len(checks) / 5
    alone, disagree = set(), []
    for quads in _mutants(quads):
        store = _store(quads)
        broken = {i for i, c in enumerate(checks) if _fires(store, c.query)}
        if not (any(_fires(store, q) for q in breaches) == _fires(store, one) == bool(broken)):
            disagree.append(sorted(f"{checks[i].component} {checks[i].path}" for i in broken))
        if len(broken) == 1:
            alone |= broken
    assert disagree == []
    never_alone = {(c.component, c.path) for i, c in enumerate(checks) if i not in alone}
    assert never_alone == {("minInclusive", "kgo:characters"), ("minCount", "itsrdf:taIdentRef")}


@pytest.mark.parametrize("case", sorted(CORE))
def test_breaches_find_what_the_checks_find_on_core_components(tmp_path, case):
    """The small graphs of the components kg's shapes do not use, each with one triple taken out."""
    from kg.shacl import compile_breaches, compile_shapes, load_store, subclass_closure

    shapes, data = CORE[case]
    (tmp_path / "shapes.ttl").write_text(PREFIXES + textwrap.dedent(shapes), encoding="utf-8")
    (tmp_path / "data.ttl").write_text(PREFIXES + textwrap.dedent(data), encoding="utf-8")
    quads = sorted(load_store([tmp_path / "data.ttl"]), key=str)
    subclasses = subclass_closure(_store(quads))
    checks = [c.query for c in compile_shapes(tmp_path / "shapes.ttl", subclasses)]
    breaches = compile_breaches(tmp_path / "shapes.ttl", subclasses)
    for i in range(len(quads) + 1):
        store = _store(quads[:i] + quads[i + 1 :])
        assert any(_fires(store, q) for q in breaches) == any(_fires(store, q) for q in checks), quads[i : i + 1]


def test_breaches_of_the_corpus_wide_shapes_find_what_their_checks_find():
    """validate_store answers a graph no breach query fires on with no findings, without its checks:
    on broken variants of the good fixture (entities, their places and bodies, statements), some
    corpus-wide check fires exactly when some breach query does."""
    from kg.shacl import compile_breaches, compile_shapes, load_store, subclass_closure
    from kg.validate import ONTOLOGY, SHAPES, _subclass_triples

    good = load_store([GOOD / "kg.ttl", GOOD / "mentions.trig"], _subclass_triples(ONTOLOGY))
    quads = sorted(good, key=str)
    checks = compile_shapes(SHAPES, subclass_closure(good), per_document=False)
    breaches = compile_breaches(SHAPES, subclass_closure(good), per_document=False)
    import pyoxigraph as ox

    skos = "http://www.w3.org/2004/02/skos/core#"
    labels = [q for q in quads if q.predicate.value == skos + "prefLabel"]
    extra = [  # an entity with a second name in its name's language, and one whose alias is its name
        [*quads, ox.Quad(labels[0].subject, labels[0].predicate, ox.Literal("又名", language=labels[0].object.language), labels[0].graph_name)],
        [*quads, ox.Quad(labels[0].subject, ox.NamedNode(skos + "altLabel"), labels[0].object, labels[0].graph_name)],
    ]
    fired, disagree, variants = set(), [], 0
    for quads in [*_mutants(quads), *extra]:
        variants += 1
        store = _store(quads)
        broken = {i for i, c in enumerate(checks) if _fires(store, c.query)}
        fired |= broken
        if any(_fires(store, q) for q in breaches) != bool(broken):
            disagree.append(sorted(f"{checks[i].component} {checks[i].path}" for i in broken))
    assert disagree == []
    assert variants > 300 and fired == set(range(len(checks)))  # each check broken by some variant


# ---------------------------------------------------------------------------------------------
# read_predicates: what a check over part of a graph must keep (kg.validate's projections)

RP = "PREFIX ex: <http://example.org/>\n"
EX = "http://example.org/"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


@pytest.mark.parametrize(
    ("query", "reads"),
    [
        ("SELECT ?this WHERE { ?this ex:p ?o }", {"p"}),
        ("SELECT ?this WHERE { ?this a ex:C ; ex:p/(ex:q|^ex:r)+ ?o }", {"p", "q", "r", RDF_TYPE}),
        ("SELECT ?this WHERE { ?this a ex:C ; ex:p/ex:q* ?o }", None),  # a path of no step matches any node
        ("SELECT ?this WHERE { ?this a ex:C FILTER NOT EXISTS { ?this ex:p? ?o } }", {RDF_TYPE}),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER NOT EXISTS { ?this ?any ?v } }", {"p"}),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER(!(EXISTS { ?o ?any ?v })) }", {"p"}),
        ("SELECT ?this WHERE { ?this ex:p ?o MINUS { ?this ?any ?v } }", {"p"}),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER(EXISTS { ?o ex:q ?v } || !(EXISTS { ?o ?any ?v })) }", {"p", "q"}),
        ("SELECT ?this WHERE { ?this ?p ?v VALUES ?p { ex:a ex:b } }", {"a", "b"}),
        ("SELECT ?this WHERE { ?this ex:p ?o OPTIONAL { SELECT ?this (COUNT(?v) AS ?n) WHERE { ?this ?p ?v VALUES ?p { ex:a } } GROUP BY ?this } }", {"p", "a"}),
        ("SELECT ?this WHERE { ?this ex:p ?o } LIMIT 1", {"p"}),
        # unbounded: a variable predicate where fewer matches may drop a row
        ("SELECT ?this WHERE { ?this ?p ?o }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER(EXISTS { ?o ?any ?v }) }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER NOT EXISTS { ?o ex:q ?x FILTER NOT EXISTS { ?x ?any ?v } } }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o MINUS { ?this ex:q ?x MINUS { ?x ?any ?v } } }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o OPTIONAL { ?o ?any ?v } FILTER(!BOUND(?v)) }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER(COALESCE(NOT EXISTS { ?o ?any ?v }, true)) }", None),
        ("SELECT ?this WHERE { { SELECT ?this (COUNT(?v) AS ?n) WHERE { ?this ?any ?v } GROUP BY ?this } FILTER(?n > 1) }", None),
        ("SELECT ?this WHERE { { SELECT ?this WHERE { ?this ex:p ?v } LIMIT 3 } FILTER NOT EXISTS { ?this ex:q ?w } }", {"p", "q"}),
        ("SELECT ?this WHERE { { SELECT ?this WHERE { ?this ?any ?v } LIMIT 3 } }", None),
        ("SELECT ?this WHERE { ?this ?p ?v VALUES (?p ?n) { (ex:a 1) (UNDEF 2) } }", None),
        ("SELECT ?this WHERE { ?this !ex:p ?o }", None),
        ("SELECT ?this WHERE { ?this ex:p ?o . ?o ?q ?v . ?this ex:r ?q }", None),
        ("SELECT ?this WHERE { this is not SPARQL }", None),
        # a MINUS of one triple pattern whose object it does not share: one triple a subject will do
        ("SELECT ?this WHERE { ?this a ex:C MINUS { ?this ex:p ?any } }", ({RDF_TYPE}, {"p"})),
        ("SELECT ?this WHERE { ?this a ex:C MINUS { ?this ex:p ?any } MINUS { ?this ex:q ?any } }", ({RDF_TYPE}, {"p", "q"})),
        ("SELECT ?this WHERE { ?this a ex:C MINUS { ?this ex:p ?any } } LIMIT 1", ({RDF_TYPE}, {"p"})),
        ("SELECT ?this WHERE { ?this ex:p ?o MINUS { ?this ex:p ?any } }", {"p"}),  # read whole elsewhere
        ("SELECT ?this WHERE { ?this ex:r ?o MINUS { ?this ex:p ?o } }", {"r", "p"}),  # its object matters
        ("SELECT ?this WHERE { ?this ex:r ?o MINUS { ?this ex:p ?any . ?any ex:q ?v } }", {"r", "p", "q"}),
        ("SELECT ?this WHERE { ?this ex:r ?o FILTER NOT EXISTS { ?this ex:p ?o MINUS { ?o ex:q ?any } } }", {"r", "p", "q"}),
    ],
)
def test_read_predicates_bounds_what_a_check_must_see(query, reads):
    from kg.shacl import read_predicates

    iri = lambda names: frozenset(p if "#" in p else EX + p for p in names)  # noqa: E731
    whole, exists = reads if isinstance(reads, tuple) else (reads, ())
    found = read_predicates([RP + query])
    assert (None if found is None else (found.whole, found.exists)) == (None if reads is None else (iri(whole) | {SUBCLASS}, iri(exists)))


@pytest.mark.parametrize(
    ("query", "classes", "prefixes"),
    [
        ("SELECT ?this WHERE { ?this ex:p ?o }", set(), set()),
        ("SELECT ?this WHERE { ?this a ex:C }", {"C"}, set()),
        ("SELECT ?this WHERE { ?this a ?c VALUES ?c { ex:C ex:D } }", {"C", "D"}, set()),
        ('SELECT ?this WHERE { ?this a ex:C ; a ?c FILTER(REGEX(STR(?c), "^http://example\\\\.org/k#")) }', {"C"}, {"http://example.org/k#"}),
        ('SELECT ?this WHERE { ?this a ?c FILTER(!isBlank(?c) && REGEX(STR(?c), "^http://example\\\\.org/")) }', set(), {"http://example.org/"}),
        ("SELECT ?this WHERE { ?this ex:p ?o FILTER NOT EXISTS { ?o a ?c } }", set(), set()),  # fewer matches, more rows
        # every class: an rdf:type pattern whose object nothing bounds
        ("SELECT ?this WHERE { ?this a ?c }", None, set()),
        ('SELECT ?this WHERE { ?this a ?c FILTER(REGEX(STR(?c), "^http://example\\\\.org/", "i")) }', None, set()),
        ('SELECT ?this WHERE { ?this a ?c FILTER(REGEX(STR(?c), "^http://example.org/")) }', None, set()),  # "." is any character
        ('SELECT ?this WHERE { ?this a ?c FILTER(REGEX(STR(?c), "^http://ex") || ?c = ex:D) }', None, set()),
        ('SELECT ?this WHERE { { SELECT ?this (COUNT(?c) AS ?n) WHERE { ?this a ?c } GROUP BY ?this } FILTER(REGEX(STR(?this), "^http://ex")) }', None, set()),
        ("SELECT ?this WHERE { ?this ?p ?o VALUES ?p { ex:p <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> } }", None, set()),
        ("SELECT ?this WHERE { ?this ex:p/a ?o }", None, set()),
    ],
)
def test_read_predicates_bounds_the_classes_whose_types_a_check_must_see(query, classes, prefixes):
    from kg.shacl import read_predicates

    found = read_predicates([RP + query])
    assert found.classes == (None if classes is None else {EX + c for c in classes})
    assert found.class_prefixes == prefixes


def test_read_predicates_is_unbounded_when_one_query_is():
    from kg.shacl import read_predicates

    assert read_predicates([RP + "SELECT ?this WHERE { ?this ex:p ?o }", RP + "SELECT ?this WHERE { ?this ?p ?o }"]) is None
    reads = read_predicates([RP + "SELECT ?this WHERE { ?this ex:p ?o }", RP + "SELECT ?this WHERE { ?this ex:q ?o }"])
    assert reads.whole == {EX + "p", EX + "q", SUBCLASS} and not reads.exists


def test_a_predicate_asked_to_exist_in_one_query_and_read_whole_in_another_is_read_whole():
    from kg.shacl import read_predicates

    reads = read_predicates([RP + "SELECT ?this WHERE { ?this a ex:C MINUS { ?this ex:p ?any } }", RP + "SELECT ?this WHERE { ?this ex:p ?o }"])
    assert EX + "p" in reads.whole and not reads.exists


def _keep(quads, reads, also=()):
    """The quads a projection keeps: all on `reads.whole` (and `also`) but the rdf:type triples of
    classes not read, one a subject on `reads.exists`."""
    kept, seen = [], set()
    for q in quads:
        if q.predicate.value == RDF_TYPE and not reads.keeps_type(q.object.value):
            continue
        if q.predicate.value in reads.whole or q.predicate.value in also:
            kept.append(q)
        elif q.predicate.value in reads.exists and (q.subject, q.predicate) not in seen:
            seen.add((q.subject, q.predicate))
            kept.append(q)
    return kept


def test_a_graph_cut_to_the_read_predicates_breaks_a_corpus_wide_shape_whenever_the_whole_does():
    """The bound holds on broken variants of the good fixture: what breaks the whole graph breaks
    the graph of its triples on the predicates read (the least a projection keeps), and the good
    fixture cut so, with the predicates its statements reify, breaks nothing."""
    from kg.shacl import compile_breaches, load_store, read_predicates, subclass_closure
    from kg.validate import ONTOLOGY, SHAPES, _subclass_triples

    good = load_store([GOOD / "kg.ttl"], _subclass_triples(ONTOLOGY))
    quads = sorted(good, key=str)
    breaches = compile_breaches(SHAPES, subclass_closure(good), per_document=False)
    reads = read_predicates(breaches)
    assert reads is not None and RDF_TYPE in reads.whole
    assert reads.exists == {"https://w3id.org/kg/ontology#evidence"}  # a statement has some: one will do
    # of the types, the classes the shapes name and, for "exactly one kgo: class", those of kgo:
    assert reads.class_prefixes == {"https://w3id.org/kg/ontology#"} and "https://w3id.org/kg/ontology#Statement" in reads.classes
    assert not reads.keeps_type("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#String")
    assert "http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#anchorOf" not in reads.whole  # nor most of a document's
    reified = {q.object.value for q in quads if q.predicate.value.endswith("#predicate")}
    assert not any(_fires(_store(_keep(quads, reads, reified)), q) for q in breaches)
    missed, broken = [], 0
    for variant in _mutants(quads):
        if any(_fires(_store(variant), q) for q in breaches):
            broken += 1
            if not any(_fires(_store(_keep(variant, reads)), q) for q in breaches):
                missed.append(variant)
    assert broken > 100 and missed == []


def test_a_documents_own_iris_checked_where_it_is_extracted_and_cut_from_its_projection_miss_nothing():
    """A projection leaves out its document's own IRIs (kg.validate.owner: the document, its
    strings, articles and their statements), on which the corpus-wide shapes run where the document
    is extracted instead, over its part and its entities' classes (`owned=True`). On the broken
    variants of the good fixture, what breaks a corpus-wide shape of the whole graph is found by one
    or the other, or sends the document to the whole check (an own IRI of a class not a document's)."""
    import pyoxigraph as ox

    from kg.shacl import OWN, compile_breaches, load_store, read_predicates, subclass_closure
    from kg.validate import _OWN_CLASSES, ONTOLOGY, SHAPES, _subclass_triples, owner

    extra = _subclass_triples(ONTOLOGY)
    good = load_store([GOOD / "kg.ttl"], extra)
    quads = sorted(good, key=str)
    subclasses = subclass_closure(good)
    breaches = compile_breaches(SHAPES, subclasses, per_document=False)
    (owned,) = compile_breaches(SHAPES, subclasses, per_document=True, owned=_OWN_CLASSES, one=True)  # what DocumentCheck runs
    reads = read_predicates(breaches)
    (doc,) = {q.subject.value for q in quads if q.predicate.value == RDF_TYPE and q.object.value.endswith("#Document")}
    extra_quads = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in extra]

    def own(q) -> bool:
        return isinstance(q.subject, ox.NamedNode) and owner(q.subject.value) == doc

    def found(variant) -> bool:
        if any(own(q) and q.predicate.value == RDF_TYPE and q.object.value not in _OWN_CLASSES for q in variant):
            return True  # DocumentCheck refuses it: its part goes whole, and the whole parts are checked
        cut = _keep([q for q in variant if not own(q)], reads, reified)
        if any(_fires(_store(cut), q) for q in breaches):
            return True
        # where it is extracted: its part (here its own triples), its entities' classes, its own IRIs marked
        mine = [q for q in variant if own(q) or q.predicate.value == RDF_TYPE]
        marks = {ox.Quad(q.subject, OWN, OWN, OWN) for q in variant if own(q)}
        return _fires(_store([*mine, *extra_quads, *marks]), owned)

    reified = {q.object.value for q in quads if q.predicate.value.endswith("#predicate") and not own(q)}
    assert any(own(q) and q.predicate.value.endswith("#predicate") for q in quads)  # the fixture's authors
    assert not found(quads)
    missed, broken = [], 0
    for variant in _mutants(quads):
        if any(_fires(_store(variant), q) for q in breaches):
            broken += 1
            if not found(variant):
                missed.append(variant)
    assert broken > 300 and missed == []  # 321 of the 734 variants
