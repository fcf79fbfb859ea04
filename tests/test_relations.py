"""Relations on a tiny ontology: the place of a new body is the one the linker would choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.link import Linker
from kg.mention import Span
from kg.ontology import KGR, load_ontology
from kg.relations import relations

from .test_link import _doc

TINY = Path(__file__).parent / "data" / "tiny_ontology"


@pytest.fixture(scope="module")
def onto(tmp_path_factory):
    return load_ontology(TINY, cache_dir=tmp_path_factory.mktemp("cache"))


def test_relations_new_body_serves_the_home_region_homonym(onto):
    # 铁西区 is both 四平市铁西区 and 鞍山市铁西区 (whose IRI sorts first); the corpus is about 四平市
    doc = _doc("近日,铁西区环卫站开展环境整治。")
    mentions = Linker(onto).link(doc, [Span(3, 9, "ORG")])
    served = [r.object for r in relations(doc, mentions, onto) if r.predicate == "servesPlace"]
    assert served == [f"{KGR}place/220302"]


def test_ontology_place_prefix_is_the_linkers_choice(onto):
    assert onto.place_prefix("铁西区环卫站").iri == f"{KGR}place/220302"
    assert onto.place_prefix("梨树县气象站").iri == f"{KGR}place/220322"
    assert onto.place_prefix("环卫站") is None


def test_an_articles_iri_reads_back_as_its_document_and_index():
    from kg.ontology import KGR
    from kg.relations import article_doc, article_iri

    for doc_id in ("a", "铁西 50%#1", "dir/sub/file", "x%2F/y"):
        assert article_doc(article_iri(doc_id, 12)) == (doc_id, "12")
    assert article_doc(f"{KGR}doc/a") is None and article_doc("urn:x") is None
