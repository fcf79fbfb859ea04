"""Issue 8: bad input, hostile text and user errors.

A corpus with one file of each kind (encodings, empty, binary, no Chinese, Traditional, CRLF,
markup, very many small files) builds through `build()` and through the CLI; names full of
markup give valid RDF, escaped pages and safe file names; every user error is one line.
The corpora are made in temporary folders: nothing large is committed.
"""

from __future__ import annotations

import codecs
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from kg.build import build
from kg.cli import main
from kg.corpus import decode, read_document

from .conftest import ROOT, SEEDS

KG = [sys.executable, "-m", "kg.cli"]
SCHEMA = "https://schema.org/"
KGR = "https://w3id.org/kg/id/"

# One realistic page paragraph: a byline, a chain of places, a body and a repeated name.
PARA = "本报(通讯员 侯智博)近日,铁西区站前街道东煤社区联合铁西区环卫部门开展环境整治。东煤社区将持续推动环境治理。\n"
TRADITIONAL = "本報(通訊員 侯智博)近日,鐵西區站前街道東煤社區聯合鐵西區環衛部門開展環境整治。東煤社區將持續推動環境治理。\n"
MARKUP = (
    "铁西区站前街道东煤社区开展<img src=x onerror=alert(1)>活动。<script>alert(\"x\")</script>\n"
    "居民说:\"好\" & 'ok' \\n 反斜杠\\ 控制\x01\x02\x1b字符,<!-- 注释 --> ]]> </textarea>。\n"
)
SEED = SEEDS / "001_5c50730ce092d865.txt"  # has names cut by page breaks: 红心物\n\n业, 坤\n\n博集团
MANY = 300

# file stem → (bytes, the encoding kg must report)
GOOD: dict[str, tuple[bytes, str]] = {
    "utf8": (PARA.encode("utf-8"), "utf-8"),
    "utf8_bom": (codecs.BOM_UTF8 + PARA.encode("utf-8"), "utf-8-sig"),
    "gbk": (PARA.encode("gbk"), "gb18030"),
    "gb18030": ((PARA + "㐀䶵丽水𠀀。\n").encode("gb18030"), "gb18030"),
    "utf16le_bom": (codecs.BOM_UTF16_LE + PARA.encode("utf-16-le"), "utf-16"),
    "utf16be_bom": (codecs.BOM_UTF16_BE + PARA.encode("utf-16-be"), "utf-16"),
    "utf16_nobom": (PARA.encode("utf-16-le"), "utf-16-le"),
    "english": (b"No Chinese in this file at all.\nJust two lines of English.\n", "utf-8"),
    "english_utf16": ("No Chinese here either, in UTF-16 without a BOM.\n".encode("utf-16-le"), "utf-16-le"),
    "traditional": (TRADITIONAL.encode("utf-8"), "utf-8"),
    "crlf": (SEED.read_bytes().replace(b"\n", b"\r\n"), "utf-8"),
    "markup": (MARKUP.encode("utf-8"), "utf-8"),
}
# file stem → (bytes, what its message says)
BAD: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "is empty"),
    "blank": (" \r\n\t\n\u3000\n".encode("utf-8"), "is empty"),
    "bom_only": (codecs.BOM_UTF8, "is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(8).randbytes(4000), "binary"),
    "undecodable": (b"kg \x80\xff text\n", "decodes as none of"),
}


