"""The interactive pages: an overview with search, one page per article, one page per entity.

Every page opens from disk without network: vis-network (shipped inside pyvis) and our own script
and stylesheet are copied once to `assets/`. pyvis holds each network's nodes and edges; positions
come from a layout computed here with a fixed seed and vis-network draws them with physics off, so
a page shows thousands of nodes in about a second and the same graph always gives the same bytes.
All corpus text reaches the page escaped: by Jinja in HTML, and as JSON with `<`, `>`, `&`,
U+2028 and U+2029 escaped inside `<script type="application/json">`, read with `JSON.parse`.
Tooltips are plain strings, which vis-network shows as text. The overview and entity pages show
what the whole corpus says of each node; an article page shows what that article says (mentions and
evidence in it), so that adding documents leaves the pages of the others unchanged. This module never
imports spaCy.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import multiprocessing
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate
from pathlib import Path

import networkx as nx
import pyvis
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pyvis.network import Network
from pypinyin import Style, lazy_pinyin

from kg.graph import ARTICLE, DocInfo
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
    article_iri,
)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
ASSETS = HERE / "html_assets"
VIS = Path(pyvis.__file__).resolve().parent / "templates" / "lib" / "vis-9.1.2"

# The overview's limit, from measurements in headless Chromium on random long-tailed graphs
# (first frame after navigation, median of 3 / one redraw while panning / Python layout):
#   500 nodes 0.6 s / 6-17 ms / 0.3 s;  1,000 0.85 s / 7-16 ms / 0.5 s;  1,500 1.0 s / 15-17 ms / 1.4 s;
#   2,000 1.3 s / 19-49 ms / 2.7 s;  3,000 2.1 s / 26-48 ms / 10 s.
# Up to 1,000 nodes the page is drawn in under a second and pans at 60 frames a second; past it the
# dense layout grows quadratically and, at the zoom that shows the whole, nodes shrink to dots.
MAX_OVERVIEW_NODES = 1000
MAX_NEIGHBOURS = 120  # an entity page draws at most this many neighbours (lists show them all)
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
        digest = hashlib.sha1(iri.encode("utf-8")).hexdigest()
        stem = slug(label)
        name = f"{stem}-{digest[:10]}" if stem else digest[:10]
        if name in taken:
            name = f"{stem}-{digest}" if stem else digest
        taken.add(name)
        names[iri] = f"{name}.html"
    return names


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: object) -> Markup:
    """JSON safe inside `<script type="application/json">`: no `</script>`, `<!--` or line separators.

    >>> str(script_json({"a": "</script><!--\u2028"}))
    '{"a":"\\\\u003c/script\\\\u003e\\\\u003c!--\\\\u2028"}'
    """
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Markup(re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text))


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
    h = nx.Graph()
    h.add_nodes_from(sorted(nodes))
    for u, v, w in sorted(edges):
        if u != v and u in h and v in h:
            h.add_edge(u, v, weight=max(w, h.get_edge_data(u, v, {}).get("weight", 0.0)))
    comps = sorted((sorted(c) for c in nx.connected_components(h)), key=lambda c: (-len(c), c[0]))
    boxes = []
    for comp in comps:
        if len(comp) == 1:
            room = max(0.0, 13.0 * len((labels or {}).get(comp[0], "")) - SPACING + 20)
            boxes.append(({comp[0]: (0.0, 0.0)}, -room / 2, 0.0, room, 0.0))
            continue
        pos = dict(zip(comp, _placed(h.subgraph(comp), comp, seed=seed, crowded=crowded)))
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        boxes.append((pos, min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
    margin = SPACING
    area = sum((w + margin) * (hh + margin) for _, _, _, w, hh in boxes)
    row_width = max([math.sqrt(area * ASPECT)] + [w for *_, w, _ in boxes])
    out: dict[str, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for pos, x0, y0, w, hh in boxes:
        if x > 0 and x + w > row_width:
            x, y, row_height = 0.0, y + row_height + margin, 0.0
        for n, (px, py) in pos.items():
            out[n] = (px - x0 + x, py - y0 + y)
        x += w + margin
        row_height = max(row_height, hh)
    if not out:
        return {}
    cx = (min(p[0] for p in out.values()) + max(p[0] for p in out.values())) / 2
    cy = (min(p[1] for p in out.values()) + max(p[1] for p in out.values())) / 2
    return {n: (round(px - cx), round(py - cy)) for n, (px, py) in out.items()}


def _placed(h: nx.Graph, order: list[str], *, seed: int, crowded: float) -> tuple[tuple[float, float], ...]:
    """Pixel positions of a connected component's nodes, in `order`: a force layout, spread."""
    index = {n: i for i, n in enumerate(order)}
    shape = tuple(sorted((min(index[u], index[v]), max(index[u], index[v]), w) for u, v, w in h.edges(data="weight")))
    return _shape_positions(len(order), shape, seed, crowded)


