"""A document's parts of kg.ttl, kg.jsonld and mentions.trig, written as text (`document_parts`),
are the bytes pyoxigraph's writer gives for its terms (`terms_parts`): for hostile doc ids, texts,
labels, anchors, cues and IRIs, under several base IRIs, and with the same error where the terms
cannot be made."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg import rdf
from kg.graph import DocInfo
from kg.mention import LABELS, Evidence, Mention, Relation
from kg.ontology import KGR, SCHEMA
from kg.relations import article_iri

# quotes, backslashes, line ends, tabs, control characters, non-BMP and Traditional characters,
# IRI delimiters and the characters a Turtle local name must escape, or cannot hold at all
HOSTILE = [
    '"', "'", "\\", "\\n", "\n", "\r\n", "\r", "\t", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
    "\x85", "\u2028", "\ufeff", "\ufffd", "\ufffe", "\uffff", "\U0010ffff", "😀", "𠮷", "<", ">", "<>", "#", "%", "%20", " ", "\u3000", "—", "×", "·",
    ".", "..", "-", "_", "~", "/", ":", "@", "(", ")", ",", ";", "=", "&", "!", "$", "*", "+", "?", "[", "]", "{", "|",
    "^", "`", "臺灣", "鐵西區", "铁西区", "本报讯(通讯员 王明)", "“双报到”", "a", "Z", "0", "9", "\u0300", "\u203f", "é",
]
hostile = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=("Cs",)), max_size=3)), max_size=12
).map("".join)
# doc ids are file stems or relative paths (kg.corpus.doc_ids)
doc_ids = st.one_of(hostile, st.lists(hostile, min_size=2, max_size=3).map("/".join)).filter(bool)
ENTITIES = [
    KGR + "org/220303-party-org", KGR + "new/person/f8024262026a8188", KGR + "place/國/臺灣", KGR + "x.", KGR + "x..y",
    KGR + "-x", KGR + ".x", KGR + "_x", KGR + "", KGR + "·x", KGR + "x—y", KGR + "p%20q", KGR + "(a)!$&'*+,;=?@~",
    KGR + "😀", KGR + "a:b", KGR + "x#y", "https://example.org/other#x", SCHEMA + "Thing", "urn:x:y",
]
BASES = [None, KGR, "https://example.org/id/", "http://www.w3.org/", "https://schema.org/x/", "urn:kg:", "https://example.org/a#"]
INVALID = KGR + "a b"  # an IRI pyoxigraph refuses: both ways raise ValueError


@st.composite
def documents(draw):
    doc_id = draw(doc_ids)
    text = draw(st.lists(st.one_of(hostile, st.sampled_from(HOSTILE)), max_size=30).map("".join))
    n = len(text)
    offset = st.integers(0, n + 2)
    articles = [
        (draw(st.integers(0, 3)), draw(offset), draw(offset), draw(hostile), draw(st.none() | st.tuples(offset, offset)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    doc = DocInfo(doc_id, text, draw(st.sampled_from(["utf-8", "gb18030", "utf-16", "x\"\\\n"])), articles)
    other = draw(doc_ids)
    mention_doc = st.sampled_from([doc_id, doc_id, doc_id, other])
    iris = st.one_of(st.sampled_from(ENTITIES), hostile.map(lambda s: KGR + "org/" + rdf.iri_path(s)), st.just(INVALID))
    iris = iris if draw(st.integers(0, 9)) == 0 else iris.filter(lambda iri: iri != INVALID)
    mentions = [
        Mention(
            draw(mention_doc), start, end, draw(st.one_of(hostile, st.just(text[start:end]))), draw(st.sampled_from(LABELS)), draw(iris),
            draw(st.integers(0, 3)), (draw(offset), draw(offset)),
        )
        for start, end in draw(st.lists(st.tuples(offset, offset), max_size=8))
    ]
    nodes = [m.iri for m in mentions] + [article_iri(doc_id, a[0]) for a in articles] + ENTITIES[:2]
    relations = [
        Relation(
            draw(st.sampled_from(nodes)), draw(st.sampled_from(sorted(rdf.PREDICATE_IRI))), draw(st.sampled_from(nodes)),
            Evidence(draw(mention_doc), draw(offset), draw(offset)), draw(st.floats(0, 1)), draw(st.one_of(st.just(""), hostile)),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    return doc, mentions, relations


def outcome(make):
    """The parts made, or the type of the error raised."""
    try:
        parts = make()
    except Exception as err:  # noqa: BLE001 - the two ways must fail alike
        return type(err)
    return parts.ttl, parts.jsonld, parts.trig


@settings(max_examples=300, deadline=None)
@given(documents(), st.sampled_from(BASES))
def test_document_parts_text_equals_pyoxigraph_serialisation(inputs, base):
    doc, mentions, relations = inputs
    expected = outcome(lambda: rdf.terms_parts(doc, mentions, relations, base=base))
    assert outcome(lambda: rdf.document_parts(doc, mentions, relations, base=base)) == expected
    if not isinstance(expected, type):
        assert rdf.document_trig(mentions, doc, base=base) == expected[2]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(
    "doc_id", ["000_dda3cfb5fbd78439_r0030", "臺灣 50%#1/a.b-", "a/b.", ".-x", "x\"y\\z\n\t", "😀𠮷—×·", "<a>|{b}^`[c]"]
)
def test_document_parts_text_equals_pyoxigraph_for_hostile_doc_ids(doc_id, base):
    text = 'He said "本报讯"\\ \n\t\x01\r\n臺灣😀 <a>#1'
    doc = DocInfo(doc_id, text, "utf-8", [(0, 0, 10, 'title "x"\\\x02\n😀', (2, 4)), (1, 10, len(text), "鐵西區", None)])
    mentions = [
        Mention(doc_id, 3, 7, text[3:7], "ORG", ENTITIES[0], 0, (0, 12)),
        Mention(doc_id, 0, 12, text[0:12], "PERSON", ENTITIES[3], 0, (0, 12)),  # a mention that is its whole sentence
        Mention(doc_id, 13, 15, "臺灣", "PLACE", ENTITIES[10], 1, (12, len(text))),
    ]
    relations = [
        Relation(article_iri(doc_id, 0), "author", ENTITIES[3], Evidence(doc_id, 2, 4), 0.95, '摄"\\'),
        Relation(article_iri(doc_id, 0), "mentions", ENTITIES[0], Evidence(doc_id, 3, 7), 1.0),
        Relation(ENTITIES[0], "containedInPlace", ENTITIES[10], Evidence(doc_id, 0, 12), 0.8, "位于"),
    ]
    expected = outcome(lambda: rdf.terms_parts(doc, mentions, relations, base=base))
    assert outcome(lambda: rdf.document_parts(doc, mentions, relations, base=base)) == expected
    assert base != "https://example.org/a#" or expected is ValueError  # a second '#' in the ranges' IRIs


def test_turtle_iri_of_every_code_point_as_pyoxigraph_writes_it():
    """Each character first, inside and last in a local name (beyond the BMP, a sample and the
    ends of the ranges), and a literal holding every character."""
    w = rdf._writer(None)
    astral = [*range(0x10000, 0x110000, 0x101), *(p << 16 | low for p in range(1, 17) for low in (0, 0xFFFD, 0xFFFE, 0xFFFF))]
    chars = [chr(c) for c in [*range(0xD800), *range(0xE000, 0x10000), *astral]]
    iris = [KGR + local for c in chars for local in (c, f"a{c}b", f"a{c}")]
    valid = []
    for iri in iris:
        try:
            ox.NamedNode(iri)
        except ValueError:
            with pytest.raises(ValueError):
                w.iri(iri)
        else:
            valid.append(iri)
    p = ox.NamedNode(KGR + "p")
    literal = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    triples = [ox.Triple(ox.NamedNode(iri), p, p) for iri in valid] + [ox.Triple(p, p, ox.Literal(literal))]
    written = rdf._without_prefixes(ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=rdf.prefixes())).decode()
    assert written == "".join(f"{w.iri(iri)} kgr:p kgr:p .\n" for iri in valid) + f"kgr:p kgr:p {rdf._literal(literal)} .\n"


@pytest.mark.parametrize(
    "text, cleaned",
    [("铁西区\t\n", "铁西区\t\n"), ("a\x00b\x08\x0b\x0c\r\x1f\x7f", "a b      "), ("\x85\u2028\ufeff😀", "\x85\u2028\ufeff😀"), ("", "")],
)
def test_clean_makes_control_characters_but_tab_and_newline_spaces(text, cleaned):
    assert rdf._clean(text) == cleaned


def test_rdf_doctests_hold():
    import doctest

    assert doctest.testmod(rdf).failed == 0


def test_a_documents_parts_carry_their_digest_through_the_cache():
    """The self-check keys a cached document by the digest made with its parts: it must be theirs."""
    import pickle

    from kg.rdf import DocumentParts, parts_digest

    parts = DocumentParts(b"kgr:a kgo:b 1 .\n", b"[]", b"kgr:g { kgr:a kgo:b 2 . }\n")
    assert parts.digest == parts_digest(parts.ttl, parts.trig) != parts_digest(parts.trig, parts.ttl)
    assert pickle.loads(pickle.dumps(parts)) == parts
    with pytest.raises(AttributeError):
        parts.ttl = b""  # frozen: the digest cannot fall behind its parts
