"""Rebuilding pages over an earlier build (`write_pages(..., previous=...)`): the pages of a fresh build,
byte for byte, whatever changed; unchanged pages hard-linked, not rendered; any doubt, rendered."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import kg.html
from kg.html import MANIFEST, write_pages
from tests.test_html import DOCS, IRI, MORE, fixture_corpus

# another article naming 张三 "张老三", twice: his label (the most frequent name) and page name change
RENAME = {"doc_d": [("张老三访谈", None, "张老三说，张老三在铁西区委组织部。")]}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _inodes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in folder.rglob("*.html")}


def _reused(old: Path, new: Path) -> set[str]:
    before = _inodes(old)
    return {p for p, ino in _inodes(new).items() if before.get(p) == ino}


def _rebuild(tmp_path: Path, before: tuple, after: tuple, *, jobs: int = 1) -> tuple[Path, Path, Path]:
    """Pages of `before`, then of `after` over them, and of `after` from nothing: (old, new, fresh)."""
    old, new, fresh = tmp_path / "old", tmp_path / "new", tmp_path / "fresh"
    write_pages(*before, old, jobs=jobs)
    write_pages(*after, new, jobs=jobs, previous=old)
    write_pages(*after, fresh)
    return old, new, fresh


def _without(name: str) -> dict:
    return {doc: arts for doc, arts in DOCS.items() if doc != name}


def _changed_doc_b() -> dict:
    # the same entities, other words around them, an article more
    return {**DOCS, "doc_b": [("共建", None, "据悉，铁西区委组织部共同开展双报到。"), ("又一篇", None, "四平市民政局到站前街道。")]}


CHANGES: dict[str, Callable[[], tuple]] = {
    "a document added": lambda: fixture_corpus(MORE),
    "a document changed": lambda: fixture_corpus(documents=_changed_doc_b()),
    "a document deleted": lambda: fixture_corpus(documents=_without("doc_b")),
    "a label and a page name changed": lambda: fixture_corpus(RENAME),
    "nothing changed": fixture_corpus,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_reuse_gives_the_pages_of_a_fresh_build(tmp_path, change):
    old, new, fresh = _rebuild(tmp_path, fixture_corpus(), CHANGES[change]())
    assert _tree(new) == _tree(fresh)
    reused = _reused(old, new)
    assert reused, "nothing reused"
    if change == "nothing changed":
        assert reused == set(_inodes(new))
    else:
        assert _tree(new) != _tree(old)
        assert reused < set(_inodes(new))


def test_reuse_a_label_change_renames_the_page_and_relinks_the_articles(tmp_path):
    old, new, fresh = _rebuild(tmp_path, fixture_corpus(), fixture_corpus(RENAME))
    g = fixture_corpus(RENAME)[0]
    assert g.nodes[IRI["张三"]]["label"] == "张老三"
    names = {p.name for p in (new / "entities").glob("zhang-*.html")}
    assert names == {p.name for p in (fresh / "entities").glob("zhang-*.html")} and names and all(n.startswith("zhang-lao-san-") for n in names)
    assert not list((new / "entities").glob("zhang-san-*.html"))
    # the article signed by him links to his new page: rendered again, not reused
    signed = next(p for p in (new / "articles").glob("*.html") if "<h1>四平市铁西区开展双报到</h1>" in p.read_text(encoding="utf-8"))
    assert f"../entities/{next(iter(names))}" in signed.read_text(encoding="utf-8")
    assert str(signed.relative_to(new)) not in _reused(old, new)


@pytest.mark.parametrize("jobs", [1, 2])
def test_reuse_links_the_pages_whose_inputs_did_not_change(tmp_path, jobs):
    old, new, fresh = _rebuild(tmp_path, fixture_corpus(), fixture_corpus(MORE), jobs=jobs)
    assert _tree(new) == _tree(fresh)
    reused = _reused(old, new)
    articles = {p for p in _inodes(old) if p.startswith("articles/")}
    assert articles <= reused  # the new document's article pages leave the others as they were
    assert "index.html" not in reused  # it counts the documents
    assert any(p.startswith("entities/") for p in reused)
    assert any(p.startswith("entities/") for p in set(_inodes(new)) - reused)  # those doc_c names


def test_reuse_renders_only_what_changed(tmp_path, monkeypatch):
    calls: Counter = Counter()
    for name in ("_index_page", "_article_page", "_entity_page"):
        render = getattr(kg.html, name)

        def counted(env, inputs, render=render, name=name):
            calls[name] += 1
            return render(env, inputs)

        counted.__name__ = name  # a page's key names its render function
        monkeypatch.setattr(kg.html, name, counted)
    write_pages(*fixture_corpus(), tmp_path / "old")
    assert calls == {"_index_page": 1, "_article_page": 3, "_entity_page": 12}
    calls.clear()
    write_pages(*fixture_corpus(), tmp_path / "same", previous=tmp_path / "old")
    assert calls == {}
    write_pages(*fixture_corpus(MORE), tmp_path / "more", previous=tmp_path / "old")
    assert calls["_article_page"] == 1 and calls["_index_page"] == 1
    assert 0 < calls["_entity_page"] < 13


def test_reuse_in_workers_gives_the_bytes_of_one_process(tmp_path):
    write_pages(*fixture_corpus(), tmp_path / "old")
    write_pages(*fixture_corpus(MORE), tmp_path / "one", previous=tmp_path / "old")
    write_pages(*fixture_corpus(MORE), tmp_path / "two", previous=tmp_path / "old", jobs=2)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")
    assert _reused(tmp_path / "old", tmp_path / "one") == _reused(tmp_path / "old", tmp_path / "two")


# every fact the pages show, changed in the graph or the documents directly: each change must
# reach the pages that show it, through their keys
def _set_node(iri: str, attr: str, value) -> Callable:
    def change(g, docs, mentions):
        g.nodes[iri][attr] = value

    return change


def _set_edge(u: str, v: str, key: str, attr: str, value) -> Callable:
    def change(g, docs, mentions):
        g.edges[u, v, key][attr] = value

    return change


def _drop_edge(g, docs, mentions):
    g.remove_edge(IRI["铁西区委组织部"], IRI["双报到"], key="runsProgramme")


def _add_edge(g, docs, mentions):
    g.add_edge(IRI["李四"], IRI["四平市"], key="servesPlace", confidence=1.0, count=0, evidence=[], cues=[], source="ontology")


def _retitle(g, docs, mentions):
    d = docs[0]
    d.articles[1] = (*d.articles[1][:3], "红心物业进了社区", d.articles[1][4])


def _retext(g, docs, mentions):
    # a character outside every mention, in place: same offsets, other text
    d = next(d for d in docs if d.doc_id == "doc_b")
    at = d.text.index("又来了")
    d.text = d.text[:at] + "再" + d.text[at + 1 :]


def _drop_mention(g, docs, mentions):
    mentions.remove(next(m for m in mentions if m.iri == IRI["红心物业"]))


def _move_evidence(g, docs, mentions):
    d = next(d for d in docs if d.doc_id == "doc_a")
    at = d.text.index("四平市民政局印发")
    g.edges[IRI["铁西区委组织部"], IRI["双报到"], "runsProgramme"]["evidence"] = [("doc_a", at, at + 8)]


TWO = tuple(sorted((IRI["铁西区委组织部"], IRI["双报到"])))  # a co-occurrence runs from the smaller IRI
GRAPH_CHANGES: dict[str, Callable] = {
    "ontology label": _set_node(IRI["四平市民政局"], "label", "四平市民政局（新）"),
    "aliases": _set_node(IRI["双报到"], "aliases", ["“双报到”", "双报道"]),
    "mention count": _set_node(IRI["红心物业"], "mentions", 9),
    "first sentence": _set_node(IRI["李四"], "sentence", "李四另有一句。"),
    "new": _set_node(IRI["站前街道"], "new", True),
    "type": _set_node(IRI["社区治理办法"], "type", "ORG"),
    "code": _set_node(IRI["铁西区"], "code", "220399"),
    "full name": _set_node(IRI["四平市民政局"], "full_name", "吉林省四平市民政局"),
    "confidence": _set_edge(IRI["铁西区委组织部"], IRI["双报到"], "runsProgramme", "confidence", 0.42),
    "evidence count": _set_edge(*TWO, "cooccursWith", "count", 7),
    "evidence moved": _move_evidence,
    "source": _set_edge(IRI["东煤社区"], IRI["站前街道"], "containedInPlace", "source", "ontology"),
    "edge removed": _drop_edge,
    "edge added": _add_edge,
    "article title": _retitle,
    "document text": _retext,
    "mention removed": _drop_mention,
}


@pytest.mark.parametrize("change", list(GRAPH_CHANGES))
def test_reuse_sees_every_fact_the_pages_show(tmp_path, change):
    after = fixture_corpus()
    GRAPH_CHANGES[change](*after)
    old, new, fresh = _rebuild(tmp_path, fixture_corpus(), after)
    assert _tree(fresh) != _tree(old), "the change shows on no page"
    assert _tree(new) == _tree(fresh)


def test_reuse_sees_a_change_of_the_overview_limit(tmp_path):
    write_pages(*fixture_corpus(), tmp_path / "old")
    write_pages(*fixture_corpus(), tmp_path / "new", previous=tmp_path / "old", max_overview_nodes=5)
    write_pages(*fixture_corpus(), tmp_path / "fresh", max_overview_nodes=5)
    assert _tree(tmp_path / "new") == _tree(tmp_path / "fresh")
    assert "index.html" not in _reused(tmp_path / "old", tmp_path / "new")


def test_reuse_nothing_after_a_change_of_the_page_code(tmp_path, monkeypatch):
    write_pages(*fixture_corpus(), tmp_path / "old")
    monkeypatch.setattr(kg.html, "_code_version", lambda: b"another version of html.py")
    write_pages(*fixture_corpus(), tmp_path / "new", previous=tmp_path / "old")
    assert _reused(tmp_path / "old", tmp_path / "new") == set()
    assert _tree(tmp_path / "new").keys() == _tree(tmp_path / "old").keys()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "not a mapping", "wrong keys"])
def test_reuse_renders_everything_without_a_sound_manifest(tmp_path, damage):
    old, new = tmp_path / "old", tmp_path / "new"
    write_pages(*fixture_corpus(), old)
    manifest = old / MANIFEST
    if damage == "missing":
        manifest.unlink()
    elif damage == "corrupt":
        manifest.write_bytes(manifest.read_bytes()[:100])
    elif damage == "not a mapping":
        manifest.write_text("[1, 2, 3]\n", encoding="utf-8")
    else:
        pages = json.loads(manifest.read_text(encoding="utf-8"))["pages"]
        manifest.write_text(json.dumps({"pages": dict.fromkeys(pages, "0" * 32)}), encoding="utf-8")
    write_pages(*fixture_corpus(MORE), new, previous=old)
    write_pages(*fixture_corpus(MORE), tmp_path / "fresh")
    assert _reused(old, new) == set()
    assert _tree(new) == _tree(tmp_path / "fresh")


def test_reuse_renders_a_page_missing_from_the_previous_build(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    write_pages(*fixture_corpus(), old)
    gone = min((old / "articles").glob("*.html"))
    gone.unlink()
    write_pages(*fixture_corpus(), new, previous=old)
    write_pages(*fixture_corpus(), tmp_path / "fresh")
    assert _tree(new) == _tree(tmp_path / "fresh")
    reused = _reused(old, new)
    assert str(gone.relative_to(old)) not in reused and len(reused) == len(_inodes(new)) - 1


def test_reuse_into_the_previous_folder_itself(tmp_path):
    out = tmp_path / "out"
    write_pages(*fixture_corpus(), out)
    write_pages(*fixture_corpus(MORE), out, previous=out)
    write_pages(*fixture_corpus(MORE), tmp_path / "fresh")
    assert _tree(out) == _tree(tmp_path / "fresh")


def test_reused_pages_are_not_written_through_later(tmp_path):
    """A page linked from an earlier build is replaced, not overwritten, when that folder is rebuilt."""
    old, new = tmp_path / "old", tmp_path / "new"
    write_pages(*fixture_corpus(), old)
    write_pages(*fixture_corpus(), new, previous=old)
    kept = _tree(new)
    write_pages(*fixture_corpus(MORE), old)  # over the old folder, in place
    assert _tree(new) == kept


def test_reuse_falls_back_to_copies_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst, **kwargs):
        raise PermissionError("no hard links here")

    write_pages(*fixture_corpus(), tmp_path / "old")
    monkeypatch.setattr(os, "link", no_links)
    write_pages(*fixture_corpus(MORE), tmp_path / "new", previous=tmp_path / "old")
    write_pages(*fixture_corpus(MORE), tmp_path / "fresh")
    assert _tree(tmp_path / "new") == _tree(tmp_path / "fresh")
    assert _reused(tmp_path / "old", tmp_path / "new") == set()  # copies: other inodes


def test_manifest_records_every_page_once_and_the_same_for_the_same_graph(tmp_path):
    a = write_pages(*fixture_corpus(), tmp_path / "a")
    write_pages(*fixture_corpus(), tmp_path / "b", jobs=2)
    text = (tmp_path / "a" / MANIFEST).read_bytes()
    assert text == (tmp_path / "b" / MANIFEST).read_bytes()
    pages = json.loads(text)["pages"]
    assert sorted(pages) == sorted(str(p.relative_to(tmp_path / "a")) for p in a if p.suffix == ".html")
    assert len(set(pages.values())) == len(pages)


def test_article_page_key_leaves_out_what_the_page_does_not_show(tmp_path):
    """The key of an article page does not move with the corpus: adding documents keeps it."""
    keys = []
    for corpus in (fixture_corpus(), fixture_corpus(MORE)):
        out = tmp_path / str(len(keys))
        write_pages(*corpus, out)
        keys.append(json.loads((out / MANIFEST).read_text(encoding="utf-8"))["pages"])
    articles = [p for p in keys[0] if p.startswith("articles/")]
    assert len(articles) == 3 and all(keys[0][p] == keys[1][p] for p in articles)


def test_article_pages_follow_their_document_when_it_is_edited(tmp_path):
    old, new, _ = _rebuild(tmp_path, fixture_corpus(), fixture_corpus(documents=_changed_doc_b()))
    changed = {p for p in _inodes(new) if p.startswith("articles/")} - _reused(old, new)
    assert len(changed) == 2  # doc_b's articles; doc_a's are reused


def test_reuse_nothing_after_a_change_of_the_templates(tmp_path, monkeypatch):
    write_pages(*fixture_corpus(), tmp_path / "old")
    templates = tmp_path / "templates"
    templates.mkdir()
    for src in kg.html.TEMPLATES.iterdir():
        (templates / src.name).write_bytes(src.read_bytes().replace(b"these pages open from disk", b"these pages open offline"))
    monkeypatch.setattr(kg.html, "TEMPLATES", templates)
    write_pages(*fixture_corpus(), tmp_path / "new", previous=tmp_path / "old")
    assert _reused(tmp_path / "old", tmp_path / "new") == set()
    assert all(b"these pages open offline" in page for name, page in _tree(tmp_path / "new").items() if name.endswith(".html"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_reuse_of_a_corpus_without_articles(tmp_path, jobs):
    g = fixture_corpus()[0]
    write_pages(g, [], [], tmp_path / "old", jobs=jobs)
    write_pages(g, [], [], tmp_path / "new", jobs=jobs, previous=tmp_path / "old")
    assert _tree(tmp_path / "new") == _tree(tmp_path / "old")
    assert _reused(tmp_path / "old", tmp_path / "new") == set(_inodes(tmp_path / "new"))


# ---------------------------------------------------------------------------------------------
# A build's document keys: article pages reused without their inputs (write_pages(doc_keys=, pre_keys=))


def _doc_keys(corpus: tuple) -> dict[str, str]:
    """A key per document that changes with its text, articles and mentions (the fixture's relations
    follow from those), as a build's cache keys do."""
    import hashlib

    _, docs, mentions = corpus
    return {
        d.doc_id: hashlib.sha256(repr((d, sorted(repr(m) for m in mentions if m.doc_id == d.doc_id))).encode()).hexdigest()
        for d in docs
    }


