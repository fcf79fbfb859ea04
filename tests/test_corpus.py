from __future__ import annotations

import codecs

import pytest

from kg.corpus import NerView, decode, read_document, sentences, split_articles
from kg.errors import InputError

from .conftest import SEEDS

PAGE = (
    "\n\n守护一方平安 服务群众生活\n\n——梨树县喇嘛甸镇推进平安建设记事\n\n本报通讯员 刘洋\n\n"
    "喇嘛甸镇坚持党建引领,深入开展“平安村屯”创建活动,各村党支部书记带头走访群众,收集问题建议三十余条并逐一\n\n"
    "解决。\n\n"
    "聚焦民生 办好实事\n\n双辽市王奔镇开展冬季送温暖活动\n\n本报讯(通讯员 赵明 钱亮)近日,王奔镇组织志愿者走访慰问困难群众。\n\n"
    "近日,伊通满族自治县景台镇举办农民丰收节文艺演出,群众载歌载舞庆丰收。\n\n本报通讯员 孙立 摄"
)


def test_split_articles_finds_headlines_bylines_and_captions():
    arts = split_articles(PAGE)
    assert [a.title(PAGE) for a in arts][:2] == [
        "守护一方平安 服务群众生活 ——梨树县喇嘛甸镇推进平安建设记事",
        "聚焦民生 办好实事 双辽市王奔镇开展冬季送温暖活动",
    ]
    bylines = [PAGE[a.byline[0] : a.byline[1]] for a in arts]
    assert bylines == ["本报通讯员 刘洋", "本报讯(通讯员 赵明 钱亮)", "本报通讯员 孙立 摄"]
    assert arts[0].start == 0 and arts[-1].end == len(PAGE)
    assert all(a.end == b.start for a, b in zip(arts, arts[1:]))


def test_ner_view_joins_a_break_inside_a_sentence_and_maps_back():
    view = NerView(PAGE)
    assert "逐一解决" in view.text
    i = view.text.index("逐一解决")
    start, end = view.span(i, i + 4)
    assert PAGE[start:end] == "逐一\n\n解决"


def test_ner_view_keeps_breaks_after_headlines_and_sentences():
    view = NerView(PAGE)
    assert "服务群众生活\n\n——梨树县" in view.text
    assert "解决。\n\n聚焦民生" in view.text


def test_sentences_cover_a_sentence_cut_by_a_page_line():
    spans = sentences(PAGE)
    texts = [PAGE[s:e] for s, e in spans]
    assert any(t.startswith("喇嘛甸镇坚持党建引领") and t.endswith("解决。") for t in texts)


def test_seed_articles_have_bylines():
    doc = read_document(SEEDS / "000_dda3cfb5fbd78439.txt")
    bylines = [doc.text[a.byline[0] : a.byline[1]] for a in doc.articles if a.byline]
    assert "通讯员 孙晓楠" in bylines and "本报(通讯员 于德涛)" in bylines
    assert len(doc.articles) == 7


@pytest.mark.parametrize(
    "raw, encoding",
    [
        ("铁西区".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "铁西区".encode(), "utf-8-sig"),
        ("铁西区".encode("gb18030"), "gb18030"),
        ("铁西区".encode("utf-16"), "utf-16"),
        ("铁西区社区".encode("utf-16-le"), "utf-16-le"),
    ],
)
def test_decode_reads_common_chinese_encodings(raw, encoding, tmp_path):
    text, used = decode(raw, tmp_path / "x.txt")
    assert text.lstrip("\ufeff") in ("铁西区", "铁西区社区") and used == encoding


def test_decode_refuses_binary_with_the_file_name(tmp_path):
    with pytest.raises(InputError, match="bin.txt.*binary"):
        decode(bytes(range(256)) * 4, tmp_path / "bin.txt")


def test_binary_sniffing_counts_exactly_the_control_characters_but_whitespace():
    # kg.corpus._CONTROLS stands for Unicode's category Cc, without \t \n \v \f \r
    import sys
    import unicodedata

    from kg.corpus import _CONTROLS

    for i in range(sys.maxunicode + 1):
        ch = chr(i)
        expected = unicodedata.category(ch) == "Cc" and ch not in "\r\n\t\f\v"
        assert bool(_CONTROLS.fullmatch(ch)) == expected, hex(i)


def test_corpus_doctests_hold():
    import doctest

    import kg.corpus

    assert doctest.testmod(kg.corpus).failed == 0


def test_ner_view_reads_traditional_as_simplified_with_offsets_kept():
    text = "鐵西區站前街道東煤社區開展活動。"
    view = NerView(text)
    assert view.text == "铁西区站前街道东煤社区开展活动。" and len(view.text) == len(text)


def test_an_id_of_iri_characters_goes_into_an_iri_as_it_is_and_any_other_is_encoded_as_before():
    """kg.corpus.iri_path: an ID the IRI grammar allows is returned as it is (a pattern of those
    characters), any other is encoded a character at a time, the same either way."""
    import itertools

    from kg.corpus import _encoded, iri_path

    alphabet = "aZ09-._~!$&'()*+,;=:@/ %#<>\"{}|\\^`?[]\n\x00\x7f\xa0铁西区\ud7ff\uf900\ufdd0\ufdef\ufff0\ufffd\uffff\U00010000\U0001fffe\U000efffd\U000f0000"
    for n in range(3):
        for chars in itertools.product(alphabet, repeat=n):
            doc_id = "".join(chars)
            assert iri_path(doc_id) == _encoded.__wrapped__(doc_id), repr(doc_id)
    assert iri_path("x200/0001-东煤社区") == "x200/0001-东煤社区" and iri_path("铁西区 50%#1") == "铁西区%2050%25%231"
