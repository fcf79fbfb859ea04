"""Issue 2 and 4 acceptance on a real build of the seeds: outputs, links and relations."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import RDF, SKOS

from kg.ontology import KGO
from kg.rdf import PREDICATE_IRI

from .conftest import SEEDS

SCHEMA = rdflib.Namespace("https://schema.org/")
KGON = rdflib.Namespace(KGO)


@pytest.fixture(scope="module")
def ttl(seeds_build) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(seeds_build.out / "kg.ttl", format="turtle")
    return g


def _node(g: rdflib.Graph, label: str, cls: str | None = None) -> rdflib.URIRef:
    found = sorted({s for s in g.subjects(SKOS.prefLabel, rdflib.Literal(label, lang="zh"))
                    if cls is None or (s, RDF.type, None) in g and any(str(o).endswith(cls) for o in g.objects(s, RDF.type))})
    assert found, f"no node labelled {label}"
    assert len(found) == 1, f"{label} is {len(found)} nodes: {found}"
    return found[0]


def test_build_writes_the_contracted_outputs(seeds_build):
    names = {p.name for p in seeds_build.out.iterdir()}
    assert {"kg.ttl", "mentions.jsonl", "index.html", "mentions.trig", "kg.jsonld"} <= names


def test_build_turtle_parses_in_rdflib_and_pyoxigraph(seeds_build, ttl):
    with open(seeds_build.out / "kg.ttl", "rb") as fh:
        oxi = list(ox.parse(fh, format=ox.RdfFormat.TURTLE))
    assert len(oxi) == len(ttl) > 1000
    text = (seeds_build.out / "kg.ttl").read_text(encoding="utf-8")
    assert text.startswith("@prefix") and "skos:prefLabel" in text


def test_build_graph_has_nodes_of_all_five_kinds(ttl):
    for cls in ("Person", "Organisation", "Place", "Programme", "Policy"):
        sub = {cls} | ({"AdminDivision", "Site"} if cls == "Place" else set())
        typed = {s for c in sub for s in ttl.subjects(RDF.type, KGON[c])}
        assert typed, f"no {cls} nodes"


@pytest.mark.parametrize("name", ["双报到", "红心物业"])
def test_build_programmes_are_linked_to_the_articles_that_mention_them(ttl, name):
    node = _node(ttl, name)
    assert (node, RDF.type, KGON.Programme) in ttl
    articles = set(ttl.subjects(SCHEMA.mentions, node))
    assert articles and all((a, RDF.type, KGON.Article) in ttl for a in articles)


def test_build_mentions_offsets_hold_for_every_line(seeds_mentions):
    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    assert len(seeds_mentions) > 250
    for m in seeds_mentions:
        assert m["text"] == texts[m["doc"]][m["start"] : m["end"]], m
        assert set(m) == {"doc", "start", "end", "text", "label", "entity"}


def test_build_finds_named_entities_of_a_seed(seeds_mentions):
    found = {(m["doc"], m["text"], m["label"]) for m in seeds_mentions}
    doc = "000_dda3cfb5fbd78439"
    for text, label in [("孙晓楠", "PERSON"), ("铁西区农业农村局", "ORG"), ("东煤社区", "PLACE"),
                        ("护航春耕", "PROGRAMME"), ("破解基层治理“小马拉大车”突出问题任务清单", "POLICY")]:
        assert (doc, text, label) in found


def test_build_region_committee_in_the_social_work_article_is_tiexi(seeds_mentions, ttl):
    west = _node(ttl, "中共四平市铁西区委员会")
    quxi = [m for m in seeds_mentions if m["doc"] == "000_dda3cfb5fbd78439" and m["text"] == "区委"]
    assert quxi and all(m["entity"] == str(west) for m in quxi)


def test_build_four_double_forms_are_one_programme(seeds_mentions, ttl):
    node = str(_node(ttl, "双报到"))
    forms = {m["text"] for m in seeds_mentions if m["entity"] == node}
    assert {"双报到", "双报到、双服务、双评价、双考核"} <= forms


def test_build_admin_chain_of_dongmei_community(ttl):
    chain = ["东煤社区", "站前街道", "铁西区", "四平市"]
    nodes = {}
    for name in chain:
        cands = [s for s in ttl.subjects(SKOS.prefLabel, rdflib.Literal(name, lang="zh"))
                 if name != "站前街道" or (s, SCHEMA.containedInPlace, None) in ttl]
        nodes[name] = cands
    dongmei = nodes["东煤社区"]
    assert len(dongmei) == 1
    up = [dongmei[0]]
    for _ in range(3):
        up.append(next(iter(ttl.objects(up[-1], SCHEMA.containedInPlace))))
    assert [str(ttl.value(n, SKOS.prefLabel)) for n in up] == chain


def test_build_social_work_department_issued_the_task_list(ttl):
    dept = _node(ttl, "中共四平市铁西区委员会社会工作部")
    policy = _node(ttl, "破解基层治理“小马拉大车”突出问题任务清单")
    assert (dept, rdflib.URIRef(PREDICATE_IRI["issuedPolicy"]), policy) in ttl


@pytest.mark.parametrize("programme", ["红心物业", "双报到"])
def test_build_tiedong_runs_its_programmes(ttl, programme):
    tiedong = [s for s in ttl.subjects(SKOS.prefLabel, rdflib.Literal("铁东区", lang="zh"))
               if (s, rdflib.URIRef(PREDICATE_IRI["runsProgramme"]), None) in ttl]
    assert len(tiedong) == 1
    assert (tiedong[0], rdflib.URIRef(PREDICATE_IRI["runsProgramme"]), _node(ttl, programme)) in ttl


def test_build_yu_detao_wrote_the_spring_farming_article(ttl):
    person = _node(ttl, "于德涛")
    articles = list(ttl.subjects(SCHEMA.author, person))
    assert len(articles) == 1
    assert "护航春耕" in str(ttl.value(articles[0], SCHEMA.headline))


def test_build_every_relation_names_document_and_range(seeds_build, ttl):
    statements = list(ttl.subjects(RDF.type, KGON.Statement))
    assert statements
    for st in statements:
        evidence = list(ttl.objects(st, KGON.evidence))
        assert evidence
        for ev in evidence:
            begin, end = ttl.value(ev, rdflib.URIRef("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#beginIndex")), ttl.value(ev, rdflib.URIRef("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#endIndex"))
            assert 0 <= int(begin) < int(end) and "#char=" in str(ev)


def test_build_statement_evidence_and_mentions_match_the_graph(seeds_build):
    """kg.ttl is written in parts (corpus-wide, then each document's): together they say exactly
    what the graph says: each statement's evidence is every range its edge was read from, its
    count and confidence the edge's (an article's author statements are its document's), and
    each article mentions the entities its mentions name; kg.jsonld holds the same triples."""
    from kg.build import DEFAULT_ONTOLOGY, _extract
    from kg.corpus import doc_ids, list_inputs
    from kg.graph import build_graph
    from kg.ontology import load_ontology
    from kg.rdf import MENTIONS, range_iri, statement_iri

    paths = list_inputs(SEEDS)
    results = [r for _, r in _extract(paths, doc_ids(paths, SEEDS), DEFAULT_ONTOLOGY, None, jobs=1, dask=None)]
    g = build_graph([r.doc for r in results], [m for r in results for m in r.mentions], [x for r in results for x in r.relations], load_ontology(DEFAULT_ONTOLOGY))
    triples = set(ox.parse(path=str(seeds_build.out / "kg.ttl"), format=ox.RdfFormat.TURTLE))
    evidence = {}
    mentions = set()
    counts = {}
    for t in triples:
        if t.predicate.value == KGO + "evidence":
            evidence.setdefault(t.subject.value, set()).add(t.object.value)
        elif t.predicate.value in (KGO + "count", KGO + "confidence"):
            counts.setdefault(t.subject.value, []).append(float(t.object.value))
        elif t.predicate.value == PREDICATE_IRI[MENTIONS]:
            mentions.add((t.subject.value, t.object.value))
    expected = {
        statement_iri(u, k, v): {range_iri(*ev) for ev in data["evidence"]}
        for u, v, k, data in g.edges(keys=True, data=True)
        if data.get("source") == "text" and k != MENTIONS
    }
    assert evidence == expected
    assert {s: sorted(c) for s, c in counts.items()} == {
        statement_iri(u, k, v): sorted([float(data["count"]), data["confidence"]])
        for u, v, k, data in g.edges(keys=True, data=True)
        if data.get("source") == "text" and k != MENTIONS
    }
    assert mentions == {(u, v) for u, v, k in g.edges(keys=True) if k == MENTIONS}
    assert set(ox.parse(path=str(seeds_build.out / "kg.jsonld"), format=ox.RdfFormat.JSON_LD)) == triples


def test_build_mentions_jsonl_is_sorted_json(seeds_build):
    lines = (seeds_build.out / "mentions.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines]
    assert rows == sorted(rows, key=lambda r: (r["doc"], r["start"], r["end"]))


def test_build_is_deterministic_across_runs_and_file_order(seeds_build, tmp_path):
    import shutil

    from kg.build import build

    shuffled = tmp_path / "in"
    shuffled.mkdir()
    for p in sorted(SEEDS.glob("*.txt"), reverse=True):  # created in the other order
        shutil.copy(p, shuffled / p.name)
    again = build(shuffled, tmp_path / "out", html=False, cache=False)
    for name in ("kg.ttl", "mentions.jsonl", "mentions.trig"):
        assert (again.out / name).read_bytes() == (seeds_build.out / name).read_bytes(), name


def test_build_new_node_iris_do_not_depend_on_other_files(seeds_mentions, tmp_path):
    import shutil

    from kg.build import build

    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(SEEDS / "001_5c50730ce092d865.txt", one)
    alone = build(one, tmp_path / "out", html=False, cache=False)
    rows = [json.loads(x) for x in (alone.out / "mentions.jsonl").read_text(encoding="utf-8").splitlines()]
    full = {(m["start"], m["end"]): m["entity"] for m in seeds_mentions if m["doc"] == "001_5c50730ce092d865"}
    assert rows and all(full[(r["start"], r["end"])] == r["entity"] for r in rows)


def test_build_of_a_page_without_entities_gives_valid_turtle(tmp_path):
    """No corpus-wide triple at all: kg.ttl still declares the prefixes its documents' parts use."""
    from kg.build import build

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("一", encoding="utf-8")
    report = build(tmp_path / "in", tmp_path / "out", cache=False, html=False)
    triples = list(ox.parse(path=str(report.out / "kg.ttl"), format=ox.RdfFormat.TURTLE))
    assert any(t.object.value == KGO + "Document" for t in triples)
    rdflib.Graph().parse(report.out / "kg.ttl", format="turtle")


def test_a_builds_outputs_read_as_the_list_of_paths_they_stand_for(tmp_path):
    from kg.build import Outputs
    from kg.html import path_order

    written = sorted(["kg.ttl", "articles/a-1.html", "entities/四平-2.html", "lists/articles-2.html", "documents.json"], key=path_order)
    paths = [tmp_path.joinpath(*path.split("/")) for path in written]
    outputs = Outputs(tmp_path, written)
    assert outputs == paths and list(outputs) == paths and len(outputs) == 5 and outputs != paths[:-1]
    assert [outputs[i] for i in range(-5, 0)] == paths and outputs[1:4] == paths[1:4] and outputs[::-2] == paths[::-2]
    assert paths[2] in outputs and outputs.index(paths[3]) == 3 and outputs == Outputs(tmp_path, written)
    assert Outputs(tmp_path, []) == [] and repr(outputs) == f"Outputs({str(tmp_path)!r}, 5 files)"
    with pytest.raises(IndexError):
        outputs[5]
    with pytest.raises(IndexError):
        outputs[-6]
    # path_order sorts relative paths as Paths sort: by their parts
    names = ["a-b/c", "a/c", "a", "a/b/c", "a.b", "lists-1.html", "lists/x.html", "index.html", ".pages.json", "assets/x.js"]
    assert [tmp_path / n for n in sorted(names, key=path_order)] == sorted(tmp_path / n for n in names)


def test_build_lists_its_outputs_and_retains_its_heap_when_asked(tmp_path):
    # the command line hands a build a list to keep its results and graph in (kg.cli._AT_EXIT): the
    # process exits at once without freeing them; a build's outputs are the files it wrote
    import networkx as nx

    from kg import cli
    from kg.build import Documents, Outputs, Spool, build
    from kg.errors import KGError
    from kg.graph import GraphBuilder, MentionIndex, SpilledAuthors

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    (corpus / seed.name).write_bytes(seed.read_bytes())
    kept: list = []
    report = build(corpus, tmp_path / "out", cache=False, retain=kept)
    assert any(isinstance(x, nx.MultiDiGraph) and x.number_of_nodes() for x in kept)
    # the results, a row a document (kg.build.Documents): its result is made when it is read
    (results,) = [x for x in kept if isinstance(x, Documents)]
    assert len(results) == 1 and results[0] is not results[0]
    # a document's IRIs are in the build's spool, not in its process: those its mentions denote,
    # and the mentions' index's record of those its articles' mentions do (its spool is closed now)
    (result,) = results
    (index,) = [x for x in kept if isinstance(x, MentionIndex)]
    assert isinstance(index.records, Spool) and len(index.at) == 2
    for read in (lambda: tuple(result.mentions.refs), lambda: index.named(result.doc.doc_id)):
        with pytest.raises(KGError, match="after its build had ended"):
            read()
    # its graph keeps who wrote each article in the spool too (kg.graph.SpilledAuthors), a record a document
    (builder,) = [x for x in kept if isinstance(x, GraphBuilder)]
    assert type(builder.authors) is SpilledAuthors and builder.authors._docs() == [result.doc.doc_id] and builder.authors.ids is results.ids
    with pytest.raises(KGError, match="after its build had ended"):
        dict(builder.authors)
    assert report.outputs == sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert isinstance(report.outputs, Outputs)  # made Paths when read
    assert cli.main(["build", str(corpus), "--out", str(tmp_path / "again"), "--no-cache", "--no-html"]) == 0
    assert cli._AT_EXIT == []  # a command run in-process frees what it kept as it returns
    # pages linked from the previous output and a build without pages list theirs as well
    (corpus / "b.txt").write_text("四平市铁西区召开会议。", encoding="utf-8")
    for html in (True, False):
        out = tmp_path / f"cached-{html}"
        for _ in range(2):
            report = build(corpus, out, html=html)
            assert report.outputs == sorted(p for p in out.rglob("*") if p.is_file())


def test_a_graph_fed_in_pieces_in_any_order_is_the_graph_built_at_once():
    """kg.graph.GraphBuilder, as a build feeds it: the cached documents as they are read, then the
    new ones as they are extracted; whatever the order and the pieces, the nodes and the edges, with
    their data, come in the order and with the values of `build_graph` over everything at once."""
    import random

    from kg.build import DEFAULT_ONTOLOGY, _extract
    from kg.corpus import doc_ids, list_inputs
    from kg.graph import GraphBuilder, build_graph
    from kg.ontology import load_ontology

    onto = load_ontology(DEFAULT_ONTOLOGY)
    paths = list_inputs(SEEDS)
    results = [r for _, r in _extract(paths, doc_ids(paths, SEEDS), DEFAULT_ONTOLOGY, None, jobs=1, dask=None)]
    whole = build_graph([r.doc for r in results], [m for r in results for m in r.mentions], [x for r in results for x in r.relations], onto)
    for seed in range(4):
        rng = random.Random(seed)
        order = rng.sample(results, len(results))
        builder = GraphBuilder(onto)
        cut = rng.randrange(1, len(order))
        for r in order[:cut]:  # a document's mentions and relations in any order too
            builder.add([r.doc], rng.sample(r.mentions, len(r.mentions)), rng.sample(r.relations, len(r.relations)))
        for r in order[cut:]:
            builder.add([r.doc], r.mentions, r.relations)
        g = builder.graph(release=seed % 2 == 1)  # a build lets go of the gathered facts: the same graph
        assert list(g.nodes(data=True)) == list(whole.nodes(data=True))
        assert list(g.edges(keys=True, data=True)) == list(whole.edges(keys=True, data=True))


def test_a_fact_read_more_than_once_has_each_range_once_the_highest_confidence_and_every_cue():
    """GraphBuilder gathers a fact's data as its relations come, keeping none of them: the edge's
    evidence is every range it was read from, sorted and each once, its count their number, its
    confidence the highest, its cues every non-empty one, sorted; a fact read once is that reading."""
    from kg.build import DEFAULT_ONTOLOGY
    from kg.graph import DocInfo, build_graph
    from kg.mention import Evidence, Mention, Relation
    from kg.ontology import load_ontology

    onto = load_ontology(DEFAULT_ONTOLOGY)
    place, programme = "https://w3id.org/kg/id/place/220302", "https://w3id.org/kg/id/programme/ankang-cup"
    ms = [Mention("d", 0, 3, "铁西区", "PLACE", place, 0, (0, 20)), Mention("d", 5, 8, "双报到", "PROGRAMME", programme, 0, (0, 20))]
    docs = [DocInfo("d", "铁西区开展双报到工作。" * 6, "utf-8", [(0, 0, 66, "铁西区开展双报到工作。", None)])]

    def run(at: tuple[int, int], confidence: float, cue: str) -> Relation:
        return Relation(place, "runsProgramme", programme, Evidence("d", *at), confidence, cue)

    twice = [run((22, 33), 0.6, "开展"), run((0, 11), 0.8, ""), run((22, 33), 0.7, "推进"), run((0, 11), 0.5, "开展")]
    once = [Relation(programme, "cooccursWith", place, Evidence("d", 11, 22), 0.5, "")]
    for rels in (twice + once, (twice + once)[::-1]):
        g = build_graph(docs, ms, rels, onto)
        data = g.get_edge_data(place, programme, key="runsProgramme")
        assert (data["evidence"], data["count"], data["confidence"], data["cues"]) == ([("d", 0, 11), ("d", 22, 33)], 2, 0.8, ["开展", "推进"])
        data = g.get_edge_data(programme, place, key="cooccursWith")
        assert (data["evidence"], data["count"], data["confidence"], data["cues"]) == ([("d", 11, 22)], 1, 0.5, [])


def test_a_builds_graph_keeps_the_entities_and_what_the_pages_show_of_each_facts_evidence():
    """A build's GraphBuilder(articles=False, evidence=k) leaves out the article level and, of each
    fact's evidence, which grows with the pages, keeps what they show: its first k ranges, and its
    first k ranges in an article with how many there are. Otherwise its graph is the whole one:
    nodes, edges and data, in order, whatever order the documents come in. Here the last article of
    each document is left out of its articles, so that some evidence is in none."""
    import random

    from kg.build import DEFAULT_ONTOLOGY, _extract
    from kg.corpus import doc_ids, list_inputs
    from kg.graph import ARTICLE, DocInfo, GraphBuilder, build_graph
    from kg.ontology import load_ontology

    onto = load_ontology(DEFAULT_ONTOLOGY)
    paths = list_inputs(SEEDS)
    results = [r for _, r in _extract(paths, doc_ids(paths, SEEDS), DEFAULT_ONTOLOGY, None, jobs=1, dask=None)]
    whole = build_graph([r.doc for r in results], [m for r in results for m in r.mentions], [x for r in results for x in r.relations], onto)
    docs = {r.doc.doc_id: DocInfo(r.doc.doc_id, r.doc.text, r.doc.encoding, r.doc.articles[:-1]) for r in results}

    def in_article(e: tuple[str, int, int]) -> bool:
        return any(start <= e[1] < max(end, start + 1) for _, start, end, *_ in docs[e[0]].articles)

    articles = {n for n, t in whole.nodes(data="type") if t == ARTICLE}
    for k, seed in ((1, 0), (3, 1)):
        order = random.Random(seed).sample(results, len(results))
        builder = GraphBuilder(onto, articles=False, evidence=k)
        for r in order:
            builder.add([docs[r.doc.doc_id]], r.mentions, r.relations)
        g = builder.graph(release=True)
        assert list(g.nodes(data=True)) == [(n, d) for n, d in whole.nodes(data=True) if n not in articles]
        want = []
        for u, v, key, d in whole.edges(keys=True, data=True):
            if u in articles:
                continue
            if d["source"] == "text":
                linked = [e for e in d["evidence"] if in_article(e)]
                d = {**d, "evidence": d["evidence"][:k], "linked": (tuple(linked[:k]), len(linked))}
            want.append((u, v, key, d))
        assert list(g.edges(keys=True, data=True)) == want
        shown = [d for *_, d in want if "linked" in d]
        assert any(d["count"] > k for d in shown) and any(d["linked"][1] < d["count"] for d in shown)  # cut, and some in no article


def test_a_build_tells_its_progress_through_the_global_stages(tmp_path):
    """After the files, a build's progress names the RDF stage, counts the pages up to all of them
    and names the self-check it waits for; on a terminal the pages' line is rewritten in place."""
    import io
    import shutil

    from kg.build import build
    from kg.progress import Progress

    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], corpus)
    stream = io.StringIO()
    report = build(corpus, tmp_path / "out", cache=False, progress=Progress(stream, live=False, every=0))
    lines = stream.getvalue().splitlines()
    pages = len([p for p in report.outputs if p.suffix == ".html"])
    files = [i for i, line in enumerate(lines) if line.startswith("files ")]
    rdf, check = lines.index("RDF: kg.ttl, mentions.trig, kg.jsonld, documents.json, mentions.jsonl …"), lines.index("self-check (SHACL) …")
    counted = [i for i, line in enumerate(lines) if line.startswith("pages ")]
    assert files[-1] < rdf < counted[0] and counted[-1] < check == len(lines) - 1
    assert lines[counted[-1]] == f"pages {pages}/{pages}"

    live = io.StringIO()
    progress = Progress(live, live=True)
    for done in (0, 1, 2):
        progress.pages(done, 2)  # at once: the middle one is not shown
    assert live.getvalue() == "\r\x1b[2Kpages 0/2\r\x1b[2Kpages 2/2\n"