def _rebuild_keyed(tmp_path: Path, before: tuple, after: tuple, *, jobs: int = 1, record: Path | None = None) -> tuple[Path, Path, Path]:
    old, new, fresh = tmp_path / "old", tmp_path / "new", tmp_path / "fresh"
    record = record or tmp_path / "pre.json"
    write_pages(*before, old, jobs=jobs, doc_keys=_doc_keys(before), pre_keys=record)
    write_pages(*after, new, jobs=jobs, previous=old, doc_keys=_doc_keys(after), pre_keys=record)
    write_pages(*after, fresh)
    return old, new, fresh


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("change", list(CHANGES))
def test_reuse_by_document_keys_gives_the_pages_of_a_fresh_build(tmp_path, change, jobs):
    # a label changed by another document ("a label and a page name changed") shows on the pages of
    # the documents that did not change: what the corpus says of the IRIs they name is in the pre-key
    old, new, fresh = _rebuild_keyed(tmp_path, fixture_corpus(), CHANGES[change](), jobs=jobs)
    assert _tree(new) == _tree(fresh)
    assert json.loads((tmp_path / "pre.json").read_text(encoding="utf-8"))  # recorded for the next build


@pytest.mark.parametrize(("beforehand", "jobs"), [(False, 1), (True, 1), (True, 2)])
def test_reuse_by_document_keys_skips_the_inputs_of_unchanged_articles(tmp_path, monkeypatch, beforehand, jobs):
    # `beforehand`: the preliminaries made before and handed over (kg.html.prepare_pages), as a build
    # makes them while its workers extract, instead of by write_pages itself
    before, after = fixture_corpus(), fixture_corpus(MORE)
    record = tmp_path / "pre.json"
    write_pages(*before, tmp_path / "old", doc_keys=_doc_keys(before), pre_keys=record)
    prepared = None
    if beforehand:
        prepared = kg.html.prepare_pages(tmp_path / "old", pre_keys=record, keyed=True)
        # the previous manifest and record, read: an article's page has both keys, an entity's its key only
        article, entity = (min((tmp_path / "old" / sub).glob("*.html")).relative_to(tmp_path / "old").as_posix() for sub in ("articles", "entities"))
        assert prepared.known.get(article)[1] is not None and prepared.known.get(entity)[1] is None
    gathered: list[str] = []
    real = kg.html._article_inputs

    def spy(site, doc, *args):
        gathered.append(doc.doc_id)
        return real(site, doc, *args)

    monkeypatch.setattr(kg.html, "_article_inputs", spy)
    write_pages(*after, tmp_path / "new", previous=tmp_path / "old", doc_keys=_doc_keys(after), pre_keys=record, prepared=prepared, jobs=jobs)
    if jobs == 1:  # forked workers gather in their own copy of the list
        assert gathered and set(gathered) == set(MORE)  # the added document's articles only
    monkeypatch.undo()
    write_pages(*after, tmp_path / "fresh")
    assert _tree(tmp_path / "new") == _tree(tmp_path / "fresh")  # the pages and the manifest


