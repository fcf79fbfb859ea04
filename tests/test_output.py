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