# Positions depend only on the shape (nodes in order, weighted edges), not on names: article
# networks are mostly pairs, triangles and small stars, laid out once each.
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


@dataclass(slots=True)
class _Site:
    g: nx.MultiDiGraph
    docs: dict[str, DocInfo]
    entity: dict[str, str]  # IRI -> file name under entities/
    article: dict[str, str]  # IRI -> file name under articles/
    article_of: dict[tuple[str, int], str]  # (doc, index) -> article IRI
    starts: dict[str, list[tuple[int, int, str]]]  # doc -> sorted (start, end, article IRI)
    mentions_of: dict[str, list[Mention]]  # entity IRI -> its mentions, sorted
    mentions_in: dict[str, list[Mention]]  # article IRI -> its mentions, sorted
    importance: dict[str, int]
    anchors: dict[str, list[int]]  # doc -> sorted offsets where some evidence starts: the targets of links
    # (doc, start, end) of an article -> (u, v, key) of each edge read in it -> its evidence there, sorted
    evidence_in: dict[tuple[str, int, int], dict[tuple[str, str, str], list[tuple[int, int]]]]
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # IRI -> (tooltip, search key), filled on use

    def href(self, iri: str, root: str) -> str | None:
        if iri in self.entity:
            return f"{root}entities/{self.entity[iri]}"
        if iri in self.article:
            return f"{root}articles/{self.article[iri]}"
        return None

    def article_at(self, doc_id: str, offset: int) -> str | None:
        rows = self.starts.get(doc_id, [])
        i = bisect_right(rows, (offset, math.inf, "")) - 1
        if i >= 0 and rows[i][0] <= offset < max(rows[i][1], rows[i][0] + 1):
            return rows[i][2]
        return None

    def evidence_link(self, ev: Sequence, root: str) -> tuple[str, str] | None:
        """(href, sentence) for an evidence range, anchored on the article page."""
        doc_id, start, end = ev[0], ev[1], ev[2]
        a = self.article_at(doc_id, start)
        doc = self.docs.get(doc_id)
        if a is None or doc is None:
            return None
        return f"{root}articles/{self.article[a]}#s-{start}", _clip(doc.text[start:end], 160)

    def label(self, iri: str) -> str:
        return str(self.g.nodes[iri].get("label") or iri)

    def type(self, iri: str) -> str:
        return str(self.g.nodes[iri].get("type", ""))

    def node_text(self, iri: str) -> tuple[str, str]:
        """(tooltip, search key) of a node: the same on every page that draws it, so made once."""
        text = self.texts.get(iri)
        if text is None:
            a = self.g.nodes[iri]
            text = self.texts[iri] = (_tooltip(self, iri), search_key(str(a.get("label") or ""), a.get("aliases") or ()))
        return text