def test_reuse_by_document_keys_trusts_a_record_only_with_the_previous_manifest(tmp_path):
    # a record written by a build whose output was not kept (it failed, or another folder was
    # built since): its keys do not match the previous manifest, so the pages are checked in full
    first, second = fixture_corpus(), fixture_corpus(RENAME)
    record = tmp_path / "pre.json"
    write_pages(*second, tmp_path / "other", doc_keys=_doc_keys(second), pre_keys=record)
    write_pages(*first, tmp_path / "old")  # the output kept, made without the record
    write_pages(*second, tmp_path / "new", previous=tmp_path / "old", doc_keys=_doc_keys(second), pre_keys=record)
    write_pages(*second, tmp_path / "fresh")
    assert _tree(tmp_path / "new") == _tree(tmp_path / "fresh")


@pytest.mark.parametrize("damage", ["not json {", "[1, 2]", '{"articles/x.html": "one string"}', '{"articles/x.html": [1, 2]}'])
def test_reuse_by_document_keys_reads_a_damaged_record_as_none(tmp_path, damage):
    corpus = fixture_corpus()
    record = tmp_path / "pre.json"
    write_pages(*corpus, tmp_path / "old", doc_keys=_doc_keys(corpus), pre_keys=record)
    record.write_text(damage, encoding="utf-8")
    assert list(kg.html._read_pre(record)) == []
    write_pages(*corpus, tmp_path / "new", previous=tmp_path / "old", doc_keys=_doc_keys(corpus), pre_keys=record)
    assert _tree(tmp_path / "new") == _tree(tmp_path / "old")  # checked by their keys in full, and rewritten
    assert list(kg.html._read_pre(record))


