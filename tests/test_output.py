from __future__ import annotations

import pytest

from kg.errors import OutputError
from kg.output import atomic_output


def test_atomic_output_swaps_in_complete_folder_and_keeps_readme(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("kept")
    (out / "old.ttl").write_text("old")
    with atomic_output(out) as tmp:
        (tmp / "kg.ttl").write_text("new")
        assert (out / "old.ttl").exists()  # the previous output stays until the swap
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "kg.ttl"]
    assert (out / "README.md").read_text() == "kept"
    assert not list(tmp_path.glob(".out.new-*"))


def test_atomic_output_leaves_previous_output_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            (tmp / "kg.ttl").write_text("half")
            raise RuntimeError("crash in the middle of a build")
    assert (out / "kg.ttl").read_text() == "previous"
    assert not list(tmp_path.glob(".out.new-*"))


def test_atomic_output_refuses_a_second_writer(tmp_path):
    out = tmp_path / "out"
    with atomic_output(out):
        with pytest.raises(OutputError, match="another kg build"):
            with atomic_output(out):
                pass


def test_atomic_output_refuses_a_file_as_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        with atomic_output(target):
            pass


def test_build_of_a_folder_without_txt_files_keeps_the_previous_output(tmp_path):
    from kg.build import build
    from kg.errors import InputError

    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous")
    with pytest.raises(InputError, match="holds no .txt files"):
        build(tmp_path / "in", out)
    assert (out / "kg.ttl").read_text() == "previous"


def test_huge_document_text_stays_out_of_literals_pyoxigraph_refuses():
    import pyoxigraph as ox

    from kg import rdf
    from kg.graph import DocInfo

    big = DocInfo("big", "铁" * 6_000_000, "utf-8", [(0, 0, 6_000_000, "t", None)])  # 18 MB in UTF-8
    quads = rdf.mention_quads([], [big])
    assert not any(q.predicate.value.endswith("isString") for q in quads)
    data = ox.serialize(quads, format=ox.RdfFormat.TRIG)
    assert len(list(ox.parse(data, format=ox.RdfFormat.TRIG))) == len(quads)


def test_replace_file_writes_chunks_in_one_step_and_leaves_nothing_when_they_fail(tmp_path):
    from kg.output import replace_file

    target = tmp_path / "record.json"
    replace_file(target, b"old\n")
    replace_file(target, (part.encode() for part in ("{", '"a": 1', "}\n")))
    assert target.read_bytes() == b'{"a": 1}\n'

    def failing():
        yield b"half of it"
        raise ValueError("made badly")

    with pytest.raises(ValueError, match="made badly"):
        replace_file(target, failing())
    assert target.read_bytes() == b'{"a": 1}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_documents_json_is_one_document_a_line(tmp_path, count):
    import json
    from types import SimpleNamespace

    from kg.build import write_documents

    articles = [(0, 0, 5, "标题\u2028", (1, 3)), (1, 5, 9, "", None)]
    results = [SimpleNamespace(doc=SimpleNamespace(doc_id=f"d{i}", encoding="gb18030", characters=9, articles=articles)) for i in range(count)]
    write_documents(results, tmp_path / "documents.json")
    text = (tmp_path / "documents.json").read_text(encoding="utf-8")
    rows = json.loads(text)
    assert [r["doc"] for r in rows] == [f"d{i}" for i in range(count)]
    assert all(r["articles"][0] == {"index": 0, "start": 0, "end": 5, "title": "标题\u2028", "byline": [1, 3]} for r in rows)
    assert text == "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n"