def _site(g: nx.MultiDiGraph, docs: Sequence[DocInfo], mentions: Sequence[Mention]) -> _Site:
    docs_by_id = {d.doc_id: d for d in sorted(docs, key=lambda d: d.doc_id)}
    article_of: dict[tuple[str, int], str] = {}
    starts: dict[str, list[tuple[int, int, str]]] = {}
    titles: list[tuple[str, str]] = []
    for d in docs_by_id.values():
        rows = []
        for index, start, end, _title, _byline in d.articles:
            iri = article_iri(d.doc_id, index)
            article_of[(d.doc_id, index)] = iri
            rows.append((start, end, iri))
            titles.append((iri, f"{d.doc_id}-{index}"))
        starts[d.doc_id] = sorted(rows)
    entities = [n for n, t in g.nodes(data="type") if t != ARTICLE and n not in article_of.values()]
    mentions_of: dict[str, list[Mention]] = defaultdict(list)
    mentions_in: dict[str, list[Mention]] = defaultdict(list)
    for m in sorted(mentions, key=lambda m: (m.doc_id, m.start, m.end, m.iri)):
        if m.iri in g:
            mentions_of[m.iri].append(m)
        a = article_of.get((m.doc_id, m.article))
        if a is not None:
            mentions_in[a].append(m)
    importance: dict[str, int] = {}
    for n in entities:
        degree = sum(1 for _, v in g.out_edges(n) if g.nodes[v].get("type") != ARTICLE)
        degree += sum(1 for u, _ in g.in_edges(n) if g.nodes[u].get("type") != ARTICLE)
        importance[n] = int(g.nodes[n].get("mentions") or 0) + degree
    anchors: dict[str, set[int]] = defaultdict(set)
    for _, _, ev in g.edges(data="evidence"):
        for e in ev or ():
            anchors[e[0]].add(e[1])
    return _Site(
        g=g,
        docs=docs_by_id,
        entity=page_names((n, str(g.nodes[n].get("label") or "")) for n in entities),
        article=page_names(titles),
        article_of=article_of,
        starts=starts,
        mentions_of=dict(mentions_of),
        mentions_in=dict(mentions_in),
        importance=importance,
        anchors={doc: sorted(offsets) for doc, offsets in anchors.items()},
        evidence_in=_evidence_in(g, starts),
    )


def _evidence_in(
    g: nx.MultiDiGraph, starts: dict[str, list[tuple[int, int, str]]]
) -> dict[tuple[str, int, int], dict[tuple[str, str, str], list[tuple[int, int]]]]:
    """For each article (doc, start, end), the edges with evidence starting in it and those evidence ranges.

    One pass over all evidence: an article page asks for its own edges without scanning evidence
    lists, which grow with the corpus. Articles may overlap; an evidence counts for each that holds it.
    """
    spans = {
        doc: ([s for s, _, _ in rows], list(accumulate((e for _, e, _ in rows), max)), rows) for doc, rows in starts.items()
    }
    found: dict[tuple[str, int, int], dict[tuple[str, str, str], list[tuple[int, int]]]] = defaultdict(dict)
    for u, v, k, ev in g.edges(keys=True, data="evidence"):
        for e in ev or ():
            if e[0] not in spans:
                continue
            first, reach, rows = spans[e[0]]
            # rows before i start at or before the evidence; walk back while one of them may still reach it
            i = bisect_right(first, e[1]) - 1
            while i >= 0 and reach[i] > e[1]:
                start, end, _ = rows[i]
                if start <= e[1] < end:
                    found[(e[0], start, end)].setdefault((u, v, k), []).append((e[1], e[2]))
                i -= 1
    return dict(found)


# ---------------------------------------------------------------------------------------------
# networks


def _darker(colour: str, f: float = 0.55) -> str:
    """The colour of the border of a new or focused node: its fill, darker.

    >>> _darker("#e15759")
    '#7c3031'
    """
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * f):02x}" for c in (r, g, b))


@dataclass(frozen=True, slots=True)
class _Node:
    """A drawn node as one page shows it: the tooltip and size are the page's own view of it."""

    iri: str
    label: str
    type: str
    new: bool
    href: str
    title: str  # the tooltip, plain text
    key: str  # what the network's search box matches
    value: int  # the size


@dataclass(frozen=True, slots=True)
class _Edge:
    u: str
    v: str
    key: str
    ontology: bool
    count: int  # the evidence behind it, for the width
    title: str


def _tooltip(site: _Site, iri: str) -> str:
    """A node's tooltip on the corpus pages (overview, entity pages): what the whole corpus says of it."""
    a = site.g.nodes[iri]
    st = type_style(str(a.get("type", "")))
    lines = [str(a.get("label") or iri), f"{st.zh} {st.en}"]
    if a.get("aliases"):
        lines.append("别名 aliases: " + " / ".join(a["aliases"][:8]) + ("…" if len(a["aliases"]) > 8 else ""))
    if a.get("type") != ARTICLE:
        lines.append(f"提及 mentions: {int(a.get('mentions') or 0)}" + (" · 新 new" if a.get("new") else ""))
    sentence = a.get("sentence") or ""
    if sentence:
        lines.append("“" + _clip(sentence, 140) + "”")
    return "\n".join(lines)


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


