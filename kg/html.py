"""The interactive pages: an overview with search, one page per article, one page per entity.

Every page opens from disk without network: vis-network (shipped inside pyvis) and our own script
and stylesheet are copied once to `assets/`. Each network's nodes and edges are the dicts pyvis
would hold (made here, at a fraction of its cost); positions come from a layout computed here with a
fixed seed and vis-network draws them with physics off, so a page shows thousands of nodes in about
a second and the same graph always gives the same bytes.
All corpus text reaches the page escaped: by Jinja in HTML, and as JSON with `<`, `>`, `&`,
U+2028 and U+2029 escaped inside `<script type="application/json">`, read with `JSON.parse`.
Tooltips are plain strings, which vis-network shows as text. The overview and entity pages show
what the whole corpus says of each node; an article page shows what that article says (mentions and
evidence in it), so that adding documents leaves the pages of the others unchanged. Each page is
rendered from its inputs alone (plain values gathered from the graph), and a hash of them and of the
page code is its key: a rebuild links the earlier build's page when the key is the same (write_pages,
`previous`). This module never imports spaCy.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from importlib import metadata
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import networkx as nx
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pypinyin import Style, lazy_pinyin

from kg.graph import ARTICLE, EVIDENCE_SHOWN, DocInfo, MentionIndex
from kg.mention import Mention
from kg.relations import (
    ACTS_WITH,
    AUTHOR,
    COOCCURS,
    ISSUED,
    MENTIONS,
    PART_OF,
    RUNS,
    SERVES,
    WITHIN,
    article_doc,
    article_iri,
)
from kg.strings import StringFile, Unnamed, sort_strings

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
ASSETS = HERE / "html_assets"
# vis-network as pyvis ships it, found without importing pyvis (which imports IPython: 0.07 s)
VIS = Path(importlib.util.find_spec("pyvis").origin).resolve().parent / "templates" / "lib" / "vis-9.1.2"

# The overview's limit, from measurements in headless Chromium on random long-tailed graphs
# (first frame after navigation, median of 3 / one redraw while panning / Python layout):
#   500 nodes 0.6 s / 6-17 ms / 0.3 s;  1,000 0.85 s / 7-16 ms / 0.5 s;  1,500 1.0 s / 15-17 ms / 1.4 s;
#   2,000 1.3 s / 19-49 ms / 2.7 s;  3,000 2.1 s / 26-48 ms / 10 s.
# Up to 1,000 nodes the page is drawn in under a second and pans at 60 frames a second; past it the
# dense layout grows quadratically and, at the zoom that shows the whole, nodes shrink to dots.
MAX_OVERVIEW_NODES = 1000
# The overview lists at most this many articles (the first, in the corpus's order); a corpus with
# more lists every article on pages of this many under lists/ (the seeds x200 have 7,400 articles,
# 4 MB of the overview's 4.6; an archive of 100,000 pages would make a page of hundreds of MB).
MAX_LIST_ARTICLES = 2000
MAX_NEIGHBOURS = 120  # an entity page draws at most this many neighbours (lists show them all)
# An entity page lists the sentences of at most this many articles that mention it (the first, in
# the corpus's order), and counts the rest: a hub of an archive is named in most of its pages (铁东区
# in 2,000 articles of the seeds x200, a 1.8 MB page, ten times that for x2000), and every mention is in
# mentions.jsonl and kg.ttl. Every article page is linked from the overview or the lists.
MAX_SENTENCE_ARTICLES = 200
# The texts a page process keeps read (a build keeps them in its spool): the pages of hubs quote the
# same first articles, and an article page the text of its neighbours' document
TEXTS_READ = 256
PAGES_REPORTED = 256  # one process writes its pages in runs of this many, reporting its progress after each
SEED = 7
SPACING = 90  # the side of the square of drawing each node gets in the layouts
ASPECT = 1.6  # width / height of the drawings: components are packed to fill it
FONT = 'system-ui, "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif'


@dataclass(frozen=True, slots=True)
class TypeStyle:
    zh: str
    en: str
    colour: str
    shape: str


@dataclass(frozen=True, slots=True)
class RelStyle:
    zh: str
    en: str
    colour: str
    dashes: bool
    arrow: bool


TYPES: dict[str, TypeStyle] = {
    "PERSON": TypeStyle("人物", "Person", "#e15759", "dot"),
    "ORG": TypeStyle("机构", "Organisation", "#4e79a7", "square"),
    "PLACE": TypeStyle("地点", "Place", "#59a14f", "triangle"),
    "PROGRAMME": TypeStyle("项目", "Programme", "#f28e2b", "star"),
    "POLICY": TypeStyle("政策", "Policy", "#b07aa1", "diamond"),
    ARTICLE: TypeStyle("文章", "Article", "#9c755f", "hexagon"),
}
OTHER_TYPE = TypeStyle("其他", "Other", "#9a9a9a", "dot")

RELATIONS: dict[str, RelStyle] = {
    WITHIN: RelStyle("位于", "within", "#59a14f", False, True),
    PART_OF: RelStyle("隶属", "part of", "#4e79a7", False, True),
    SERVES: RelStyle("主管", "serves", "#76b7b2", True, True),
    RUNS: RelStyle("开展", "runs", "#f28e2b", False, True),
    ISSUED: RelStyle("印发", "issued", "#b07aa1", False, True),
    ACTS_WITH: RelStyle("协同", "acts with", "#7f6a5a", False, False),
    AUTHOR: RelStyle("作者", "author", "#e15759", True, True),
    MENTIONS: RelStyle("提及", "mentions", "#c9c9c9", True, True),
    COOCCURS: RelStyle("同句", "same sentence", "#c4c4c4", True, False),
}
OTHER_REL = RelStyle("关系", "related", "#888888", False, True)
# relations drawn but switched off at first in the overview: they outnumber the stated facts
OVERVIEW_HIDDEN = frozenset({COOCCURS})
# how strongly a relation pulls its ends together in the layouts
LAYOUT_WEIGHT = {COOCCURS: 0.3}


def type_style(t: str) -> TypeStyle:
    return TYPES.get(t, OTHER_TYPE)


def rel_style(p: str) -> RelStyle:
    return RELATIONS.get(p, OTHER_REL)


# ---------------------------------------------------------------------------------------------
# names, search keys, escaping


@lru_cache(maxsize=None)
def pinyin(text: str) -> tuple[str, str]:
    """Pinyin of a name without tones, and its initials, lower case.

    >>> pinyin("四平市")
    ('sipingshi', 'sps')
    """
    syllables = [s for s in lazy_pinyin(text, style=Style.NORMAL, errors="default") if s.strip()]
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables if s[0].isalnum()).lower()
    return re.sub(r"\s+", "", full), initials


def search_key(label: str, aliases: Iterable[str] = ()) -> str:
    """What the search boxes match against: names, their pinyin and pinyin initials, lower case."""
    parts = []
    for name in [label, *aliases]:
        full, initials = pinyin(name)
        parts += [name.lower(), full, initials]
    return "|".join(dict.fromkeys(p for p in parts if p))


_search_key = lru_cache(maxsize=None)(search_key)  # of an entity and the names an article gives it: alike on many pages


def slug(text: str, *, limit: int = 40) -> str:
    """An ASCII file-name part from a name: its pinyin, letters and digits only.

    >>> slug("铁西区民政局")
    'tie-xi-qu-min-zheng-ju'
    >>> slug("../<img src=x>")
    'img-src-x'
    """
    # pypinyin keeps a run without Chinese whole: an ASCII name (a file name) is its own pinyin
    words = [text] if text.isascii() else lazy_pinyin(text, style=Style.NORMAL, errors="default")
    s = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")
    return s[:limit].rstrip("-")


def page_names(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A safe, unique file name for each (IRI, label): the label's slug and a hash of the IRI.

    Names are lower-case ASCII, at most 52 characters plus `.html`, and cannot leave their
    directory; when two short hashes collide the later IRI (in sorted order) gets the full hash.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for iri, label in sorted(items):
        name = _page_name(iri, label)
        if name in taken:
            stem, digest = slug(label), hashlib.sha1(iri.encode("utf-8")).hexdigest()
            name = f"{stem}-{digest}.html" if stem else f"{digest}.html"
        taken.add(name)
        names[iri] = name
    return names


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: object) -> Markup:
    """JSON safe inside `<script type="application/json">`: no `</script>`, `<!--` or line separators.

    >>> str(script_json({"a": "</script><!--\u2028"}))
    '{"a":"\\\\u003c/script\\\\u003e\\\\u003c!--\\\\u2028"}'
    """
    return _script_safe(_JSON.encode(data))


_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _script_safe(text: str) -> Markup:
    """JSON text with the characters that could end or break a script escaped."""
    # a replace per character scans the text faster than a pattern (none adds another's character)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return Markup(text)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------
# layouts: computed here, drawn with physics off


def _components_layout(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str, float]],
    *,
    seed: int = SEED,
    crowded: float = 0.0,
    labels: dict[str, str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Pixel positions: each connected component by a seeded force layout, packed in rows.

    Lone nodes get room for their label (about 13 pixels a character) so that a row of them reads.
    """
    order = sorted(set(nodes))
    index = {n: i for i, n in enumerate(order)}
    # the undirected graph, each pair once with the strongest of its weights, by position in `order`
    weights: dict[tuple[int, int], float] = {}
    for u, v, w in edges:
        i, j = index.get(u), index.get(v)
        if i is not None and j is not None and i != j:
            pair = (i, j) if i < j else (j, i)
            weights[pair] = max(w, weights.get(pair, 0.0))
    linked = {i for pair in weights for i in pair}
    rooms = tuple(0 if i in linked else len((labels or {}).get(n, "")) for i, n in enumerate(order))
    return dict(zip(order, _graph_positions(len(order), tuple(sorted(weights.items())), rooms, seed, crowded)))