def test_records_of_the_previous_build_answer_by_path():
    key, other, pre = "ab" * 16, "cd" * 16, "ef" * 16
    manifest = {"articles/a.html": key, "articles/b.html": other, "entities/名.html": key, "index.html": "not hex", "lists/x.html": "ab" * 15}
    record = {"articles/a.html": (pre, key), "articles/b.html": (pre, key)}  # b's pair was recorded with another key
    known = kg.html._Records(sorted(manifest.items()), sorted(record.items()))
    assert len(known) == 3  # a key that is not 16 bytes in hex is no key
    assert known.get("articles/a.html") == (bytes.fromhex(key), bytes.fromhex(pre))
    assert known.get("articles/b.html") == (bytes.fromhex(other), None)
    assert known.get("entities/名.html") == (bytes.fromhex(key), None)
    assert known.get("index.html") is None and known.get("lists/x.html") is None and known.get("articles/c.html") is None
    assert len(kg.html._Records([], [])) == 0 and kg.html._Records([], []).get("index.html") is None


def test_the_pages_keys_are_kept_in_a_file_by_number(tmp_path):
    slots = kg.html._Slots(4, directory=tmp_path)
    slots.put(2, b"ccccdddd")  # records 2 and 3
    slots.put(0, b"aaaa")
    assert [slots.get(i) for i in range(4)] == [b"aaaa", bytes(4), b"cccc", b"dddd"] and list(tmp_path.iterdir()) == []
    with pytest.raises(IndexError):
        slots.get(4)


