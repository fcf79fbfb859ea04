"""The linker on a tiny ontology: context, chains, relative names, aliases and new names."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.corpus import Document, split_articles
from kg.link import Linker
from kg.mention import Span
from kg.ontology import KGR, load_ontology

TINY = Path(__file__).parent / "data" / "tiny_ontology"


@pytest.fixture(scope="module")
def linker(tmp_path_factory):
    return Linker(load_ontology(TINY, cache_dir=tmp_path_factory.mktemp("cache")))


def _doc(text: str, doc_id: str = "d") -> Document:
    return Document(doc_id, Path(f"{doc_id}.txt"), text, "utf-8", split_articles(text))


def _spans(text: str, *items: tuple[str, str], start: int = 0) -> list[Span]:
    """Spans for the given (surface, label) pairs, found left to right."""
    out, pos = [], start
    for surface, label in items:
        i = text.index(surface, pos)
        out.append(Span(i, i + len(surface), label))
        pos = i + len(surface)
    return out


def _iris(linker, text, *items):
    doc = _doc(text)
    return [m.iri for m in linker.link(doc, _spans(text, *items))]


def place(code: str) -> str:
    return f"{KGR}place/{code}"


def test_linker_reads_an_admin_chain_level_by_level(linker):
    text = "近日,铁西区站前街道东煤社区开展环境整治。"
    assert _iris(linker, text, ("铁西区", "PLACE"), ("站前街道", "PLACE"), ("东煤社区", "PLACE")) == [
        place("220302"), place("220302-t01"), place("220302-t01-v001"),
    ]


def test_linker_prefers_the_home_region_for_a_homonym(linker):
    assert _iris(linker, "铁西区召开会议。", ("铁西区", "PLACE")) == [place("220302")]
    assert _iris(linker, "铁西扎实推进工作。", ("铁西", "PLACE")) == [place("220302")]


def test_linker_resolves_bare_committee_by_the_article_district(linker):
    west = "扎实工作 服务群众\n\n——铁西区委社会工作部工作综述\n\n通讯员 张三\n\n在区委的领导下,区委社工部牵头抓总。"
    east = "务实担当 再创佳绩\n\n——铁东区召开推进会\n\n本报讯(通讯员 李四)铁东区召开会议,区委政府主要领导出席。"
    w = _iris(linker, west, ("铁西区委社会工作部", "ORG"), ("区委", "ORG"), ("区委社工部", "ORG"))
    e = _iris(linker, east, ("铁东区", "PLACE"), ("铁东区", "PLACE"), ("区委", "ORG"), ("政府", "ORG"))
    assert w == [f"{KGR}org/sp-tx-cpc-social", f"{KGR}org/sp-tx-cpc", f"{KGR}org/sp-tx-cpc-social"]
    assert e[2:] == [f"{KGR}org/sp-td-cpc", f"{KGR}org/sp-td-gov"]


def test_linker_reads_county_prefixes_and_short_place_names(linker):
    text = "强化民主监督\n\n梨树县政协召开调度会\n\n本报讯(通讯员 王五)近日,县政协召开会议,政协委员参加。梨树气象局参与。"
    iris = _iris(linker, text, ("梨树县政协", "ORG"), ("县政协", "ORG"), ("政协", "ORG"), ("梨树气象局", "ORG"))
    assert iris == [f"{KGR}org/ls-cppcc"] * 3 + [f"{KGR}org/ls-weather"]


def test_linker_maps_list_forms_to_one_programme(linker):
    text = "开展“双报到、双服务、双评价、双考核”活动,深化“双报到”工作。"
    iris = _iris(linker, text, ("双报到、双服务、双评价、双考核", "PROGRAMME"), ("双报到", "PROGRAMME"))
    assert iris == [f"{KGR}programme/shuangbaodao"] * 2


def test_linker_new_names_share_a_node_in_one_scope_and_not_across(linker):
    west = "铁西区站前街道幸福社区开展活动。幸福社区居民参加。"
    east = "铁东区北门街道幸福社区开展活动。"
    w = _iris(linker, west, ("铁西区", "PLACE"), ("站前街道", "PLACE"), ("幸福社区", "PLACE"), ("幸福社区", "PLACE"))
    e = _iris(linker, east, ("铁东区", "PLACE"), ("北门街道", "PLACE"), ("幸福社区", "PLACE"))
    assert w[2] == w[3] and w[2].startswith(f"{KGR}new/place/")
    assert e[2] != w[2]


def test_linker_homonym_communities_follow_their_street(linker):
    text = "铁东区北门街道和平社区、铁西区站前街道和平社区联合开展活动。"
    iris = _iris(linker, text, ("铁东区", "PLACE"), ("北门街道", "PLACE"), ("和平社区", "PLACE"),
                 ("铁西区", "PLACE"), ("站前街道", "PLACE"), ("和平社区", "PLACE"))
    assert iris[2] == place("220303-t01-v001") and iris[5] == place("220302-t01-v002")


def test_linker_short_form_points_back_to_a_name_in_the_article(linker):
    text = "铁东区法律援助中心工作人员到场讲解。法律援助中心还发放了资料。"
    iris = _iris(linker, text, ("铁东区法律援助中心", "ORG"), ("法律援助中心", "ORG"))
    assert iris[0] == iris[1] and iris[0].startswith(f"{KGR}new/org/")


def test_linker_new_iris_do_not_depend_on_file_order(linker):
    a = _doc("通讯员 刘洋 摄", "a")
    b = _doc("本报讯(通讯员 刘洋)近日召开会议。", "b")
    ia = linker.link(a, [Span(4, 6, "PERSON")])[0].iri
    ib = linker.link(b, [Span(8, 10, "PERSON")])[0].iri
    assert ia == ib


def test_linker_scope_counts_the_place_of_a_name_with_no_node(linker):
    # the headline names 梨树县 only inside a body the ontology does not know; 政协 is that county's
    text = "履职尽责 服务群众\n\n梨树县政协文史委员会开展调研\n\n本报讯(通讯员 王五)近日,铁东区、铁西区代表参加,政协委员建言献策。"
    iris = _iris(linker, text, ("梨树县政协文史委员会", "ORG"), ("铁东区", "PLACE"), ("铁西区", "PLACE"), ("政协", "ORG"))
    assert iris[3] == f"{KGR}org/ls-cppcc"
