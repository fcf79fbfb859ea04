"""kg.strings: strings kept in a file with no name, and sorted a run at a time."""

from __future__ import annotations

import gc
import os
import random

import pytest

import kg.strings
from kg.strings import StringFile, sort_strings


def _strings(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    alphabet = "ab/\0é中\ud800\U0001f600"  # ASCII, "/", NUL, two and three bytes, a lone surrogate (a file name's), four
    return [""] + ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 9))) for _ in range(n)]


@pytest.mark.parametrize("run", [1, 2, 7, 1000, None])
def test_sorted_a_run_at_a_time_as_sorted_sorts_and_where_each_was(tmp_path, run):
    strings = _strings(600)
    found, order = sort_strings(strings, directory=tmp_path, run=run)
    assert list(found) == sorted(strings) and len(found) == len(strings)
    assert [strings[n] for n in order] == sorted(strings) and sorted(order) == list(range(len(strings)))
    # equal strings keep the order they came in
    assert all(order[k] < order[k + 1] for k in range(len(order) - 1) if found[k] == found[k + 1])
    assert os.listdir(tmp_path) == []  # files with no name


def test_sorting_holds_no_more_than_a_run_of_the_strings(tmp_path):
    """The strings come from an iterator: sorted in runs of 500, 50,000 of them take under a third
    of the memory of those sorted at once (traced: a run, a block of each run being merged and the
    two arrays of 8 bytes a string, not all the strings; 2.4 MB against 8.7)."""
    import tracemalloc

    peaks = {}
    for run in (500, 50_000):
        tracemalloc.start()
        found, order = sort_strings((f"articles/{n * 7919 % 50_000:07d}-abcdefgh.html" for n in range(50_000)), directory=tmp_path, run=run)
        peaks[run] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert found[::5000] == [f"articles/{n:07d}-abcdefgh.html" for n in range(0, 50_000, 5000)]
        assert [n * 7919 % 50_000 for n in order[:3]] == [0, 1, 2]
    assert peaks[500] < peaks[50_000] / 3, peaks


def test_a_string_file_reads_by_position_and_in_order_what_it_was_given(tmp_path, monkeypatch):
    monkeypatch.setattr(kg.strings, "_READ", 16)  # reads of 16 bytes: strings across them, and longer than one
    strings = [*_strings(300, seed=3), "x" * 40, "中" * 20]
    kept = StringFile(iter(strings), directory=tmp_path)
    assert list(kept) == strings and kept == strings and len(kept) == len(strings)
    assert [kept[i] for i in range(len(strings))] == strings and kept[-1] == strings[-1] and kept[5:9] == strings[5:9]
    assert kept.index(strings[7]) == strings.index(strings[7]) and strings[9] in kept
    with pytest.raises(IndexError):
        kept[len(strings)]
    assert StringFile([]) == [] and list(StringFile([""] * 3)) == ["", "", ""] and repr(kept) == f"StringFile({len(strings)} strings)"


def test_a_string_file_closes_its_file_once_let_go_of(tmp_path):
    kept = StringFile(["a", "b"], directory=tmp_path)
    fd = kept._file.fd
    os.fstat(fd)
    del kept
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)