def _edge_tooltip(site: _Site, u: str, v: str, key: str, data: dict) -> str:
    """An edge's tooltip on the corpus pages: all its evidence, its confidence and the first sentence."""
    st = rel_style(key)
    lines = [f"{site.label(u)} —{st.zh} {st.en}→ {site.label(v)}"]
    if data.get("source") == "ontology":
        lines.append("本体 from the ontology")
    else:
        lines.append(f"证据 evidence: {int(data.get('count') or 0)} · 置信度 confidence {data.get('confidence', '')}")
    ev = data.get("evidence") or []
    if ev:
        doc = site.docs.get(ev[0][0])
        if doc is not None:
            lines.append("“" + _clip(doc.text[ev[0][1] : ev[0][2]], 140) + "”")
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


def _corpus_node(site: _Site, iri: str, root: str, value: int) -> _Node:
    a = site.g.nodes[iri]
    tooltip, key = site.node_text(iri)
    return _Node(iri, str(a.get("label") or iri), str(a.get("type", "")), bool(a.get("new")), site.href(iri, root) or "", tooltip, key, value)


def _corpus_edge(site: _Site, u: str, v: str, key: str, data: dict) -> _Edge:
    return _Edge(u, v, key, data.get("source") == "ontology", int(data.get("count") or 0), _edge_tooltip(site, u, v, key, data))


def _network(
    nodes: Sequence[_Node],
    edges: Sequence[_Edge],
    pos: dict[str, tuple[int, int]],
    *,
    hidden_relations: frozenset[str] = frozenset(),
    edge_labels: bool,
    focus: str | None = None,
    overview: bool = False,
) -> dict:
    """The vis-network data of one network: pyvis nodes and edges with fixed positions, and options."""
    net = Network(directed=True, cdn_resources="remote")
    for n in nodes:
        st = type_style(n.type)
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
        net.add_node(
            n.iri,
            label=n.label,
            shape=st.shape,
            color={"background": st.colour, "border": _darker(st.colour) if n.new or n.iri == focus else st.colour},
            value=value,
            title=n.title,
            x=x,
            y=y,
            type=n.type,
            href=n.href,
            key=n.key,
            **extra,
        )
    # vis-network draws parallel edges on top of each other: bend the second and later ones
    seen: Counter = Counter()
    for i, edge in enumerate(edges):
        st = rel_style(edge.key)
        pair = tuple(sorted((edge.u, edge.v)))
        bend = seen[pair]
        seen[pair] += 1
        e = {
            "id": f"e{i}",
            "rel": edge.key,
            "color": {"color": st.colour, "highlight": "#222222", "hover": "#222222"},
            "dashes": st.dashes or edge.ontology and edge.key not in (WITHIN, PART_OF),
            "width": round(1 + min(3.0, math.log2(1 + edge.count)), 2),
            "title": edge.title,
            "arrows": "to" if st.arrow else "",
        }
        if edge_labels:
            e["label"] = st.zh
        if edge.key in hidden_relations:
            e["hidden"] = True
        if bend:
            e["smooth"] = {"enabled": True, "type": "curvedCW", "roundness": round(0.15 * bend, 2)}
        net.add_edge(edge.u, edge.v, **e)
    big = len(nodes) > 300
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
    return {"nodes": net.nodes, "edges": net.edges, "options": options}


def _edges_among(g: nx.MultiDiGraph, keep: set[str]) -> list[tuple[str, str, str, dict]]:
    """The edges between kept nodes, sorted; linear in the kept nodes' degrees, not in the graph."""
    return sorted(
        ((u, v, k, d) for u in keep for _, v, k, d in g.out_edges(u, keys=True, data=True) if v in keep and u != v),
        key=lambda e: (e[0], e[1], e[2]),
    )


def _legend(types: Counter, relations: Counter, *, hidden: frozenset[str] = frozenset()) -> dict:
    return {
        "types": [(t, type_style(t), types[t]) for t in [*TYPES, *sorted(set(types) - set(TYPES))] if types[t]],
        "relations": [(p, rel_style(p), relations[p], p not in hidden) for p in [*RELATIONS, *sorted(set(relations) - set(RELATIONS))] if relations[p]],
    }


