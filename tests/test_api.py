"""kg.load: one built folder as rdflib, networkx and pandas, all with the same IRIs."""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from rdflib import URIRef

import kg
from kg.api import KG, class_kinds
from kg.errors import QueryError

DATA = Path(__file__).parent / "data"
LD = DATA / "ld_out"
KGR = "https://w3id.org/kg/id/"


@pytest.fixture(scope="module")
def g() -> KG:
    return kg.load(LD)


def _graph_stage(out: Path):
    """Run the graph and RDF stages on the fixture page into `out` (tests/data/ld_make.py); the graph built."""
    spec = importlib.util.spec_from_file_location("ld_make", DATA / "ld_make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    return make.write(out)


def test_load_is_forwarded_from_package(g):
    assert isinstance(g, KG) and g.folder == LD
    assert "entities" in repr(g)


def test_load_default_folder_from_kg_output(monkeypatch):
    monkeypatch.setenv("KG_OUTPUT", str(LD))
    assert kg.load().folder == LD


def test_load_missing_folder_says_build_first(tmp_path):
    with pytest.raises(QueryError, match="build it first"):
        kg.load(tmp_path)


def test_api_rdf_and_dataset(g):
    assert (URIRef(KGR + "programme/shuangbaodao"), None, None) in g.rdf
    names = {str(c.identifier) for c in g.dataset.graphs()}
    assert KGR + "article/ld_doc/0" in names and KGR + "article/ld_doc/1" in names
    assert len(g.dataset) > len(g.rdf)  # the union default graph adds the mentions


def test_api_nx_has_the_rdf_iris_as_node_ids(g):
    subjects = {str(s) for s in g.rdf.subjects() if isinstance(s, URIRef)}
    assert set(g.nx.nodes) <= subjects
    assert set(g.nx.nodes) == set(g.entities["iri"]) | set(g.articles["iri"])


def test_api_nx_equals_the_graph_stage(tmp_path):
    # read back from the RDF, the graph has the nodes and keyed edges the pipeline built
    built = _graph_stage(tmp_path)
    read = kg.load(tmp_path).nx
    assert set(read.nodes) == set(built.nodes)
    assert set(read.edges(keys=True)) == set(built.edges(keys=True))
    for s, o, key, data in built.edges(keys=True, data=True):
        got = read.edges[s, o, key]
        assert got["evidence"] == data["evidence"], (s, key, o)
        assert got["confidence"] == pytest.approx(data["confidence"])
    for node, data in built.nodes(data=True):
        assert read.nodes[node]["type"] == data["type"]
        assert read.nodes[node]["label"] == data["label"]


def test_api_entities_table(g):
    e = g.entities.set_index("iri")
    row = e.loc[KGR + "programme/shuangbaodao"]
    assert (row["label"], row["kind"], row["class"], row["mentions"]) == ("双报到", "PROGRAMME", "Programme", 3)
    assert e.loc[KGR + "place/220302-t01-v001", "level"] == 5
    assert e.loc[KGR + "org/tiexi-quwei", "aliases"] == ["铁西区委"]
    assert set(g.entities["kind"]) == {"PERSON", "ORG", "PLACE", "PROGRAMME", "POLICY"}


def test_api_mentions_table(g):
    m = g.mentions
    assert list(m.columns[:7]) == ["article", "doc", "start", "end", "text", "entity", "label"]
    row = m[m["text"] == "孙晓楠"].iloc[0]
    assert (row["start"], row["end"], row["label"], row["doc"]) == (16, 19, "PERSON", "ld_doc")
    assert row["sentence"].endswith("本报记者 孙晓楠")
    text = (DATA / "ld_doc.txt").read_text(encoding="utf-8")
    assert all(text[s:e] == t for s, e, t in zip(m["start"], m["end"], m["text"]))


def test_api_relations_table_reads_confidence_and_evidence(g):
    r = g.relations
    issued = r[r["predicate"] == "issuedPolicy"].iloc[0]
    assert issued["subject_label"] == "中共四平市铁西区委社会工作部"
    assert issued["object_label"] == "破解基层治理“小马拉大车”突出问题任务清单"
    assert issued["confidence"] == pytest.approx(0.85) and issued["cues"] == ["印发"]
    assert issued["sentence"].startswith("铁西区委社会工作部印发") and issued["source"] == "text"
    curated = r[(r["source"] == "ontology")]
    assert not curated.empty and curated["confidence"].isna().all()
    assert "mentions" not in set(r["predicate"])


def test_api_query_returns_a_dataframe_with_bound_values(g):
    df = g.query("communities-in-place", place="铁西区")
    assert isinstance(df, pd.DataFrame) and df["communityName"].tolist() == ["东煤社区"]
    pd.testing.assert_frame_equal(df, g.query("communities-in-place", place="铁西区", engine="rdflib"))
    assert g.query("communities-in-place", place='铁西区" } #').empty


def test_api_class_kinds_follow_subclasses():
    kinds = class_kinds()
    kgo = "https://w3id.org/kg/ontology#"
    assert kinds[kgo + "AdminDivision"] == kinds[kgo + "Site"] == "PLACE"
    assert kinds[kgo + "Organisation"] == "ORG"


def test_api_seeds_build(seeds_build):
    g = kg.load(seeds_build.out)
    assert "双报到" in set(g.entities["label"])
    assert {"runsProgramme", "issuedPolicy", "author"} <= set(g.relations["predicate"])
    assert set(g.nx.nodes) == set(g.entities["iri"]) | set(g.articles["iri"])
    assert len(g.mentions) == len((seeds_build.out / "mentions.jsonl").read_text(encoding="utf-8").splitlines())


def test_api_interactive_view_is_offline(g):
    def shows(page: str, name: str) -> bool:
        return json.dumps(name)[1:-1] in html.unescape(page)  # pyvis writes labels as JSON escapes

    page = g.interactive().data
    assert page.startswith("<div><iframe srcdoc=") and "vis.Network" in page and shows(page, "双报到")
    assert not re.search(r"(?:src|href)=&quot;https?://", page), "the view must not fetch anything from the web"
    chosen = g.interactive([KGR + "programme/shuangbaodao", KGR + "place/220302"]).data
    assert shows(chosen, "双报到") and not shows(chosen, "红心物业")