@pytest.mark.parametrize("others", [{}, {"a": "铁西区"}])
def test_a_fact_on_a_place_no_mention_denotes_has_its_node_and_its_evidence(tmp_path, others):
    """A new body named with a known place (铁西区区委) serves that place, which no mention denotes
    where the fact is read. The graph holds the place with the fact, and the document that read it
    writes its evidence, whether another document mentions the place or not (a build where one
    did had the statement with no evidence, and failed its self-check: found by
    tests/test_hypothesis.py)."""
    from kg.build import build

    inputs = tmp_path / "in"
    inputs.mkdir()
    for stem, text in {"b": "铁西区铁西区区委", **others}.items():
        (inputs / f"{stem}.txt").write_text(text, encoding="utf-8")
    build(inputs, tmp_path / "out", html=False, cache=False, jobs=1)
    g = ox.Store()
    g.load(path=str(tmp_path / "out" / "kg.ttl"), format=ox.RdfFormat.TURTLE)
    rows = list(g.query(
        "PREFIX kgo: <https://w3id.org/kg/ontology#> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
        "SELECT ?org ?place ?ev WHERE { ?org kgo:servesPlace ?place . ?place a kgo:AdminDivision . "
        "?st rdf:subject ?org ; rdf:predicate kgo:servesPlace ; rdf:object ?place ; kgo:evidence ?ev }"
    ))
    assert [(r["place"].value, r["ev"].value) for r in rows] == [("https://w3id.org/kg/id/place/220302", "https://w3id.org/kg/id/doc/b#char=0,8")]
