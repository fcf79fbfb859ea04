"""The pages of kg.html, read as files: complete, offline, escaped, linked, byte-identical.

The browser half is in test_html_browser.py; both use the small corpus built here.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
from concurrent.futures.process import BrokenProcessPool
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kg.html
import kg.strings
from kg.graph import ARTICLE, DocInfo, GraphBuilder, article_index, build_graph
from kg.html import page_names, pinyin, script_json, search_key, slug, write_pages
from kg.mention import Evidence, Mention, Relation
from kg.ontology import KGR, Concept, Ontology
from kg.relations import article_iri

XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
# a name that would end a script element, open an HTML comment and break a JS string literal
SNEAKY = "</script><!--\u2028x"

PLACE = "https://w3id.org/kg/ontology#AdminDivision"
ORG = "https://w3id.org/kg/ontology#Organisation"
PROG = "https://w3id.org/kg/ontology#Programme"
POL = "https://w3id.org/kg/ontology#Policy"

IRI = {
    "四平市": KGR + "place/220300",
    "铁西区": KGR + "place/220302",
    "站前街道": KGR + "place/220302-t01",
    "铁西区委组织部": KGR + "org/tiexi-zuzhibu",
    "四平市民政局": KGR + "org/siping-minzhengju",
    "双报到": KGR + "programme/shuangbaodao",
    "红心物业": KGR + "programme/hongxin-wuye",
    "社区治理办法": KGR + "new/POLICY/0123456789abcdef",
    "张三": KGR + "new/PERSON/1111111111111111",
    "李四": KGR + "new/PERSON/2222222222222222",
    "东煤社区": KGR + "new/PLACE/3333333333333333",
    XSS: KGR + "new/ORG/4444444444444444",
}
TYPES = {
    "四平市": "PLACE", "铁西区": "PLACE", "站前街道": "PLACE", "东煤社区": "PLACE",
    "铁西区委组织部": "ORG", "四平市民政局": "ORG", XSS: "ORG",
    "双报到": "PROGRAMME", "红心物业": "PROGRAMME", "社区治理办法": "POLICY", "张三": "PERSON", "李四": "PERSON",
}

# (doc id, [(title, byline, body)]): the headline is the article's first line
DOCS = {
    "doc_a": [
        ("四平市铁西区开展双报到", "本报记者 张三", "铁西区委组织部在站前街道开展“双报到”工作。四平市民政局印发《社区治理办法》，铁西区参加。"),
        ("红心物业进社区", None, f"李四在东煤社区推进红心\n\n物业。有人写下{SCRIPT}这样的字。"),
    ],
    "doc_b": [
        ("共建", None, f"{XSS}与铁西区委组织部共同开展双报到。{XSS}又来了{SNEAKY}。"),
    ],
}
# surface form -> node name, where they differ
SURFACE = {"红心\n\n物业": "红心物业", "双报到": "双报到", "四平": "四平市", "张老三": "张三"}
# another document naming the same entities, some by other names: added to the corpus, it changes
# their mention counts, aliases and evidence, and not the pages of the other articles
MORE = {
    "doc_c": [
        ("再谈双报到", None, "铁西区委组织部与四平市民政局在四平开展双报到。李四谈红心物业。铁西区委组织部参加。"),
    ],
}


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out, s = [], start
    for m in re.finditer(r"。|(?<!\n)\n(?!\n)", text[start:end]):
        e = start + m.end()
        if text[s:e].strip():
            out.append((s, e))
        s = e
    if s < end:
        out.append((s, end))
    return out


def fixture_corpus(
    extra: dict | None = None, *, documents: dict | None = None, relations_to: list | None = None, lean_to: list | None = None,
) -> tuple[nx.MultiDiGraph, list[DocInfo], list[Mention]]:
    """Two documents, three articles, twelve entities of five types, and an XSS probe.

    `documents` replaces DOCS, `extra` adds documents; the stated facts are those of DOCS
    whose sentence is still there. `relations_to`: a list the graph's relations are added to.
    `lean_to`: a list a build's GraphBuilder (without the article level, keeping of each fact's
    evidence what the pages show, fed a document at a time, the last first) and its graph are added to.
    """
    onto = Ontology(
        {
            IRI["四平市"]: Concept(IRI["四平市"], PLACE, "PLACE", "四平市", ("四平",), level=2, code="220300"),
            IRI["铁西区"]: Concept(IRI["铁西区"], PLACE, "PLACE", "铁西区", (), place=IRI["四平市"], level=3, code="220302"),
            IRI["站前街道"]: Concept(IRI["站前街道"], PLACE, "PLACE", "站前街道", ("站前",), place=IRI["铁西区"], level=4),
            IRI["铁西区委组织部"]: Concept(IRI["铁西区委组织部"], ORG, "ORG", "中共四平市铁西区委员会组织部", ("铁西区委组织部",), serves=IRI["铁西区"]),
            IRI["四平市民政局"]: Concept(IRI["四平市民政局"], ORG, "ORG", "四平市民政局", (), serves=IRI["四平市"]),
            IRI["双报到"]: Concept(IRI["双报到"], PROG, "PROGRAMME", "双报到", ("“双报到”",)),
            IRI["红心物业"]: Concept(IRI["红心物业"], PROG, "PROGRAMME", "红心物业", ()),
        },
        {PLACE: "PLACE", ORG: "ORG", PROG: "PROGRAMME", POL: "POLICY"},
    )
    mentions: list[Mention] = []
    relations: list[Relation] = []
    corpus = {**(DOCS if documents is None else documents), **(extra or {})}
    docs: list[DocInfo] = []
    for doc_id, articles in corpus.items():
        text, spans = "", []
        for title, byline, body in articles:
            start = len(text)
            text += title + "\n"
            b = None
            if byline:
                b = (len(text), len(text) + len(byline))
                text += byline + "\n"
            text += body + "\n\n"
            spans.append((start, len(text), title, b))
        info = DocInfo(doc_id, text, "utf-8", [(i, s, e, t, b) for i, (s, e, t, b) in enumerate(spans)])
        docs.append(info)
        for index, (start, end, _title, byline) in enumerate(spans):
            art = article_iri(doc_id, index)
            sents = _sentences(text, start, end)
            found: list[Mention] = []
            for surface in sorted({*IRI, *SURFACE}, key=len, reverse=True):
                name = SURFACE.get(surface, surface)
                at = start
                while (at := text.find(surface, at, end)) >= 0:
                    stop = at + len(surface)
                    if not any(m.start < stop and at < m.end for m in found):
                        sent = next(s for s in sents if s[0] <= at < s[1])
                        found.append(
                            Mention(doc_id, at, stop, surface, TYPES[name], IRI[name], index, sent, new="/new/" in IRI[name])
                        )
                    at = stop
            found.sort(key=lambda m: m.start)
            mentions += found
            for m in found:
                relations.append(Relation(art, "mentions", m.iri, Evidence(doc_id, *m.sentence), 1.0))
            for a in found:
                for b in found:
                    if a.sentence == b.sentence and a.iri < b.iri:
                        relations.append(Relation(a.iri, "cooccursWith", b.iri, Evidence(doc_id, *a.sentence), 0.5))
            if byline:
                relations.append(Relation(art, "author", IRI["张三"], Evidence(doc_id, *byline), 0.9, "记者"))

    def ev(doc_id: str, needle: str) -> Evidence | None:
        text = next((d.text for d in docs if d.doc_id == doc_id), "")
        at = text.find(needle)
        return Evidence(doc_id, at, at + len(needle)) if at >= 0 else None

    stated = [
        Relation(IRI["铁西区委组织部"], "runsProgramme", IRI["双报到"], ev("doc_a", "铁西区委组织部在站前街道开展“双报到”工作。"), 0.9, "开展"),
        Relation(IRI["四平市民政局"], "issuedPolicy", IRI["社区治理办法"], ev("doc_a", "四平市民政局印发《社区治理办法》，"), 0.9, "印发"),
        Relation(IRI["李四"], "runsProgramme", IRI["红心物业"], ev("doc_a", "李四在东煤社区推进红心\n\n物业。"), 0.7, "推进"),
        Relation(IRI["东煤社区"], "containedInPlace", IRI["站前街道"], ev("doc_a", "李四在东煤社区推进"), 0.6),
        Relation(IRI[XSS], "actsWith", IRI["铁西区委组织部"], ev("doc_b", "与铁西区委组织部共同开展双报到。"), 0.8, "与"),
        Relation(IRI[XSS], "runsProgramme", IRI["双报到"], ev("doc_b", "与铁西区委组织部共同开展双报到。"), 0.8, "开展"),
    ]
    relations += [r for r in stated if r.evidence is not None]
    g = build_graph(docs, mentions, relations, onto)
    if relations_to is not None:
        relations_to += relations
    graphs = [g]
    if lean_to is not None:
        builder = GraphBuilder(onto, articles=False, evidence=kg.html.EVIDENCE_SHOWN)
        for d in reversed(docs):
            builder.add([d], [m for m in mentions if m.doc_id == d.doc_id], [r for r in relations if r.evidence.doc_id == d.doc_id])
        graphs.append(builder.graph())
        lean_to += [builder, graphs[-1]]
    for each in graphs:
        if IRI[XSS] in each:
            each.nodes[IRI[XSS]]["aliases"] = sorted({*each.nodes[IRI[XSS]]["aliases"], SNEAKY})
    return g, docs, mentions


def big_graph(n: int, *, seed: int = 1) -> nx.MultiDiGraph:
    """A random graph of `n` entities with a long-tailed degree, like a large corpus."""
    rnd = random.Random(seed)
    g = nx.MultiDiGraph()
    types = ["PERSON", "ORG", "PLACE", "PROGRAMME", "POLICY"]
    for i in range(n):
        t = types[i % 5]
        g.add_node(f"{KGR}new/{t}/{i:08d}", type=t, label=f"实体{i}号", aliases=[], mentions=rnd.randint(1, 5), new=True, sentence=f"第{i}句。")
    ids = sorted(g.nodes)
    for i, u in enumerate(ids):
        for _ in range(2):
            v = ids[min(int(rnd.paretovariate(1.2)) - 1, i)] if rnd.random() < 0.7 else rnd.choice(ids)
            if u != v:
                g.add_edge(u, v, key=rnd.choice(["cooccursWith", "actsWith", "runsProgramme", "containedInPlace"]), confidence=0.5, count=1, evidence=[], source="text")
    return g


@pytest.fixture(scope="module")
def corpus():
    return fixture_corpus()


@pytest.fixture(scope="module")
def site(tmp_path_factory, corpus) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("pages")
    return out, write_pages(*corpus, out)


class _Tags(HTMLParser):
    """The element names and event-handler attributes of a page, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.handlers += [(tag, k) for k, _ in attrs if k.startswith("on")]