def test_records_are_read_from_a_file_a_block_at_a_time(tmp_path):
    """The rows are in a file with no name, read a block at a time (`_Records.BLOCK`), found by the
    first path digest of each block: every page of many blocks is found, none that is not there;
    the file is closed once the records are let go of."""
    import gc

    paths = [f"articles/{n:05d}.html" for n in range(3 * kg.html._Records.BLOCK + 7)]
    manifest = {p: hashlib.blake2b(p.encode(), digest_size=16).hexdigest() for p in paths}
    record = {p: ("ef" * 16, k) for p, k in list(manifest.items())[::3]}
    known = kg.html._Records(sorted(manifest.items()), sorted(record.items()), directory=tmp_path)
    assert len(known) == len(paths) and list(tmp_path.iterdir()) == []
    assert all(known.get(p) == (bytes.fromhex(k), bytes.fromhex("ef" * 16) if p in record else None) for p, k in manifest.items())
    assert all(known.get(p) is None for p in ("", "articles/x.html", "zzz", "articles/00000.htm"))
    fd = known._rows._file.fd
    os.fstat(fd)
    del known
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize("ascii_", [True, False])
def test_records_are_written_a_pair_a_line_and_read_back_so(ascii_, tmp_path):
    """The manifest and the record of pre-keys: JSON objects sorted by name, a pair a line, read back
    a line at a time (kg.html._json_pairs); those builds wrote before on one line are read whole."""
    pairs = {'a"b\\c.html': "1", "entities/名字\u2028.html": '"k"', "\x01": "[1, 2]", "": "{}", "x\ny": '"v"'}
    expect = {k: json.loads(v) for k, v in pairs.items()}
    f = tmp_path / "record.json"
    for under in (None, "pages"):
        text = "".join(kg.html._json_text(sorted(pairs.items()), ascii=ascii_, under=under))
        assert json.loads(text) == (expect if under is None else {"pages": expect}) and text.count("\n") == len(pairs) + 2
        f.write_text(text, encoding="utf-8")
        assert list(kg.html._json_pairs(f, under=under)) == sorted(expect.items())
        f.write_text(json.dumps(expect if under is None else {"pages": expect}, sort_keys=True, ensure_ascii=ascii_), encoding="utf-8")
        assert list(kg.html._json_pairs(f, under=under)) == sorted(expect.items())  # the layout of builds before
        empty = "".join(kg.html._json_text([], ascii=ascii_, under=under))
        assert json.loads(empty) == ({} if under is None else {"pages": {}})
        f.write_text(empty, encoding="utf-8")
        assert list(kg.html._json_pairs(f, under=under)) == []
    # a line that is not a pair, a pair out of order or an end that is missing: damaged, once the
    # pairs before are read (the file vouches for none of them); a file that is gone has none
    for text in ('{\n"a": 1,\n"c": 2,\n"b": 3,\n"d": 4\n}\n', '{\n"a": 1,\nnot json\n"b": 2\n}\n', '{\n"a": 1,\n"b": 2'):
        f.write_text(text, encoding="utf-8")
        pairs = kg.html._json_pairs(f)
        assert next(pairs) == ("a", 1)
        with pytest.raises(kg.html.Damaged, match=f"{re.escape(str(f))}: not a record of pairs, a line each, sorted, to its end"):
            list(pairs)
    assert list(kg.html._json_pairs(tmp_path / "missing.json")) == [] and list(kg.html._json_pairs(f, under="pages")) == []


