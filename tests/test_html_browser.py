"""The pages in a real headless browser, with every network request blocked.

Debian's chromium driven by Playwright (`make browser-deps` installs it; never `playwright install`).
Checks: no console errors, the network drawn with the expected node count, search, the type and
relation filters, a click on a node opening its entity page, mention and sentence links, the XSS
probe inert, and the draw time of the seeds overview. Screenshots of the seeds pages go to
`output/screenshots/` for the README.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kg.html import MAX_OVERVIEW_NODES, write_pages
from tests.test_html import IRI, SCRIPT, SNEAKY, XSS, big_graph, fixture_corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DRAW_BUDGET_MS = 3000  # issue 6: the seeds overview draws in under 3 s
# The 4,000-entity case checks that truncation keeps drawing bounded, not a speed target: on an
# idle machine it draws in 1.4-1.7 s, but CI shares two cores with other work.
BIG_GRAPH_BUDGET_MS = 10000


@dataclass
class Visit:
    """A page opened from disk, with what it logged, asked and tried to fetch."""

    page: object
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def drawn(self) -> int:
        """Wait for the first frame of the network; milliseconds since navigation started."""
        self.page.wait_for_selector("#network[data-drawn]", state="attached", timeout=30_000)
        return int(self.page.evaluate("document.body.dataset.drawnMs"))

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        assert self.blocked == [], self.blocked


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium; run `make browser-deps` as root.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def visit(browser) -> Iterator[Callable[[Path], Visit]]:
    contexts = []

    def open_page(path: Path, *, width: int = 1400, height: int = 900) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        v = Visit(page)

        def route(r):
            if r.request.url.startswith(("http:", "https:", "ws:", "wss:")):
                v.blocked.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        context.route("**/*", route)
        page.on("console", lambda m: v.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: v.errors.append(str(e)))
        page.on("requestfailed", lambda r: v.errors.append(f"failed: {r.url}") if not r.url.startswith("http") else None)

        def dialog(d):
            v.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.goto(path.as_uri())
        return v

    yield open_page
    for c in contexts:
        c.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-pages")
    write_pages(*fixture_corpus(), out)
    return out


def _page_of(out: Path, sub: str, text: str) -> Path:
    return next(p for p in sorted((out / sub).glob("*.html")) if text in p.read_text(encoding="utf-8"))


def _node_count(v: Visit) -> tuple[int, int, int]:
    """(nodes in the DataSet, nodes with a position in the drawing, the page's data-node-count)."""
    return tuple(
        v.page.evaluate(
            """() => [kg.nodes.length, Object.keys(kg.network.getPositions()).length,
                      Number(document.getElementById('network').dataset.nodeCount)]"""
        )
    )


def _visible_nodes(v: Visit) -> int:
    return v.page.evaluate("kg.nodes.get({filter: n => !n.hidden}).length")


def test_overview_draws_every_node_offline(site, visit):
    v = visit(site / "index.html")
    v.drawn()
    assert _node_count(v) == (12, 12, 12)
    assert v.page.evaluate("document.querySelector('#network canvas').width") > 0
    v.clean()


@pytest.mark.parametrize("query", ["双报到", "shuangbaodao", "sbd", "ShuangBao"])
def test_overview_search_finds_node_by_name_or_pinyin(site, visit, query):
    v = visit(site / "index.html")
    v.drawn()
    v.page.fill("#node-search", query)
    first = v.page.locator("#search-results a").first
    assert first.inner_text() == "双报到"
    assert first.get_attribute("href").startswith("entities/shuang-bao-dao-")
    assert v.page.evaluate("kg.network.getSelectedNodes()")[0] == IRI["双报到"]
    assert "found" in v.page.inner_text("#search-status")
    v.clean()


def test_index_list_filter_keeps_matching_pages(site, visit):
    v = visit(site / "index.html")
    v.page.fill("#page-search", "tiexi")
    shown = v.page.eval_on_selector_all("#entity-list li:not([hidden]) a", "as => as.map(a => a.textContent)")
    assert shown and all("铁西区" in s for s in shown)
    articles = v.page.eval_on_selector_all("#article-list li:not([hidden]) a", "as => as.map(a => a.textContent)")
    assert articles == ["四平市铁西区开展双报到"]
    v.clean()


def test_article_list_pages_filter_their_rows_and_lead_to_each_other(tmp_path, visit, monkeypatch):
    """An archive's articles listed on pages of their own (lists/): each filters its rows as the
    overview does, and its pager opens the others."""
    import kg.html

    monkeypatch.setattr(kg.html, "MAX_LIST_ARTICLES", 2)
    write_pages(*fixture_corpus(), tmp_path)
    v = visit(tmp_path / "lists" / "articles-0001.html")
    rows = v.page.eval_on_selector_all("#article-list li a", "as => as.map(a => a.textContent)")
    assert len(rows) == 2 and "四平市铁西区开展双报到" in rows
    v.page.fill("#page-search", "tiexi")
    assert v.page.eval_on_selector_all("#article-list li:not([hidden]) a", "as => as.map(a => a.textContent)") == ["四平市铁西区开展双报到"]
    assert v.page.inner_text("#page-status") == "1 / 2"
    v.page.click("nav.pager a")
    v.page.wait_for_url("**/lists/articles-0002.html")
    assert v.page.inner_text("nav.pager strong") == "2"
    assert v.page.locator("#article-list li").count() == 1
    v.clean()


def test_overview_type_filter_hides_nodes(site, visit):
    v = visit(site / "index.html")
    v.drawn()
    assert _visible_nodes(v) == 12
    v.page.uncheck("input[data-filter-type=PERSON]")
    assert _visible_nodes(v) == 10
    hidden = v.page.evaluate("kg.nodes.get({filter: n => n.hidden}).map(n => n.type)")
    assert hidden == ["PERSON", "PERSON"]
    # vis-network no longer draws them
    assert v.page.evaluate("kg.network.body.nodeIndices.length") == 10
    v.page.check("input[data-filter-type=PERSON]")
    assert _visible_nodes(v) == 12
    v.clean()


def test_overview_relation_filter_shows_and_hides_edges(site, visit):
    v = visit(site / "index.html")
    v.drawn()
    count = "rel => kg.edges.get({filter: e => e.rel === rel && !e.hidden}).length"
    assert v.page.evaluate(count, "cooccursWith") == 0  # off at first in the overview
    v.page.check("input[data-filter-rel=cooccursWith]")
    assert v.page.evaluate(count, "cooccursWith") == 14
    assert v.page.evaluate(count, "runsProgramme") == 3
    v.page.uncheck("input[data-filter-rel=runsProgramme]")
    assert v.page.evaluate(count, "runsProgramme") == 0
    v.clean()


def test_click_on_a_node_opens_its_entity_page(site, visit):
    v = visit(site / "index.html")
    v.drawn()
    x, y = v.page.evaluate(
        """id => { const p = kg.network.canvasToDOM(kg.network.getPosition(id));
                   const r = document.getElementById('network').getBoundingClientRect();
                   return [r.left + p.x, r.top + p.y]; }""",
        IRI["双报到"],
    )
    v.page.mouse.click(x, y)
    v.page.wait_for_url(re.compile(r".*/entities/shuang-bao-dao-[0-9a-f]{10}\.html$"))
    assert v.page.inner_text("h1").startswith("双报到")
    v.drawn()
    v.clean()


def test_article_page_links_each_mention_to_its_entity(site, visit):
    v = visit(_page_of(site, "articles", "<h1>四平市铁西区开展双报到</h1>"))
    v.drawn()
    assert v.page.locator("article.text a.m").count() == 10
    assert _node_count(v) == (8, 8, 8)
    v.page.click("article.text a.m.t-PERSON")
    v.page.wait_for_url(re.compile(r".*/entities/zhang-san-.*\.html$"))
    assert v.page.inner_text("h1").startswith("张三")
    v.clean()


def test_entity_page_sentence_link_lands_on_the_mention(site, visit):
    v = visit(_page_of(site, "entities", "<h1>双报到 "))
    v.drawn()
    assert v.page.locator(".sentences a.hit").count() == 3
    v.page.locator(".sentences a.hit").nth(1).click()
    v.page.wait_for_url(re.compile(r".*/articles/.*\.html#m-\d+-\d+$"))
    assert v.page.evaluate("document.querySelector(':target').textContent") == "双报到"
    v.clean()


def test_xss_probe_stays_inert(site, visit):
    pages = [
        site / "index.html",
        _page_of(site, "entities", "<h1>&lt;img src=x onerror=alert(1)&gt; "),
        _page_of(site, "articles", "<h1>共建</h1>"),
        _page_of(site, "articles", "<h1>红心物业进社区</h1>"),
    ]
    for path in pages:
        v = visit(path)
        v.drawn()
        body = v.page.inner_text("body")
        assert v.page.evaluate("document.images.length") == 0
        assert v.page.evaluate("document.scripts.length") == 3  # the data, vis-network, kg.js
        if "entities" in path.parts:
            assert v.page.inner_text("h1").startswith(XSS)
            assert SNEAKY.replace("\u2028", "") in body.replace("\u2028", "").replace("\n", "")
        if path.name.startswith("hong"):
            assert SCRIPT in body
        if path.name == "index.html" or "entities" in path.parts:
            # the tooltip of the probe node shows its name as text
            v.page.fill("#node-search", "onerror")
            assert v.page.locator("#search-results a").first.inner_text() == XSS
            x, y = v.page.evaluate(
                """id => { const p = kg.network.canvasToDOM(kg.network.getPosition(id));
                           const r = document.getElementById('network').getBoundingClientRect();
                           return [r.left + p.x, r.top + p.y]; }""",
                IRI[XSS],
            )
            v.page.mouse.move(x, y)
            tip = v.page.locator("div.vis-tooltip")
            tip.wait_for(state="visible")
            assert tip.inner_text().startswith(XSS)
            assert v.page.evaluate("document.querySelector('div.vis-tooltip').querySelectorAll('*:not(br)').length") == 0
        assert v.page.evaluate("document.images.length") == 0
        v.clean()


def test_overview_of_a_big_graph_draws_the_most_important_part_fast(tmp_path, visit):
    write_pages(big_graph(4000), [], [], tmp_path)
    v = visit(tmp_path / "index.html")
    ms = v.drawn()
    print(f"\noverview of a 4,000-entity graph ({MAX_OVERVIEW_NODES} drawn): first frame {ms} ms after navigation")
    assert _node_count(v) == (MAX_OVERVIEW_NODES,) * 3
    assert v.page.locator("#truncated").is_visible()
    assert ms < BIG_GRAPH_BUDGET_MS
    v.clean()


# --- the real build of the seeds ----------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_pages(seeds_build) -> Path:
    out = seeds_build.out
    assert (out / "index.html").is_file(), "kg build wrote no pages"
    return out


def test_seeds_overview_draws_in_under_3_seconds(seeds_pages, visit):
    index = seeds_pages / "index.html"
    expected = int(re.search(r'data-node-count="(\d+)"', index.read_text(encoding="utf-8")).group(1))
    times = []
    for _ in range(3):
        v = visit(index)
        times.append(v.drawn())
        assert _node_count(v) == (expected,) * 3
        v.clean()
    print(f"\nseeds overview, {expected} nodes: first frame {times} ms after navigation (median {statistics.median(times)})")
    assert expected > 50
    assert statistics.median(times) < DRAW_BUDGET_MS


def test_seeds_pages_open_clean_and_leave_screenshots(seeds_pages, visit):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    v = visit(seeds_pages / "index.html", height=1000)
    v.drawn()
    v.page.wait_for_timeout(200)
    v.page.screenshot(path=str(SCREENSHOTS / "index.png"))
    v.clean()
    # the article with the most mentions, and the programme 双报到
    articles = sorted(
        (seeds_pages / "articles").glob("*.html"),
        key=lambda p: (-p.read_text(encoding="utf-8").count('class="m t-'), p.name),
    )
    entity = _page_of(seeds_pages, "entities", "<h1>双报到 ")
    for name, path in (("article", articles[0]), ("entity", entity)):
        v = visit(path, height=1100)
        v.drawn()
        assert _node_count(v)[0] == _node_count(v)[2] > 1
        v.page.wait_for_timeout(200)
        v.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        v.clean()
    for path in articles[1:4]:
        v = visit(path)
        v.drawn()
        v.clean()