def _pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def _graph_data(page: Path) -> dict:
    m = re.search(r'<script type="application/json" id="kg-graph">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)
    assert m, page
    return json.loads(m.group(1))


def _entity_page(out: Path, corpus, name: str) -> Path:
    g = corpus[0]
    want = html.escape(g.nodes[IRI[name]]["label"], quote=False)
    return next(p for p in (out / "entities").glob("*.html") if f"<h1>{want} " in p.read_text(encoding="utf-8"))


def test_write_pages_writes_index_article_and_entity_pages(site, corpus):
    out, written = site
    g, docs, _ = corpus
    entities = [n for n, t in g.nodes(data="type") if t != ARTICLE]
    assert written == sorted(written)
    assert set(written) == {p for p in out.rglob("*") if p.is_file()}
    assert (out / "index.html") in written
    assert len(list((out / "articles").glob("*.html"))) == sum(len(d.articles) for d in docs) == 3
    assert len(list((out / "entities").glob("*.html"))) == len(entities) == 12
    assert {p.name for p in (out / "assets").iterdir()} == {"kg.css", "kg.js", "vis-network.css", "vis-network.min.js"}


def test_write_pages_same_graph_same_bytes(tmp_path, corpus):
    a = write_pages(*corpus, tmp_path / "a")
    b = write_pages(*fixture_corpus(), tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name



@pytest.mark.parametrize("jobs", [1, 2])
def test_write_pages_reports_the_pages_done_as_they_are(tmp_path, corpus, monkeypatch, jobs):
    """`progress` hears of the pages written from none to all of them, never fewer than before: in
    runs of PAGES_REPORTED in one process, share by share in workers."""
    monkeypatch.setattr(kg.html, "PAGES_REPORTED", 2)
    calls: list[tuple[int, int]] = []
    written = write_pages(*corpus, tmp_path, jobs=jobs, progress=lambda done, total: calls.append((done, total)))
    pages = len([p for p in written if p.suffix == ".html"])
    assert calls[0] == (0, pages) and calls[-1] == (pages, pages)
    assert [t for _, t in calls] == [pages] * len(calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) > 3  # not only at the start and the end


def test_write_pages_in_workers_same_files_same_bytes(tmp_path, corpus):
    one = write_pages(*corpus, tmp_path / "one")
    two = write_pages(*corpus, tmp_path / "two", jobs=2)
    assert [p.relative_to(tmp_path / "one") for p in one] == [p.relative_to(tmp_path / "two") for p in two]
    assert {p for p in (tmp_path / "two").rglob("*") if p.is_file()} == set(two)
    for x, y in zip(one, two):
        assert x.read_bytes() == y.read_bytes(), x.name


@pytest.mark.parametrize("spilled", [False, True])
def test_pages_from_a_mention_index_are_the_pages_from_the_list(tmp_path, monkeypatch, spilled):
    """A build holds its documents' mentions and relations in its spool, and a MentionIndex of what
    the pages need of them: the pages it writes are the bytes of those written from the list of
    mentions and the graph's evidence, whatever the order the documents were added in, and a
    document's mentions and relations are read again once, for its article pages. With the build's
    spool, the index keeps there an entity's rows of mentions SPILL_ROWS at a time (1 here: an
    entity of three mentions has three runs, each after where the one before it is)."""
    from collections import Counter

    from kg.build import Spool
    from kg.graph import MentionIndex

    relations: list[Relation] = []
    g, docs, mentions = fixture_corpus(relations_to=relations)
    # a fact the graph leaves out, as it does one whose node it does not have (kg.graph.GraphBuilder)
    relations.append(Relation(IRI["李四"], "runsProgramme", f"{KGR}programme/none", Evidence("doc_a", 1, 4), 0.5, "开展"))
    assert f"{KGR}programme/none" not in g
    reads: Counter = Counter()

    class Stored:  # as a build's spooled mentions and relations: read again each time they are iterated
        def __init__(self, what: tuple[str, str], items: list) -> None:
            self.what, self.items = what, items

        def __iter__(self):
            reads[self.what] += 1
            return iter(list(self.items))

    monkeypatch.setattr(MentionIndex, "SPILL_ROWS", 1)
    spool = Spool(tmp_path) if spilled else None
    index = MentionIndex(spill=spool)
    for d in reversed(docs):
        ms = [m for m in mentions if m.doc_id == d.doc_id]
        rs = [r for r in relations if r.evidence.doc_id == d.doc_id]
        index.add(d, ms, stored=Stored(("mentions", d.doc_id), ms), relations=Stored(("relations", d.doc_id), rs))
    assert index.labels == Counter(m.label for m in mentions)
    assert index.has_relations and not MentionIndex.of(docs, mentions).has_relations  # a list's index: the graph's evidence
    assert bool(index.spilled) == spilled and max(map(len, index.rows.values())) == (0 if spilled else 3 * 6)
    most = Counter(m.iri for m in mentions).most_common(1)[0]
    assert most[1] == 3 and len(index.of_entity(most[0])) == 3  # all three read back from a chain of runs, with a spill
    for iri in {m.iri for m in mentions}:
        assert index.of_entity(iri) == sorted((m.doc_id, m.sentence, m.article, m.start, m.end) for m in mentions if m.iri == iri)
    # each document's record, in the spool with one: its mentions per article, the IRIs its articles' mentions denote
    assert (index.records is spool) == spilled
    for d in docs:
        inside = [m for m in mentions if m.doc_id == d.doc_id and m.article in {a[0] for a in d.articles}]
        assert inside and index.counts(d.doc_id) == Counter(m.article for m in inside)
        assert index.named(d.doc_id) == tuple(sorted({m.iri for m in inside}))
    assert (index.counts("no such document"), index.named("no such document")) == ({}, ())
    a = write_pages(g, docs, mentions, tmp_path / "list")
    b = write_pages(g, docs, index, tmp_path / "index")
    assert [p.relative_to(tmp_path / "list") for p in a] == [p.relative_to(tmp_path / "index") for p in b]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    assert reads == {(what, d.doc_id): 1 for d in docs for what in ("mentions", "relations")}
    if spool is not None:
        spool.close()


@pytest.mark.parametrize("shown", [1, 3])
def test_pages_of_a_graph_without_articles_are_the_pages_of_the_graph(tmp_path, monkeypatch, shown):
    """A build's graph leaves out the article level and keeps of each fact's evidence what the pages
    show, both of which grow with the pages (kg.graph.GraphBuilder(articles=False, evidence=k)): it
    has the whole graph's nodes and edges but the articles, the build's summary counts them as
    before, and its pages, given who wrote each article, are the same bytes (with 1 link shown of
    a fact's evidence too, so that some are cut). It needs the documents' relations for the
    evidence its articles' pages anchor."""
    from collections import Counter

    from kg.graph import MentionIndex, summary

    monkeypatch.setattr(kg.html, "EVIDENCE_SHOWN", shown)
    relations: list[Relation] = []
    lean: list = []
    g, docs, mentions = fixture_corpus(relations_to=relations, lean_to=lean)
    builder, entities = lean
    articles = {n for n, t in g.nodes(data="type") if t == ARTICLE}
    assert articles and not articles & set(entities)
    assert dict(entities.nodes(data=True)) == {n: d for n, d in g.nodes(data=True) if n not in articles}
    assert list(entities.edges(keys=True)) == [e for e in g.edges(keys=True) if e[0] not in articles]
    assert any(len(d["evidence"]) > shown for u, _, d in g.edges(data=True) if u not in articles) == (shown == 1)
    authors = {a: [v for _, v, k in g.out_edges(a, keys=True) if k == "author"] for a in articles}
    assert builder.authors == {a: v for a, v in authors.items() if v} and any(builder.authors.values())
    labels = Counter(m.label for m in mentions)
    assert summary(entities, labels, articles=builder.article_level(entities)) == summary(g, labels)
    index = MentionIndex()
    for d in docs:
        index.add(d, [m for m in mentions if m.doc_id == d.doc_id], relations=[r for r in relations if r.evidence.doc_id == d.doc_id])
    a = write_pages(g, docs, mentions, tmp_path / "graph")
    b = write_pages(entities, docs, index, tmp_path / "entities", authors=builder.authors)
    assert [p.relative_to(tmp_path / "graph") for p in a] == [p.relative_to(tmp_path / "entities") for p in b]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    with pytest.raises(ValueError, match="relations"):
        write_pages(entities, docs, mentions, tmp_path / "list", authors=builder.authors)


class _PageError(Exception): ...


def _broken_entity_page(env, inputs):
    raise _PageError(f"cannot render {inputs['iri']}")


def _dying_entity_page(env, inputs):
    os._exit(3)


def test_write_pages_raises_what_failed_in_a_worker(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(kg.html, "_entity_page", _broken_entity_page)
    with pytest.raises(_PageError, match="cannot render"):
        write_pages(*corpus, tmp_path, jobs=2)


def test_write_pages_raises_when_a_worker_dies(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(kg.html, "_entity_page", _dying_entity_page)
    with pytest.raises(BrokenProcessPool):
        write_pages(*corpus, tmp_path, jobs=2)

def test_pages_load_nothing_from_the_network(site):
    out, _ = site
    for page in _pages(out):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I), page
        assert "@import" not in text and "url(http" not in text


def _resolved_links(out: Path) -> int:
    """How many links and sources the pages under `out` have, each asserted to reach its file and anchor."""
    ids: dict[Path, set[str]] = {p: set(re.findall(r'\sid="([^"]+)"', p.read_text(encoding="utf-8"))) for p in _pages(out)}
    checked = 0
    for page in _pages(out):
        for ref in re.findall(r'(?:src|href)="([^"]+)"', page.read_text(encoding="utf-8")):
            path, _, anchor = html.unescape(ref).partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file(), (page, ref)
            if anchor:
                assert anchor in ids[target], (page, ref)
            checked += 1
    return checked


def test_pages_local_links_and_anchors_resolve(site):
    out, _ = site
    assert _resolved_links(out) > 100


def test_a_corpus_of_more_articles_than_the_overview_lists_has_pages_that_list_them_all(tmp_path, corpus, monkeypatch):
    """An archive has hundreds of thousands of articles: the overview lists the first
    MAX_LIST_ARTICLES and links to the pages under lists/ that list every article once, in the
    corpus's order, each with the others' links and the filter; a smaller corpus has no such pages,
    and a build that no longer needs them leaves none behind."""
    out = tmp_path / "out"
    monkeypatch.setattr(kg.html, "MAX_LIST_ARTICLES", 1)
    write_pages(*corpus, out)
    articles = sorted(p.relative_to(out).as_posix() for p in (out / "articles").glob("*.html"))
    assert len(articles) >= 3
    lists = kg.html.list_pages(len(articles))
    assert len(lists) == len(articles) and sorted(p.relative_to(out).as_posix() for p in (out / "lists").glob("*.html")) == lists
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('class="doc"') == 1 and all(f'href="{path}"' in index for path in lists)
    assert f"此处列出前 1 篇，全部 {len(articles)} 篇分 {len(lists)} 页列出" in index
    listed = []
    for n, path in enumerate(lists, 1):
        text = (out / path).read_text(encoding="utf-8")
        listed += [html.unescape(href).removeprefix("../") for href in re.findall(r'<a class="ref" href="([^"]+)"', text)]
        assert f'<strong aria-current="page">{n}</strong>' in text and 'id="page-search"' in text
        assert all(f'href="../{other}"' in text for other in lists if other != path)
    assert sorted(listed) == articles and len(listed) == len(set(listed))
    first = re.findall(r'<a class="ref" href="([^"]+)"', index.split('id="article-list"')[1])
    assert [html.unescape(h) for h in first] == listed[:1]  # the overview's are the first pages' first
    assert _resolved_links(out) > 100
    monkeypatch.setattr(kg.html, "MAX_LIST_ARTICLES", len(articles))
    write_pages(*corpus, out)
    assert not (out / "lists").exists() and 'id="article-lists"' not in (out / "index.html").read_text(encoding="utf-8")


def test_pages_a_graph_no_longer_has_are_removed_and_nothing_else(tmp_path, corpus, monkeypatch):
    """Written over an earlier build's pages, the pages leave none of those this graph no longer has
    in articles/, entities/ and lists/, and leave other files there and elsewhere; every page they
    list is there. The pages' paths sorted in runs of two (kg.strings.sort_strings) give the same."""
    out = tmp_path / "out"
    first = write_pages(*corpus, out)
    stale = [out / "articles" / "a-gone-0123456789.html", out / "entities" / "zz-gone.html", out / "lists" / "articles-9.html"]
    kept = [out / "articles" / "notes.txt", out / "other.html"]
    for path in stale + kept:
        path.parent.mkdir(exist_ok=True)
        path.write_text("x", encoding="utf-8")
    monkeypatch.setattr(kg.strings, "SORT_RUN", 2)
    again = write_pages(*corpus, out)
    assert again == first and all(p.is_file() for p in again)
    assert not any(p.exists() for p in stale) and all(p.read_text(encoding="utf-8") == "x" for p in kept)
    assert not (out / "lists").exists()  # left empty, and this corpus has no lists
    pages = sorted(p.relative_to(out).as_posix() for sub in ("articles", "entities") for p in (out / sub).glob("*.html"))
    assert pages == sorted(p.relative_to(out).as_posix() for p in again if p.parent.name in ("articles", "entities"))


def test_html_doctests_hold():
    import doctest

    assert doctest.testmod(kg.html).failed == 0


def test_graph_doctests_hold():
    import doctest

    import kg.graph

    results = doctest.testmod(kg.graph)
    assert results.attempted and results.failed == 0


def test_pages_escape_corpus_text(site):
    out, _ = site
    for page in _pages(out):
        text = page.read_text(encoding="utf-8")
        assert XSS not in text and SCRIPT not in text, page
        for data in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S):
            assert not re.search("[<>\u2028\u2029]", data), page
        tags = _Tags()
        tags.feed(text)
        assert "img" not in tags.names and not tags.handlers, page
        # exactly our own script elements; the data element closes only where we close it
        assert text.count("<script") == text.count("</script>") == (3 if "kg-graph" in text else 1), page
    entity = (out / "index.html").read_text(encoding="utf-8")
    assert html.escape(XSS, quote=False) in entity


def test_pages_embed_graph_json_that_parses_back(site, corpus):
    out, _ = site
    g = corpus[0]
    data = _graph_data(_entity_page(out, corpus, XSS))
    node = next(n for n in data["nodes"] if n["id"] == IRI[XSS])
    assert node["label"] == XSS
    assert XSS in node["title"] and SNEAKY in node["title"]
    assert node["x"] == 0 and node["y"] == 0
    assert {n["id"] for n in data["nodes"]} == {IRI[XSS], *nx.all_neighbors(g, IRI[XSS])} - {
        n for n in g if g.nodes[n]["type"] == ARTICLE
    }
    assert data["options"]["physics"] == {"enabled": False}


def test_overview_draws_every_entity_when_small(site, corpus):
    out, _ = site
    g = corpus[0]
    data = _graph_data(out / "index.html")
    entities = {n for n, t in g.nodes(data="type") if t != ARTICLE}
    assert {n["id"] for n in data["nodes"]} == entities
    assert all(isinstance(n["x"], int) and isinstance(n["y"], int) for n in data["nodes"])
    assert 'id="truncated"' not in (out / "index.html").read_text(encoding="utf-8")
    rels = {e["rel"] for e in data["edges"]}
    assert {"runsProgramme", "issuedPolicy", "containedInPlace", "actsWith", "servesPlace"} <= rels
    assert all(e.get("hidden") for e in data["edges"] if e["rel"] == "cooccursWith")


def test_overview_truncates_big_graph_and_says_so(tmp_path):
    g = big_graph(400)
    write_pages(g, [], [], tmp_path, max_overview_nodes=50)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    data = _graph_data(tmp_path / "index.html")
    assert len(data["nodes"]) == 50
    assert 'data-node-count="50"' in index and 'id="truncated"' in index and "400" in index
    drawn = {n["id"] for n in data["nodes"]}
    score = {n: g.nodes[n]["mentions"] + g.degree(n) for n in g}
    assert min(score[n] for n in drawn) >= max(score[n] for n in g if n not in drawn)
    assert len(list((tmp_path / "entities").glob("*.html"))) == 400
    assert index.count('<li data-key=') == 400


def test_article_page_highlights_each_mention_with_a_link(site, corpus):
    out, _ = site
    g, docs, mentions = corpus
    doc = docs[0]
    index, start, end, title, _ = doc.articles[1]
    page = next(p for p in (out / "articles").glob("*.html") if f"<h1>{title}</h1>" in p.read_text(encoding="utf-8"))
    text = page.read_text(encoding="utf-8")
    body = re.search(r'<article class="text" lang="zh-Hans">(.*?)</article>', text, re.S).group(1)
    # the text, tags removed, is the article as read
    assert html.unescape(re.sub(r"<[^>]+>", "", body)) == doc.text[start:end].strip()
    here = [m for m in mentions if m.doc_id == doc.doc_id and m.article == index]
    assert len(here) == 4
    for m in here:
        link = re.search(rf'<a class="m t-{m.label}" id="m-{m.start}-{m.end}" href="\.\./entities/([^"]+)"[^>]*>(.*?)</a>', body, re.S)
        assert link, m
        assert html.unescape(link.group(2)) == m.text
        assert g.nodes[m.iri]["label"] in (out / "entities" / link.group(1)).read_text(encoding="utf-8")
    assert html.escape(SCRIPT, quote=False) in body


def test_entity_page_lists_every_sentence_with_anchored_links(site, corpus):
    out, _ = site
    g, docs, mentions = corpus
    page = _entity_page(out, corpus, "双报到")
    text = page.read_text(encoding="utf-8")
    ms = [m for m in mentions if m.iri == IRI["双报到"]]
    assert len(ms) == 3
    for m in ms:
        assert f'#m-{m.start}-{m.end}"' in text
    assert "“双报到”" in text  # an alias
    assert "项目" in text and "Programme" in text
    assert "shuāng bào dào" in text
    # relations with their evidence sentence
    assert "铁西区委组织部在站前街道开展“双报到”工作。" in text


def test_entity_page_lists_the_sentences_of_its_first_articles_and_counts_the_rest(tmp_path, corpus, monkeypatch):
    """A hub of an archive is named in most of its pages: its page lists the sentences of the first
    MAX_SENTENCE_ARTICLES articles that name it, in the corpus's order, and says how many articles
    and sentences it leaves out; below the limit it says nothing of the kind."""
    g, docs, mentions = corpus
    ms = [m for m in mentions if m.iri == IRI["双报到"]]
    articles = sorted({(m.doc_id, m.article) for m in ms}, key=lambda a: article_iri(*a))
    sentences = {(m.doc_id, m.article, m.sentence) for m in ms}
    assert len(articles) >= 2
    monkeypatch.setattr(kg.html, "MAX_SENTENCE_ARTICLES", 1)
    write_pages(g, docs, mentions, tmp_path)
    text = _entity_page(tmp_path, corpus, "双报到").read_text(encoding="utf-8")
    first = articles[0]
    shown = {x for x in sentences if x[:2] == first}
    assert text.count("<h3>") == 1
    assert f"另有 {len(articles) - 1} 篇文章的 {len(sentences) - len(shown)} 个句子提及它，此处只列出前 1 篇" in text
    assert f"{len(articles) - 1} more articles ({len(sentences) - len(shown)} sentences) mention it" in text
    for m in ms:
        assert (f'#m-{m.start}-{m.end}"' in text) == ((m.doc_id, m.article) == first)
    monkeypatch.setattr(kg.html, "MAX_SENTENCE_ARTICLES", len(articles))
    write_pages(g, docs, mentions, tmp_path)
    text = _entity_page(tmp_path, corpus, "双报到").read_text(encoding="utf-8")
    assert text.count("<h3>") == len(articles) and "more articles" not in text


def _article_page(out: Path, title: str) -> Path:
    return next(p for p in (out / "articles").glob("*.html") if f"<h1>{html.escape(title, quote=False)}</h1>" in p.read_text(encoding="utf-8"))


def test_article_page_network_shows_what_this_article_says(site, corpus):
    out, _ = site
    g, docs, _ = corpus
    doc_b = next(d for d in docs if d.doc_id == "doc_b")
    data = _graph_data(_article_page(out, "共建"))
    org = IRI["铁西区委组织部"]
    assert g.nodes[org]["mentions"] == 2  # one of them in doc_a
    node = next(n for n in data["nodes"] if n["id"] == org)
    lines = node["title"].split("\n")
    assert lines[0] == g.nodes[org]["label"]
    assert "本文提及 mentions here: 1" in lines and not any(line.startswith("提及 mentions:") for line in lines)
    sentence = "与铁西区委组织部共同开展双报到。"
    assert sentence in lines[-1] and lines[-1].startswith("“")
    assert node["value"] == 1 + 1 + sum(1 for e in data["edges"] if org in (e["from"], e["to"]))
    # the stated fact and the co-occurrence are read in doc_a too: here they show this article's evidence
    u, v = sorted([org, IRI["双报到"]])
    assert g.edges[u, v, "cooccursWith"]["count"] == 2 and g.edges[u, v, "cooccursWith"]["evidence"][0][0] == "doc_a"
    for edge in data["edges"]:
        if edge["rel"] == "cooccursWith" and {edge["from"], edge["to"]} == {u, v}:
            tip = edge["title"].split("\n")
            assert tip[1] == "本文证据 evidence here: 1" and sentence in tip[2] and sentence in doc_b.text
            assert "置信度" not in edge["title"]
            break
    else:
        raise AssertionError("no co-occurrence edge drawn")
    # ontology edges say so, with no evidence
    ontology = [e for e in _graph_data(_article_page(out, "四平市铁西区开展双报到"))["edges"] if "本体 from the ontology" in e["title"]]
    assert ontology and all("本文证据" not in e["title"] for e in ontology)


def test_article_pages_unchanged_when_a_document_naming_their_entities_is_added(tmp_path):
    small, more = fixture_corpus(), fixture_corpus(MORE)
    assert more[0].nodes[IRI["双报到"]]["mentions"] > small[0].nodes[IRI["双报到"]]["mentions"]
    u, v = sorted([IRI["铁西区委组织部"], IRI["双报到"]])
    assert more[0].edges[u, v, "cooccursWith"]["count"] > small[0].edges[u, v, "cooccursWith"]["count"]
    write_pages(*small, tmp_path / "small")
    write_pages(*more, tmp_path / "more")
    for title in ("四平市铁西区开展双报到", "红心物业进社区", "共建"):
        before, after = _article_page(tmp_path / "small", title), _article_page(tmp_path / "more", title)
        assert before.name == after.name
        assert before.read_bytes() == after.read_bytes(), title
    # while the corpus pages do change: they count every mention
    name = _entity_page(tmp_path / "small", small, "双报到").name
    assert (tmp_path / "small" / "entities" / name).read_bytes() != (tmp_path / "more" / "entities" / name).read_bytes()
    assert len(list((tmp_path / "more" / "articles").glob("*.html"))) == 4


def test_entity_page_of_ontology_node_says_where_it_comes_from(site, corpus):
    out, _ = site
    text = _entity_page(out, corpus, "四平市").read_text(encoding="utf-8")
    assert "220300" in text
    assert "not mentioned in the corpus" not in text  # 四平市 is mentioned
    assert "四平" in text


def test_write_pages_removes_pages_of_an_earlier_graph(tmp_path, corpus):
    write_pages(big_graph(30), [], [], tmp_path)
    written = write_pages(*corpus, tmp_path)
    assert sorted(tmp_path.rglob("*.html")) == sorted(p for p in written if p.suffix == ".html")


@pytest.mark.parametrize(
    "iri, label",
    [
        ("https://w3id.org/kg/id/x/../../etc/passwd", "../../etc/passwd"),
        ("urn:a", XSS),
        ("urn:b", "CON"),
        ("urn:c", "四平市" * 50),
        ("urn:d", ""),
        ("urn:e", "\u2028\x00/\\:*?\"<>|"),
    ],
)
def test_page_names_are_safe(iri, label):
    name = page_names([(iri, label)])[iri]
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,50}\.html", name), name


def test_page_names_never_collide():
    items = [(f"urn:x:{i}", "铁西区") for i in range(500)] + [("urn:y", "tie-xi-qu")]
    names = page_names(items)
    assert len(set(names.values())) == len(items)
    assert names == page_names(reversed(items))


def _articled(doc_id: str, ranges: list[tuple[int, int, int]]) -> DocInfo:
    return DocInfo(doc_id, "x" * 100, "utf-8", [(i, s, e, f"t{i}", None) for i, s, e in ranges])


# the documents' numbers, as a build's kg.build.Documents gives them: none, all, or some (the rest by id)
NUMBERINGS = [None, {"c": 0, "b": 1, "a/铁西 50%#1": 2}, {"a/铁西 50%#1": 1, "other": 0}]


@pytest.mark.parametrize("numbers", NUMBERINGS)
def test_the_sites_articles_answer_as_the_maps_they_replace(numbers):
    # kg.html._Articles packs each document's articles; what it answers is what the maps of
    # (document, index), of sorted rows and of names gave (page_names over every article)
    docs = {
        "a/铁西 50%#1": _articled("a/铁西 50%#1", [(2, 40, 60), (0, 0, 20), (1, 20, 40)]),  # in order of their ranges, not of their indices
        "b": _articled("b", [(0, 0, 10), (1, 12, 12), (2, 12, 30)]),  # a gap and an empty article
        "c": _articled("c", []),
    }
    site = kg.html._Articles(docs, numbers)
    assert len(site._of) == (0 if numbers is NUMBERINGS[1] else 2 if numbers else 3)  # by number where they have one
    names = page_names((article_iri(d.doc_id, a[0]), f"{d.doc_id}-{a[0]}") for d in docs.values() for a in d.articles)
    for d in docs.values():
        for index, start, _end, _title, _byline in d.articles:
            iri = article_iri(d.doc_id, index)
            assert site.iri(d.doc_id, index) == iri and iri in site
            assert site.name(iri) == site.name_of(d.doc_id, index) == names[iri]
        assert site.iri(d.doc_id, 7) is None and site.name_of(d.doc_id, 7) is None
        rows = sorted((s, e, article_iri(d.doc_id, i)) for i, s, e, *_ in d.articles)
        for offset in range(-1, 102):
            i = article_index(rows, [r[0] for r in rows], offset)
            assert site.at(d.doc_id, offset) == (rows[i][2] if i is not None else None)
    assert [site.at("a/铁西 50%#1", o) for o in (0, 19, 20, 59, 60)] == [article_iri("a/铁西 50%#1", i) for i in (0, 0, 1, 2)] + [None]
    assert [site.at("b", o) for o in (9, 10, 12, 13)] == [article_iri("b", 0), None, article_iri("b", 2), article_iri("b", 2)]  # the empty one is hidden
    assert site.at("c", 0) is site.at("z", 0) is None
    assert (site.cover("a/铁西 50%#1"), site.cover("b"), site.cover("c"), site.cover("z")) == ((0, 60), None, None, False)
    # IRIs that read as an article's but are not its own, or are no article's
    for iri in (article_iri("b", 0) + "0", article_iri("b", 0)[:-1] + "00", article_iri("z", 0), article_iri("b", -1), KGR + "doc/b", "urn:x", article_iri("b", 0) + "#x"):
        assert iri not in site and site.name(iri) is None, iri
    assert 3 not in site


@pytest.mark.parametrize("numbers", [None, {"b": 0, "a": 1}])
def test_the_sites_articles_name_every_article_as_page_names_does_when_short_names_meet(monkeypatch, numbers):
    # a clash of short names (a 40-bit chance) makes every name as page_names makes them
    docs = {d: _articled(d, [(0, 0, 10), (1, 10, 20)]) for d in ("a", "b")}
    monkeypatch.setattr(kg.html, "_page_name", lambda iri, label: "same.html")
    site = kg.html._Articles(docs, numbers)
    names = page_names((article_iri(d, i), f"{d}-{i}") for d in docs for i in (0, 1))
    assert len(set(names.values())) == 4
    assert {site.name(iri) for iri in names} == set(names.values())
    assert all(site.name(iri) == name for iri, name in names.items())


def test_slug_and_search_key_use_pinyin():
    assert slug("四平市铁西区") == "si-ping-shi-tie-xi-qu"
    assert pinyin("站前街道") == ("zhanqianjiedao", "zqjd")
    key = search_key("四平市民政局", ["市民政局"])
    assert {"四平市民政局", "sipingshiminzhengju", "spsmzj", "shiminzhengju"} <= set(key.split("|"))


@given(st.recursive(st.text() | st.integers() | st.booleans(), lambda c: st.lists(c) | st.dictionaries(st.text(), c), max_leaves=20))
def test_script_json_parses_back_and_cannot_end_the_script(data):
    text = str(script_json(data))
    assert json.loads(text) == data
    assert not re.search("[<>&\u2028\u2029]", text)


def _pyvis_network(nodes, edges, pos, *, hidden_relations=frozenset(), edge_labels, focus=None, overview=False) -> str:
    """The networks' JSON as kg.html made it with pyvis and script_json (at 0ec7bb1^): the reference of _network."""
    from collections import Counter
    import math

    from pyvis.network import Network

    net = Network(directed=True, cdn_resources="remote")
    for n in nodes:
        st_ = kg.html.type_style(n.type)
        extra = {}
        if n.new:
            extra["shapeProperties"] = {"borderDashes": [4, 3]}
            extra["borderWidth"] = 2
        value = n.value
        if n.iri == focus:
            extra["borderWidth"] = 4
            extra["font"] = {"size": 18, "bold": True}
            value = max([value, *(m.value for m in nodes)])
        x, y = pos[n.iri]
        colour = kg.html._darker(st_.colour) if n.new or n.iri == focus else st_.colour
        net.add_node(n.iri, label=n.label, shape=st_.shape, color={"background": st_.colour, "border": colour}, value=value, title=n.title,
                     x=x, y=y, type=n.type, href=n.href, key=n.key, **extra)  # fmt: skip
    seen: Counter = Counter()
    for i, edge in enumerate(edges):
        st_ = kg.html.rel_style(edge.key)
        pair = tuple(sorted((edge.u, edge.v)))
        bend = seen[pair]
        seen[pair] += 1
        e = {
            "id": f"e{i}",
            "rel": edge.key,
            "color": {"color": st_.colour, "highlight": "#222222", "hover": "#222222"},
            "dashes": st_.dashes or edge.ontology and edge.key not in (kg.html.WITHIN, kg.html.PART_OF),
            "width": round(1 + min(3.0, math.log2(1 + edge.count)), 2),
            "title": edge.title,
            "arrows": "to" if st_.arrow else "",
        }
        if edge_labels:
            e["label"] = st_.zh
        if edge.key in hidden_relations:
            e["hidden"] = True
        if bend:
            e["smooth"] = {"enabled": True, "type": "curvedCW", "roundness": round(0.15 * bend, 2)}
        net.add_edge(edge.u, edge.v, **e)
    options = json.loads(kg.html._options(len(nodes) > 300, overview))
    return str(script_json({"nodes": net.nodes, "edges": net.edges, "options": options}))


_names = st.text(alphabet="ab<&\u2028\"中", max_size=3)


@st.composite
def _networks(draw):
    iris = draw(st.lists(_names, min_size=1, max_size=6))  # repeated IRIs: a node is drawn once
    types = st.sampled_from([*kg.html.TYPES, "OTHER"])
    nodes = [
        kg.html._Node(iri, draw(_names), draw(types), draw(st.booleans()), draw(_names), draw(st.text()), draw(_names), draw(st.integers(1, 50)))
        for iri in iris
    ]
    keys = st.sampled_from([*kg.html.RELATIONS, "other"])
    edges = draw(st.lists(st.builds(kg.html._Edge, st.sampled_from(iris), st.sampled_from(iris), keys, st.booleans(), st.integers(0, 99), st.text()), max_size=8))
    pos = {iri: (draw(st.integers(-999, 999)), draw(st.integers(-999, 999))) for iri in iris}
    hidden = frozenset(draw(st.lists(keys, max_size=2)))
    return nodes, edges, pos, {"hidden_relations": hidden, "edge_labels": draw(st.booleans()), "focus": draw(st.sampled_from([None, *iris])), "overview": draw(st.booleans())}


@given(_networks())
def test_network_json_is_pyvis_network_as_script_json(network):
    nodes, edges, pos, options = network
    assert str(kg.html._network(nodes, edges, pos, **options)) == _pyvis_network(nodes, edges, pos, **options)


@pytest.mark.parametrize("jobs", [1, 2])
def test_write_pages_bytes_are_those_of_the_reference(tmp_path, jobs):
    """Every page of the test corpus (and a document more) byte for byte as recorded in
    data/pages.sha256, made by the code before the pages were optimised (ceb860a): work on speed
    must not change a page. A change of the pages on purpose records them anew:
    `sha256sum` of each page, as below."""
    import hashlib

    write_pages(*fixture_corpus(MORE), tmp_path, jobs=jobs)
    got = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(tmp_path)}\n" for p in _pages(tmp_path))
    assert got == (Path(__file__).parent / "data" / "pages.sha256").read_text(encoding="utf-8")