def make_corpus(folder: Path) -> Path:
    """One file of each kind, and MANY small files in a subfolder."""
    folder.mkdir(parents=True)
    for stem, (raw, _) in {**GOOD, **BAD}.items():
        (folder / f"{stem}.txt").write_bytes(raw)
    many = folder / "many"
    many.mkdir()
    places = ["铁西区", "铁东区", "梨树县", "双辽市", "伊通满族自治县"]
    for i in range(MANY):
        text = f"第{i}号简讯:{places[i % 5]}民政局开展走访慰问活动,慰问困难群众{i % 17 + 2}户。\n"
        (many / f"note_{i:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def good_stems() -> set[str]:
    return set(GOOD) | {f"note_{i:03d}" for i in range(MANY)}


def decoded(folder: Path) -> dict[str, str]:
    """The text of every readable file, decoded by kg's own reader: what offsets refer to."""
    out = {}
    for p in sorted(folder.rglob("*.txt")):
        try:
            out[p.stem] = read_document(p).text
        except Exception:  # noqa: BLE001 - the unreadable files are checked elsewhere
            continue
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def kg_lines(stderr: str) -> list[str]:
    """The lines kg itself wrote to stderr (progress lines aside)."""
    return [line for line in stderr.splitlines() if line.startswith("kg:")]


# ---------------------------------------------------------------------------------------------
# HTML: nothing in a page may come from corpus text except text and attribute values


def _template_vocabulary() -> tuple[set[str], set[str]]:
    """The tag and attribute names our templates write (and kg/html.py's mention links: a and span
    with class, id, href, title): nothing else may appear in a page."""
    tags, attrs = {"a", "span"}, {"class", "id", "href", "title"}
    for path in (ROOT / "kg" / "templates").glob("*.html"):
        # Jinja markers out (an `{% if a <= b %}` holds a '<'); ` checked` inside an if stays
        source = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        for name, rest in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)([^<>]*)>", source):
            tags.add(name.lower())
            rest = re.sub(r"=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", " ", rest)  # attribute values
            attrs |= {a.lower() for a in re.findall(r"[a-zA-Z][a-zA-Z0-9:-]*", rest)}
    return tags, attrs


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.text: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)
        else:
            self.text.append(data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_comment(self, data):
        raise AssertionError(f"a comment in a page: <!--{data}-->")


def check_pages(out: Path) -> list[_Page]:
    """Every page parses into our own tags and attributes only; scripts are ours or JSON data."""
    tags, attrs = _template_vocabulary()
    pages = []
    for path in sorted(out.rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        page.close()
        for tag, tag_attrs in page.tags:
            assert tag in tags, f"{path.name}: <{tag}> is not one of ours"
            for name, value in tag_attrs:
                assert name in attrs and not name.startswith("on"), f"{path.name}: <{tag} {name}=…> is not one of ours"
                if name in ("href", "src"):
                    assert value and not re.match(r"^\s*(javascript|data|vbscript):", value, re.I), (path.name, value)
        for script_attrs, body in page.scripts:
            if "src" in script_attrs:
                assert re.fullmatch(r"(\.\./)?assets/[\w.-]+\.js", script_attrs["src"]) and not body.strip()
            else:
                assert script_attrs.get("type") == "application/json", f"{path.name}: an inline script that runs"
                assert "<" not in body and "\u2028" not in body
                json.loads(body)  # the whole JSON: no early </script> cut it
        pages.append(page)
    assert pages
    return pages


@pytest.mark.parametrize(
    "body",
    [
        "<p>铁西区<img src=x onerror=alert(1)></p>",
        "<p title=x onmouseover=alert(1)>铁西区</p>",
        "<script>alert(1)</script>",
        '<script type="application/json">{"a": "</script><script>alert(1)</script>"}</script>',
        '<a href="javascript:alert(1)">x</a>',
        "<p><!-- 注释 --></p>",
    ],
)
def test_check_pages_catches_markup_from_text(tmp_path, body):
    """The page check is not vacuous: each of these pages fails it."""
    (tmp_path / "index.html").write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    with pytest.raises((AssertionError, json.JSONDecodeError)):
        check_pages(tmp_path)


def check_rdf(out: Path) -> rdflib.Graph:
    """kg.ttl parses in rdflib and pyoxigraph into the same triples; mentions.trig too; IRIs valid."""
    g = rdflib.Graph()
    g.parse(out / "kg.ttl", format="turtle")
    with open(out / "kg.ttl", "rb") as fh:
        ox_triples = list(ox.parse(fh, format=ox.RdfFormat.TURTLE))
    assert len(ox_triples) == len(g)
    ds = rdflib.Dataset()
    with warnings.catch_warnings():
        # rdflib's own TriG and JSON-LD parsers call Dataset APIs that rdflib deprecates
        warnings.filterwarnings("ignore", r"(Dataset\.default_context|ConjunctiveGraph) is deprecated", DeprecationWarning)
        ds.parse(data=(out / "mentions.trig").read_text(encoding="utf-8"), format="trig")
        rdflib.Graph().parse(data=(out / "kg.jsonld").read_text(encoding="utf-8"), format="json-ld")
    with open(out / "mentions.trig", "rb") as fh:
        assert len(list(ox.parse(fh, format=ox.RdfFormat.TRIG))) > 0
    iris = {str(t) for triple in g for t in triple if isinstance(t, rdflib.URIRef)}
    iris |= {str(t) for quad in ds.quads() for t in quad if isinstance(t, rdflib.URIRef)}
    for iri in iris:
        ox.NamedNode(iri)  # raises on an invalid IRI
        assert not re.search(r"[\x00-\x20<>\"{}|^`\\]", iri), iri
    return g


# ---------------------------------------------------------------------------------------------
# the mixed corpus, built by build() and by the CLI


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("robust") / "in")


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    skipped: list[tuple[str, str]] = []
    out = tmp_path_factory.mktemp("robust_out") / "out"
    report = build(corpus, out, cache=False, on_skip=lambda path, reason: skipped.append((path, reason)))
    return report, skipped


@pytest.fixture(scope="module")
def cli_built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("robust_cli") / "out"
    run = subprocess.run([*KG, "build", str(corpus), "--out", str(out), "--no-cache"], capture_output=True, text=True, timeout=900)
    return run, out


def test_robust_build_reads_every_good_file(built):
    report, _ = built
    docs = {d["doc"]: d for d in json.loads((report.out / "documents.json").read_text(encoding="utf-8"))}
    assert set(docs) == good_stems()
    assert report.files == len(good_stems())


def test_robust_build_records_the_encoding_of_each_document(built):
    report, _ = built
    docs = {d["doc"]: d["encoding"] for d in json.loads((report.out / "documents.json").read_text(encoding="utf-8"))}
    assert {stem: docs[stem] for stem in GOOD} == {stem: enc for stem, (_, enc) in GOOD.items()}
    g = rdflib.Graph().parse(report.out / "kg.ttl", format="turtle")
    fmt = {str(s).removeprefix(KGR + "doc/"): str(o) for s, o in g.subject_objects(rdflib.URIRef(SCHEMA + "encodingFormat"))}
    assert {stem: fmt[stem] for stem in GOOD} == {stem: enc for stem, (_, enc) in GOOD.items()}


def test_robust_build_skips_each_problem_file_with_its_reason(built, corpus):
    report, skipped = built
    assert skipped == report.skipped
    by_stem = {Path(path).stem: reason for path, reason in report.skipped}
    assert set(by_stem) == set(BAD)
    for stem, (_, why) in BAD.items():
        assert str(corpus / f"{stem}.txt") in by_stem[stem] and why in by_stem[stem]
        assert "\n" not in by_stem[stem]


def test_robust_encodings_give_the_same_mentions(built):
    """Every encoding of one paragraph reads as the same text and gives the same mentions."""
    report, _ = built
    rows = read_jsonl(report.out / "mentions.jsonl")
    same = ["utf8", "utf8_bom", "gbk", "utf16le_bom", "utf16be_bom", "utf16_nobom"]
    found = {stem: [(m["start"], m["end"], m["text"], m["label"], m["entity"]) for m in rows if m["doc"] == stem] for stem in same}
    assert found["utf8"] and all(found[stem] == found["utf8"] for stem in same)
    texts = {(m["text"], m["label"]) for m in rows if m["doc"] == "utf8"}
    assert {("铁西区", "PLACE"), ("东煤社区", "PLACE"), ("侯智博", "PERSON")} <= texts


def test_robust_mention_offsets_hold_for_every_file(built, corpus):
    report, _ = built
    texts = decoded(corpus)
    rows = read_jsonl(report.out / "mentions.jsonl")
    assert {m["doc"] for m in rows} >= good_stems() - {"english", "english_utf16"}
    for m in rows:
        assert texts[m["doc"]][m["start"] : m["end"]] == m["text"], m
    # decoded text has no BOM: offsets count characters of the text, not of the file
    assert not any(t.startswith("\ufeff") for t in texts.values())


def test_robust_traditional_names_link_to_simplified_nodes(built):
    report, _ = built
    rows = read_jsonl(report.out / "mentions.jsonl")
    simplified = {m["text"]: m["entity"] for m in rows if m["doc"] == "utf8"}
    trad = {m["text"]: m for m in rows if m["doc"] == "traditional"}
    for t, s in [("鐵西區", "铁西区"), ("站前街道", "站前街道"), ("東煤社區", "东煤社区")]:
        assert trad[t]["entity"] == simplified[s], t
        assert TRADITIONAL[trad[t]["start"] : trad[t]["end"]] == t
    assert trad["東煤社區"]["entity"].startswith(KGR + "place/")


def test_robust_crlf_page_gives_the_mentions_of_the_lf_page(built, tmp_path):
    """Offsets count the \\r characters; names cut by CRLF page breaks are found whole."""
    report, _ = built
    rows = [m for m in read_jsonl(report.out / "mentions.jsonl") if m["doc"] == "crlf"]
    crlf = SEED.read_text(encoding="utf-8").replace("\n", "\r\n")
    assert all(crlf[m["start"] : m["end"]] == m["text"] for m in rows)
    across = {m["text"] for m in rows if "\r\n" in m["text"]}
    assert {"红心物\r\n\r\n业", "坤\r\n\r\n博集团"} <= across
    lf = build(SEED.parent, tmp_path / "lf", html=False, validate=False, cache=False)
    lf_rows = [m for m in read_jsonl(lf.out / "mentions.jsonl") if m["doc"] == SEED.stem]
    assert [(m["text"].replace("\r", ""), m["label"], m["entity"]) for m in rows] == [
        (m["text"], m["label"], m["entity"]) for m in lf_rows
    ]


def test_robust_crlf_page_has_the_sentences_titles_and_relations_of_the_lf_page(built, corpus):
    from kg.build import DEFAULT_ONTOLOGY, extract_file
    from kg.corpus import sentences

    lf = SEED.read_text(encoding="utf-8")
    crlf = lf.replace("\n", "\r\n")
    assert [crlf[s:e].replace("\r", "") for s, e in sentences(crlf)] == [lf[s:e] for s, e in sentences(lf)]
    a = extract_file(SEED, "page", DEFAULT_ONTOLOGY, None)  # the pipeline the build loaded in this process
    b = extract_file(corpus / "crlf.txt", "page", DEFAULT_ONTOLOGY, None)
    assert [t for _, _, _, t, _ in b.doc.articles] == [t for _, _, _, t, _ in a.doc.articles]
    assert not any("\r" in t for _, _, _, t, _ in b.doc.articles)
    assert sorted((r.subject, r.predicate, r.object) for r in b.relations) == sorted((r.subject, r.predicate, r.object) for r in a.relations)


def test_robust_many_small_files_are_all_documents_and_pages(built):
    report, _ = built
    rows = read_jsonl(report.out / "mentions.jsonl")
    notes = {m["doc"] for m in rows if m["doc"].startswith("note_")}
    assert len(notes) == MANY
    assert len(list((report.out / "articles").glob("*.html"))) >= MANY


def test_robust_markup_in_text_is_escaped_and_kept_as_text(built):
    report, _ = built
    pages = check_pages(report.out)
    text = "".join(t for p in pages for t in p.text)
    assert "<img src=x onerror=alert(1)>" in text and '<script>alert("x")</script>' in text


def test_robust_outputs_parse_with_two_parsers(built):
    report, _ = built
    g = check_rdf(report.out)
    docs = set(g.subjects(rdflib.RDF.type, rdflib.URIRef("https://w3id.org/kg/ontology#Document")))
    assert {str(d).removeprefix(KGR + "doc/") for d in docs} == good_stems()


def test_robust_cli_build_warns_once_per_problem_file(cli_built, corpus):
    run, out = cli_built
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = kg_lines(run.stderr)
    assert len(lines) == len(BAD)
    for stem, (_, why) in BAD.items():
        [line] = [x for x in lines if f"{stem}.txt" in x]
        assert line.startswith(f"kg: warning: {corpus / stem}.txt: ") and why in line
    assert f"skipped {len(BAD)} file(s)" in run.stdout


def test_robust_cli_build_equals_the_library_build(cli_built, built):
    run, out = cli_built
    report, _ = built
    for name in ("kg.ttl", "mentions.jsonl", "documents.json", "mentions.trig"):
        assert (out / name).read_bytes() == (report.out / name).read_bytes(), name


# ---------------------------------------------------------------------------------------------
# --strict and --verbose


@pytest.fixture
def small(tmp_path) -> tuple[Path, Path]:
    """Two good files, two unreadable ones, and an output folder holding a previous build."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(PARA.encode())
    (folder / "b_binary.txt").write_bytes(BAD["binary"][0])
    (folder / "c_undecodable.txt").write_bytes(BAD["undecodable"][0])
    (folder / "d.txt").write_bytes(PARA.encode("gbk"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous", encoding="utf-8")
    return folder, out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_robust_strict_stops_at_the_first_unreadable_file(small):
    folder, out = small
    before = _snapshot(out)
    run = subprocess.run([*KG, "build", str(folder), "--out", str(out), "--strict", "--no-cache"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert kg_lines(run.stderr) == [f"kg: error: {folder / 'b_binary.txt'}: looks like a binary file, not text; skipped."]
    assert "Traceback" not in run.stderr
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".out.new")) == []


def test_robust_verbose_shows_the_traceback(small):
    folder, out = small
    run = subprocess.run(
        [*KG, "build", str(folder), "--out", str(out), "--strict", "--no-cache", "--verbose"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr and "InputError" in run.stderr
    assert kg_lines(run.stderr)[-1].startswith("kg: error: ")


def test_robust_output_piped_to_a_reader_that_stops_ends_quietly(small):
    folder, out = small
    proc = subprocess.Popen([*KG, "build", str(folder), "--out", str(out), "--no-cache", "--no-html"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `kg build | head -0`: nobody reads the summary
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141  # as a command killed by SIGPIPE
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert (out / "kg.ttl").read_text(encoding="utf-8") != "previous"  # the build itself was done


def test_robust_without_strict_builds_the_good_files(small):
    folder, out = small
    report = build(folder, out, cache=False, html=False)
    assert report.files == 2 and [Path(p).name for p, _ in report.skipped] == ["b_binary.txt", "c_undecodable.txt"]
    assert (out / "kg.ttl").read_text(encoding="utf-8") != "previous"


# ---------------------------------------------------------------------------------------------
# one very long line


def long_line(n_bytes: int) -> str:
    """Realistic sentences of the seeds, repeated without a line break up to n_bytes of UTF-8."""
    sentences = []
    for p in sorted(SEEDS.glob("*.txt")):
        flat = p.read_text(encoding="utf-8").replace("\n", "")
        sentences += [s for s in re.findall(r"[^。]+。", flat) if len(s) > 10]
    parts, size, i = [], 0, 0
    while size < n_bytes:
        s = sentences[i % len(sentences)]
        parts.append(s)
        size += len(s.encode("utf-8"))
        i += 1
    return "".join(parts)


@pytest.mark.slow
def test_robust_20mb_line_is_read_and_linked_in_linear_time(tmp_path, onto):
    """The stages around the NER (decode, articles, NER view, sentences, NER pieces, linking,
    relations) take a 20 MB line in seconds. (The NER itself reads about 20,000 characters a
    second: a 20 MB line of 6.7 million characters is minutes of work, see the slow build below.)"""
    from kg.build import NER_PIECE
    from kg.corpus import NerView, ner_pieces, sentences
    from kg.link import Linker
    from kg.mention import Span
    from kg.relations import relations

    path = tmp_path / "line.txt"
    path.write_text(long_line(20_000_000), encoding="utf-8")
    t = time.perf_counter()
    doc = read_document(path)
    view = NerView(doc.text)
    sents = sentences(doc.text)
    pieces = ner_pieces(doc.text, NER_PIECE)
    seconds = time.perf_counter() - t
    assert len(doc.text) > 6_000_000 and len(doc.articles) == 1 and "\n" not in doc.text
    assert len(view.text) == len(doc.text) and len(sents) > 50_000
    assert pieces[0][0] == 0 and pieces[-1][1] == len(doc.text)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert all(e - s <= NER_PIECE and doc.text[e - 1] == "。" for s, e in pieces[:-1])
    assert seconds < 120, f"reading a 20 MB line took {seconds:.0f} s"
    # spans as the NER would give them, for names of the ontology, all along the line
    names = {"铁西区": "PLACE", "铁东区": "PLACE", "东煤社区": "PLACE", "四平市": "PLACE", "铁西区委社会工作部": "ORG", "红心物业": "PROGRAMME"}
    pattern = re.compile("|".join(sorted(names, key=len, reverse=True)))
    spans = [Span(m.start(), m.end(), names[m.group()], "test") for m in pattern.finditer(doc.text)]
    t = time.perf_counter()
    mentions = Linker(onto).link(doc, spans)
    facts = relations(doc, mentions, onto)
    seconds = time.perf_counter() - t
    assert len(mentions) == len(spans) > 20_000 and facts
    assert all(m.sentence[0] <= m.start < m.end <= m.sentence[1] for m in mentions)
    assert seconds < 120, f"linking {len(spans)} mentions in a 20 MB line took {seconds:.0f} s"


@pytest.mark.slow
def test_robust_long_line_over_spacy_limit_builds(tmp_path):
    """A 3.5 MB line (1.2 million characters, over spaCy's one million) builds through the CLI in
    bounded time and memory, and its offsets hold."""
    folder = tmp_path / "in"
    folder.mkdir()
    text = long_line(3_500_000)
    (folder / "line.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    t = time.perf_counter()
    run = subprocess.run(
        [*KG, "build", str(folder), "--out", str(out), "--no-cache", "--no-validate"], capture_output=True, text=True, timeout=1200
    )
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert run.returncode == 0, run.stderr[-3000:]
    rows = read_jsonl(out / "mentions.jsonl")
    assert len(rows) > 10_000
    assert all(text[m["start"] : m["end"]] == m["text"] for m in rows)
    assert rows[-1]["start"] > len(text) - 2000  # the NER reached the end of the line
    assert peak_mb < 2500, f"peak memory {peak_mb:.0f} MB"
    assert seconds < 900, f"{seconds:.0f} s"


def test_robust_name_at_the_end_of_a_file_stays_inside_the_text(tmp_path):
    from kg.build import DEFAULT_ONTOLOGY, extract_file

    path = tmp_path / "end.txt"
    path.write_text("铁西区铁西区", encoding="utf-8")  # no full stop, no line break at the end
    result = extract_file(path, "end", DEFAULT_ONTOLOGY, None)
    assert result.mentions and all(m.end <= 6 and "铁西区铁西区"[m.start : m.end] == m.text for m in result.mentions)


# ---------------------------------------------------------------------------------------------
# hostile names


HOSTILE = (
    "本报讯(通讯员 王明)近日,铁西区站前街道东煤社区开展“<b>&\"x\\y</b>”活动,"
    "印发《关于<script>alert(1)</script>的&amp;通知》。\n\n"
    "铁西区民政局开展“红心<img src=x onerror=alert(1)>物业”示范小区创建。\n\n"
    "铁西区开展“控制\x01\x1b字符”活动,印发《换行\r\n名称》。\n\n"
    "铁东区开展“../../etc/passwd”活动和“" + "很长的名字" * 30 + "”活动。\n"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / "in"
    folder.mkdir()
    (folder / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    # file names are corpus text too: their stems become document IDs, IRIs and page titles
    for stem in ['q<x>"y', "a b", "50%", "x#y", "back\\slash", "中文 名", "it's", "a{b}|c^`d"]:
        (folder / f"{stem}.txt").write_text("铁西区站前街道东煤社区开展活动。\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("hostile_out") / "out"
    return build(folder, out, cache=False)


def _mentions(report) -> list[dict]:
    return read_jsonl(report.out / "mentions.jsonl")


def test_hostile_names_are_found_with_their_markup(hostile):
    names = {m["text"]: m for m in _mentions(hostile) if m["doc"] == "hostile"}
    assert '<b>&"x\\y</b>' in names and names['<b>&"x\\y</b>']["label"] == "PROGRAMME"
    assert "关于<script>alert(1)</script>的&amp;通知" in names
    assert "控制\x01\x1b字符" in names
    for m in _mentions(hostile):
        if m["doc"] == "hostile":
            assert HOSTILE[m["start"] : m["end"]] == m["text"]


def test_hostile_names_give_valid_rdf_in_two_parsers(hostile):
    g = check_rdf(hostile.out)
    labels = {str(o) for o in g.objects(None, rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))}
    assert '<b>&"x\\y</b>' in labels and "关于<script>alert(1)</script>的&amp;通知" in labels
    # control characters cannot go into RDF 1.1 literals safely: they become spaces
    assert "控制  字符" in labels
    assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", label) for label in labels)
    with open(hostile.out / "kg.ttl", "rb") as fh:
        ox_labels = {t.object.value for t in ox.parse(fh, format=ox.RdfFormat.TURTLE) if t.predicate.value.endswith("#prefLabel")}
    assert ox_labels == labels


def test_hostile_file_names_give_valid_document_iris(hostile):
    g = check_rdf(hostile.out)
    ids = {str(o) for o in g.objects(None, rdflib.URIRef(SCHEMA + "identifier"))}
    assert {'q<x>"y', "a b", "50%", "x#y", "back\\slash", "中文 名", "it's", "a{b}|c^`d"} <= ids
    docs = {str(s) for s in g.subjects(rdflib.RDF.type, rdflib.URIRef("https://w3id.org/kg/ontology#Document"))}
    assert len(docs) == 9
    assert KGR + "doc/q%3Cx%3E%22y" in docs and KGR + "doc/50%25" in docs and KGR + "doc/中文%20名" in docs


def test_hostile_names_are_escaped_in_every_page(hostile):
    pages = check_pages(hostile.out)
    text = "".join(t for p in pages for t in p.text)
    for name in ('<b>&"x\\y</b>', "关于<script>alert(1)</script>的&amp;通知", 'q<x>"y'):
        assert name in text, name
    # the graph data reaches the page as JSON inside the page: the names come back intact
    graph = [json.loads(body) for p in pages for attrs, body in p.scripts if attrs.get("type") == "application/json"]
    labels = {n.get("label") for data in graph for n in data.get("nodes", [])}
    assert '<b>&"x\\y</b>' in labels


def test_hostile_entity_page_names_are_safe_unique_and_short(hostile):
    g = rdflib.Graph().parse(hostile.out / "kg.ttl", format="turtle")
    entities = hostile.out / "entities"
    names = sorted(p.name for p in entities.iterdir())
    assert all(re.fullmatch(r"[a-z0-9-]{1,52}\.html", n) for n in names), names
    for p in entities.iterdir():
        assert p.resolve().parent == entities.resolve()
    labelled = {s for s in g.subjects(rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))}
    kinds = {rdflib.URIRef("https://w3id.org/kg/ontology#" + k) for k in ("Article", "Statement")}
    assert len(names) == len([s for s in labelled if not set(g.objects(s, rdflib.RDF.type)) & kinds])
    assert all(p.parent.name in ("articles", "entities", "assets") or p.parent == hostile.out for p in hostile.out.rglob("*.html"))


def test_hostile_page_names_never_collide():
    from kg.html import page_names

    items = [(f"{KGR}new/programme/{i}", label) for i, label in enumerate(["<b>", "b", "../b", "B", "b" * 200, "b" * 201, "", "《》", "../../.."])]
    names = page_names(items)
    assert len(set(names.values())) == len(items)
    assert all(re.fullmatch(r"[a-z0-9-]{1,52}\.html", n) for n in names.values())


@pytest.mark.parametrize(
    "value, found",
    [
        ('<b>&"x\\y</b>', 1),
        ("关于<script>alert(1)</script>的&amp;通知", 1),
        ('x" } UNION { ?programme ?p ?label } #', 0),
        ("'} ; DROP ALL ; #", 0),
        ("a\nb\\\"\u2028", 0),
    ],
)
def test_hostile_query_bind_values_stay_values(hostile, value, found):
    from kg.query import run_query

    query = "SELECT ?x WHERE { ?x skos:prefLabel ?label . FILTER(str(?label) = ?name) }"
    # a string that looks like <…> is an IRI on the command line (`--bind x=<iri>`): give the term
    _, rows = run_query(query, hostile.out, bindings={"name": ox.Literal(value)})
    assert len(rows) == found
    _, rows_rdflib = run_query(query, hostile.out, bindings={"name": ox.Literal(value)}, engine="rdflib")
    assert rows_rdflib == rows


def test_hostile_cli_query_binds_a_markup_value(hostile):
    query = "SELECT ?x WHERE { ?x skos:prefLabel ?label . FILTER(str(?label) = ?name) }"
    run = subprocess.run(
        [*KG, "query", query, "--data", str(hostile.out), "--bind", "name=关于<script>alert(1)</script>的&amp;通知", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert len(rows) == 1 and rows[0]["x"].startswith(KGR + "new/policy/")


def test_hostile_cli_query_value_in_angle_brackets_is_an_iri_or_one_error(hostile, capsys):
    query = "SELECT ?x WHERE { ?x skos:prefLabel ?label . FILTER(str(?label) = ?name) }"
    code, lines, err = _main(capsys, "query", query, "--data", str(hostile.out), "--bind", 'name=<b>&"x\\y</b>')
    assert code == 1 and len(lines) == 1 and "not a valid IRI" in lines[0] and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# user errors: one line each, file and reason, exit 1, no traceback


def _main(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, kg_lines(captured.err), captured.err


def _one_error(capsys, *argv: str, names: str, says: str) -> None:
    code, lines, err = _main(capsys, *argv)
    assert code == 1, err
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"kg: error: {names}") and says in lines[0], lines
    assert "Traceback" not in err


def test_errors_missing_input_folder(capsys, tmp_path):
    _one_error(capsys, "build", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), names=str(tmp_path / "nope"), says="not a folder")
    assert not (tmp_path / "out").exists()


def test_errors_output_path_is_a_file(capsys, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("mine", encoding="utf-8")
    _one_error(capsys, "build", str(SEEDS), "--out", str(target), names=str(target), says="not a folder")
    assert target.read_text(encoding="utf-8") == "mine"


def test_errors_output_folder_cannot_be_written(capsys, tmp_path):
    out = Path("/proc/kg-robust-test/out")  # no process can create a folder there, not even root
    _one_error(capsys, "build", str(SEEDS), "--out", str(out), names=str(out), says="cannot be written")


def test_errors_disk_full_keeps_the_previous_output(capsys, tmp_path, monkeypatch):
    import errno

    import kg.build

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(PARA, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous", encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kg.build, "write_documents", full)
    _one_error(capsys, "build", str(folder), "--out", str(out), "--no-cache", names=str(out), says="No space left on device")
    assert _snapshot(out) == {"kg.ttl": b"previous"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.new")]


def test_errors_malformed_ontology_names_file_and_line(capsys, tmp_path):
    import shutil

    folder = tmp_path / "onto"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_ontology", folder)
    (folder / "robust_broken.ttl").write_text("@prefix kgo: <https://w3id.org/kg/ontology#> .\n\nkgo:x a kgo:Place ;;; .\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous", encoding="utf-8")
    _one_error(capsys, "build", str(SEEDS), "--out", str(out), "--ontology", str(folder), names=f"{folder / 'robust_broken.ttl'}:3", says="")
    assert _snapshot(out) == {"kg.ttl": b"previous"}
    assert not (tmp_path / ".out.lock").exists()  # refused before the output was touched


def test_errors_bad_config_path(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(PARA, encoding="utf-8")
    _one_error(capsys, "build", str(folder), "--out", str(tmp_path / "out"), "--config", str(tmp_path / "nope.cfg"),
               "--no-cache", names=str(tmp_path / "nope.cfg"), says="no such NER config")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.new")]


def test_errors_bad_base_iri(capsys, tmp_path):
    _one_error(capsys, "build", str(SEEDS), "--out", str(tmp_path / "out"), "--base", "not an iri/", names="--base not an iri/", says="not an absolute IRI")


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"doc": "a", "text": "x"\n', ":1: not valid JSON"),
        ('{"doc": "a", "text": "铁西区", "entities": [{"start": 0, "end": 9, "label": "PLACE"}]}\n', "not a range inside the text"),
        ('{"doc": "a", "text": "铁西区", "entities": [{"start": 0, "end": 3, "label": "TOWN"}]}\n', "not one of"),
        ('{"doc": "a", "text": "铁西区", "entities": [[0, 3, "PLACE"]]}\n', "entity 0 is not an object"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_errors_bad_gold_file(capsys, tmp_path, content, says):
    gold = tmp_path / "robust_gold.jsonl"
    gold.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    _one_error(capsys, "eval", "--gold", str(gold), names=str(gold), says=says)


def test_errors_missing_gold_file(capsys, tmp_path):
    _one_error(capsys, "eval", "--gold", str(tmp_path / "nope.jsonl"), names=str(tmp_path / "nope.jsonl"), says="cannot be read")


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(PARA, encoding="utf-8")
    out = folder.parent / "out"
    build(folder, out, cache=False, html=False, validate=False)
    return out


@pytest.mark.parametrize("query", ["SELECT ?x WHERE { ?x ?y }", "SELECT ?x WHERE { ?x ?p ?o } LIMIT x"])
def test_errors_bad_sparql_is_one_line(capsys, tiny_build, query):
    _one_error(capsys, "query", query, "--data", str(tiny_build), names="<query>", says="not valid SPARQL")


def test_errors_bad_sparql_with_a_long_parser_message_is_one_line(capsys, tiny_build):
    _one_error(capsys, "query", "SELECT?x{", "--data", str(tiny_build), names="<query>", says="not valid SPARQL")


def test_errors_bad_bind_iri(capsys, tiny_build):
    query = "SELECT ?x WHERE { ?x ?p ?o }"
    _one_error(capsys, "query", query, "--data", str(tiny_build), "--bind", "x=<not an iri>", names="--bind x=", says="not a valid IRI")


def test_errors_query_without_a_build(capsys, tmp_path):
    _one_error(capsys, "query", "SELECT ?x WHERE { ?x ?p ?o }", "--data", str(tmp_path / "nowhere"), names=str(tmp_path / "nowhere"), says="no such file")


def test_errors_verbose_adds_the_traceback(capsys, tmp_path):
    code, lines, err = _main(capsys, "--verbose", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert code == 1 and "Traceback (most recent call last)" in err and len(lines) == 1


def test_errors_decode_names_the_file():
    with pytest.raises(Exception, match="undecodable.txt: decodes as none of UTF-8, UTF-16 or GB18030"):
        decode(BAD["undecodable"][0], Path("undecodable.txt"))


def test_errors_cli_subprocess_exit_code_and_single_line(tmp_path):
    run = subprocess.run([*KG, "build", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert kg_lines(run.stderr) == [f"kg: error: {tmp_path / 'nope'}: not a folder; give the folder that holds the .txt files."]
    assert "Traceback" not in run.stderr and run.stdout == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a file name of any bytes is Linux's")
def test_a_file_whose_name_is_not_utf8_is_skipped_or_refused_by_name(tmp_path):
    """A document's id and IRIs are made of its file's name: a name that is not UTF-8 text is
    skipped with the reason, its bytes shown escaped (--strict: refused), never a traceback."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0].read_bytes()
    (corpus / "good.txt").write_bytes(seed)
    with open(os.fsencode(corpus) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(seed)
    reason = f"{corpus}/caf\\xe9.txt: its name is not UTF-8 text (a document's id and IRIs are made of it); rename the file; skipped."
    run = subprocess.run([*KG, "build", str(corpus), "--out", str(tmp_path / "out"), "--no-cache"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert kg_lines(run.stderr) == [f"kg: warning: {reason}"] and "skipped 1 file(s)" in run.stdout
    assert [d["doc"] for d in json.loads((tmp_path / "out" / "documents.json").read_text(encoding="utf-8"))] == ["good"]
    strict = subprocess.run([*KG, "build", str(corpus), "--out", str(tmp_path / "strict"), "--no-cache", "--strict"], capture_output=True, text=True, timeout=300)
    assert strict.returncode == 1 and kg_lines(strict.stderr) == [f"kg: error: {reason}"] and not (tmp_path / "strict").exists()
