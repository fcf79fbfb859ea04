"""The embedded store (pyoxigraph on disk) and `kg push` into a real Oxigraph server over HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main
from kg.errors import QueryError
from kg.store import LATEST_GRAPH, StoreError, build_graph_iri, dump, load_store, push, query_store

EX = "https://w3id.org/kg/id/"
TTL = f"""@prefix kgo: <https://w3id.org/kg/ontology#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<{EX}place/220302> a kgo:Place ; skos:prefLabel "铁西区"@zh ; kgo:adminLevel 3 .
<{EX}org/tiexi-minzheng> a kgo:Organisation ; skos:prefLabel "铁西区民政局"@zh ;
    kgo:servesPlace <{EX}place/220302> .
"""
TRIG = f"""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
<{EX}article/a/0> {{ <{EX}doc/a#char=0,3> a nif:Phrase ; nif:anchorOf "铁西区" . }}
<{EX}article/a/1> {{ <{EX}doc/a#char=9,15> a nif:Phrase ; nif:anchorOf "铁西区民政局" . }}
"""


@pytest.fixture
def tiny_out(tmp_path) -> Path:
    """An output folder as a build leaves it, with 6 triples in kg.ttl and 4 mention quads."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text(TTL, encoding="utf-8")
    (out / "mentions.trig").write_text(TRIG, encoding="utf-8")
    return out


def triples_of(path: Path) -> set[ox.Triple]:
    return {q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)}


# ---------------------------------------------------------------------------------------------
# load_store, dump, query_store


def test_load_store_holds_kg_and_mentions(tiny_out):
    store = load_store(tiny_out)
    assert len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))) == 6
    assert {g.value for g in store.named_graphs()} == {f"{EX}article/a/0", f"{EX}article/a/1"}
    assert len(store) == 6 + 4
    assert (tiny_out / "store").is_dir()


def test_load_store_reused_while_outputs_unchanged(tiny_out):
    del_store = load_store(tiny_out)
    del del_store
    stamp = tiny_out / "store" / "source.json"
    before = stamp.stat().st_mtime_ns
    store = load_store(tiny_out)
    assert stamp.stat().st_mtime_ns == before
    assert len(store) == 10


def test_load_store_reloads_changed_build(tiny_out):
    store = load_store(tiny_out)
    del store
    (tiny_out / "kg.ttl").write_text(TTL + f'<{EX}place/220302> skos:altLabel "铁西"@zh .\n', encoding="utf-8")
    store = load_store(tiny_out)
    assert len(store) == 11
    assert [p.name for p in tiny_out.glob(".store.*")] == [".store.lock"]  # no temporary folders left


def test_load_store_read_only_twice(tiny_out):
    del_store = load_store(tiny_out)
    del del_store
    a = load_store(tiny_out, read_only=True)
    b = load_store(tiny_out, read_only=True)
    assert len(a) == len(b) == 10


def test_load_store_given_path(tiny_out, tmp_path):
    store = load_store(tiny_out, path=tmp_path / "elsewhere")
    assert len(store) == 10
    assert not (tiny_out / "store").exists()


def test_load_store_without_build(tmp_path):
    with pytest.raises(StoreError, match="no kg.ttl.*kg build"):
        load_store(tmp_path)


