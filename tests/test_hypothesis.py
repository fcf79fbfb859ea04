"""Issue 8: property-based tests. For arbitrary Unicode text in any of the encodings kg reads,
building never crashes (a file kg cannot read is skipped with an InputError), every mention's
offsets hold against the decoded text, the Turtle parses in rdflib and pyoxigraph, and the pages
hold no markup that came from the text.

Most examples run the stages on one loaded pipeline (read_document → extract_spans → Linker.link
→ relations → build_graph → Turtle, TriG → pages); fewer run the whole `build()`.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from kg.build import DEFAULT_ONTOLOGY, Extractor, build
from kg.corpus import _plausibility, read_document
from kg.errors import InputError
from kg.graph import build_graph
from kg.ontology import load_ontology

from .test_robustness import check_pages, read_jsonl

STAGE_EXAMPLES = 200
BUILD_EXAMPLES = 50

# Pieces a page is made of: real names of the ontology (so that mentions, links and relations
# happen), CJK text, markup and entities, line ends of both kinds, control characters, and any
# code point a file can hold (no surrogates).
NAMES = [
    "铁西区", "站前街道", "东煤社区", "铁东区", "四平市", "梨树县", "铁西区民政局", "侯智博", "王明",
    "本报讯(通讯员 王明)", "本报通讯员 孙立 摄", "开展", "印发", "“红心物业”", "《关于加强社区治理的通知》",
    "双报到", "红心物", "业", "区委", "中共四平市铁西区委员会", "活动", "。", ",", "、", "“", "”", "《", "》",
]
MARKUP = [
    "<", ">", "&", '"', "'", "\\", "<script>", "</script>", "<img src=x onerror=alert(1)>", "&amp;", "&lt;",
    "]]>", "<!--", "-->", "\u2028", "\u2029", "${x}", "{{ x }}", "%s", "#", "@prefix", "<http://x/>", "\"\"\"", "\\u0000",
]
LINE_ENDS = ["\n", "\r\n", "\n\n", "\r\n\r\n", " ", "\u3000", "\t", "\r"]
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\ufeff", "\ufffd"]

cjk = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=12)
anything = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=4)
piece = st.one_of(
    st.sampled_from(NAMES), st.sampled_from(NAMES), cjk, cjk,
    st.sampled_from(MARKUP), st.sampled_from(LINE_ENDS), st.sampled_from(CONTROLS), anything,
)
pages = st.lists(piece, min_size=0, max_size=80).map("".join)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "gb18030"]


def encode(text: str, encoding: str) -> bytes | None:
    """The bytes of a file holding the text; None when the encoding cannot hold it."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return None


@cache
def stages():
    """One loaded pipeline for every example (a function, not a fixture: hypothesis prints the
    arguments of a failing example, and a pipeline's repr is a megabyte)."""
    onto = load_ontology(DEFAULT_ONTOLOGY)
    return onto, Extractor(onto)


def check_turtle(path: Path) -> int:
    g = rdflib.Graph().parse(data=path.read_text(encoding="utf-8"), format="turtle")
    with open(path, "rb") as fh:
        assert len(list(ox.parse(fh, format=ox.RdfFormat.TURTLE))) == len(g)
    return len(g)


def check_trig(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(Dataset\.default_context|ConjunctiveGraph) is deprecated", DeprecationWarning)
        rdflib.Dataset().parse(data=path.read_text(encoding="utf-8"), format="trig")
    with open(path, "rb") as fh:
        list(ox.parse(fh, format=ox.RdfFormat.TRIG))


def exact_round_trip(text: str, encoding: str) -> bool:
    """Encodings whose bytes say what they are (a BOM), and UTF-8 text, must give the text back.

    Not UTF-8 that starts with U+FEFF (it is a BOM), holds NUL (text files hold none: such bytes
    are UTF-16 as much as UTF-8) or is mostly control and rare characters (no encoding is likelier
    than another then: kg takes the reading that looks most like text)."""
    if encoding in ("utf-8-sig", "utf-16"):
        return True
    return encoding == "utf-8" and not text.startswith("\ufeff") and "\x00" not in text and _plausibility(text) >= 0.5


@settings(max_examples=STAGE_EXAMPLES, deadline=None)
@given(text=pages, encoding=st.sampled_from(ENCODINGS))
def test_property_stages_never_crash_and_offsets_hold(text, encoding):
    from kg import rdf
    from kg.html import write_pages

    onto, extract = stages()
    raw = encode(text, encoding)
    if raw is None:
        event(f"{encoding} cannot hold the text")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "page.txt"
        path.write_bytes(raw)
        try:
            doc = read_document(path)
        except InputError as err:
            event("refused: " + str(err).removeprefix(f"{path}: ").split(";")[0])
            assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
            return
        note(f"read as {doc.encoding}")
        if exact_round_trip(text, encoding):
            assert doc.text == text
        result = extract(doc)
        event("with mentions" if result.mentions else "no mention")
        for m in result.mentions:
            assert doc.text[m.start : m.end] == m.text and m.start < m.end, m
            assert m.sentence[0] <= m.start and m.end <= m.sentence[1] <= len(doc.text), m
        for r in result.relations:
            assert 0 <= r.evidence.start < r.evidence.end <= len(doc.text), r
        docs = [result.doc]
        g = build_graph(docs, result.mentions, result.relations, onto)
        rdf.write_turtle_parts(rdf.graph_triples(g), [result.parts.ttl], tmp / "kg.ttl")  # the build's own path
        rdf.write_trig_parts([result.parts.trig], tmp / "mentions.trig")
        assert check_turtle(tmp / "kg.ttl") > 0
        check_trig(tmp / "mentions.trig")
        write_pages(g, docs, result.mentions, tmp / "site")
        check_pages(tmp / "site")


files = st.lists(st.tuples(pages, st.sampled_from(ENCODINGS)), min_size=1, max_size=3)


@pytest.mark.slow
@settings(max_examples=BUILD_EXAMPLES, deadline=None)
@given(files=files)
def test_property_build_never_crashes_and_outputs_hold(files):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "in"
        folder.mkdir()
        written = {}
        for i, (text, encoding) in enumerate(files):
            raw = encode(text, encoding) or text.encode("utf-8")
            (folder / f"page_{i}.txt").write_bytes(raw)
            written[f"page_{i}"] = raw
        skipped = []
        report = build(folder, tmp / "out", cache=False, on_skip=lambda p, why: skipped.append((p, why)))
        assert report.files + len(skipped) == len(files)
        for path, why in skipped:
            assert why.startswith(path) and "\n" not in why
        texts = {}
        for stem in written:
            try:
                texts[stem] = read_document(folder / f"{stem}.txt").text
            except InputError:
                continue
        for m in read_jsonl(report.out / "mentions.jsonl"):
            assert texts[m["doc"]][m["start"] : m["end"]] == m["text"], m
        check_turtle(report.out / "kg.ttl")
        check_trig(report.out / "mentions.trig")
        check_pages(report.out)
        shutil.rmtree(tmp / "out")


def test_property_examples_are_enough_to_matter():
    """The counts the README states."""
    assert STAGE_EXAMPLES >= 200 and BUILD_EXAMPLES >= 50