# ---------------------------------------------------------------------------------------------
# text with mentions


def _highlighted(site: _Site, doc: DocInfo, start: int, end: int, mentions: Sequence[Mention], root: str) -> Markup:
    """The text of an article with each mention a link to its entity, and empty anchors at evidence."""
    text = doc.text
    # leading and trailing blank lines would show as a gap in the page (the text is pre-wrapped)
    piece = text[start:end]
    lo, hi = start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())
    kept: list[Mention] = []
    for m in mentions:
        if m.start >= start and m.end <= end and m.start < m.end and (not kept or m.start >= kept[-1].end):
            kept.append(m)  # of overlapping mentions the first wins
    starts = [m.start for m in kept]
    anchors = set()
    offsets = site.anchors.get(doc.doc_id, [])
    # only this article's: a document may hold thousands of articles
    for a in offsets[bisect_left(offsets, start) : bisect_left(offsets, end)]:
        a = min(max(a, lo), hi)
        i = bisect_right(starts, a) - 1
        # an anchor inside a mention moves to the mention's start
        anchors.add(kept[i].start if i >= 0 and a < kept[i].end else a)
    events = sorted([(a, 0, None) for a in anchors] + [(m.start, 1, m) for m in kept], key=lambda e: (e[0], e[1]))
    out: list[str] = []
    pos = lo
    for at, _, m in events:
        out.append(str(escape(text[pos:at])))
        pos = at
        if m is None:
            out.append(f'<span class="anchor" id="s-{at}"></span>')
            continue
        href = site.href(m.iri, root)
        st = type_style(m.label)
        tip = f"{site.label(m.iri) if m.iri in site.g else m.text} · {st.zh} {st.en}"
        tag = "a" if href else "span"
        href_attr = f' href="{escape(href)}"' if href else ""
        out.append(f'<{tag} class="m t-{escape(m.label)}" id="m-{m.start}-{m.end}"{href_attr} title="{escape(tip)}">{escape(text[m.start:m.end])}</{tag}>')
        pos = m.end
    out.append(str(escape(text[pos:hi])))
    return Markup("".join(out))


def _sentence(text: str, s: int, e: int, marks: Sequence[tuple[int, int]], href_of) -> Markup:
    """A sentence on one line with the given ranges marked and linked."""
    out: list[str] = []
    pos = s
    for a, b in sorted(marks):
        if a < pos:
            continue
        out.append(str(escape(text[pos:a].replace("\n", ""))))
        out.append(f'<a class="hit" href="{escape(href_of(a, b))}">{escape(text[a:b].replace(chr(10), ""))}</a>')
        pos = b
    out.append(str(escape(text[pos:e].replace("\n", ""))))
    return Markup("".join(out).strip())


# ---------------------------------------------------------------------------------------------
# pages


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
    # symbols, chips and links to a node recur on many pages: each is rendered once per argument
    for name in ("symbol", "line", "type_chip", "ref"):
        env.globals[name] = lru_cache(maxsize=None)(getattr(macros, name))
    env.globals["panel"] = macros.panel
    return env