def test_write_pages_handles_a_corpus_without_entities(tmp_path):
    doc = DocInfo("empty", "无名之文。\n", "utf-8", [(0, 0, 6, "无名之文。", None)])
    g = nx.MultiDiGraph()
    g.add_node(article_iri("empty", 0), type=ARTICLE, label="无名之文。", aliases=[], mentions=0, new=False, doc="empty", start=0, end=6)
    written = write_pages(g, [doc], [], tmp_path)
    assert len([p for p in written if p.suffix == ".html"]) == 2
    assert _graph_data(tmp_path / "index.html")["nodes"] == []
    assert "无名之文。" in next((tmp_path / "articles").glob("*.html")).read_text(encoding="utf-8")


def test_seeds_pages_cover_every_mention_and_entity(seeds_build):
    """The real build: each mention is a highlighted link on its article page, each entity has a page."""
    out = seeds_build.out
    rows = [json.loads(line) for line in (out / "mentions.jsonl").read_text(encoding="utf-8").splitlines()]
    articles = {p: p.read_text(encoding="utf-8") for p in (out / "articles").glob("*.html")}
    anchors = {
        (re.search(r"文章 Article · (\S+) #", t).group(1), a) for t in articles.values() for a in re.findall(r'id="(m-\d+-\d+)"', t)
    }
    assert {(r["doc"], f"m-{r['start']}-{r['end']}") for r in rows} <= anchors
    entities = {p: p.read_text(encoding="utf-8") for p in (out / "entities").glob("*.html")}
    iris = set().union(*(re.findall(r"<dt>IRI</dt><dd><code>([^<]+)</code>", t) for t in entities.values()))
    assert {r["entity"] for r in rows} <= iris
    assert len(iris) == len(entities)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<li data-key=") == len(entities) + len(articles)
    programme = next(t for t in entities.values() if "<h1>双报到 " in t)
    assert programme.count('<a class="hit"') >= 5
    for page in [out / "index.html", *articles, *entities]:
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page.read_text(encoding="utf-8")), page