def test_records_of_a_damaged_manifest_are_none_and_of_a_damaged_record_have_no_pre_keys():
    key, pre = "ab" * 16, "ef" * 16

    def damaged(pairs):
        yield from pairs
        raise kg.html.Damaged("x: damaged")

    manifest = [("articles/a.html", key), ("articles/b.html", key)]
    record = [("articles/a.html", (pre, key)), ("articles/b.html", (pre, key))]
    assert kg.html._Records(manifest, record).get("articles/b.html") == (bytes.fromhex(key), bytes.fromhex(pre))
    assert len(kg.html._Records(damaged(manifest), record)) == 0
    known = kg.html._Records(manifest, damaged(record))
    assert len(known) == 2 and known.get("articles/a.html") == known.get("articles/b.html") == (bytes.fromhex(key), None)


def test_pages_are_made_when_asked_for_in_the_order_they_are_written(tmp_path, monkeypatch):
    made = []
    real = kg.html._Pages

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(kg.html, "_Pages", spy)
    write_pages(*fixture_corpus(MORE), tmp_path)
    (pages,) = made
    paths = list(pages.paths())
    assert paths == [pages[i].path for i in range(len(pages))] and len(set(paths)) == len(paths)
    assert set(paths) == {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.html")}
    assert [p.split("/")[0] for p in paths] == sorted((p.split("/")[0] for p in paths), key=["index.html", "lists", "articles", "entities"].index)
    assert pages[len(pages) - 1].path == paths[-1]
    with pytest.raises(IndexError):
        pages[len(pages)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_site_is_let_go_of_before_the_records_are_written(tmp_path, monkeypatch, jobs):
    import sys

    sites, held = [], []  # the site, and how many references besides this list's it has then
    real_site, real_text = kg.html._site, kg.html._json_text

    def site(*args, **kwargs):
        sites.append(real_site(*args, **kwargs))
        return sites[-1]

    def text(*args, **kwargs):
        held.append(sys.getrefcount(sites[-1]) - 2)  # less the list's and the argument's
        return real_text(*args, **kwargs)

    monkeypatch.setattr(kg.html, "_site", site)
    monkeypatch.setattr(kg.html, "_json_text", text)
    write_pages(*fixture_corpus(MORE), tmp_path, jobs=jobs)
    assert held == [0]