def _index(site: _Site, env: Environment, max_nodes: int) -> str:
    g = site.g
    entities = sorted(site.entity)
    chosen = sorted(sorted(entities, key=lambda n: (-site.importance[n], n))[:max_nodes])
    keep = set(chosen)
    edges = _edges_among(g, keep)
    pos = _components_layout(chosen, ((u, v, LAYOUT_WEIGHT.get(k, 1.0)) for u, v, k, _ in edges), labels={n: site.label(n) for n in chosen})
    data = _network(
        [_corpus_node(site, n, "", site.importance[n] + 1) for n in chosen],
        [_corpus_edge(site, *e) for e in edges],
        pos,
        hidden_relations=OVERVIEW_HIDDEN,
        edge_labels=len(edges) <= 150,
        overview=True,
    )
    all_types = Counter(site.type(n) for n in entities)
    all_edges = Counter(k for u, v, k in g.edges(keys=True) if u in site.entity and v in site.entity)
    rows = [
        {
            "href": site.href(n, ""),
            "label": site.label(n),
            "type": site.type(n),
            "aliases": list(g.nodes[n].get("aliases") or []),
            "mentions": int(g.nodes[n].get("mentions") or 0),
            "key": search_key(site.label(n), g.nodes[n].get("aliases") or ()),
        }
        for n in sorted(entities, key=lambda n: (-site.importance[n], pinyin(site.label(n))[0], n))
    ]
    articles = []
    for d in site.docs.values():
        for index, _start, _end, title, _byline in d.articles:
            iri = site.article_of[(d.doc_id, index)]
            articles.append(
                {"href": site.href(iri, ""), "title": title, "doc": d.doc_id, "index": index, "mentions": len(site.mentions_in.get(iri, [])), "key": search_key(title) + "|" + d.doc_id.lower()}
            )
    return env.get_template("index.html").render(
        root="",
        kind="index",
        title="知识图谱 Knowledge graph",
        graph=script_json(data),
        node_count=len(chosen),
        edge_count=len(edges),
        total_entities=len(entities),
        truncated=len(chosen) < len(entities),
        max_nodes=max_nodes,
        legend=_legend(Counter(site.type(n) for n in chosen), Counter(k for _, _, k, _ in edges), hidden=OVERVIEW_HIDDEN),
        all_types=all_types,
        all_edges=all_edges,
        entities=rows,
        articles=articles,
        doc_count=len(site.docs),
    )


def _article(site: _Site, env: Environment, doc: DocInfo, index: int, start: int, end: int, title: str, byline) -> str:
    """An article's page: its text, and the network of what it names and states.

    The page shows the article's own view only (per entity its label, type, page and whether it is
    new, and what this article says of it), so that adding documents to a corpus leaves it unchanged.
    """
    g = site.g
    iri = site.article_of[(doc.doc_id, index)]
    ms = [m for m in site.mentions_in.get(iri, []) if start <= m.start and m.end <= end]
    present = sorted({m.iri for m in ms if m.iri in site.entity})
    keep = set(present)
    read_here = site.evidence_in.get((doc.doc_id, start, end), {})
    edges = [e for e in _edges_among(g, keep) if e[3].get("source") == "ontology" or e[:3] in read_here]
    pos = _components_layout(
        present, ((u, v, LAYOUT_WEIGHT.get(k, 1.0)) for u, v, k, _ in edges), crowded=0.6, labels={n: site.label(n) for n in present}
    )
    per_entity = Counter(m.iri for m in ms)
    first: dict[str, Mention] = {}
    forms: dict[str, dict[str, None]] = defaultdict(dict)
    for m in ms:
        first.setdefault(m.iri, m)
        forms[m.iri][m.text.replace("\n", "")] = None
    degree = Counter(n for u, v, _, _ in edges for n in (u, v))
    nodes = []
    for n in present:
        label, t, new = site.label(n), site.type(n), bool(g.nodes[n].get("new"))
        written = sorted(set(forms[n]) - {label})
        s, e = first[n].sentence
        tooltip = _local_tooltip(label, t, new=new, count=per_entity[n], forms=written, sentence=doc.text[s:e].replace("\n", ""))
        nodes.append(_Node(n, label, t, new, site.href(n, "../") or "", tooltip, search_key(label, written), per_entity[n] + degree[n] + 1))
    lines = []
    for u, v, k, d in edges:
        here = read_here.get((u, v, k), [])
        ontology = d.get("source") == "ontology"
        sentence = doc.text[here[0][0] : here[0][1]] if here else ""
        tip = _local_edge_tooltip(site.label(u), site.label(v), k, ontology=ontology, count=len(here), sentence=sentence)
        lines.append(_Edge(u, v, k, ontology, len(here), tip))
    data = _network(nodes, lines, pos, edge_labels=len(edges) <= 150)
    authors = sorted(v for _, v, k in g.out_edges(iri, keys=True) if k == AUTHOR and v in site.entity) if iri in g else []
    facts = [
        {
            "s": (site.label(u), site.href(u, "../"), site.type(u)),
            "p": rel_style(k),
            "key": k,
            "o": (site.label(v), site.href(v, "../"), site.type(v)),
            "source": d.get("source", ""),
            "evidence": [f"#s-{read_here[(u, v, k)][0][0]}"] if (u, v, k) in read_here else [],
        }
        for u, v, k, d in edges
        if k != COOCCURS
    ]
    counts = Counter(m.label for m in ms)
    names = sorted(
        ((site.label(n), site.href(n, "../"), site.type(n), per_entity[n]) for n in present),
        key=lambda r: (-r[3], r[0]),
    )
    return env.get_template("article.html").render(
        root="../",
        kind="article",
        title=title,
        doc_id=doc.doc_id,
        index=index,
        byline=doc.text[byline[0] : byline[1]] if byline else "",
        authors=[(site.label(a), site.href(a, "../")) for a in authors],
        text=_highlighted(site, doc, start, end, ms, "../"),
        graph=script_json(data),
        node_count=len(present),
        edge_count=len(edges),
        legend=_legend(Counter(site.type(n) for n in present), Counter(k for _, _, k, _ in edges)),
        counts=counts,
        names=names,
        facts=facts,
        mention_count=len(ms),
    )