# Positions depend only on the graph's shape (nodes in sorted order, weighted edges between them, the
# length of lone nodes' labels), not on names: thousands of article networks have a few dozen shapes.
@lru_cache(maxsize=4096)
def _graph_positions(
    n: int, weights: tuple[tuple[tuple[int, int], float], ...], rooms: tuple[int, ...], seed: int, crowded: float
) -> tuple[tuple[int, int], ...]:
    """The positions of nodes 0 to n - 1 (see _components_layout), linked by ((i, j), weight) with i < j."""
    links: dict[int, list[int]] = defaultdict(list)
    for i, j in dict(weights):
        links[i].append(j)
        links[j].append(i)
    comps = []
    seen: set[int] = set()
    for i in range(n):
        if i not in seen:
            seen.add(i)
            comp, todo = [i], [i]
            while todo:
                for j in links.get(todo.pop(), ()):
                    if j not in seen:
                        seen.add(j)
                        comp.append(j)
                        todo.append(j)
            comp.sort()
            comps.append(comp)
    comps.sort(key=lambda c: (-len(c), c[0]))
    weight = dict(weights)
    boxes = []
    for comp in comps:
        if len(comp) == 1:
            room = max(0.0, 13.0 * rooms[comp[0]] - SPACING + 20)
            boxes.append(({comp[0]: (0.0, 0.0)}, -room / 2, 0.0, room, 0.0))
            continue
        at = {i: k for k, i in enumerate(comp)}
        shape = tuple(sorted((at[i], at[j], weight[(i, j)]) for i in comp for j in links[i] if i < j))
        pos = dict(zip(comp, _shape_positions(len(comp), shape, seed, crowded)))
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        boxes.append((pos, min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
    margin = SPACING
    area = sum((w + margin) * (hh + margin) for _, _, _, w, hh in boxes)
    row_width = max([math.sqrt(area * ASPECT)] + [w for *_, w, _ in boxes])
    out: dict[int, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for pos, x0, y0, w, hh in boxes:
        if x > 0 and x + w > row_width:
            x, y, row_height = 0.0, y + row_height + margin, 0.0
        for i, (px, py) in pos.items():
            out[i] = (px - x0 + x, py - y0 + y)
        x += w + margin
        row_height = max(row_height, hh)
    if not out:
        return ()
    cx = (min(p[0] for p in out.values()) + max(p[0] for p in out.values())) / 2
    cy = (min(p[1] for p in out.values()) + max(p[1] for p in out.values())) / 2
    return tuple((round(out[i][0] - cx), round(out[i][1] - cy)) for i in range(n))


# A component's positions depend only on its shape: article networks are mostly pairs, triangles and
# small stars, laid out once each.
@lru_cache(maxsize=4096)
def _shape_positions(n: int, edges: tuple[tuple[int, int, float], ...], seed: int, crowded: float) -> tuple[tuple[float, float], ...]:
    return _spread(_force_layout(n, edges, seed=seed), crowded=crowded)


def _force_layout(n: int, edges: Iterable[tuple[int, int, float]], *, seed: int, iterations: int = 60):
    """Fruchterman-Reingold on a dense weight matrix, seeded: the same positions every run.

    networkx's spring_layout needs scipy from 500 nodes on; this is its dense method, in float32,
    about 1.5 s for a 1,500-node component. Nodes are 0 to n - 1, edges (i, j, weight).
    """
    import numpy as np

    adj = np.zeros((n, n), dtype=np.float32)
    for i, j, w in edges:
        adj[i, j] = adj[j, i] = w
    # x and y as the two rows of one array: half the numpy calls, which dominate on small components
    xy = np.random.RandomState(seed).rand(n, 2).astype(np.float32).T.copy()
    k = np.float32(math.sqrt(1.0 / n))
    kk = k * k
    t = np.float32(0.1)
    dt = t / (iterations + 1)
    for _ in range(iterations):
        d = xy[:, :, None] - xy[:, None, :]
        dist = np.sqrt(d[0] * d[0] + d[1] * d[1])
        np.maximum(dist, 0.01, out=dist)
        # repulsion k²/d minus attraction w·d²/k, along the unit vector (dx, dy) / d
        force = kk / (dist * dist) - adj * (dist / k)
        f = (d * force).sum(axis=2)
        length = np.sqrt(f[0] * f[0] + f[1] * f[1])
        length[length < 0.01] = 0.1
        xy += f * (t / length)
        t -= dt
    return xy.T.astype(np.float64, order="C")


def _spread(xy, *, crowded: float) -> tuple[tuple[float, float], ...]:
    """Scale a component's layout to `SPACING`² pixels of area per node, spread further if crowded.

    Scaling by area keeps stars (a district and its forty bodies) compact, so that hubs' labels stay
    readable when a whole graph is shown; `crowded` (0 to 1) moves the scale towards the one that
    puts each node's nearest neighbour `SPACING` away, which small networks can afford.
    """
    import numpy as np

    w, h = np.ptp(xy, axis=0) if len(xy) else (0.0, 0.0)
    area = w * h if min(w, h) > 1e-3 * max(w, h, 1e-9) else max(w, h, 1e-9) ** 2 / len(xy)
    scale = SPACING * math.sqrt(len(xy) / max(area, 1e-12))
    if crowded > 0 and len(xy) > 1:
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        typical = float(np.median(d.min(axis=1)))
        if typical > 1e-9:
            scale = scale ** (1 - crowded) * (SPACING / typical) ** crowded
    return tuple((float(x * scale), float(y * scale)) for x, y in xy.tolist())


def _radial_layout(center: str, others: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The entity in the middle, its neighbours on rings around it in the given order."""
    pos = {center: (0, 0)}
    i, ring = 0, 1
    while i < len(others):
        radius = 170 * ring
        chunk = others[i : i + max(8, int(2 * math.pi * radius / 100))]
        turn = 0.5 * (ring - 1) / max(len(chunk), 1)
        for j, n in enumerate(chunk):
            a = 2 * math.pi * (j / len(chunk) + turn) - math.pi / 2
            pos[n] = (round(radius * math.cos(a)), round(radius * math.sin(a)))
        i += len(chunk)
        ring += 1
    return pos


# ---------------------------------------------------------------------------------------------
# the corpus as the pages need it


class _CorpusNode(NamedTuple):
    """What the overview and the entity pages show of a node: the corpus's facts about it."""

    iri: str
    label: str  # as stored in the graph, possibly empty
    type: str
    new: bool
    href: str
    aliases: tuple[str, ...]
    mentions: int
    sentence: str  # the first sentence naming it, clipped
    value: int  # the size: mentions + links + 1

    __repr__ = tuple.__repr__  # in a page's key: the values, not the names of the fields


class _CorpusEdge(NamedTuple):
    u: str
    v: str
    key: str
    source: str
    count: int
    confidence: object
    sentence: str | None  # the first evidence sentence, clipped; None when its document is not in the corpus

    __repr__ = tuple.__repr__  # in a page's key: the values, not the names of the fields


class _Named:
    """What an article page knows of the corpus about an IRI it names."""

    __slots__ = ("label", "type", "new", "href", "entity", "_repr")

    def __init__(self, label: str | None, type: str, new: bool, href: str | None, entity: bool) -> None:
        self.label = label  # None when the IRI is not a node of the graph
        self.type = type
        self.new = new
        self.href = href
        self.entity = entity  # drawn in the article's network
        # in the key of every article page that names it: made once
        self._repr = repr((label, type, new, href, entity))

    def __repr__(self) -> str:
        return self._repr


class _Heading:
    """An article as entity pages head the sentences they quote from it."""

    __slots__ = ("title", "href", "doc", "page", "_repr")

    def __init__(self, title: str, href: str | None, doc: str, page: str) -> None:
        self.title = title
        self.href = href
        self.doc = doc
        self.page = page  # its file name under articles/
        # in the key of every entity page that quotes it: made once
        self._repr = repr((title, href, doc, page))

    def __repr__(self) -> str:
        return self._repr


class _ArticleEdge(NamedTuple):
    u: int  # the position of the IRI among those the article names
    v: int
    key: str
    source: str
    evidence: tuple[tuple[int, int], ...]  # its evidence in this article

    __repr__ = tuple.__repr__  # in a page's key: the values, not the names of the fields


class _Texts:
    """Documents' texts by doc id, as a page's inputs hold them: in its key each stands as a digest,
    and a text is read when the page is rendered, not to make its key (a build keeps the texts in
    its spool, and a rebuild renders few of the pages it makes keys for)."""

    __slots__ = ("digests", "_read")

    def __init__(self, digests: tuple[tuple[str, str], ...], read: Callable[[str], str]) -> None:
        self.digests, self._read = digests, read

    def __getitem__(self, doc_id: str) -> str:
        return self._read(doc_id)

    def __repr__(self) -> str:
        return f"_Texts({self.digests!r})"


def _read_text(docs: Mapping[str, DocInfo], read: dict[str, str], doc_id: str) -> str:
    """A document's text from `docs`, kept in `read` with the last TEXTS_READ read (`_Site.text`)."""
    text = read.pop(doc_id, None)
    if text is None:
        text = docs[doc_id].text
        if len(read) >= TEXTS_READ:
            del read[next(iter(read))]
    read[doc_id] = text  # the last read, last
    return text


@dataclass(slots=True)
class _Site:
    attrs: dict[str, dict]  # IRI -> the node's attributes in the graph
    docs: Mapping[str, DocInfo]  # by id, in the order of the ids
    entity: dict[str, str]  # IRI -> file name under entities/
    articles: _Articles  # each document's articles: their IRIs, ranges and file names under articles/
    # the edges between nodes that are not articles: u -> (v, key, data) of those from u, and v -> (u, key, data)
    out_edges: dict[str, list[tuple[str, str, dict]]]
    in_edges: dict[str, list[tuple[str, str, dict]]]
    authors: Mapping[str, Sequence[str]]  # article IRI -> the nodes its author edges lead to
    ontology: dict[str, list[tuple[str, str]]]  # u -> (v, key) of each edge from u taken from the ontology
    mentions: MentionIndex  # where each entity is mentioned, and each document's mentions
    importance: dict[str, int]
    # doc -> (the starts, and the sorted (start, end, u, v, key, source)) of the evidence read in it,
    # taken from the graph's edges; None when the index reads each document's relations again (`evidence_in`)
    evidence: dict[str, tuple[list[int], list[tuple[int, int, str, str, str, str]]]] | None
    # caches, filled on use: what many pages read of a node, an edge or a document is gathered once
    nodes: dict[tuple[str, str], _CorpusNode] = field(default_factory=dict)  # (IRI, root) -> its corpus facts
    named: dict[str, _Named] = field(default_factory=dict)  # IRI -> what article pages show of it
    headings: dict[str, _Heading] = field(default_factory=dict)  # article IRI -> how entity pages head it
    links: dict[tuple[str, str, str], tuple[tuple[tuple[str, str], ...], int]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # doc -> digest of its text
    text_of: dict[str, _Texts] = field(default_factory=dict)  # the last doc read alone -> its text, for a page's inputs
    facts: dict[str, bytes] = field(default_factory=dict)  # doc -> digest of what the corpus says of the IRIs it names
    rows: dict[str, list[tuple[str, str, str, int, int]]] = field(default_factory=dict)  # root -> `_article_rows`
    # the document whose article pages are being made: its id, and what they read of it again (`_of_current`)
    current: tuple[str | None, dict[str, Any]] = field(default_factory=lambda: (None, {}))
    # the texts read last, by doc: a build keeps them in its spool, and pages read those of a few documents in a row
    read: dict[str, str] = field(default_factory=dict)

    def href(self, iri: str, root: str) -> str | None:
        if iri in self.entity:
            return f"{root}entities/{self.entity[iri]}"
        name = self.articles.name(iri)
        return f"{root}articles/{name}" if name is not None else None

    def article_at(self, doc_id: str, offset: int) -> str | None:
        return self.articles.at(doc_id, offset)

    def text(self, doc_id: str) -> str:
        """A document's text, read once for the pages made of it in a row."""
        return _read_text(self.docs, self.read, doc_id)

    def evidence_link(self, ev: Sequence, root: str) -> tuple[str, str] | None:
        """(href, sentence) for an evidence range, anchored on the article page."""
        doc_id, start, end = ev[0], ev[1], ev[2]
        a = self.article_at(doc_id, start)
        if a is None or doc_id not in self.docs:
            return None
        return f"{root}articles/{self.articles.name(a)}#s-{start}", _clip(self.text(doc_id)[start:end], 160)

    def _of_current(self, doc_id: str, what: str, make: Callable[[], Any]) -> Any:
        """`make()` of a document, made once for the run of its article pages (a build reads its
        mentions and relations again from the spool)."""
        if self.current[0] != doc_id:
            self.current = (doc_id, {})
        found = self.current[1]
        if what not in found:
            found[what] = make()
        return found[what]

    def mentions_in(self, doc_id: str, index: int) -> list[Mention]:
        """The mentions of an article, sorted."""
        return [m for m in self._of_current(doc_id, "mentions", partial(self.mentions.of_doc, doc_id)) if m.article == index]

    def evidence_in(self, doc_id: str) -> tuple[Sequence[int], Sequence[tuple[int, int, str, str, str, str]]]:
        """The evidence read in a document: the starts, and the sorted (start, end, u, v, key, source)
        of the graph's edges' evidence there (from its relations, when the index has them)."""
        if self.evidence is not None:
            return self.evidence.get(doc_id, ((), ()))
        return self._of_current(doc_id, "evidence", partial(self._evidence_of, doc_id))

    def _evidence_of(self, doc_id: str) -> tuple[list[int], list[tuple[int, int, str, str, str, str]]]:
        # the graph has a text fact's edge where it has both its nodes (kg.graph.GraphBuilder); a
        # build's graph has no articles, the site has them all (the document's own in a set: looked
        # up for every relation, which an article states as its subject)
        attrs, own, article = self.attrs, frozenset(self.articles.iris(doc_id)), self.articles
        rows = sorted(
            {
                (start, end, s, o, p, "text")
                for s, p, o, d, start, end, *_ in self.mentions.relation_rows(doc_id)
                if d == doc_id and (s in attrs or s in own or s in article) and (o in attrs or o in own or o in article)
            }
        )
        return [r[0] for r in rows], rows

    def label(self, iri: str) -> str:
        return str(self.attrs[iri].get("label") or iri)

    def type(self, iri: str) -> str:
        return str(self.attrs[iri].get("type", ""))

    def texts(self, doc_ids: Iterable[str]) -> _Texts:
        """The texts of these documents, for a page's inputs."""
        ids = sorted(set(doc_ids))
        if len(ids) == 1 and ids[0] in self.text_of:
            return self.text_of[ids[0]]
        for d in ids:
            if d not in self.digests:
                self.digests[d] = self.docs[d].digest  # a build's documents keep it (kg.build.SpooledDoc)
        # read by the site's maps, not by the site: one it held, holding the site, was a cycle, which a
        # build, without the cyclic collector, kept to its end
        texts = _Texts(tuple((d, self.digests[d]) for d in ids), partial(_read_text, self.docs, self.read))
        if len(ids) == 1:
            self.text_of = {ids[0]: texts}  # the articles of a document share it, one after the other
        return texts

    def edges_among(self, keep: set[str]) -> list[tuple[str, str, str, dict]]:
        """The edges between kept nodes (no articles), sorted; linear in their degrees, not in the graph."""
        return sorted(
            (u, v, k, d) for u in keep for v, k, d in self.out_edges.get(u, ()) if v in keep and u != v
        )

    def heading(self, art: str, doc_id: str, index: int) -> _Heading:
        """How entity pages head article `art`, the `index`th of document `doc_id` (from the
        documents: a build's graph has no articles)."""
        heading = self.headings.get(art)
        if heading is None:
            title = next((a[3] for a in self.docs[doc_id].articles if a[0] == index), "")
            heading = self.headings[art] = _Heading(title or art, self.href(art, "../"), doc_id, self.articles.name(art))
        return heading

    def name(self, iri: str) -> _Named:
        named = self.named.get(iri)
        if named is None:
            known = iri in self.attrs
            named = self.named[iri] = _Named(
                self.label(iri) if known else None,
                self.type(iri) if known else "",
                bool(self.attrs[iri].get("new")) if known else False,
                self.href(iri, "../"),
                iri in self.entity,
            )
        return named

    def evidence_links(self, u: str, v: str, key: str, data: dict) -> tuple[tuple[tuple[str, str], ...], int]:
        """An edge's first EVIDENCE_SHOWN evidence links (href, sentence) on an entity page, and how
        many more: from its `linked` ranges, where a build's graph keeps them (kg.graph.GraphBuilder),
        else of its evidence those in an article."""
        links = self.links.get((u, v, key))
        if links is None:
            if "linked" in data:
                linked, count = data["linked"]
            else:
                linked = []
                for e in data.get("evidence") or ():
                    cover = self.articles.cover(e[0])  # False: a document not in the corpus
                    if cover is not False and (cover[0] <= e[1] < cover[1] if cover is not None else self.article_at(e[0], e[1]) is not None):
                        linked.append(e)
                count = len(linked)
            # the sentence is cut out only for those shown; the rest are counted
            shown = tuple(self.evidence_link(e, "../") for e in linked[:EVIDENCE_SHOWN])
            links = self.links[(u, v, key)] = (shown, max(0, count - EVIDENCE_SHOWN))
        return links

    def node(self, iri: str, root: str) -> _CorpusNode:
        """A node's corpus facts: the same on every page that draws it, so gathered once."""
        facts = self.nodes.get((iri, root))
        if facts is None:
            a = self.attrs[iri]
            facts = self.nodes[(iri, root)] = _CorpusNode(
                iri,
                str(a.get("label") or ""),
                str(a.get("type", "")),
                bool(a.get("new")),
                self.href(iri, root) or "",
                tuple(a.get("aliases") or ()),
                int(a.get("mentions") or 0),
                _clip(str(a.get("sentence") or ""), 140),
                self.importance.get(iri, 0) + 1,
            )
        return facts

    def edge(self, u: str, v: str, key: str, data: dict) -> _CorpusEdge:
        ev = data.get("evidence") or []
        sentence = _clip(self.text(ev[0][0])[ev[0][1] : ev[0][2]], 140) if ev and ev[0][0] in self.docs else None
        return _CorpusEdge(u, v, key, str(data.get("source", "")), int(data.get("count") or 0), data.get("confidence", ""), sentence)


def _cover(rows: Sequence[tuple[int, int, str]]) -> tuple[int, int] | None:
    """The range sorted articles cover when each ends where the next starts and none is empty, else None.

    >>> _cover([(0, 10, "a"), (10, 25, "b")]), _cover([(0, 10, "a"), (12, 25, "b")]), _cover([])
    ((0, 25), None, None)
    """
    if not rows or any(s >= e for s, e, _ in rows) or any(a[1] != b[0] for a, b in zip(rows, rows[1:])):
        return None
    return rows[0][0], rows[-1][1]


class _Articles:
    """Each document's articles as the pages read them: by (document, index) their IRIs, by offset
    the article that holds it, by IRI their file names under articles/. Packed in one array (a
    document's articles' starts, ends and indices, sorted by range): as maps of (document, index),
    of rows, of starts, of covers and of names they held 1.6 MB more of the build's process at the
    seeds x200 once its pages were written (tracemalloc), and as an array and a string a document 0.2 kB a page.
    An article's IRI is made when asked for, as kg.relations.article_iri makes it: held, a tuple of
    them a document took 0.18 kB a page of the seeds x200, and kept the IRIs' strings (0.8 kB a
    page) with the authors' keys.

    The file names are those `page_names` gives the (IRI, "<doc>-<index>") of every article: a
    slug and a short hash, which two articles share only by a 40-bit chance. Each is made when
    asked for: held, a tuple of them a document, they took 0.7 kB a page of the seeds x200; made,
    1.9 µs each, 45k times for the pages of the seeds x200 (0.09 s). Should any two names meet,
    every name is made as `page_names` makes them, and held."""

    __slots__ = ("_of", "_numbered", "_at", "_numbers", "_names", "_last")

    def __init__(self, docs: Mapping[str, DocInfo], numbers: Mapping[str, int] | None = None) -> None:
        """`numbers`: the documents' numbers (a build's, `kg.build.Documents.numbers`), from 0."""
        # document -> where its articles are in `_numbers`: their count, then their starts, ends and
        # indices (`_get`); one array for all, not one a document with what their IRIs start with (0.2 kB a page).
        # By the documents' `numbers` in `_at` (-1: none), 8 bytes a document (a dict by id took 53 a
        # page of the seeds x200), and in `_of` by id for any they do not number
        self._of: dict[str, int] = {}
        self._numbered: Mapping[str, int] = numbers if numbers is not None else {}
        self._at = array("q", [-1]) * len(self._numbered)
        self._numbers = array("i")  # a document of 2**31 characters is not read (as kg.graph.MentionIndex)
        self._names: dict[str, str] | None = None  # every article's file name, when two short names meet
        self._last: tuple[str, tuple[array, str] | None] = ("", None)  # the document asked for last, and what `_get` gave
        seen: set[int] = set()
        clash = False
        for d in docs.values():
            # sorted as (start, end, IRI) sort: the IRIs differ in their indices' digits only
            rows = sorted((start, end, str(index), index) for index, start, end, _title, _byline in d.articles)
            n = self._numbered.get(d.doc_id, -1)
            if 0 <= n < len(self._at):
                self._at[n] = len(self._numbers)
            else:
                self._of[d.doc_id] = len(self._numbers)
            self._numbers.append(len(rows))
            self._numbers.extend([r[0] for r in rows] + [r[1] for r in rows] + [r[3] for r in rows])
            found = self._get(d.doc_id)
            for i in range(len(rows)):
                h = hash(self._name(d.doc_id, found, i))
                clash = clash or h in seen
                seen.add(h)
        if clash:
            self._names = page_names((iri, f"{doc}-{index}") for doc, index, iri in self._all(docs))

    def _get(self, doc_id: str) -> tuple[array, str] | None:
        """A document's articles' (starts, ends, indices), sorted by range, and what their IRIs start with; None for a document not here."""
        last = self._last
        if last[0] == doc_id and last[1] is not None:  # the pages ask for a document's articles one after another
            return last[1]
        n = self._numbered.get(doc_id, -1)
        at = self._at[n] if 0 <= n < len(self._at) else self._of.get(doc_id, -1)
        if at < 0:
            return None
        found = self._numbers[at + 1 : at + 1 + 3 * self._numbers[at]], article_iri(doc_id, 0)[:-1]
        self._last = (doc_id, found)
        return found

    def _all(self, docs: Iterable[str]) -> Iterator[tuple[str, int, str]]:
        for doc in docs:
            numbers, prefix = self._get(doc)
            n = len(numbers) // 3
            yield from ((doc, numbers[2 * n + i], f"{prefix}{numbers[2 * n + i]}") for i in range(n))

    def _position(self, doc_id: str, index: int) -> tuple[tuple[array, str], int] | None:
        found = self._get(doc_id)
        if found is None:
            return None
        numbers = found[0]
        n = len(numbers) // 3
        try:
            if 0 <= index < n and numbers[2 * n + index] == index:  # the articles' ranges in the order of their indices
                return found, index
            return found, numbers.index(index, 2 * n, 3 * n) - 2 * n
        except (ValueError, TypeError):
            return None

    @staticmethod
    def _iri(found: tuple[array, str], i: int) -> str:
        """The IRI of the article at position `i` of a document's (`_position`)."""
        numbers, prefix = found
        return f"{prefix}{numbers[2 * (len(numbers) // 3) + i]}"

    def _name(self, doc_id: str, found: tuple[array, str], i: int) -> str:
        """The file name of the article at position `i` of a document's (`_position`)."""
        numbers, prefix = found
        index = numbers[2 * (len(numbers) // 3) + i]
        iri = f"{prefix}{index}"
        return self._names[iri] if self._names is not None else _page_name(iri, f"{doc_id}-{index}")

    def iris(self, doc_id: str) -> tuple[str, ...]:
        """The IRIs of a document's articles (none for a document not in the corpus)."""
        found = self._get(doc_id)
        return tuple(self._iri(found, i) for i in range(len(found[0]) // 3)) if found is not None else ()

    def iri(self, doc_id: str, index: int) -> str | None:
        """The IRI of a document's article, None when it has no article of that index."""
        at = self._position(doc_id, index)
        return self._iri(*at) if at is not None else None

    def name_of(self, doc_id: str, index: int) -> str | None:
        """The file name of a document's article under articles/."""
        at = self._position(doc_id, index)
        return self._name(doc_id, *at) if at is not None else None

    def _find(self, iri: str) -> tuple[str, tuple, int] | None:
        """The document of an article's IRI, and where `_position` finds the article."""
        found = article_doc(iri)
        if found is None:
            return None
        doc_id, index = found
        try:
            at = self._position(doc_id, int(index))
        except ValueError:
            return None
        # the IRI the document's article has, not one that reads as its path and index (kg.corpus.iri_path)
        return (doc_id, *at) if at is not None and self._iri(*at) == iri else None

    def name(self, iri: str) -> str | None:
        """The file name of an article under articles/, None for an IRI that is no article's."""
        at = self._find(iri)
        return self._name(*at) if at is not None else None

    def __contains__(self, iri: object) -> bool:
        return isinstance(iri, str) and self._find(iri) is not None

    def at(self, doc_id: str, offset: int) -> str | None:
        """The IRI of the article of a document that holds `offset` (`kg.graph.article_index`)."""
        found = self._get(doc_id)
        if found is None:
            return None
        numbers = found[0]
        n = len(numbers) // 3
        i = bisect_right(numbers, offset, 0, n) - 1
        if i >= 0 and numbers[i] <= offset < max(numbers[n + i], numbers[i] + 1):
            return self._iri(found, i)
        return None

    def cover(self, doc_id: str) -> tuple[int, int] | None | bool:
        """(start, end) of the range a document's articles cover when they follow each other
        without gap or overlap (an offset is in an article when it is in that range), else None;
        False for a document not in the corpus."""
        found = self._get(doc_id)
        if found is None:
            return False
        numbers = found[0]
        n = len(numbers) // 3
        return _cover([(numbers[i], numbers[n + i], self._iri(found, i)) for i in range(n)])


def _page_name(iri: str, label: str) -> str:
    """The file name `page_names` gives an (IRI, label) whose short name no other takes."""
    digest = hashlib.sha1(iri.encode("utf-8")).hexdigest()
    stem = slug(label)
    return f"{stem}-{digest[:10]}.html" if stem else f"{digest[:10]}.html"


def _site(
    g: nx.MultiDiGraph, docs: Sequence[DocInfo] | Mapping[str, DocInfo], mentions: Sequence[Mention] | MentionIndex,
    authors: Mapping[str, Sequence[str]] | None = None,
) -> _Site:
    """What the pages read of the corpus. `docs`: a sequence, or a mapping by id in the order of the ids
    (a build's, each made when it is read); `authors`: as in `page_files`, for a graph without articles."""
    docs_by_id = docs if isinstance(docs, Mapping) else {d.doc_id: d for d in sorted(docs, key=lambda d: d.doc_id)}
    articles = _Articles(docs_by_id, mentions.numbers if isinstance(mentions, MentionIndex) else None)
    types = dict(g.nodes(data="type"))
    entities = [n for n, t in types.items() if t != ARTICLE and n not in articles]
    if not isinstance(mentions, MentionIndex):
        mentions = MentionIndex.of(docs_by_id.values(), mentions)
    if authors is not None and mentions.doc_ids and not mentions.has_relations:
        # the evidence its article pages anchor is in the article level such a graph leaves out
        raise ValueError("pages of a graph without articles need each document's relations: a MentionIndex with them")
    # one pass over the edges: each node's links that do not lead to an article, the edges taken
    # from the ontology, and the evidence of each document, which article pages look up by position
    degree: Counter = Counter()
    out_edges: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    in_edges: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    found_authors: dict[str, list[str]] = defaultdict(list)
    ontology: dict[str, list[tuple[str, str]]] = defaultdict(list)
    found: dict[str, list[tuple[int, int, str, str, str, str]]] = defaultdict(list)
    by_edges = not mentions.has_relations  # else each document's evidence is read from its relations
    for u, v, k, d in g.edges(keys=True, data=True):
        if types[v] != ARTICLE:
            degree[u] += 1
        if types[u] != ARTICLE:
            degree[v] += 1
            if types[v] != ARTICLE:
                out_edges[u].append((v, k, d))
                in_edges[v].append((u, k, d))
        if k == AUTHOR:
            found_authors[u].append(v)
        source = str(d.get("source", ""))
        if source == "ontology":
            ontology[u].append((v, k))
        if by_edges:
            for e in d.get("evidence") or ():
                found[e[0]].append((e[1], e[2], u, v, k, source))
    evidence = {} if by_edges else None
    for doc, rows in found.items():
        rows.sort()
        evidence[doc] = ([r[0] for r in rows], rows)
    return _Site(
        attrs=dict(g.nodes(data=True)),
        docs=docs_by_id,
        entity=page_names((n, str(g.nodes[n].get("label") or "")) for n in entities),
        articles=articles,
        out_edges=dict(out_edges),
        in_edges=dict(in_edges),
        authors=dict(found_authors) if authors is None else authors,  # a build's, not copied (0.2 MB at x200)
        ontology=dict(ontology),
        mentions=mentions,
        importance={n: int(g.nodes[n].get("mentions") or 0) + degree[n] for n in entities},
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# networks


@lru_cache(maxsize=None)
def _darker(colour: str, f: float = 0.55) -> str:
    """The colour of the border of a new or focused node: its fill, darker.

    >>> _darker("#e15759")
    '#7c3031'
    """
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * f):02x}" for c in (r, g, b))


class _Node(NamedTuple):  # tuples: made by the thousand, faster than frozen dataclasses
    """A drawn node as one page shows it: the tooltip and size are the page's own view of it."""

    iri: str
    label: str
    type: str
    new: bool
    href: str
    title: str  # the tooltip, plain text
    key: str  # what the network's search box matches
    value: int  # the size


class _Edge(NamedTuple):
    u: str
    v: str
    key: str
    ontology: bool
    count: int  # the evidence behind it, for the width
    title: str


@lru_cache(maxsize=None)
def _corpus_view(n: _CorpusNode) -> _Node:
    """A node drawn on the overview or an entity page: its tooltip tells what the whole corpus says of it."""
    label = n.label or n.iri
    st = type_style(n.type)
    lines = [label, f"{st.zh} {st.en}"]
    if n.aliases:
        lines.append("别名 aliases: " + " / ".join(n.aliases[:8]) + ("…" if len(n.aliases) > 8 else ""))
    if n.type != ARTICLE:
        lines.append(f"提及 mentions: {n.mentions}" + (" · 新 new" if n.new else ""))
    if n.sentence:
        lines.append("“" + n.sentence + "”")
    return _Node(n.iri, label, n.type, n.new, n.href, "\n".join(lines), search_key(n.label, n.aliases), n.value)


def _corpus_edge_view(e: _CorpusEdge, labels: dict[str, str]) -> _Edge:
    """An edge drawn on the overview or an entity page: all its evidence, its confidence and the first sentence."""
    st = rel_style(e.key)
    lines = [f"{labels[e.u]} —{st.zh} {st.en}→ {labels[e.v]}"]
    if e.source == "ontology":
        lines.append("本体 from the ontology")
    else:
        lines.append(f"证据 evidence: {e.count} · 置信度 confidence {e.confidence}")
    if e.sentence is not None:
        lines.append("“" + e.sentence + "”")
    return _Edge(e.u, e.v, e.key, e.source == "ontology", e.count, "\n".join(lines))


def _local_tooltip(label: str, t: str, *, new: bool, count: int, forms: Sequence[str], sentence: str) -> str:
    """A node's tooltip on an article page: how this article names it, how often, and where first."""
    st = type_style(t)
    lines = [label, f"{st.zh} {st.en}"]
    if forms:
        lines.append("本文写作 written here as: " + " / ".join(forms[:8]) + ("…" if len(forms) > 8 else ""))
    lines.append(f"本文提及 mentions here: {count}" + (" · 新 new" if new else ""))
    if sentence:
        lines.append("“" + _clip(sentence, 140) + "”")
    return "\n".join(lines)


def _local_edge_tooltip(u: str, v: str, key: str, *, ontology: bool, count: int, sentence: str) -> str:
    """An edge's tooltip on an article page: its evidence in this article and the first sentence here."""
    st = rel_style(key)
    lines = [f"{u} —{st.zh} {st.en}→ {v}"]
    if ontology:
        lines.append("本体 from the ontology")
    else:
        lines.append(f"本文证据 evidence here: {count}")
    if sentence:
        lines.append("“" + _clip(sentence, 140) + "”")
    return "\n".join(lines)


def _network(
    nodes: Sequence[_Node],
    edges: Sequence[_Edge],
    pos: dict[str, tuple[int, int]],
    *,
    hidden_relations: frozenset[str] = frozenset(),
    edge_labels: bool,
    focus: str | None = None,
    overview: bool = False,
) -> Markup:
    """The vis-network data of one network as script JSON: nodes and edges with fixed positions, and options.

    The JSON is what `script_json` gives of the dicts pyvis's `Network.add_node` and `add_edge`
    would hold (a node's label is its IRI when it has none; a drawn node once), written here key by
    key in sorted order: pyvis checks each edge's ends against a list of all nodes, and json's
    encoder sorts and dispatches each key of each dict, thousands of times a build for the same few
    keys (tests/test_html.py holds the two to each other).
    """
    out_nodes = []
    drawn = set()
    top = max((m.value for m in nodes), default=0)
    for n in nodes:
        if n.iri in drawn:
            continue
        drawn.add(n.iri)
        x, y = pos[n.iri]
        focused = n.iri == focus
        head, shape, tail = _node_json_parts(n.type, n.new, focused)
        out_nodes.append(
            f'{head}{_js(n.href)},"id":{_js(n.iri)},"key":{_js(n.key)},"label":{_js(n.label or n.iri)}{shape}{_js(n.title)}{tail}'
            f'{_js(max(n.value, top) if focused else n.value)},"x":{_js(x)},"y":{_js(y)}}}'
        )
    out_edges = []
    # vis-network draws parallel edges on top of each other: bend the second and later ones
    seen: Counter = Counter()
    for i, edge in enumerate(edges):
        pair = (edge.u, edge.v) if edge.u < edge.v else (edge.v, edge.u)
        bend = seen[pair]
        seen[pair] += 1
        head, rel = _edge_json_parts(edge.key, edge.ontology, edge_labels)
        hidden = '"hidden":true,' if edge.key in hidden_relations else ""
        smooth = f'"smooth":{{"enabled":true,"roundness":{_js(round(0.15 * bend, 2))},"type":"curvedCW"}},' if bend else ""
        out_edges.append(
            f'{head}{_js(edge.u)},{hidden}"id":"e{i}",{rel}{smooth}"title":{_js(edge.title)},"to":{_js(edge.v)},"width":{_width(edge.count)}}}'
        )
    text = f'{{"edges":[{",".join(out_edges)}],"nodes":[{",".join(out_nodes)}],"options":{_options(len(nodes) > 300, overview)}}}'
    return _script_safe(text)


@lru_cache(maxsize=None)
def _node_json_parts(t: str, new: bool, focused: bool) -> tuple[str, str, str]:
    """A node's JSON but for its own values, in three parts: up to its href, from its label to its title,
    and from its title to its value (see _network); the same for each node of a type and look."""
    st = type_style(t)
    border = _darker(st.colour) if new or focused else st.colour
    head = (
        ('{"borderWidth":4,' if focused else '{"borderWidth":2,' if new else "{")
        + f'"color":{{"background":{_js(st.colour)},"border":{_js(border)}}},'
        + ('"font":{"bold":true,"size":18},' if focused else "")
        + '"href":'
    )
    shape = f',"shape":{_js(st.shape)},' + ('"shapeProperties":{"borderDashes":[4,3]},' if new else "") + '"title":'
    return head, shape, f',"type":{_js(t)},"value":'


@lru_cache(maxsize=None)
def _edge_json_parts(key: str, ontology: bool, labels: bool) -> tuple[str, str]:
    """An edge's JSON up to its source, and its label and relation (see _network): the same for each edge of a relation."""
    st = rel_style(key)
    dashes = st.dashes or ontology and key not in (WITHIN, PART_OF)
    head = (
        f'{{"arrows":{_js("to" if st.arrow else "")},"color":{{"color":{_js(st.colour)},"highlight":"#222222","hover":"#222222"}},'
        f'"dashes":{_js(dashes)},"from":'
    )
    return head, (f'"label":{_js(st.zh)},' if labels else "") + f'"rel":{_js(key)},'


@lru_cache(maxsize=None)
def _width(count: int) -> str:
    """An edge's width in JSON, by the evidence behind it."""
    return _js(round(1 + min(3.0, math.log2(1 + count)), 2))


_JSON_STRING = json.encoder.encode_basestring  # a str as _JSON writes it (non-ASCII kept)


def _js(value: object) -> str:
    """One value as _JSON writes it, without the encoder's set-up: strings, whole numbers and
    booleans (most of a network) directly, a finite float as its repr (as json writes it)."""
    t = type(value)
    if t is str:
        return _JSON_STRING(value)
    if t is int:
        return int.__repr__(value)  # type: ignore[arg-type]
    if t is bool:
        return "true" if value else "false"
    if t is float and math.isfinite(value):  # type: ignore[arg-type]
        return float.__repr__(value)  # type: ignore[arg-type]
    return _JSON.encode(value)


@lru_cache(maxsize=None)
def _options(big: bool, overview: bool) -> str:
    """The vis-network options of a network, as JSON: the same for all of a kind."""
    options = {
        "autoResize": True,
        "physics": {"enabled": False},
        "layout": {"randomSeed": SEED, "improvedLayout": False},
        "interaction": {
            "hover": True,
            "tooltipDelay": 120,
            "hideEdgesOnDrag": big,
            "hideEdgesOnZoom": big,
            "multiselect": False,
            "navigationButtons": False,
        },
        "nodes": {
            "font": {"face": FONT, "size": 14, "strokeWidth": 3, "strokeColor": "#ffffff"},
            # in the overview hubs get big labels that stay readable when the whole graph is shown
            "scaling": {"min": 10, "max": 50, "label": {"enabled": True, "min": 13, "max": 40, "drawThreshold": 6}}
            if overview
            else {"min": 10, "max": 36, "label": {"enabled": True, "min": 13, "max": 20, "drawThreshold": 5}},
            "borderWidth": 1,
        },
        "edges": {
            "smooth": False,
            "font": {"face": FONT, "size": 11, "align": "middle", "strokeWidth": 3, "color": "#444444"},
            "arrows": {"to": {"scaleFactor": 0.5}},
            "selectionWidth": 2,
        },
    }
    return _JSON.encode(options)


class _Legend(NamedTuple):
    """A network's types and relations, with their counts: hashable, so that a panel is rendered once per legend."""

    types: tuple[tuple[str, TypeStyle, int], ...]
    relations: tuple[tuple[str, RelStyle, int, bool], ...]  # (key, style, count, shown at first)


def _legend(types: Counter, relations: Counter, *, hidden: frozenset[str] = frozenset()) -> _Legend:
    return _Legend(
        tuple((t, type_style(t), types[t]) for t in [*TYPES, *sorted(set(types) - set(TYPES))] if types[t]),
        tuple((p, rel_style(p), relations[p], p not in hidden) for p in [*RELATIONS, *sorted(set(relations) - set(RELATIONS))] if relations[p]),
    )


# ---------------------------------------------------------------------------------------------
# text with mentions


def _highlighted(
    text: str,
    start: int,
    end: int,
    mentions: Sequence[tuple[int, int, str, str, str]],
    anchors: Sequence[int],
    names: dict[str, _Named],
) -> Markup:
    """The text of an article with each mention a link to its entity, and empty anchors at evidence.

    Mentions are (start, end, text, label, IRI), anchors the offsets where some evidence starts.
    """
    # leading and trailing blank lines would show as a gap in the page (the text is pre-wrapped)
    piece = text[start:end]
    lo, hi = start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())
    kept: list[tuple[int, int, str, str, str]] = []
    for m in mentions:
        if m[0] >= start and m[1] <= end and m[0] < m[1] and (not kept or m[0] >= kept[-1][1]):
            kept.append(m)  # of overlapping mentions the first wins
    starts = [m[0] for m in kept]
    spots = set()
    for a in anchors:
        a = min(max(a, lo), hi)
        i = bisect_right(starts, a) - 1
        # an anchor inside a mention moves to the mention's start
        spots.add(kept[i][0] if i >= 0 and a < kept[i][1] else a)
    # by offset, an anchor before the mention it starts (kept mentions start at different offsets)
    events = sorted([(a, 0, None) for a in spots] + [(m[0], 1, m) for m in kept], key=itemgetter(0, 1))
    # most articles hold no character to escape: their pieces are taken as they are
    esc = _escaped if _HTML_SPECIAL.search(text, start, end) else str
    out: list[str] = []
    pos = lo
    opening: dict[tuple[str, str, str | None], tuple[str, str]] = {}  # a mention's tag, but for its id
    for at, _, m in events:
        out.append(esc(text[pos:at]))
        pos = at
        if m is None:
            out.append(f'<span class="anchor" id="s-{at}"></span>')
            continue
        m_start, m_end, m_text, m_label, m_iri = m
        named = names[m_iri]
        key = (m_label, m_iri, m_text if named.label is None else None)
        tag = opening.get(key)
        if tag is None:
            st = type_style(m_label)
            tip = f"{m_text if named.label is None else named.label} · {st.zh} {st.en}"
            href_attr = f' href="{_escaped(named.href)}"' if named.href else ""
            name = "a" if named.href else "span"
            tag = opening[key] = (f'<{name} class="m t-{_escaped(m_label)}" id="m-', f'"{href_attr} title="{_escaped(tip)}">', f"</{name}>")
        out.append(f"{tag[0]}{m_start}-{m_end}{tag[1]}{esc(text[m_start:m_end])}{tag[2]}")
        pos = m_end
    out.append(esc(text[pos:hi]))
    return Markup("".join(out))


_HTML_SPECIAL = re.compile("[&<>\"']")  # what _escaped replaces


def _escaped(text: str) -> str:
    """`markupsafe.escape` as a plain string, without its Markup object: entity pages quote thousands of sentences.

    >>> _escaped("<a href='x'>\\"&</a>") == str(escape("<a href='x'>\\"&</a>"))
    True
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")


def _sentence(text: str, s: int, e: int, marks: Sequence[tuple[int, int]], page: str) -> str:
    """A sentence on one line, as HTML, each mark in it a link to that mention on the article page."""
    # most sentences hold no character to escape (a mark could reach past the sentence: looked at too)
    esc = _escaped if _HTML_SPECIAL.search(text, s, max(e, *(b for _, b in marks))) else str
    out: list[str] = []
    pos = s
    for a, b in sorted(marks):
        if a < pos:
            continue
        out.append(esc(text[pos:a].replace("\n", "")))
        out.append(f'<a class="hit" href="../articles/{_escaped(page)}#m-{a}-{b}">{esc(text[a:b].replace(chr(10), ""))}</a>')
        pos = b
    out.append(esc(text[pos:e].replace("\n", "")))
    return "".join(out).strip()


# ---------------------------------------------------------------------------------------------
# pages: each is its inputs, plain values gathered from the site (no layout, pyvis or Jinja), and a
# function that renders them and reads nothing else: a hash of the inputs stands for the page


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # one build renders thousands of pages: no stat of the templates for each
    )
    env.globals.update(type_style=type_style, rel_style=rel_style, TYPES=TYPES)
    macros = env.get_template("_macros.html").module
    # symbols, chips, links to a node and network panels recur on many pages: each is rendered once
    # per argument (7,636 pages of the x200 build have 151 different panels)
    for name in ("symbol", "line", "type_chip", "ref", "panel"):
        env.globals[name] = lru_cache(maxsize=None)(getattr(macros, name))
    return env


def _article_rows(site: _Site, root: str) -> list[tuple[str, str, str, int, int]]:
    """Every article, in the corpus's order: (href, title, doc, index, mentions); made once per
    process and root, not once per page of the lists (an archive has hundreds of them)."""
    rows = site.rows.get(root)
    if rows is None:
        rows = site.rows[root] = []
        for d in site.docs.values():
            counts = site.mentions.counts(d.doc_id)
            for index, _start, _end, title, _byline in d.articles:
                iri = site.articles.iri(d.doc_id, index)
                rows.append((site.href(iri, root), title, d.doc_id, index, counts.get(index, 0)))
    return rows


def list_pages(articles: int) -> list[str]:
    """The paths of the pages that list `articles` articles, MAX_LIST_ARTICLES to a page: none when
    the overview lists them all.

    >>> list_pages(2000), list_pages(2001)
    ([], ['lists/articles-0001.html', 'lists/articles-0002.html'])
    """
    if articles <= MAX_LIST_ARTICLES:
        return []
    return [f"lists/articles-{n:04d}.html" for n in range(1, -(-articles // MAX_LIST_ARTICLES) + 1)]


def _index_inputs(site: _Site, max_nodes: int) -> dict:
    entities = sorted(site.entity)
    chosen = sorted(sorted(entities, key=lambda n: (-site.importance[n], n))[:max_nodes])
    articles = _article_rows(site, "")
    relations = Counter(k for u in entities for v, k, _ in site.out_edges.get(u, ()) if v in site.entity)
    return {
        "max_nodes": max_nodes,
        "nodes": tuple(site.node(n, "") for n in chosen),
        "edges": tuple(site.edge(*e) for e in site.edges_among(set(chosen))),
        "types": tuple(sorted(Counter(site.type(n) for n in entities).items())),
        "relations": tuple(sorted(relations.items())),
        "entities": tuple(
            (site.href(n, ""), site.label(n), site.type(n), tuple(site.attrs[n].get("aliases") or ()), int(site.attrs[n].get("mentions") or 0))
            for n in sorted(entities, key=lambda n: (-site.importance[n], pinyin(site.label(n))[0], n))
        ),
        "articles": tuple(articles[:MAX_LIST_ARTICLES]),
        "article_total": len(articles),
        "lists": tuple(list_pages(len(articles))),
        "docs": len(site.docs),
    }


def _list_inputs(site: _Site, number: int) -> dict:
    """What the `number`th page of the article lists shows (from 1): its articles, and the others' paths."""
    articles = _article_rows(site, "../")
    return {
        "number": number,
        "lists": tuple(list_pages(len(articles))),
        "first": (number - 1) * MAX_LIST_ARTICLES + 1,
        "articles": tuple(articles[(number - 1) * MAX_LIST_ARTICLES : number * MAX_LIST_ARTICLES]),
        "article_total": len(articles),
    }


def _article_list(rows: Sequence[tuple[str, str, str, int, int]]) -> Markup:
    """The rows of a list of articles, for the filter. Thousands of them: written here, not by a
    template loop, at a fraction of the cost."""
    return Markup(
        "".join(
            f'<li data-key="{escape(search_key(title) + "|" + doc.lower())}"><a class="ref" href="{escape(href)}">{escape(title)}</a>'
            f' <span class="doc">{escape(doc)} #{index}</span> <span class="n" title="mentions">{mentions}</span></li>\n'
            for href, title, doc, index, mentions in rows
        )
    )


def _list_page(env: Environment, p: dict) -> str:
    rows = p["articles"]
    return env.get_template("list.html").render(
        root="../",
        kind="list",
        title=f"文章 Articles {p['first']}–{p['first'] + len(rows) - 1}",
        number=p["number"],
        pages=[(n, f"../{path}") for n, path in enumerate(p["lists"], 1)],
        first=p["first"],
        shown=len(rows),
        article_total=p["article_total"],
        article_rows=_article_list(rows),
    )


def _index_page(env: Environment, p: dict) -> str:
    nodes = [_corpus_view(n) for n in p["nodes"]]
    labels = {n.iri: n.label for n in nodes}
    edges = [_corpus_edge_view(e, labels) for e in p["edges"]]
    pos = _components_layout(list(labels), ((e.u, e.v, LAYOUT_WEIGHT.get(e.key, 1.0)) for e in edges), labels=labels)
    data = _network(nodes, edges, pos, hidden_relations=OVERVIEW_HIDDEN, edge_labels=len(edges) <= 150, overview=True)
    total = len(p["entities"])
    return env.get_template("index.html").render(
        root="",
        kind="index",
        title="知识图谱 Knowledge graph",
        graph=data,
        node_count=len(nodes),
        edge_count=len(edges),
        total_entities=total,
        truncated=len(nodes) < total,
        max_nodes=p["max_nodes"],
        legend=_legend(Counter(n.type for n in nodes), Counter(e.key for e in edges), hidden=OVERVIEW_HIDDEN),
        all_types=dict(p["types"]),
        all_edges=dict(p["relations"]),
        entities=[
            {"href": href, "label": label, "type": t, "aliases": list(aliases), "mentions": mentions, "key": search_key(label, aliases)}
            for href, label, t, aliases, mentions in p["entities"]
        ],
        article_count=p["article_total"],
        article_shown=len(p["articles"]),
        lists=list(enumerate(p["lists"], 1)),
        article_rows=_article_list(p["articles"]),
        doc_count=p["docs"],
    )


def _article_inputs(site: _Site, doc: DocInfo, index: int, start: int, end: int, title: str, byline) -> dict:
    """What an article's page shows: its text and mentions, of each IRI it names the label, type, page
    and whether it is new, and of each edge between them its evidence here. Nothing else of the
    corpus, so that adding documents leaves the page unchanged.

    The IRIs named are listed once, in "names", with the sentence of their first mention here;
    mentions and edges refer to them by position there (the inputs are hashed for every page).
    """
    iri = site.articles.iri(doc.doc_id, index)
    ms = [m for m in site.mentions_in(doc.doc_id, index) if start <= m.start and m.end <= end]
    names: dict[str, tuple[_Named, tuple[int, int]]] = {}
    at: dict[str, int] = {}
    for m in ms:
        if m.iri not in at:
            at[m.iri] = len(at)
            names[m.iri] = (site.name(m.iri), (m.sentence[0], m.sentence[1]))
    present = {n for n, (named, _) in names.items() if named.entity}
    # the evidence read in this article: the anchors of its text, and the edges it states
    offsets, rows = site.evidence_in(doc.doc_id)
    i, j = bisect_left(offsets, start), bisect_left(offsets, end)
    here: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    sources: dict[tuple[str, str, str], str] = {}
    for s, e, u, v, k, source in rows[i:j]:
        if u in present and v in present and u != v:
            if (u, v, k) in here:
                here[(u, v, k)].append((s, e))
            else:
                here[(u, v, k)] = [(s, e)]
                sources[(u, v, k)] = source
    # and the edges between its entities taken from the ontology
    for u in present:
        for v, k in site.ontology.get(u, ()):
            if v in present and u != v:
                sources[(u, v, k)] = "ontology"
    edges = tuple(_ArticleEdge(at[u], at[v], k, source, tuple(here.get((u, v, k), ()))) for (u, v, k), source in sorted(sources.items()))
    authors = sorted(v for v in site.authors.get(iri, ()) if v in site.entity)
    return {
        "doc": doc.doc_id,
        "index": index,
        "title": title,
        "byline": byline,
        "authors": tuple((site.label(a), site.href(a, "../")) for a in authors),
        "start": start,
        "end": end,
        "texts": site.texts((doc.doc_id,)),
        "names": names,
        "mentions": tuple([(m.start, m.end, m.text, m.label, at[m.iri]) for m in ms]),
        "anchors": tuple(sorted(set(offsets[i:j]))),
        "edges": edges,
    }


def _article_pre(site: _Site, doc: DocInfo, index: int, doc_key: str) -> str:
    """What an article page's key without its inputs is made of (`_pre_key` hashes it), for a build
    that vouches for its documents (`doc_key`: see write_pages). What `_article_inputs` reads comes
    from the document alone (its text, articles,
    mentions, and the evidence and authors its relations give) or from what the corpus says of the
    IRIs it names: their `_Named` facts (label, type, new, page) and the edges taken from the
    ontology at each (a text relation elsewhere can take one over). The second part is hashed once
    a document."""
    facts = site.facts.get(doc.doc_id)
    if facts is None:
        iris = set(site.mentions.named(doc.doc_id))
        for a in (site.articles.iri(doc.doc_id, i) for i, *_ in doc.articles):
            iris.update(site.authors.get(a, ()))
        h = hashlib.blake2b(digest_size=16)
        for iri in sorted(iris):
            h.update(repr((iri, site.name(iri)._repr, site.ontology.get(iri, ()))).encode("utf-8", "surrogatepass"))
        facts = site.facts[doc.doc_id] = h.digest()
    return repr((facts.hex(), doc_key, doc.doc_id, index))  # hashed with the code's version by _pre_key


def _article_page(env: Environment, p: dict) -> str:
    text = p["texts"][p["doc"]]
    iris = list(p["names"])
    names: dict[str, _Named] = {n: named for n, (named, _) in p["names"].items()}
    mentions = [(s, e, t, label, iris[i]) for s, e, t, label, i in p["mentions"]]
    edges = [(iris[u], iris[v], k, source, evidence) for u, v, k, source, evidence in p["edges"]]
    present = sorted(n for n, named in names.items() if named.entity)
    pos = _components_layout(
        present, ((u, v, LAYOUT_WEIGHT.get(k, 1.0)) for u, v, k, _, _ in edges), crowded=0.6, labels={n: names[n].label for n in present}
    )
    per_entity = Counter(m[4] for m in mentions)
    forms: dict[str, dict[str, None]] = defaultdict(dict)
    for m in mentions:
        forms[m[4]][m[2].replace("\n", "")] = None
    degree = Counter(n for u, v, _, _, _ in edges for n in (u, v))
    nodes = []
    for n in present:
        named = names[n]
        written = sorted(set(forms[n]) - {named.label})
        s, e = p["names"][n][1]
        tooltip = _local_tooltip(named.label, named.type, new=named.new, count=per_entity[n], forms=written, sentence=text[s:e].replace("\n", ""))
        nodes.append(_Node(n, named.label, named.type, named.new, named.href or "", tooltip, _search_key(named.label, tuple(written)), per_entity[n] + degree[n] + 1))
    lines = []
    for u, v, k, source, evidence in edges:
        sentence = text[evidence[0][0] : evidence[0][1]] if evidence else ""
        tip = _local_edge_tooltip(names[u].label, names[v].label, k, ontology=source == "ontology", count=len(evidence), sentence=sentence)
        lines.append(_Edge(u, v, k, source == "ontology", len(evidence), tip))
    data = _network(nodes, lines, pos, edge_labels=len(edges) <= 150)
    # the lists, a few rows each on thousands of pages: written here, of the macros' cached pieces,
    # not by template loops, at a fraction of the cost
    ref, line, chip = env.globals["ref"], env.globals["line"], env.globals["type_chip"]
    facts = []
    for u, v, k, source, evidence in edges:
        if k != COOCCURS:
            st = rel_style(k)
            link = f' <a class="ev" href="#s-{evidence[0][0]}">原文 ↗</a>' if evidence else ""
            facts.append(
                f'<li>{ref((names[u].label, names[u].href, names[u].type))} {line(st)} <span class="rel">{escape(st.zh)}</span> '
                f'{ref((names[v].label, names[v].href, names[v].type))}{_ONTOLOGY if source == "ontology" else ""}{link}</li>\n'
            )
    rows = sorted(((names[n].label, names[n].href, names[n].type, per_entity[n]) for n in present), key=lambda r: (-r[3], r[0]))
    counts = Counter(m[3] for m in mentions)
    return env.get_template("article.html").render(
        root="../",
        kind="article",
        title=p["title"],
        doc_id=p["doc"],
        index=p["index"],
        authors=Markup("、".join(str(ref((a[0], a[1], "PERSON"))) for a in p["authors"])),
        text=_highlighted(text, p["start"], p["end"], mentions, p["anchors"], names),
        graph=data,
        node_count=len(present),
        edge_count=len(edges),
        legend=_legend(Counter(names[n].type for n in present), Counter(k for _, _, k, _, _ in edges)),
        # sorted as Jinja's dictsort sorts
        counts=Markup(" ".join(f"{chip(t)} {n}" for t, n in sorted(counts.items(), key=lambda kv: kv[0].lower()))),
        names=Markup("".join(f'<li>{ref((label, href, t))} <span class="n">{n}</span></li>\n' for label, href, t, n in rows)),
        facts=Markup("".join(facts)),
        mention_count=len(mentions),
    )


_ONTOLOGY = ' <span class="src">本体 ontology</span>'


def _entity_inputs(site: _Site, iri: str) -> dict:
    a = site.attrs[iri]
    rels: list[tuple[str, str, str, dict]] = []  # direction, other, key, data
    for v, k, d in site.out_edges.get(iri, ()):
        if v in site.entity and v != iri:
            rels.append(("out", v, k, d))
    for u, k, d in site.in_edges.get(iri, ()):
        if u in site.entity and u != iri:
            rels.append(("in", u, k, d))
    rels.sort(key=lambda r: (list(RELATIONS).index(r[2]) if r[2] in RELATIONS else len(RELATIONS), r[2], r[0], -site.importance[r[1]], r[1]))
    neighbours = list(dict.fromkeys(other for _, other, _, _ in rels))
    drawn = set(sorted(neighbours, key=lambda n: (-site.importance[n], n))[:MAX_NEIGHBOURS])
    # ring order: by relation group, then type and name, so that alike neighbours sit together
    order = [n for n in neighbours if n in drawn]
    # the sentences that mention it, grouped by article, each mention linked to its anchor
    sentences: dict[tuple[str, tuple[int, int]], tuple[str | None, int, list[tuple[int, int]]]] = {}
    article_of = site.articles.iri
    for doc_id, sentence, article, start, end in site.mentions.of_entity(iri):
        key = (doc_id, sentence)
        found = sentences.get(key)
        if found is None:
            # the page of the article the mention was read in, where its anchor is
            found = sentences[key] = (article_of(doc_id, article), article, [])
        found[2].append((start, end))
    by_article: dict[str, list[tuple[int, int, tuple[tuple[int, int], ...]]]] = defaultdict(list)
    doc_of: dict[str, tuple[str, int]] = {}  # article IRI -> its document and index
    for (doc_id, (s, e)), (art, article, marks) in sorted(sentences.items()):
        if art is not None:
            by_article[art].append((s, e, tuple(marks)))
            doc_of[art] = (doc_id, article)
    ordered = sorted(by_article.items(), key=lambda kv: kv[0])
    shown, hidden = ordered[:MAX_SENTENCE_ARTICLES], ordered[MAX_SENTENCE_ARTICLES:]
    groups = tuple((site.heading(art, *doc_of[art]), doc_of[art][0], tuple(sents)) for art, sents in shown)
    relations = []
    for direction, other, k, d in rels:
        u, v = (iri, other) if direction == "out" else (other, iri)
        links, more = site.evidence_links(u, v, k, d)
        relations.append(
            (
                direction,
                k,
                (site.label(other), site.href(other, "../"), site.type(other)),
                d.get("source", ""),
                int(d.get("count") or 0),
                d.get("confidence", ""),
                links,
                more,
            )
        )
    return {
        "iri": iri,
        "label": site.label(iri),
        "type": site.type(iri),
        "aliases": tuple(a.get("aliases") or ()),
        "mentions": int(a.get("mentions") or 0),
        "new": bool(a.get("new")),
        "details": tuple(
            (name, a[attr]) for attr, name in (("code", "区划代码 code"), ("level", "行政级别 level"), ("full_name", "全称 full name")) if a.get(attr) not in (None, "")
        ),
        "nodes": tuple(site.node(n, "../") for n in [iri, *order]),
        "edges": tuple(site.edge(*e) for e in site.edges_among({iri, *order})),
        "neighbours": len(neighbours),
        "texts": site.texts(doc_of[art][0] for art, _ in shown),
        "groups": groups,
        "hidden": (len(hidden), sum(len(sents) for _, sents in hidden)),  # articles and sentences not listed
        "relations": tuple(relations),
    }


def _entity_page(env: Environment, p: dict) -> str:
    iri = p["iri"]
    texts = p["texts"]
    nodes = [_corpus_view(n) for n in p["nodes"]]
    labels = {n.iri: n.label for n in nodes}
    edges = [_corpus_edge_view(e, labels) for e in p["edges"]]
    pos = _radial_layout(iri, [n.iri for n in nodes[1:]])
    data = _network(nodes, edges, pos, edge_labels=len(edges) <= 150, focus=iri)
    # a hub's thousands of sentences: written here, not by a template loop, at a fraction of the cost
    groups = Markup(
        "".join(
            _group_heading(h.title, h.href, h.doc)
            + "".join(f"<li>{_sentence(texts[doc_id], s, e, marks, h.page)}</li>\n" for s, e, marks in sents)
            + "</ul>\n"
            for h, doc_id, sents in p["groups"]
        )
    )
    relations = [
        {"direction": direction, "p": rel_style(k), "key": k, "other": other, "source": source, "count": count, "confidence": confidence, "evidence": list(evidence), "more": more}
        for direction, k, other, source, count, confidence, evidence, more in p["relations"]
    ]
    facts = {k: [r for r in relations if r["key"] == k] for k in dict.fromkeys(r["key"] for r in relations)}
    return env.get_template("entity.html").render(
        root="../",
        kind="entity",
        title=p["label"],
        iri=iri,
        type=p["type"],
        aliases=list(p["aliases"]),
        mentions=p["mentions"],
        new=p["new"],
        details=list(p["details"]),
        pinyin=" ".join(lazy_pinyin(p["label"], style=Style.TONE, errors="default")),
        graph=data,
        node_count=len(nodes),
        edge_count=len(edges),
        neighbour_count=p["neighbours"],
        truncated=len(nodes) - 1 < p["neighbours"],
        max_neighbours=MAX_NEIGHBOURS,
        legend=_legend(Counter(n.type for n in nodes), Counter(e.key for e in edges)),
        groups=groups,
        hidden=p["hidden"],
        max_articles=MAX_SENTENCE_ARTICLES,
        facts=facts,
    )


@lru_cache(maxsize=None)
def _group_heading(title: str, href: str | None, doc: str) -> str:
    """The heading of an article's sentences on an entity page: the same on the page of each entity it names."""
    return f'<h3><a href="{escape(href)}">{escape(title)}</a> <span class="doc">{escape(doc)}</span></h3>\n<ul class="sentences">\n'


# ---------------------------------------------------------------------------------------------
# writing, and reusing the pages of an earlier build

MANIFEST = ".pages.json"  # in the output folder: {"pages": {relative path: key}}
KEY = 16  # the bytes of a page's key and pre-key, blake2b digests (the manifest and the record hold them in hex)
NO_KEY = bytes(KEY)  # where a page has no pre-key, in the packed records (_Records, _write_share)


@dataclass(frozen=True, slots=True)
class _Page:
    path: str  # relative to the output folder
    inputs: Callable[[], object]  # everything the page shows, as plain values
    render: Callable[[Environment, object], str]  # the page from its inputs alone
    # a key made without the inputs, equal only when the inputs are (an article's: see _article_pre)
    pre: Callable[[], str] | None = None


# this module as it was loaded: the code that renders the pages of this process
_SOURCE = hashlib.blake2b(Path(__file__).read_bytes(), digest_size=16).digest()


@lru_cache(maxsize=None)
def _libraries() -> str:
    constants = (ARTICLE, ACTS_WITH, AUTHOR, COOCCURS, ISSUED, MENTIONS, PART_OF, RUNS, SERVES, WITHIN)
    versions = tuple((name, metadata.version(name)) for name in ("jinja2", "markupsafe", "networkx", "numpy", "pypinyin", "pyvis"))
    return repr((constants, versions, platform.python_version()))


def _code_version() -> bytes:
    """What makes the pages besides their inputs: this module, the templates (read again by each
    build's Jinja environment), the constants it imports and the libraries it uses."""
    h = hashlib.blake2b(_SOURCE, digest_size=16)
    for path in sorted(p for p in TEMPLATES.iterdir() if p.is_file()):
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode())
        h.update(data)
    h.update(_libraries().encode())
    return h.digest()


def _page_key(version: bytes, page: _Page, inputs: object) -> bytes:
    """A page's key: a hash of the code that renders it and of all it reads. Equal keys, equal bytes."""
    h = hashlib.blake2b(version, digest_size=KEY)
    h.update(page.render.__name__.encode())
    h.update(repr(inputs).encode("utf-8", "surrogatepass"))
    return h.digest()


def _json_object(path: Path) -> dict:
    """The JSON object in a file a build wrote; empty when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _manifest(folder: Path) -> Iterator[tuple[str, str]]:
    """The page keys an earlier build recorded in `folder`, by path, sorted; none when the manifest is missing or unreadable."""
    return ((p, k) for p, k in _json_pairs(folder / MANIFEST, under="pages") if isinstance(k, str))


class Damaged(ValueError):
    """A record a build wrote that is damaged after the pairs read from it (`_json_pairs`)."""


def _json_pairs(path: Path, *, under: str | None = None) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs of the JSON object in a file a build wrote (`_json_text`; the object
    under the one name `under`), sorted by name, read a line at a time: read whole into a dict of
    strings, the previous build's manifest and record of pre-keys took 5.3 kB a page of the seeds
    x200 while a rebuild read them (tracemalloc). None when the file is missing or unreadable. A
    line that is not a pair in order, or an end that is missing, raises `Damaged` once the pairs
    before it are read: the file vouches for none of them. A file of another layout (builds before
    this one wrote it on one line) is read whole."""
    head, end = ("{\n", "}\n") if under is None else (f"{{{json.dumps(under)}: {{\n", "}}\n")
    try:
        fh = path.open(encoding="utf-8", newline="\n")
    except OSError:
        return
    with fh:
        try:
            first = fh.readline()
        except (OSError, ValueError):
            return
        if first == head:
            last = None
            try:
                for line in fh:
                    if line == end:
                        return
                    (name, value), *more = json.loads("{" + line.rstrip("\n").removesuffix(",") + "}").items()
                    if more or last is not None and name <= last:
                        break
                    last = name
                    yield name, value
            except (OSError, ValueError):
                pass
            raise Damaged(f"{path}: not a record of pairs, a line each, sorted, to its end")
    data = _json_object(path)
    data = data.get(under) if under is not None else data
    if isinstance(data, dict):
        yield from sorted(data.items())


def _reuse(src: str, dst: str) -> bool:
    """Put the earlier build's page `src` at `dst`: a hard link, or a copy. False when `src` is missing."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        try:
            if os.path.samefile(src, dst):
                return True
        except OSError:
            return False
        os.unlink(dst)  # replaced, never written through: it may be a hard link to another build's page
        return _reuse(src, dst)
    except FileNotFoundError:
        return False
    except OSError:
        pass  # another file system, or no hard links there
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dst)
        shutil.copyfile(src, dst)
        return True
    except OSError:
        return False


def _write(path: Path | str, content: str | bytes, *, new: bool = False) -> None:
    """Write the file unless it holds these bytes already: an unchanged page keeps its time stamp.

    `new`: the file was not there when the folder was listed (a clean build's pages): created
    without a look at it first, unless it has appeared since.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if new:
        try:
            # os.open, not open(): no buffer, size, terminal or position queries for a file written at once
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            pass
        else:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            return
    path = Path(path)
    try:
        same = path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        same = False
    if not same:
        # the file may be a hard link to a page of another build: replace it, never write through it
        path.unlink(missing_ok=True)
        path.write_bytes(data)


class _Pages(Sequence[_Page]):
    """The pages of a site in the order they are written: the overview, the lists, the articles,
    the entities. An article's page is made when it is asked for, from its document's record: a
    list of them all held 600 bytes an article (4.4 MB of the build's process at the seeds x200)."""

    def __init__(self, site: _Site, head: list[_Page], doc_keys: Mapping[str, str] | None) -> None:
        self.site, self.head, self.doc_keys = site, head, doc_keys
        self.ids = list(site.docs)  # the documents' (each read from the site's when its pages are made)
        # the index of each document's first article page, and of the first entity page
        self.firsts = array("q", accumulate((len(d.articles) for d in site.docs.values()), initial=len(head)))
        self.entities = [(f"entities/{name}", iri) for iri, name in sorted(site.entity.items())]

    def __len__(self) -> int:
        return self.firsts[-1] + len(self.entities)

    def __getitem__(self, i: int) -> _Page:  # type: ignore[override]
        if not 0 <= i < len(self):
            raise IndexError(i)
        site = self.site
        if i < len(self.head):
            return self.head[i]
        if i >= self.firsts[-1]:
            path, iri = self.entities[i - self.firsts[-1]]
            return _Page(path, partial(_entity_inputs, site, iri), _entity_page)
        d, index, start, end, title, byline = self._article(i)
        key = self.doc_keys.get(d.doc_id) if self.doc_keys is not None else None
        pre = partial(_article_pre, site, d, index, key) if key is not None else None
        return _Page(self._article_path(d, index), partial(_article_inputs, site, d, index, start, end, title, byline), _article_page, pre)

    def _article(self, i: int) -> tuple:
        k = bisect_right(self.firsts, i) - 1
        d = self.site.docs[self.ids[k]]
        return (d, *d.articles[i - self.firsts[k]])

    def _article_path(self, d: DocInfo, index: int) -> str:
        return f"articles/{self.site.articles.name_of(d.doc_id, index)}"

    def paths(self) -> Iterator[str]:
        """The path of each page, in order, without making the pages."""
        yield from (page.path for page in self.head)
        for d in self.site.docs.values():
            for index, *_ in d.articles:
                yield self._article_path(d, index)
        yield from (path for path, _ in self.entities)


class _Slots:
    """Records of `size` bytes by number, in a file with no name (`put` writes a run of them, `get`
    reads one back, `read` a run), read by offset, so the pages' forked processes read it too: the
    pages' keys and pre-keys (32 bytes a page, 0.24 kB a page of the seeds x200 held in the build's
    process to the pages' end) and the previous build's records of its pages (`_Records`)."""

    __slots__ = ("size", "_file")

    def __init__(self, size: int, *, directory: Path | None = None) -> None:
        self.size = size
        self._file = Unnamed(directory, prefix=".kg-slots-")

    def put(self, start: int, data: bytes) -> None:
        """Records `start`, `start` + 1, … as `data` holds them one after the other."""
        self._file.write(start * self.size, data)

    def get(self, i: int) -> bytes:
        """Record `i` (zeros for one never put before a later one)."""
        found = self.read(i, 1)
        if len(found) != self.size:
            raise IndexError(i)
        return found

    def read(self, start: int, count: int) -> bytes:
        """Records `start` to `start` + `count`, one after the other (those there are)."""
        return self._file.read(start * self.size, count * self.size, whole=False)


def _intact(pairs: Iterable, damaged: list[str], name: str) -> Iterator:
    """`pairs` until they are `Damaged`: then `name` goes to `damaged`, and they end."""
    try:
        yield from pairs
    except Damaged:
        damaged.append(name)


class _Records:
    """What the previous build recorded of each of its pages, in 48 bytes a page (dicts of their
    paths and keys as strings held 500, 3.8 MB of the build's process at the seeds x200): rows of
    the digest of its path, its key and the pre-key recorded with that key (zeros when none),
    sorted, looked up by bisection. Made from the manifest and the record of pre-keys as they are
    read, a pair at a time (`_json_pairs`), the two side by side in their order of paths. The rows
    are in a file with no name (`_Slots`) and the first path digest of every BLOCK of them here, so
    a lookup reads one block: held, the rows were 0.36 kB a page of the seeds x200 (tracemalloc)."""

    __slots__ = ("_count", "_firsts", "_rows")
    SIZE = 3 * KEY
    BLOCK = 128  # rows read at once (6 kB)

    def __init__(self, keys: Iterable[tuple[str, str]], pre: Iterable[tuple[str, tuple[str, str]]], directory: Path | None = None) -> None:
        """`keys`: the previous manifest's (`_manifest`); `pre`: the record of pre-keys (`_read_pre`),
        of which a pair is kept only with the key the manifest holds for its page; each by path,
        sorted. A key that is not KEY bytes in hex is no key (its page is rendered). `directory`:
        where the rows' file goes (else the temporary folder)."""
        rows: list[bytes] = []
        damaged: list[str] = []
        pre = _intact(pre, damaged, "pre")
        seen = next(pre, ())  # the record's pair at or after the path in hand, () when none is left
        for path, key in _intact(keys, damaged, "keys"):
            while seen and seen[0] < path:  # the two sorted alike: each read once
                seen = next(pre, ())
            pair = seen[1] if seen and seen[0] == path else None
            row = _path_digest(path) + _digest(key) + (_digest(pair[0]) if pair is not None and pair[1] == key else NO_KEY)
            if len(row) == self.SIZE:
                rows.append(row)
        for _ in pre:  # the record's rest, read to its end
            pass
        if "keys" in damaged:
            rows = []  # a damaged manifest vouches for no page
        elif damaged:
            rows = [row[: 2 * KEY] + NO_KEY for row in rows]  # nor a damaged record for any pre-key
        rows.sort()
        self._count = len(rows)
        self._firsts = b"".join(rows[i][:KEY] for i in range(0, len(rows), self.BLOCK))
        self._rows = _Slots(self.SIZE, directory=directory) if rows else None
        for i in range(0, len(rows), self.BLOCK):
            self._rows.put(i, b"".join(rows[i : i + self.BLOCK]))

    def __len__(self) -> int:
        return self._count

    def get(self, path: str) -> tuple[bytes, bytes | None] | None:
        """(key, pre-key or None) recorded for the page at `path`; None when it had none."""
        if self._rows is None:
            return None
        digest, firsts, size = _path_digest(path), self._firsts, self.SIZE
        block = bisect_right(range(len(firsts) // KEY), digest, key=lambda b: firsts[b * KEY : (b + 1) * KEY]) - 1
        if block < 0:
            return None
        start = block * self.BLOCK
        rows = self._rows.read(start, self.BLOCK)
        i = bisect_left(range(len(rows) // size), digest, key=lambda i: rows[i * size : i * size + KEY])
        if i == len(rows) // size or rows[i * size : i * size + KEY] != digest:
            return None
        key, pre = rows[i * size + KEY : i * size + 2 * KEY], rows[i * size + 2 * KEY : (i + 1) * size]
        return key, pre if pre != NO_KEY else None


def _path_digest(path: str) -> bytes:
    return hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=KEY).digest()


def _digest(key: str) -> bytes:
    """A key as it is written (hex) as bytes; b"" when it is none."""
    try:
        digest = bytes.fromhex(key)
    except ValueError:
        return b""
    return digest if len(digest) == KEY else b""


@dataclass(slots=True)
class _Job:
    out: Path
    env: Environment
    version: bytes  # of the code that renders the pages
    pages: _Pages
    previous: Path | None
    known: _Records  # the previous build's
    present: frozenset[str]  # relative paths of the pages in `out` before any was written


def _write_share(job: _Job, start: int, stop: int) -> bytes:
    """Write pages `start` to `stop`, each reused when its key is the previous build's: the key and
    pre-key (zeros: none) of each, 2 × KEY bytes a page. A page whose pre-key was recorded with the
    key the previous build holds for it is reused without its inputs being gathered (equal
    pre-keys, equal inputs)."""
    done = bytearray()
    out, previous = os.fspath(job.out), os.fspath(job.previous) if job.previous is not None else None
    for i in range(start, stop):
        page = job.pages[i]
        pre = _pre_key(job.version, page) if page.pre is not None else None
        record = job.known.get(page.path) if previous is not None else None
        if pre is not None and record is not None and record[1] == pre and _reuse(f"{previous}/{page.path}", f"{out}/{page.path}"):
            done += record[0] + pre
            continue
        inputs = page.inputs()
        key = _page_key(job.version, page, inputs)
        reused = record is not None and record[0] == key and _reuse(f"{previous}/{page.path}", f"{out}/{page.path}")
        if not reused:
            _write(f"{out}/{page.path}", page.render(job.env, inputs), new=page.path not in job.present)
        done += key + (pre or NO_KEY)
    return bytes(done)


def _pre_key(version: bytes, page: _Page) -> bytes:
    h = hashlib.blake2b(version, digest_size=KEY)
    h.update(page.render.__name__.encode() + b"\0pre\0")
    h.update(page.pre().encode("utf-8", "surrogatepass"))  # type: ignore[misc]
    return h.digest()


def _read_pre(path: Path | None) -> Iterator[tuple[str, tuple[str, str]]]:
    """The (pre-key, key) pairs a build recorded in `path`, by path, sorted; none when it is missing or unreadable."""
    pairs = _json_pairs(path) if path is not None else ()
    return ((p, (v[0], v[1])) for p, v in pairs if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v))


# The job of a forked worker: set in the worker, inherited from the parent without pickling.
_JOB: _Job | None = None


def _adopt(job: _Job) -> None:
    from kg.workers import name_process

    global _JOB
    _JOB = job
    name_process("kg-pages")


def _worker_share(start: int, stop: int) -> bytes:
    return _write_share(_JOB, start, stop)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `write_pages` reads before any page, none of it from the graph: the template environment
    (templates compiled), the code's version and what the previous build recorded. A build makes it
    while its workers extract (`prepare_pages`; 0.07 s of a rebuild of the seeds x200, most of it the
    pre-key record) and hands it to `write_pages` with the same `previous` and `pre_keys`."""

    env: Environment
    version: bytes
    previous: Path | None
    known: _Records


def prepare_pages(previous: Path | None, *, pre_keys: Path | None = None, keyed: bool = False) -> Prepared:
    """`write_pages`' preliminaries for a build into a folder whose earlier output is `previous`;
    `keyed`: the build gives its documents' keys (`doc_keys`), so the record in `pre_keys` is read."""
    env = _env()
    for name in ("index.html", "article.html", "entity.html", "list.html"):
        env.get_template(name)  # compiled once, here, not in each worker
    previous = Path(previous) if previous is not None else None
    known = _Records(
        _manifest(previous) if previous is not None else (), _read_pre(pre_keys) if previous is not None and keyed else (),
        directory=previous.resolve().parent if previous is not None else None,
    )
    return Prepared(env, _code_version(), previous, known)


def write_pages(g: nx.MultiDiGraph, docs: Sequence[DocInfo], mentions: Sequence[Mention] | MentionIndex, out: Path, **options: Any) -> list[Path]:
    """`page_files`, returning the paths written, sorted."""
    out = Path(out)
    return [out.joinpath(*path.split("/")) for path in page_files(g, docs, mentions, out, **options)]


def page_files(
    g: nx.MultiDiGraph,
    docs: Sequence[DocInfo],
    mentions: Sequence[Mention] | MentionIndex,
    out: Path,
    *,
    max_overview_nodes: int = MAX_OVERVIEW_NODES,
    jobs: int = 1,
    previous: Path | None = None,
    doc_keys: Mapping[str, str] | None = None,
    pre_keys: Path | None = None,
    prepared: Prepared | None = None,
    authors: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StringFile:
    """Write `index.html` (overview and search), `articles/<name>.html` and `entities/<name>.html`,
    and for a corpus of more than MAX_LIST_ARTICLES articles the pages that list them all,
    `lists/articles-<n>.html` (the overview lists the first of them).

    The scripts and stylesheets go to `assets/`; pages of an earlier build that this graph no
    longer has are removed from `articles/`, `entities/` and `lists/`. Returns the files written as their paths
    relative to `out` ("/" between two parts), sorted as paths are (`path_order`), in a
    `kg.strings.StringFile` (a build lists thousands of them; `write_pages` makes them Paths).
    `jobs` > 1 renders the pages in that many forked processes (where the platform can fork), each
    a share of them, with the same bytes; an error in one is raised here once all have stopped.

    Each page's key, a hash of all it reads and of the code, goes to `.pages.json`. With `previous`,
    the folder of an earlier build, a page whose key is the one recorded there is hard-linked (or
    copied) from it instead of rendered: the same bytes, in a fraction of the time.

    `doc_keys` (a build's): for each document, a key that changes whenever anything the graph holds
    of it could (its text, articles, mentions and relations, and the code that makes them and the
    graph), for a graph made by `kg.graph.build_graph` from those documents. An article page then
    also has a key made without its inputs (its document's key and what the corpus says of the IRIs
    it names), recorded with its key in `pre_keys`; a rebuild links an article page whose pre-key
    was recorded with the key the previous build's manifest holds for it without gathering its
    inputs (7,393 of 7,400 articles when a file is added to the seeds x200).

    `prepared`: `prepare_pages` of the same `previous` and `pre_keys`, made earlier. `mentions`: a
    list, or the `MentionIndex` of the documents' (a build's, whose mentions are in its spool).
    `authors`: for a graph without the article level (`kg.graph.GraphBuilder(articles=False)`, a
    build's), who wrote each article, as `GraphBuilder.authors`; the pages are those of the graph with it.
    `progress`: called with the pages written or linked so far and their total, from none to all,
    as shares of them are done (`kg.progress.Progress.pages`).
    """
    out = Path(out)
    prepared = prepared or prepare_pages(previous, pre_keys=pre_keys, keyed=doc_keys is not None)
    env, known = prepared.env, prepared.known
    pool = None  # the pages' processes, if any
    # the corpus is left out of garbage collections while the pages are made: they would walk all
    # of it again and again, for nothing (and, in a forked worker, copy every page of memory it is in)
    gc.freeze()
    try:
        site = _site(g, docs, mentions, authors)
        assets = [(out / "assets" / name, VIS / name) for name in ("vis-network.min.js", "vis-network.css")]
        assets += [(out / "assets" / src.name, src) for src in sorted(ASSETS.iterdir()) if src.suffix in (".js", ".css")]
        head = [_Page("index.html", partial(_index_inputs, site, max_overview_nodes), _index_page)]
        lists = list_pages(sum(len(d.articles) for d in site.docs.values()))
        head += [_Page(path, partial(_list_inputs, site, n), _list_page) for n, path in enumerate(lists, 1)]
        pages = _Pages(site, head, doc_keys)
        entities = pages.firsts[-1]
        subs = ("articles", "entities", *(("lists",) if lists else ()))
        for folder in sorted({out, *(path.parent for path, _ in assets), *(out / sub for sub in subs)}):
            folder.mkdir(parents=True, exist_ok=True)
        # until the pages are written, no manifest vouches for them (a build that stops half-way leaves none)
        (out / MANIFEST).unlink(missing_ok=True)
        for path, src in assets:
            _write(path, src.read_bytes())
        # the pages already there, listed once: the others are written without a look at each
        keys = _Slots(2 * KEY, directory=out.parent)  # each page's key and pre-key (zeros: none), as _write_share gives them
        # (lists/ too when this corpus has none: the stale ones are removed below)
        present = frozenset(f"{sub}/{name}" for sub in ("articles", "entities", "lists") if (out / sub).is_dir() for name in os.listdir(out / sub)) | (
            {"index.html"} if (out / "index.html").exists() else set()
        )
        job = _Job(out, env, prepared.version, pages, prepared.previous, known, present)
        jobs = min(jobs, len(pages)) if "fork" in multiprocessing.get_all_start_methods() else 1
        report = progress or (lambda done, total: None)
        report(0, len(pages))
        if jobs > 1:
            gc.freeze()  # the site too
            # forked after the site is computed: the workers inherit it and the pages to render
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_adopt, initargs=(job,)) as pool:
                # shares handed out as workers finish, the costly first: the overview alone, the
                # entity pages a few at a time (a hub's costs as much as hundreds of articles), then
                # the articles in runs of neighbours, so that a worker reads, and so copies from its
                # parent, a part of the site only
                size = max(1, -(-(entities - 1) // (8 * jobs)))
                shares = [(0, 1), *((i, min(i + 4, len(pages))) for i in range(entities, len(pages), 4)), *((i, min(i + size, entities)) for i in range(1, entities, size))]
                futures = [pool.submit(_worker_share, start, stop) for start, stop in shares]
                written = 0
                try:
                    for n, (start, stop) in enumerate(shares):
                        keys.put(start, futures[n].result())
                        futures[n] = None  # and its copy of them let go of (held to the end, 0.24 kB a page of the seeds x200)
                        written += stop - start
                        report(written, len(pages))
                except BaseException:
                    pool.shutdown(cancel_futures=True)
                    raise
        else:
            for start in range(0, len(pages), PAGES_REPORTED):
                stop = min(start + PAGES_REPORTED, len(pages))
                keys.put(start, _write_share(job, start, stop))
                report(stop, len(pages))
    finally:
        gc.unfreeze()
    # the pages by path, as the records list them: their paths in a file, sorted a run at a time (a
    # list of them and of their order took about 1.1 kB a page of the seeds x2000 at the pages' end,
    # where the build's process peaked), and each one's number among the pages. A page is index.html or a
    # name in articles/, entities/ or lists/, so their order as strings is their order as paths
    paths, order = sort_strings(pages.paths(), directory=out.parent)
    # not read any more (the head's pages and the pool's arguments hold the site too): what they held
    # is the records' while they are written
    del job, pages, head, site, pool

    def keyed(i: int) -> tuple[bytes, bytes | None]:
        """Page `i`'s key and pre-key (None: none), in one read."""
        found = keys.get(i)
        return found[:KEY], (found[KEY:] if found[KEY:] != NO_KEY else None)

    (out / MANIFEST).unlink(missing_ok=True)  # written anew, never through a link to another build's
    with (out / MANIFEST).open("w", encoding="utf-8", newline="\n") as fh:  # the bytes _write wrote, on any platform
        fh.writelines(_json_text(((path, f'"{keyed(i)[0].hex()}"') for path, i in zip(paths, order)), ascii=True, under="pages"))
    if pre_keys is not None and doc_keys is not None:
        from kg.output import replace_file

        seen = ((path, f'["{p.hex()}", "{k.hex()}"]') for path, i in zip(paths, order) for k, p in [keyed(i)] if p is not None)
        try:
            pre_keys.parent.mkdir(parents=True, exist_ok=True)
            replace_file(pre_keys, (chunk.encode("utf-8") for chunk in _json_text(seen, ascii=False)))
        except OSError:
            pass  # a record that cannot be kept only costs the next build the inputs of its articles
    # the pages there before that this graph no longer has (every page written is listed in `paths`):
    # those listed before any was written (`present`) and `paths`, both sorted, side by side
    written = iter(paths)
    at = next(written, None)
    for name in sorted(name for name in present if name.endswith(".html") and "/" in name):  # not index.html
        while at is not None and at < name:
            at = next(written, None)
        if at != name:
            (out / name).unlink(missing_ok=True)
    if not lists and (out / "lists").is_dir() and not os.listdir(out / "lists"):
        os.rmdir(out / "lists")  # lists/: only a corpus of more than MAX_LIST_ARTICLES articles has it
    # sorted as paths are, the pages' own strings in a file (a tuple of parts a page took 15.2 MB
    # more for x2000's 74,274 pages at the end of the pages, a string a page 7 MB)
    assets_written = sorted([MANIFEST, *(f"{path.parent.name}/{path.name}" for path, _ in assets)], key=path_order)
    return StringFile(heapq.merge(assets_written, paths, key=path_order), directory=out.parent)


def path_order(path: str) -> str:
    """The key that sorts relative paths ("/" between two parts) as their parts sort, as Paths do:
    "/" made the lowest character.

    >>> sorted(["a-b/c", "a/c", "a", "a/b/c"], key=path_order)
    ['a', 'a/b/c', 'a/c', 'a-b/c']
    """
    return path.replace("/", "\0")


def _json_text(pairs: Iterable[tuple[str, str]], *, ascii: bool, under: str | None = None) -> Iterator[str]:
    """The text of the JSON object of (name, value written as JSON) pairs sorted by name, a pair a
    line (as `_json_pairs` reads it back a line at a time), then a new line; the object under the
    one name `under`, if given. A pair at a time: the workers' (path, key) tuples and the text of
    them all held 3.2 MB beside the site at the end of a x200 rebuild's pages (2.5 and 0.7 MB)."""
    yield "{\n" if under is None else f"{{{json.dumps(under)}: {{\n"
    n, between = -1, ",\n"
    for n, (name, value) in enumerate(pairs):
        yield f"{between if n else ''}{json.dumps(name, ensure_ascii=ascii)}: {value}"
    yield ("\n" if n >= 0 else "") + ("}\n" if under is None else "}}\n")