def test_load_store_broken_turtle(tiny_out):
    (tiny_out / "kg.ttl").write_text("<a> <b> .", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot be parsed"):
        load_store(tiny_out)


@pytest.mark.parametrize("suffix, count", [(".nt", 6), (".ttl", 6), (".nq", 10), (".trig", 10)])
def test_dump_by_suffix(tiny_out, tmp_path, suffix, count):
    path = dump(load_store(tiny_out), tmp_path / f"export{suffix}")
    quads = list(ox.parse(path=str(path)))
    assert len(quads) == count
    if count == 6:
        assert {q.triple for q in quads} == triples_of(tiny_out / "kg.ttl")


def test_dump_unknown_format(tiny_out, tmp_path):
    with pytest.raises(StoreError, match=r"\.nq, \.nt, \.trig, \.ttl"):
        dump(load_store(tiny_out), tmp_path / "export.xml")


def test_query_store_select_with_bindings(tiny_out):
    from kg.rdf import PREFIXES

    store = load_store(tiny_out)
    q = "SELECT ?s WHERE { ?s skos:prefLabel ?name }"
    rows = list(query_store(store, q, {"name": ox.Literal("铁西区", language="zh")}, prefixes=PREFIXES))
    assert [r["s"].value for r in rows] == [f"{EX}place/220302"]


def test_query_store_rdflib_and_python_bindings(tiny_out):
    from rdflib import Literal, URIRef

    store = load_store(tiny_out)
    q = "PREFIX kgo: <https://w3id.org/kg/ontology#> ASK { ?s kgo:adminLevel ?level }"
    assert bool(query_store(store, q, {"s": URIRef(f"{EX}place/220302"), "level": 3}))
    assert not bool(query_store(store, q, {"s": URIRef(f"{EX}place/220302"), "level": Literal(4)}))


def test_query_store_union_sees_mentions(tiny_out):
    store = load_store(tiny_out)
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert int(next(iter(query_store(store, q)))["n"].value) == 10
    assert int(next(iter(query_store(store, q, union=False)))["n"].value) == 6


def test_query_store_bad_query(tiny_out):
    with pytest.raises(QueryError, match="cannot be parsed"):
        query_store(load_store(tiny_out), "SELECT WHERE {")


def test_cli_store_dump(tiny_out, tmp_path, capsys):
    assert main(["store", str(tiny_out), "--dump", str(tmp_path / "all.nq")]) == 0
    assert "10 quads, 2 named graphs" in capsys.readouterr().out
    assert len(list(ox.parse(path=str(tmp_path / "all.nq")))) == 10


# ---------------------------------------------------------------------------------------------
# A real Oxigraph server, started here on a free loopback port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def oxigraph_server(tmp_path):
    """`oxigraph serve` (the PyPI package `oxigraph`) with a temporary data folder: its base URL."""
    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if binary is None:
        pytest.fail("the Oxigraph server is missing: pip install oxigraph (the test extra installs it)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "serve", "--location", str(tmp_path / "oxigraph-data"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"oxigraph serve did not start: {proc.stderr.read().decode(errors='replace')}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def sparql(url: str, query: str, accept: str = "application/sparql-results+json") -> bytes:
    """The SPARQL 1.1 protocol: a query POSTed to the server's query endpoint."""
    request = urllib.request.Request(
        f"{url}/query",
        data=query.encode(),
        method="POST",
        headers={"Content-Type": "application/sparql-query", "Accept": accept},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def remote_count(url: str, graph: str) -> int:
    rows = json.loads(sparql(url, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"))
    return int(rows["results"]["bindings"][0]["n"]["value"])


def remote_triples(url: str, graph: str) -> set[ox.Triple]:
    data = sparql(url, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", "application/n-triples")
    return {q.triple for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)}


def remote_ask(url: str, graph: str, t: ox.Triple) -> bool:
    nt = ox.serialize([t], format=ox.RdfFormat.N_TRIPLES).decode().strip().removesuffix(".")
    return json.loads(sparql(url, f"ASK {{ GRAPH <{graph}> {{ {nt} }} }}"))["boolean"]


def test_push_seeds_build_into_oxigraph(seeds_build, oxigraph_server):
    out = seeds_build.out
    local = triples_of(out / "kg.ttl")
    report = push(out, f"{oxigraph_server}/store")
    graph = build_graph_iri(out)
    assert report.graphs == (graph, LATEST_GRAPH)
    assert remote_count(oxigraph_server, graph) == len(local)
    ordered = sorted(local, key=str)
    for t in (ordered[0], ordered[len(ordered) // 2], ordered[-1]):
        assert remote_ask(oxigraph_server, graph, t)
    assert remote_triples(oxigraph_server, graph) == local
    assert remote_triples(oxigraph_server, LATEST_GRAPH) == local


def test_push_twice_replaces(tiny_out, oxigraph_server):
    endpoint = f"{oxigraph_server}/store"
    push(tiny_out, endpoint, graph="https://example.org/g")
    push(tiny_out, endpoint, graph="https://example.org/g")
    assert remote_count(oxigraph_server, "https://example.org/g") == 6
    assert remote_count(oxigraph_server, LATEST_GRAPH) == 6
    # a smaller build pushed to the same graph replaces it whole, and the alias with it
    (tiny_out / "kg.ttl").write_text(TTL.split(f"<{EX}org/")[0], encoding="utf-8")
    push(tiny_out, endpoint, graph="https://example.org/g")
    assert remote_count(oxigraph_server, "https://example.org/g") == 3
    assert remote_count(oxigraph_server, LATEST_GRAPH) == 3


def test_push_graph_per_build_keeps_others(tiny_out, oxigraph_server):
    endpoint = f"{oxigraph_server}/store"
    first = build_graph_iri(tiny_out)
    push(tiny_out, endpoint, alias=None)
    (tiny_out / "kg.ttl").write_text(TTL.split(f"<{EX}org/")[0], encoding="utf-8")
    second = build_graph_iri(tiny_out)
    push(tiny_out, endpoint, alias=None)
    assert first != second
    assert remote_count(oxigraph_server, first) == 6
    assert remote_count(oxigraph_server, second) == 3
    assert remote_count(oxigraph_server, LATEST_GRAPH) == 0


def test_cli_push(tiny_out, oxigraph_server, capsys):
    assert main(["push", str(tiny_out), "--endpoint", f"{oxigraph_server}/store", "--no-alias"]) == 0
    assert f"<{build_graph_iri(tiny_out)}>" in capsys.readouterr().out
    assert remote_count(oxigraph_server, LATEST_GRAPH) == 0


def test_push_http_error_status(tiny_out, oxigraph_server):
    with pytest.raises(StoreError, match="HTTP 404"):
        push(tiny_out, f"{oxigraph_server}/no-such-endpoint")


def test_push_unreachable_endpoint(tiny_out):
    with pytest.raises(StoreError, match="cannot reach the endpoint"):
        push(tiny_out, f"http://127.0.0.1:{_free_port()}/store", timeout=5)


@pytest.mark.parametrize("endpoint", ["localhost:7878/store", "ftp://localhost/store", "store"])
def test_push_not_an_http_url(tiny_out, endpoint):
    with pytest.raises(StoreError, match="not an http"):
        push(tiny_out, endpoint)


def test_push_bad_graph_iri(tiny_out):
    with pytest.raises(StoreError, match="not an IRI"):
        push(tiny_out, "http://127.0.0.1:1/store", graph="a graph")


def test_cli_push_error_is_one_line(tmp_path, capsys):
    assert main(["push", str(tmp_path), "--endpoint", "http://127.0.0.1:1/store"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kg: error:") and "kg build" in err and "Traceback" not in err


def test_graph_url_keeps_existing_query():
    from kg.store import graph_url

    assert graph_url("http://h/store", "https://w3id.org/kg/graph/latest") == (
        "http://h/store?graph=" + urllib.parse.quote("https://w3id.org/kg/graph/latest", safe="")
    )
    assert graph_url("http://h/ds?x=1", "g").startswith("http://h/ds?x=1&graph=")