def _entity(site: _Site, env: Environment, iri: str) -> str:
    g = site.g
    a = g.nodes[iri]
    rels: list[tuple[str, str, str, str, dict]] = []  # direction, other, key, (u, v), data
    for u, v, k, d in g.out_edges(iri, keys=True, data=True):
        if v in site.entity and v != iri:
            rels.append(("out", v, k, d))
    for u, v, k, d in g.in_edges(iri, keys=True, data=True):
        if u in site.entity and u != iri:
            rels.append(("in", u, k, d))
    rels.sort(key=lambda r: (list(RELATIONS).index(r[2]) if r[2] in RELATIONS else len(RELATIONS), r[2], r[0], -site.importance[r[1]], r[1]))
    neighbours = list(dict.fromkeys(other for _, other, _, _ in rels))
    drawn = sorted(neighbours, key=lambda n: (-site.importance[n], n))[:MAX_NEIGHBOURS]
    drawn_set = set(drawn)
    # ring order: by relation group, then type and name, so that alike neighbours sit together
    order = [n for n in neighbours if n in drawn_set]
    keep = drawn_set | {iri}
    edges = _edges_among(g, keep)
    pos = _radial_layout(iri, order)
    data = _network(
        [_corpus_node(site, n, "../", site.importance[n] + 1) for n in [iri, *order]],
        [_corpus_edge(site, *e) for e in edges],
        pos,
        edge_labels=len(edges) <= 150,
        focus=iri,
    )
    # the sentences that mention it, grouped by article, each mention linked to its anchor
    sentences: dict[tuple[str, int, int], list[tuple[int, int]]] = defaultdict(list)
    for m in site.mentions_of.get(iri, []):
        sentences[(m.doc_id, m.sentence[0], m.sentence[1])].append((m.start, m.end))
    by_article: dict[str, list[Markup]] = defaultdict(list)
    for (doc_id, s, e), marks in sorted(sentences.items()):
        doc = site.docs.get(doc_id)
        art = site.article_at(doc_id, marks[0][0])
        if doc is None or art is None:
            continue
        page = site.article[art]
        by_article[art].append(_sentence(doc.text, s, e, marks, lambda x, y, page=page: f"../articles/{page}#m-{x}-{y}"))
    groups = [
        {"title": site.label(art) if art in g else art, "href": site.href(art, "../"), "doc": site.g.nodes[art].get("doc", "") if art in g else "", "sentences": sents}
        for art, sents in sorted(by_article.items(), key=lambda kv: kv[0])
    ]
    relations = []
    for direction, other, k, d in rels:
        # the sentence is cut out only for the three shown; the rest are counted
        linked = [e for e in d.get("evidence") or [] if site.article_at(e[0], e[1]) is not None and e[0] in site.docs]
        relations.append(
            {
                "direction": direction,
                "p": rel_style(k),
                "key": k,
                "other": (site.label(other), site.href(other, "../"), site.type(other)),
                "source": d.get("source", ""),
                "count": int(d.get("count") or 0),
                "confidence": d.get("confidence", ""),
                "evidence": [site.evidence_link(e, "../") for e in linked[:3]],
                "more": max(0, len(linked) - 3),
            }
        )
    facts = {k: [r for r in relations if r["key"] == k] for k in dict.fromkeys(r["key"] for r in relations)}
    details = [(name, a[attr]) for attr, name in (("code", "区划代码 code"), ("level", "行政级别 level"), ("full_name", "全称 full name")) if a.get(attr) not in (None, "")]
    return env.get_template("entity.html").render(
        root="../",
        kind="entity",
        title=site.label(iri),
        iri=iri,
        type=site.type(iri),
        aliases=list(a.get("aliases") or []),
        mentions=int(a.get("mentions") or 0),
        new=bool(a.get("new")),
        details=details,
        pinyin=" ".join(lazy_pinyin(site.label(iri), style=Style.TONE, errors="default")),
        graph=script_json(data),
        node_count=1 + len(order),
        edge_count=len(edges),
        neighbour_count=len(neighbours),
        truncated=len(order) < len(neighbours),
        max_neighbours=MAX_NEIGHBOURS,
        legend=_legend(Counter(site.type(n) for n in keep), Counter(k for _, _, k, _ in edges)),
        groups=groups,
        facts=facts,
    )


