"""The build's self-check with per-document shapes run only where documents changed (issue 7).

`kg.validate.check_build` must report exactly what `validate(out, engine="sparql")` reports on the
written files, whichever documents it skips as checked before.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import replace

import pyoxigraph as ox
import pytest

import kg.validate
from kg import rdf
from kg.errors import ValidationError
from kg.validate import ONTOLOGY, DocumentPart, PartLoader, PartStore, RemoteParts, _subclass_triples, check_build, validate

from .conftest import SEEDS

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS_PREF = "http://www.w3.org/2004/02/skos/core#prefLabel"


@pytest.fixture(scope="module")
def seeds():
    from kg.build import DEFAULT_ONTOLOGY, _extract
    from kg.corpus import doc_ids, list_inputs
    from kg.graph import build_graph
    from kg.ontology import load_ontology

    paths = list_inputs(SEEDS)
    results = sorted((r for _, r in _extract(paths, doc_ids(paths, SEEDS), DEFAULT_ONTOLOGY, None, jobs=1, dask=None)), key=lambda r: r.doc.doc_id)
    g = build_graph([r.doc for r in results], [m for r in results for m in r.mentions], [x for r in results for x in r.relations], load_ontology(DEFAULT_ONTOLOGY))
    return results, rdf.graph_triples(g), [frozenset(m.iri for m in r.mentions) for r in results]


def _write(out, corpus, parts):
    out.mkdir(parents=True, exist_ok=True)
    rdf.write_turtle_parts(corpus, [p.ttl for p in parts], out / "kg.ttl")
    rdf.write_trig_parts([p.trig for p in parts], out / "mentions.trig")


def _pairs(parts):
    """(digest, part of kg.ttl) of each, as a PartStore takes them."""
    return [(rdf.parts_digest(p.ttl, p.trig), p.ttl) for p in parts]


def _documents(results, refs, parts=None):
    parts = parts or [r.parts for r in results]
    return [DocumentPart(p, ref, doc=rdf.doc_iri(r.doc.doc_id)) for p, ref, r in zip(parts, refs, results, strict=True)]


@pytest.fixture
def passed(seeds, tmp_path):
    """A clean check of the seeds, its keys recorded in `checked`."""
    results, corpus, refs = seeds
    out = tmp_path / "clean"
    _write(out, corpus, [r.parts for r in results])
    checked = tmp_path / "checked.keys"
    report = check_build(out, corpus, _documents(results, refs), checked=checked)
    assert report.conforms and not report.results
    assert len(checked.read_text().split()) == len(results)
    return checked


def _projections(documents):
    """(digest, projection) of each document, as DocumentCheck makes them where it is extracted
    (whether its shapes pass or not)."""
    from kg.validate import _PART, _load_part, _owned, _projection, corpus_reads

    reads = corpus_reads()
    pairs = []
    for d in documents:
        store = ox.Store()
        _load_part(store, rdf.prefix_lines(None), d.parts.ttl, d.parts.trig, graph=_PART)
        own, foreign = _owned(store, d.doc)
        pairs.append((rdf.parts_digest(d.parts.ttl, d.parts.trig), _projection(store, reads, own, foreign)))
    return pairs


def _same_as_whole(out, corpus, documents, checked):
    """The split check, from kg.ttl and from a store that holds some documents' parts already (as a
    rebuild preloads those it read from its cache), whole or their projections, reports what the
    whole check reports."""
    before = checked.read_bytes()
    split = check_build(out, corpus, documents, checked=checked)
    whole = validate(out, engine="sparql")
    assert split.results == whole.results
    preloaded = PartStore()
    preloaded.add(_pairs(d.parts for d in documents[::2]))
    assert check_build(out, corpus, documents, checked=checked, parts=preloaded).results == whole.results
    projected = PartStore()
    projected.add(_projections(documents), projected=True)
    assert projected.projected and not projected.whole
    assert check_build(out, corpus, documents, checked=checked, parts=projected).results == whole.results
    # the same in a process of its own, as a build with workers checks; one document's part goes
    # to it whole (a store of projections then proves nothing, and the whole parts are checked)
    remote = RemoteParts()
    remote.add(_projections(documents[1:]), projected=True)
    assert check_build(out, corpus, documents, checked=checked, parts=remote).results == whole.results
    assert remote.process.exitcode == 0
    assert checked.read_bytes() == before  # a check that found something records nothing
    return split


def test_a_broken_document_is_found_when_the_others_are_skipped(seeds, passed, tmp_path):
    results, corpus, refs = seeds
    r = results[1]
    past = len(r.doc.text) + 5
    mentions = [replace(m, end=past) if i == 0 else m for i, m in enumerate(r.mentions)]
    rels = [replace(x, evidence=replace(x.evidence, end=past)) if i == 0 else x for i, x in enumerate(r.relations)]
    parts = [x.parts for x in results]
    parts[1] = rdf.document_parts(r.doc, mentions, rels)
    out = tmp_path / "broken"
    _write(out, corpus, parts)
    split = _same_as_whole(out, corpus, _documents(results, refs, parts), passed)
    assert any("past the end of the document" in x.message for x in split.violations), split.results


def test_a_broken_entity_is_found_when_every_document_is_skipped(seeds, passed, tmp_path):
    results, corpus, refs = seeds
    entity = next(t.subject for t in corpus if t.predicate.value == SKOS_PREF)
    broken = [t for t in corpus if not (t.subject == entity and t.predicate.value == SKOS_PREF)]
    out = tmp_path / "broken"
    _write(out, broken, [r.parts for r in results])
    split = _same_as_whole(out, broken, _documents(results, refs), passed)
    assert any(x.focus == entity.value and x.path == "skos:prefLabel" for x in split.violations)


def test_a_statement_whose_evidence_is_gone_from_every_document_is_found(seeds, passed, tmp_path):
    """A statement's evidence is asked only to exist across documents: the projections keep one
    triple of it a statement, and a statement with none in any document still breaks its shape."""
    results, corpus, refs = seeds
    gone = next((x.subject, x.predicate, x.object) for r in results for x in r.relations if x.predicate == "runsProgramme")
    parts = [rdf.document_parts(r.doc, list(r.mentions), [x for x in r.relations if (x.subject, x.predicate, x.object) != gone]) for r in results]
    out = tmp_path / "broken"
    _write(out, corpus, parts)
    split = _same_as_whole(out, corpus, _documents(results, refs, parts), passed)
    assert [x.path for x in split.violations] == ["kgo:evidence"], split.results


def test_a_store_of_projections_keeps_one_evidence_a_statement(seeds):
    results, corpus, refs = seeds
    documents = _documents(results, refs)
    projected = PartStore()
    projected.add(_projections(documents[:2]), projected=True)
    projected.add(_projections(documents[2:]), projected=True)
    evidence = ox.NamedNode("https://w3id.org/kg/ontology#evidence")
    statements = [q.subject for q in projected.store.quads_for_pattern(None, evidence, None)]
    whole = ox.Store()
    for d in documents:
        whole.load(rdf.prefix_lines(None) + d.parts.ttl, format=ox.RdfFormat.TURTLE)
    every = list(whole.quads_for_pattern(None, evidence, None))
    # one each, but of the statements of articles (their authors), which are their documents' own
    corpus_wide = {q.subject for q in every if kg.validate.owner(q.subject.value) is None}
    assert sorted(statements, key=str) == sorted(corpus_wide, key=str)
    assert len(corpus_wide) < len({q.subject for q in every})
    assert len(statements) < len(every)  # some statements are read in more than one place


def _with(parts, ttl: bytes):
    """The parts with `ttl` (Turtle, full IRIs) added to their part of kg.ttl."""
    return rdf.DocumentParts(parts.ttl + ttl, parts.jsonld, parts.trig)


def _author_statement(result) -> str:
    return next(rdf.statement_iri(x.subject, x.predicate, x.object) for x in result.relations if x.predicate == "author")


@pytest.mark.parametrize(
    ("iri", "doc"),
    [
        ("https://w3id.org/kg/id/doc/x", "https://w3id.org/kg/id/doc/x"),
        ("https://w3id.org/kg/id/doc/x#char=0,4", "https://w3id.org/kg/id/doc/x"),
        ("https://w3id.org/kg/id/article/x/3", "https://w3id.org/kg/id/doc/x"),
        ("https://w3id.org/kg/id/article/x/3#author-0123456789abcdef", "https://w3id.org/kg/id/doc/x"),
        # an id may hold '/': "x/3" is another document than "x", and an article's index is its last segment
        ("https://w3id.org/kg/id/article/x/3/0", "https://w3id.org/kg/id/doc/x/3"),
        ("https://w3id.org/kg/id/doc/x/3#char=1,2", "https://w3id.org/kg/id/doc/x/3"),
        ("https://w3id.org/kg/id/article/x%23y/0", "https://w3id.org/kg/id/doc/x%23y"),  # '#' in an id is encoded
        # in the namespaces and no document's: every document's other
        ("https://w3id.org/kg/id/article/x", ""),
        ("https://w3id.org/kg/id/article/x/y", ""),
        ("https://w3id.org/kg/id/article/x/３", ""),  # a digit, but not an index kg writes
        # not a document's own
        ("https://w3id.org/kg/id/statement/0123456789abcdef", None),
        ("https://w3id.org/kg/id/new/person/0123", None),
        ("https://w3id.org/kg/ontology#Article", None),
    ],
)
def test_a_documents_own_iris_have_one_owner(iri, doc):
    assert kg.validate.owner(iri) == doc


def test_own_iris_are_what_kg_writes_for_a_document(seeds):
    """Every subject of a document's parts in the documents' namespaces is its own (no part
    describes another's), and its author statements are among them."""
    from kg.validate import _PART, _load_part, _owned

    results, _, _ = seeds
    for r in results:
        store = ox.Store()
        _load_part(store, rdf.prefix_lines(None), r.parts.ttl, r.parts.trig, graph=_PART)
        own, foreign = _owned(store, rdf.doc_iri(r.doc.doc_id))
        assert not foreign and ox.NamedNode(_author_statement(r)) in own
        assert ox.NamedNode(rdf.doc_iri(r.doc.doc_id)) in own


def test_a_part_that_describes_another_documents_article_is_checked_whole(seeds, extractor, passed, tmp_path):
    """A document's own IRIs are checked where it is extracted and left out of its projection; a
    part that describes one of another document's (here: a second headline for its article) passes
    its own check, but its projection holds that triple, and the build checks the whole output."""
    from kg.build import entity_classes

    results, corpus, refs = seeds
    article = rdf.article_iri(results[0].doc.doc_id, 0)
    parts = [r.parts for r in results]
    parts[1] = _with(parts[1], f'<{article}> <https://schema.org/headline> "另一个标题"@zh .\n'.encode())
    r = results[1]
    ok = extractor.check(parts[1].ttl, parts[1].trig, entity_classes(extractor.onto, r.mentions), reads=kg.validate.corpus_reads(), doc=rdf.doc_iri(r.doc.doc_id))
    assert ok is not None and article.encode() in ok.reads[1]  # it passes, and says so in its projection
    out = tmp_path / "foreign"
    _write(out, corpus, parts)
    documents = _documents(results, refs, parts)
    projected = PartStore()
    projected.add(_projections(documents), projected=True)
    assert projected.foreign and not projected.whole
    report = check_build(out, corpus, documents, checked=passed, parts=projected)
    assert report.results == validate(out, engine="sparql").results
    assert any(x.focus == article and x.path == "schema:headline" for x in report.violations), report.results
    assert report.checked == (len(results), len(results))


def test_a_broken_author_statement_is_found_where_its_document_is_checked(seeds, extractor, passed, tmp_path):
    """An article's statement (its author) is its document's own, left out of its projection: the
    corpus-wide statement shape runs on it where the document is extracted, and in the build's
    check of a document whose key is not known."""
    from kg.build import entity_classes

    results, corpus, refs = seeds
    statement = _author_statement(results[2])
    decimal = "http://www.w3.org/2001/XMLSchema#decimal"
    parts = [r.parts for r in results]
    parts[2] = _with(parts[2], f'<{statement}> <https://w3id.org/kg/ontology#confidence> "2.0"^^<{decimal}> .\n'.encode())
    r = results[2]
    assert extractor.check(parts[2].ttl, parts[2].trig, entity_classes(extractor.onto, r.mentions), doc=rdf.doc_iri(r.doc.doc_id)) is None
    assert extractor.check(r.parts.ttl, r.parts.trig, entity_classes(extractor.onto, r.mentions), doc=rdf.doc_iri(r.doc.doc_id)) is not None
    out = tmp_path / "broken"
    _write(out, corpus, parts)
    split = _same_as_whole(out, corpus, _documents(results, refs, parts), passed)
    assert {(x.focus, x.path) for x in split.violations} == {(statement, "kgo:confidence")}, split.results


def test_an_own_iri_of_an_entitys_class_is_refused_where_it_is_extracted(seeds, extractor):
    """The corpus-wide shapes run where a document is extracted on its own IRIs, over its part and
    its entities' classes: enough for the shapes of statements, not for those of entities, which
    read what the corpus says of them. An own IRI with an entity's class gets no key."""
    from kg.build import entity_classes

    results, _, _ = seeds
    r = results[0]
    article = rdf.article_iri(r.doc.doc_id, 0)
    parts = _with(r.parts, f"<{article}> a <https://w3id.org/kg/ontology#AdminDivision> .\n".encode())
    assert extractor.check(parts.ttl, parts.trig, entity_classes(extractor.onto, r.mentions), doc=rdf.doc_iri(r.doc.doc_id)) is None


def _retyped(corpus, iri):
    """The corpus-wide triples with the entity `iri` typed as an article, a class no mention may denote."""
    article = ox.NamedNode("https://w3id.org/kg/ontology#Article")
    return [ox.Triple(t.subject, t.predicate, article) if t.subject.value == iri and t.predicate.value == RDF_TYPE else t for t in corpus]


def test_a_changed_entity_class_rechecks_the_documents_that_mention_it(seeds, passed, tmp_path):
    """What the per-document shapes read outside a document (its entities' classes) is in its
    key: a document checked against the old class is checked again."""
    results, corpus, refs = seeds
    broken = _retyped(corpus, results[0].mentions[0].iri)
    out = tmp_path / "broken"
    _write(out, broken, [r.parts for r in results])
    split = _same_as_whole(out, broken, _documents(results, refs), passed)
    assert any("taIdentRef" in x.path for x in split.violations)


def test_a_check_in_its_own_process_reports_a_part_it_cannot_parse_as_the_store_here_does(seeds, passed, tmp_path):
    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    documents = _documents(results, refs)
    remote = RemoteParts()
    remote.add([(b"broken", b"<not N-Triples")], projected=True)
    remote.add(_projections(documents), projected=True)
    with pytest.raises(ValidationError, match="a document's projection is not valid N-Triples"):
        check_build(out, corpus, documents, checked=passed, parts=remote)
    assert remote.process.exitcode == 0  # it reported, and stopped


def test_a_check_in_its_own_process_takes_no_part_once_it_started(seeds):
    results, corpus, refs = seeds
    remote = RemoteParts()
    try:
        remote.add(_pairs(r.parts for r in results[:2]))
        remote.start(corpus)
        remote.add(_pairs(r.parts for r in results[:2]))  # loaded already: nothing to add
        with pytest.raises(RuntimeError, match="added once the check started"):
            remote.add(_pairs(r.parts for r in results[2:]))
    finally:
        remote.close()
    assert not remote.process.is_alive()


def test_without_a_record_everything_is_checked_in_one_graph(seeds, tmp_path):
    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    (tmp_path / "checked.keys").write_text("not a key\n")
    report = check_build(out, corpus, _documents(results, refs), checked=tmp_path / "checked.keys")
    assert report.results == validate(out, engine="sparql").results == []


def test_a_preloaded_store_completed_by_the_check_holds_the_triples_of_kg_ttl(seeds, passed, tmp_path):
    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    preloaded = PartStore()
    preloaded.add(_pairs(r.parts for r in results[:2]))
    preloaded.add(_pairs(r.parts for r in results[:3]))  # a part loaded twice is loaded once
    report = check_build(out, corpus, _documents(results, refs), checked=passed, parts=preloaded)
    assert report.conforms and not report.results
    whole = ox.Store()
    whole.bulk_load(path=str(out / "kg.ttl"), format=ox.RdfFormat.TURTLE, to_graph=ox.DefaultGraph())
    extra = {ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in _subclass_triples(ONTOLOGY)}
    assert set(preloaded.store.quads_for_pattern(None, None, None)) == set(whole.quads_for_pattern(None, None, None)) | extra
    assert report.triples is None  # a build's self-check does not count them (kg validate does)


def test_a_store_of_projections_that_passes_checks_no_more(seeds, passed, tmp_path, monkeypatch):
    """A rebuild's store of the cached documents' projections is checked as it is when it breaks
    nothing; its kg.ttl is never read, nor any part loaded whole."""
    import kg.shacl

    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    documents = _documents(results, refs)
    projected = PartStore()
    projected.add(_projections(documents), projected=True)
    runs = []
    real = kg.shacl.validate_store
    monkeypatch.setattr(kg.shacl, "validate_store", lambda *a, **k: runs.append(len(a[0])) or real(*a, **k))
    real_add = PartStore.add

    def add(self, parts, **kwargs):
        assert not [p for p in parts if p[0] not in self._loaded], "a part was loaded whole"
        return real_add(self, parts, **kwargs)

    monkeypatch.setattr(PartStore, "add", add)
    report = check_build(out, corpus, documents, checked=passed, parts=projected)
    assert report.conforms and not report.results and len(runs) == 1
    # none of the documents' own IRIs: their documents checked them where they were extracted
    assert not [q for q in projected.store if kg.validate.owner(q.subject.value) is not None]
    whole = ox.Store()
    whole.load(path=str(out / "kg.ttl"), format=ox.RdfFormat.TURTLE)
    corpus_wide = len(set(corpus) | set(_subclass_triples(ONTOLOGY)))
    # the projections hold less than half of the documents' triples
    assert runs[0] - corpus_wide < (len(whole) - len(set(corpus))) / 2


def test_what_a_store_of_projections_breaks_is_checked_against_the_whole_parts(seeds, passed, tmp_path, monkeypatch):
    """A projection that breaks a shape the whole part does not (here: without the evidence of its
    statements) fails nothing: the check runs again over the whole parts, which pass."""
    import kg.shacl

    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    documents = _documents(results, refs)
    reads = kg.validate.corpus_reads()
    # the bare projections: no statement has its evidence
    bare = [(digest, nt.partition(kg.validate._EXISTS)[0]) for digest, nt in _projections(documents)]
    projected = PartStore()
    projected.add(bare, projected=True)
    found = []
    real = kg.shacl.validate_store
    monkeypatch.setattr(kg.shacl, "validate_store", lambda *a, **k: found.append(len(r := real(*a, **k))) or r)
    report = check_build(out, corpus, documents, checked=passed, parts=projected)
    assert "https://w3id.org/kg/ontology#evidence" in reads.exists
    assert found[0] > 0 and found[1:] == [0]  # a false alarm, then the whole parts
    assert report.conforms and not report.results


def test_a_projection_made_for_other_reads_has_another_tag():
    from kg.shacl import Reads
    from kg.validate import reads_tag

    reads = kg.validate.corpus_reads()
    others = [
        Reads(reads.whole - {RDF_TYPE}, reads.exists, reads.classes, reads.class_prefixes),
        Reads(reads.whole, frozenset(), reads.classes, reads.class_prefixes),
        Reads(reads.whole, reads.exists, None, frozenset()),
        Reads(reads.whole, reads.exists, reads.classes, frozenset()),
    ]
    assert len({reads_tag(r) for r in [reads, *others]}) == 5


def test_the_predicates_of_the_projections_are_remembered_for_these_shapes(tmp_path, monkeypatch):
    import kg.shacl

    memo = tmp_path / "memo"
    reads = kg.validate.corpus_reads(memo=memo)
    assert reads is not None and len(list(memo.glob("corpus-reads-*.pickle"))) == 1
    monkeypatch.setattr(kg.shacl, "read_predicates", lambda *a: pytest.fail("worked out again"))
    assert kg.validate.corpus_reads(memo=memo) == reads
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(kg.validate.SHAPES.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    monkeypatch.setattr(kg.shacl, "read_predicates", lambda *a: None)  # other shapes: worked out again
    assert kg.validate.corpus_reads(shapes=shapes, memo=memo) is None
    monkeypatch.setattr(kg.shacl, "read_predicates", lambda *a: pytest.fail("worked out again"))
    assert kg.validate.corpus_reads(shapes=shapes, memo=memo) is None  # an unbounded answer is kept too
    assert len(list(memo.glob("corpus-reads-*.pickle"))) == 1



def test_parts_loaded_in_a_thread_are_the_parts_loaded_at_once(seeds):
    results, _, _ = seeds
    at_once = PartStore()
    at_once.add(_pairs(r.parts for r in results))
    loader = PartLoader(PartStore(), batch=2)  # batches full and one left over
    for r in results:
        loader.add(r.parts.digest, r.parts.ttl)
    threaded = loader.done()
    assert len(results) % 2 and not loader.thread.is_alive()
    assert set(threaded.store.quads_for_pattern(None, None, None)) == set(at_once.store.quads_for_pattern(None, None, None))


def test_parts_parsed_before_load_in_a_thread_as_they_load_at_once(seeds):
    results, _, _ = seeds
    at_once = PartStore()
    at_once.add(_pairs(r.parts for r in results))
    loader = PartLoader(PartStore(), batch=2)
    for i, r in enumerate(results):
        loader.add(r.parts.digest, r.parts.ttl, parsed=bool(i % 2))  # both kinds, each batched on its own
    threaded = loader.done()
    assert set(threaded.store.quads_for_pattern(None, None, None)) == set(at_once.store.quads_for_pattern(None, None, None))


def test_a_part_not_parsed_before_has_its_iris_checked():
    bad = b"<http://example.org/a b> <http://example.org/p> 1 .\n"  # a space in an IRI
    with pytest.raises(ValidationError, match="not valid Turtle"):
        PartStore().add([(b"bad", bad)])
    lenient = PartStore()
    lenient.add([(b"bad", bad)], parsed=True)  # the per-document check would have refused it (no key, no `parsed`)
    assert len(lenient.store) == 1


def test_a_broken_projection_is_refused_by_name():
    with pytest.raises(ValidationError, match="projection is not valid N-Triples"):
        PartStore().add([(b"bad", b"kgr:doc\\/x kgo:characters 1 .\n")], projected=True)  # Turtle, not N-Triples


def test_a_broken_part_loaded_in_a_thread_fails_when_the_store_is_asked_for(seeds):
    results, _, _ = seeds
    loader = PartLoader(PartStore(), batch=1)
    loader.add(results[0].parts.digest, results[0].parts.ttl)
    loader.add(b"bad", b"kgr:doc\\/x kgo:characters .\n")
    loader.add(results[1].parts.digest, results[1].parts.ttl)
    with pytest.raises(ValidationError, match="not valid Turtle"):
        loader.done()
    assert not loader.thread.is_alive()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a priority of its own on Linux")
def test_a_loader_yields_the_cpu_to_the_rest_of_the_build():
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    loader = PartLoader(PartStore())
    try:
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, loader.thread.native_id) != 19 and time.monotonic() < deadline:
            time.sleep(0.01)  # the thread lowers its own priority as it starts
        assert os.getpriority(os.PRIO_PROCESS, loader.thread.native_id) == 19
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the build's own thread keeps its priority
    finally:
        loader.close()


def test_a_loader_closed_half_way_stops_its_thread():
    loader = PartLoader(PartStore())
    loader.add(b"none", b"")
    loader.close()
    assert not loader.thread.is_alive()

# ---------------------------------------------------------------------------------------------
# The per-document shapes run where each document is extracted (kg.validate.DocumentCheck)


@pytest.fixture(scope="module")
def extractor():
    from kg.build import DEFAULT_ONTOLOGY, Extractor
    from kg.ontology import load_ontology
    from kg.validate import DocumentCheck

    return Extractor(load_ontology(DEFAULT_ONTOLOGY), check=DocumentCheck())


def _keyed(results, refs, extractor, parts=None):
    """The documents as a build hands them to its self-check: each with the key its extraction gave."""
    from kg.build import entity_classes

    parts = parts or [r.parts for r in results]
    passed = [extractor.check(p.ttl, p.trig, entity_classes(extractor.onto, r.mentions), doc=rdf.doc_iri(r.doc.doc_id)) for p, r in zip(parts, results, strict=True)]
    return [DocumentPart(p, ref, ok.key if ok else None, rdf.doc_iri(r.doc.doc_id)) for p, ref, ok, r in zip(parts, refs, passed, results, strict=True)]


def test_documents_checked_in_extraction_are_not_checked_again(seeds, extractor, tmp_path):
    results, corpus, refs = seeds
    out = tmp_path / "out"
    _write(out, corpus, [r.parts for r in results])
    documents = _keyed(results, refs, extractor)
    assert all(d.key for d in documents)
    report = check_build(out, corpus, documents)
    assert report.checked == (0, len(results))
    assert report.results == validate(out, engine="sparql").results == []
    # without the keys of extraction, every document is checked here
    assert check_build(out, corpus, _documents(results, refs)).checked == (len(results), len(results))


def test_a_document_broken_in_extraction_gets_no_key_and_is_reported(seeds, extractor, tmp_path):
    results, corpus, refs = seeds
    r = results[1]
    past = len(r.doc.text) + 5
    mentions = [replace(m, end=past) if i == 0 else m for i, m in enumerate(r.mentions)]
    parts = [x.parts for x in results]
    parts[1] = rdf.document_parts(r.doc, mentions, r.relations)
    out = tmp_path / "broken"
    _write(out, corpus, parts)
    documents = _keyed(results, refs, extractor, parts)
    assert [d.key is None for d in documents] == [i == 1 for i in range(len(results))]
    report = check_build(out, corpus, documents)
    assert report.checked == (1, len(results))
    assert report.results == validate(out, engine="sparql").results
    assert any("past the end of the document" in x.message for x in report.violations), report.results


def test_a_document_whose_entities_the_corpus_types_otherwise_is_checked_again(seeds, extractor, tmp_path):
    """Extraction knows a new entity's class from the document alone; where the corpus types it
    otherwise (its first mention in another document), the key does not match and the self-check
    runs the document's shapes against the corpus's class."""
    results, corpus, refs = seeds
    mention = results[0].mentions[0]
    retyped = _retyped(corpus, mention.iri)
    out = tmp_path / "retyped"
    _write(out, retyped, [r.parts for r in results])
    documents = _keyed(results, refs, extractor)
    report = check_build(out, retyped, documents)
    mentioning = sum(mention.iri in ref for ref in refs)
    assert report.checked == (mentioning, len(results))
    assert report.results == validate(out, engine="sparql").results
    assert any("taIdentRef" in x.path for x in report.violations)


def test_a_build_checks_its_documents_where_it_extracts_them(tmp_path, monkeypatch):
    """kg build (jobs 1 and 2, no cache) leaves the self-check only the corpus-wide shapes."""
    import kg.validate
    from kg.build import build

    reports = []
    real = kg.validate.check_build

    def spy(*args, **kwargs):
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(kg.validate, "check_build", spy)
    for jobs in (1, 2):
        build(SEEDS, tmp_path / f"out{jobs}", html=False, cache=False, jobs=jobs)
    assert [r.checked for r in reports] == [(0, 5), (0, 5)]
    assert (tmp_path / "out1" / "kg.ttl").read_bytes() == (tmp_path / "out2" / "kg.ttl").read_bytes()


def test_documents_with_odd_ids_are_checked_by_their_projections(tmp_path, monkeypatch):
    """Ids with '/' (a stem repeated in folders; one id the start of another), '#', '%' and spaces:
    every document's own IRIs are its own, so the build checks no part whole, nor its output."""
    import shutil

    import kg.shacl
    from kg.build import build

    seed = sorted(SEEDS.glob("*.txt"))[1]
    inputs = tmp_path / "in"
    for name in ("a.txt", "a/x.txt", "b/x.txt", "c#1 50%.txt"):
        (inputs / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seed, inputs / name)
    reports, findings = [], []
    real_check, real_findings = kg.validate.check_build, PartStore.findings
    monkeypatch.setattr(kg.validate, "check_build", lambda *a, **k: reports.append(real_check(*a, **k)) or reports[-1])
    monkeypatch.setattr(PartStore, "findings", lambda self, *a: findings.append(real_findings(self, *a)) or findings[-1])
    monkeypatch.setattr(kg.shacl, "load_store", lambda *a, **k: pytest.fail("the whole output was checked"))
    build(inputs, tmp_path / "out", html=False, cache=False, jobs=1)
    assert [r.checked for r in reports] == [(0, 4)] and findings == [[]]
    ids = {json.loads(line)["doc"] for line in (tmp_path / "out" / "mentions.jsonl").read_text(encoding="utf-8").splitlines()}
    assert ids == {"a", "a/x", "b/x", "c#1 50%"}