def test_a_graphs_authors_kept_in_a_spool_are_those_it_holds_without_one(tmp_path):
    # a build's GraphBuilder keeps who wrote each article in its spool, a document at a time
    # (kg.graph.SpilledAuthors): read back, they are what the graph holds without a spool, sorted,
    # and once the graph is made, those that are its nodes
    from kg.build import Spool
    from kg.graph import SpilledAuthors

    relations: list[Relation] = []
    lean: list = []
    _, docs, mentions = fixture_corpus(relations_to=relations, lean_to=lean)
    nobody = f"{KGR}new/PERSON/nobody"  # an author the graph has no node of
    relations.append(Relation(article_iri(docs[0].doc_id, 0), "author", nobody, Evidence(docs[0].doc_id, 0, 2), 0.5))
    spool = Spool(tmp_path)
    held, spilled = GraphBuilder(lean[0].onto, articles=False), GraphBuilder(lean[0].onto, articles=False, spill=spool)
    assert type(spilled.authors) is SpilledAuthors
    for builder in (held, spilled):
        for d in docs:
            rs = [r for r in relations if r.evidence.doc_id == d.doc_id]
            builder.add([d], [m for m in mentions if m.doc_id == d.doc_id], rs[:3])
            builder.add([], [], rs[3:])  # a document's statements in two calls: the second adds to its record
    assert held.authors and spool.size > 0 and nobody in spilled.authors[article_iri(docs[0].doc_id, 0)]
    assert dict(spilled.authors.items()) == {a: tuple(sorted(v)) for a, v in held.authors.items()} and len(spilled.authors) == len(held.authors)
    g = held.graph(release=True)
    spilled.graph(release=True)
    assert dict(spilled.authors.items()) == held.authors and all(type(v) is tuple for v in held.authors.values())
    article = next(iter(held.authors))
    assert spilled.authors[article] == held.authors[article] and article in spilled.authors
    for missing in (article + "0", article_iri("z", 0), "urn:x", 3):
        assert missing not in spilled.authors and spilled.authors.get(missing) is None
    assert {o for v in held.authors.values() for o in v} <= set(g) and nobody not in g and spilled.authors[article_iri(docs[0].doc_id, 0)]
    spool.close()