def _write(path: Path, content: str | bytes) -> None:
    """Write the file unless it holds these bytes already: an unchanged page keeps its time stamp."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        same = path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        same = False
    if not same:
        path.write_bytes(data)


# The pages a forked worker renders: set in the worker, inherited from the parent without pickling.
_PAGES: list[tuple[Path, Callable[[], str]]] = []


def _adopt(pages: list[tuple[Path, Callable[[], str]]]) -> None:
    global _PAGES
    _PAGES = pages


def _write_share(part: int, parts: int) -> None:
    for path, render in _PAGES[part::parts]:
        _write(path, render())


def write_pages(
    g: nx.MultiDiGraph,
    docs: Sequence[DocInfo],
    mentions: Sequence[Mention],
    out: Path,
    *,
    max_overview_nodes: int = MAX_OVERVIEW_NODES,
    jobs: int = 1,
) -> list[Path]:
    """Write `index.html` (overview and search), `articles/<name>.html` and `entities/<name>.html`.

    The scripts and stylesheets go to `assets/`; pages of an earlier build that this graph no
    longer has are removed from `articles/` and `entities/`. Returns the paths written, sorted.
    `jobs` > 1 renders the pages in that many forked processes (where the platform can fork), each
    a share of them, with the same bytes; an error in one is raised here once all have stopped.
    """
    out = Path(out)
    site = _site(g, docs, mentions)
    env = _env()
    assets = [(out / "assets" / name, VIS / name) for name in ("vis-network.min.js", "vis-network.css")]
    assets += [(out / "assets" / src.name, src) for src in sorted(ASSETS.iterdir()) if src.suffix in (".js", ".css")]
    pages: list[tuple[Path, Callable[[], str]]] = [(out / "index.html", partial(_index, site, env, max_overview_nodes))]
    for d in site.docs.values():
        for index, start, end, title, byline in d.articles:
            name = site.article[site.article_of[(d.doc_id, index)]]
            pages.append((out / "articles" / name, partial(_article, site, env, d, index, start, end, title, byline)))
    for iri, name in sorted(site.entity.items()):
        pages.append((out / "entities" / name, partial(_entity, site, env, iri)))
    for folder in sorted({path.parent for path, _ in [*assets, *pages]}):
        folder.mkdir(parents=True, exist_ok=True)
    for path, src in assets:
        _write(path, src.read_bytes())
    jobs = min(jobs, len(pages)) if "fork" in multiprocessing.get_all_start_methods() else 1
    if jobs > 1:
        for name in ("index.html", "article.html", "entity.html"):
            env.get_template(name)  # compiled once, here, not in each worker
        # forked after the site is computed: the workers inherit it and the pages to render
        context = multiprocessing.get_context("fork")
        # frozen, the inherited objects are left out of the workers' garbage collections, which
        # would otherwise write to (and so copy) every page of memory the site occupies
        gc.freeze()
        try:
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_adopt, initargs=(pages,)) as pool:
                for share in [pool.submit(_write_share, part, jobs) for part in range(jobs)]:
                    share.result()
        finally:
            gc.unfreeze()
    else:
        for path, render in pages:
            _write(path, render())
    written = {path for path, _ in [*assets, *pages]}
    for sub in ("articles", "entities"):
        for stale in sorted((out / sub).glob("*.html")):
            if stale not in written:
                stale.unlink()
    return sorted(written)
