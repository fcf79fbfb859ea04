"""Scale paths of `kg build`: --jobs, a Dask cluster and the per-file cache give a clean build's bytes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kg.build
from kg.build import build

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def outputs(out: Path) -> dict[str, bytes]:
    """Every file a build wrote, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def seed_corpus(folder: Path, n: int) -> Path:
    """The first `n` seed pages, each a file, in `folder` (made here)."""
    folder.mkdir()
    for seed in SEEDS[:n]:
        shutil.copyfile(seed, folder / seed.name)
    return folder


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Three seed pages in a folder of their own."""
    return seed_corpus(tmp_path / "corpus", 3)


@pytest.fixture
def extracted(monkeypatch) -> list[str]:
    """The document IDs extracted in this process (a build with jobs=1 extracts here)."""
    seen: list[str] = []
    real = kg.build.extract_file

    def spy(path, doc_id, ontology, config, check=False, reads=None):
        seen.append(doc_id)
        return real(path, doc_id, ontology, config, check, reads)

    monkeypatch.setattr(kg.build, "extract_file", spy)
    return seen


def differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """The output files that are not byte-identical (or not in both), for a readable failure."""
    return sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))


def clean_build(corpus: Path, out: Path) -> dict[str, bytes]:
    build(corpus, out, html=False, cache=False)
    return outputs(out)


# ---------------------------------------------------------------------------------------------
# Incremental builds


def test_build_incremental_add_change_delete(corpus, tmp_path, extracted):
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = build(corpus, out, html=False, cache=cache)
    assert first.cache_hits == 0 and sorted(extracted) == sorted(p.stem for p in SEEDS[:3])
    assert not differing(outputs(out), clean_build(corpus, tmp_path / "clean0"))

    # add one file
    extracted.clear()
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    report = build(corpus, out, html=False, cache=cache)
    assert extracted == [SEEDS[3].stem]
    assert report.cache_hits == 3 and report.files == 4
    assert not differing(outputs(out), clean_build(corpus, tmp_path / "clean1"))

    # change one
    extracted.clear()
    changed = corpus / SEEDS[0].name
    text = changed.read_text(encoding="utf-8")
    changed.write_text(text.replace("。", "。\n", 1) + "\n铁西区民政局开展双报到活动。\n", encoding="utf-8")
    report = build(corpus, out, html=False, cache=cache)
    assert extracted == [SEEDS[0].stem]
    assert report.cache_hits == 3
    assert not differing(outputs(out), clean_build(corpus, tmp_path / "clean2"))

    # delete one: nothing to extract, the graph loses that file
    extracted.clear()
    (corpus / SEEDS[1].name).unlink()
    report = build(corpus, out, html=False, cache=cache)
    assert extracted == []
    assert report.cache_hits == 3 and report.files == 3
    assert not differing(outputs(out), clean_build(corpus, tmp_path / "clean3"))
    assert SEEDS[1].stem.encode() not in (out / "kg.ttl").read_bytes()


@pytest.mark.parametrize("module", ["ontology.py", "graph.py", "ner/rules.py", "link.py"])
def test_the_pipeline_version_changes_with_any_of_the_code_extraction_runs(monkeypatch, module):
    """kg.ontology (the concepts the linker reads) and kg.graph (a document's DocInfo) are run by
    extraction as much as the NER's modules: a change in any of them is a new version."""
    from kg.build import DEFAULT_ONTOLOGY, pipeline_version

    before = pipeline_version(DEFAULT_ONTOLOGY, None)
    target = (Path(kg.build.__file__).resolve().parent / module).resolve()
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: real(self) + (b"# changed" if self.resolve() == target else b""))
    assert pipeline_version(DEFAULT_ONTOLOGY, None) != before


@pytest.mark.parametrize("library", ["rjieba", "spacy-pkuseg"])
def test_the_pipeline_version_changes_with_the_libraries_extraction_runs(monkeypatch, tmp_path, library):
    """Another version of a library that extraction runs (rjieba's words, spaCy's tokenizer) may
    extract otherwise: the cached results of the old one are not used, even through the memo."""
    from importlib import metadata

    from kg.build import _EXTRACTION_LIBRARIES, DEFAULT_ONTOLOGY, _libraries, pipeline_version

    # the versions read from the .dist-info folders are the ones importlib.metadata gives
    assert _libraries()[1:] == [f"{name} {metadata.version(name)}" for name in sorted(_EXTRACTION_LIBRARIES, key=lambda n: n.replace("-", "_"))]
    memo = tmp_path / "memo.json"
    before = pipeline_version(DEFAULT_ONTOLOGY, None, memo=memo)
    assert pipeline_version(DEFAULT_ONTOLOGY, None, memo=memo) == before
    # another version installed ahead of this one on the path
    (tmp_path / "site" / f"{library.replace('-', '_')}-99.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert f"{library} 99.0" in _libraries()
    assert pipeline_version(DEFAULT_ONTOLOGY, None, memo=memo) != before
    assert pipeline_version(DEFAULT_ONTOLOGY, None) == pipeline_version(DEFAULT_ONTOLOGY, None, memo=memo)


def test_build_cache_keeps_only_current_files(corpus, tmp_path):
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "out", html=False, cache=cache)
    (corpus / SEEDS[2].name).unlink()
    build(corpus, tmp_path / "out", html=False, cache=cache)
    (version,) = [d for d in cache.iterdir() if d.is_dir()]
    assert len(list(version.glob("*.pickle"))) == 2


def test_build_renamed_file_is_a_new_document(corpus, tmp_path, extracted):
    """The cache key holds the document ID: a renamed file gets its own IRIs, so it is redone."""
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "out", html=False, cache=cache)
    extracted.clear()
    (corpus / SEEDS[0].name).rename(corpus / "renamed.txt")
    report = build(corpus, tmp_path / "out", html=False, cache=cache)
    assert extracted == ["renamed"] and report.cache_hits == 2
    assert not differing(outputs(tmp_path / "out"), clean_build(corpus, tmp_path / "clean"))


def test_build_corrupt_cache_entry_is_redone(corpus, tmp_path, extracted):
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "out", html=False, cache=cache)
    (version,) = [d for d in cache.iterdir() if d.is_dir()]
    victim = sorted(version.glob("*.pickle"))[0]
    victim.write_bytes(b"not a pickle")
    extracted.clear()
    report = build(corpus, tmp_path / "out", html=False, cache=cache)
    assert len(extracted) == 1 and report.cache_hits == 2
    assert not differing(outputs(tmp_path / "out"), clean_build(corpus, tmp_path / "clean"))


# ---------------------------------------------------------------------------------------------
# Processes and a Dask cluster


@pytest.mark.slow
def test_build_jobs_2_same_bytes_as_jobs_1(corpus, tmp_path):
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    one = build(corpus, tmp_path / "one", html=False, cache=False, jobs=1)
    two = build(corpus, tmp_path / "two", html=False, cache=False, jobs=2)
    assert one.files == two.files == 4
    assert not differing(outputs(tmp_path / "one"), outputs(tmp_path / "two"))


def python_output(code: str) -> str:
    """What a fresh interpreter prints running `code`."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def extraction_worker_output(body: str) -> str:
    """`python_output` of `body`, code that uses `pool`: a pool of one process, started as a build
    starts its extraction workers (forkserver, kg.build.WORKER_MODULES preloaded)."""
    head = (
        "import gc, multiprocessing, pathlib, sys, kg.build\n"
        "ctx = multiprocessing.get_context('forkserver')\n"
        "ctx.set_forkserver_preload(kg.build.WORKER_MODULES)\n"
        "with ctx.Pool(1) as pool:\n"
    )
    return python_output(head + textwrap.indent(body, "    "))


@pytest.mark.slow
def test_the_modules_the_worker_server_imports_exist_and_give_the_workers_what_they_run():
    # the forkserver skips a module that does not import without a word: the workers would import it each
    code = (
        "import sys, kg.build\n"
        "for name in kg.build.WORKER_MODULES: __import__(name)\n"
        "print(all(m in sys.modules for m in ('spacy', 'kg.ner.classifier', 'pyoxigraph', kg.build.extract_file.__module__)))"
    )
    assert python_output(code) == "True"


@pytest.mark.slow
def test_an_extraction_worker_collects_garbage_at_its_own_thresholds_once_its_pipeline_is_loaded():
    body = (
        "before = pool.apply(gc.get_threshold)\n"
        f"pool.apply(kg.build.extract_file, (pathlib.Path({str(SEEDS[0])!r}), 'd', kg.build.DEFAULT_ONTOLOGY, None))\n"
        "print(before == gc.get_threshold(), pool.apply(gc.get_threshold) == kg.build.WORKER_GC_THRESHOLDS)\n"
    )
    assert extraction_worker_output(body) == "True True"


def _spy_parts(monkeypatch) -> list[tuple[str, int, bool, bool]]:
    """What goes into the self-check's stores, a call at a time: (the store's kind, documents new to
    it, parsed, projected); a process's own store (RemoteParts) is seen from the build's side."""
    import kg.validate

    calls: list[tuple[str, int, bool, bool]] = []
    for cls in (kg.validate.PartStore, kg.validate.RemoteParts):

        def spy(self, parts, *, parsed=False, projected=False, real=cls.add, kind=cls.__name__):
            if fresh := [p for p in parts if p[0] not in self._loaded]:  # the check's own call adds none
                calls.append((kind, len(fresh), parsed, projected))
            return real(self, parts, parsed=parsed, projected=projected)

        monkeypatch.setattr(cls, "add", spy)
    return calls


def test_build_jobs_2_rebuild_checks_the_cached_parts_it_preloaded_and_equals_a_clean_build(corpus, tmp_path, monkeypatch):
    """With workers, a rebuild sends the cached documents' projections, and the new one's, to the
    self-check's process as they are read, and the check runs there beside the pages."""
    import kg.validate

    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2)
    preloaded = _spy_parts(monkeypatch)
    monkeypatch.setattr(kg.validate, "check_corpus", lambda *a, **k: pytest.fail("kg.ttl was checked whole"))
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    report = build(corpus, out, cache=cache, jobs=2)
    # their projections (each passed the per-document check), the new one's with them
    assert report.cache_hits == 3 and preloaded == [("RemoteParts", 4, False, True)]
    clean = tmp_path / "clean"
    build(corpus, clean, cache=False)
    assert not differing(outputs(out), outputs(clean))


def test_a_rebuild_with_workers_starts_its_check_before_it_writes_the_files(corpus, tmp_path, monkeypatch):
    """The check reads no file of the output: it runs on the other core while they are written."""
    import kg.validate
    from kg import rdf

    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2)
    events: list[str] = []
    real_start, real_write = kg.validate.RemoteParts.start, rdf.write_turtle_parts
    monkeypatch.setattr(kg.validate.RemoteParts, "start", lambda self, corpus: events.append("check") or real_start(self, corpus))
    monkeypatch.setattr(rdf, "write_turtle_parts", lambda *a, **k: events.append("kg.ttl") or real_write(*a, **k))
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    build(corpus, out, cache=cache, jobs=2)
    assert events == ["check", "kg.ttl"]


def test_a_rebuild_that_fails_to_write_stops_its_check(corpus, tmp_path, monkeypatch):
    import multiprocessing

    from kg import rdf

    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2)
    before = outputs(out)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rdf, "write_trig_parts", full)
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    from kg.errors import OutputError

    with pytest.raises(OutputError, match="the previous output is unchanged"):
        build(corpus, out, cache=cache, jobs=2)
    assert multiprocessing.active_children() == []  # the check's process, forked before, is gone
    assert not differing(outputs(out), before)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_with_nothing_to_extract_checks_the_cached_parts_it_preloaded(corpus, tmp_path, monkeypatch, jobs):
    """Nothing changed: the cached documents' parts are loaded for the self-check as they are read
    (not kg.ttl parsed whole afterwards), and the output is the previous one."""
    import kg.validate

    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=jobs)
    before = outputs(out)
    preloaded = _spy_parts(monkeypatch)
    monkeypatch.setattr(kg.validate, "check_corpus", lambda *a, **k: pytest.fail("kg.ttl was checked whole"))
    report = build(corpus, out, cache=cache, jobs=jobs)
    assert report.cache_hits == 3 and preloaded == [("RemoteParts" if jobs > 1 else "PartStore", 3, False, True)]
    assert not differing(outputs(out), before)


def _spy_checks(monkeypatch) -> list:
    """The self-check's processes (RemoteParts) a build starts."""
    import kg.validate

    started = []
    real = kg.validate.RemoteParts.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(kg.validate.RemoteParts, "__init__", spy)
    return started


@pytest.mark.slow
@pytest.mark.parametrize("cache", [True, False], ids=["rebuild", "clean"])
def test_build_jobs_2_self_check_that_fails_in_its_process_fails_the_build(corpus, tmp_path, monkeypatch, cache):
    """The documents passed their own shapes in extraction; the corpus-wide shapes run over their
    projections in the check's process while the pages are written, and what they find (checked
    against the documents' whole parts) fails the build, a rebuild or a clean one."""
    import kg.validate
    from kg import rdf
    from kg.errors import ValidationError

    out, store = tmp_path / "out", (tmp_path / "cache" if cache else False)
    build(corpus, out, cache=store, jobs=2)
    before = outputs(out)
    real = rdf.graph_triples
    monkeypatch.setattr(rdf, "graph_triples", lambda g, **kwargs: [t for t in real(g, **kwargs) if not t.predicate.value.endswith("#prefLabel")])
    monkeypatch.setattr(kg.validate, "check_corpus", lambda *a, **k: pytest.fail("kg.ttl was checked whole"))
    started = _spy_checks(monkeypatch)
    if cache:
        shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    with pytest.raises(ValidationError, match="prefLabel"):
        build(corpus, out, cache=store, jobs=2)
    assert len(started) == 1 and started[0].process.exitcode == 0  # it ran, and reported
    assert outputs(out) == before  # the previous output stays


@pytest.mark.slow
def test_build_jobs_2_self_check_process_that_dies_fails_the_build_with_one_line(corpus, tmp_path, monkeypatch):
    import os
    import signal

    import kg.validate
    from kg.errors import KGError

    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2)
    before = outputs(out)
    real = kg.validate.RemoteParts.start

    def killed(self, corpus):  # as if the kernel's out-of-memory killer took it
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join()
        return real(self, corpus)

    monkeypatch.setattr(kg.validate.RemoteParts, "start", killed)
    shutil.copyfile(SEEDS[3], corpus / SEEDS[3].name)
    with pytest.raises(KGError, match="self-check's process stopped with exit code -9"):
        build(corpus, out, cache=cache, jobs=2)
    assert outputs(out) == before


@pytest.mark.slow
def test_build_dask_local_cluster_same_bytes(corpus, tmp_path):
    distributed = pytest.importorskip("distributed")

    local = build(corpus, tmp_path / "local", html=False, cache=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        report = build(corpus, tmp_path / "dask", html=False, cache=False, dask=cluster.scheduler_address)
    assert report.files == local.files == 3
    for name in ("kg.ttl", "mentions.jsonl"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert not differing(outputs(tmp_path / "dask"), outputs(tmp_path / "local"))


@pytest.mark.slow
def test_build_dask_unreachable_scheduler(corpus, tmp_path):
    from kg.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot reach the scheduler"):
        build(corpus, tmp_path / "out", html=False, cache=False, dask="tcp://127.0.0.1:1")


# ---------------------------------------------------------------------------------------------
# The benchmark runs (numbers are not asserted: they are the benchmark's business)


@pytest.mark.slow
def test_benchmark_runs_and_writes_table(tmp_path):
    results = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--sizes", "1,2", "--triples", "20000",
         "--jieba-chars", "20000", "--results", str(results)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stderr
    text = results.read_text(encoding="utf-8")
    for heading in ("## Whole build", "## Stages in one process", "## Incremental", "## Writing 1 M triples", "## Targets"):
        assert heading in text, text
    assert "**differs**" not in text, text
    assert "(median of " in text, text  # the rebuild timed three times
    # the stage table's check keys each document as a build does: none of the seeds checked twice
    assert "ran again (their entities typed otherwise by the corpus): 0 of " in text, text
    assert "| one file added, `--keep-workers`: extracted by the server an earlier build left (median of " in text, text
    if sys.platform.startswith("linux"):  # each kind of kg's processes, by the name it gives itself
        kinds = re.search(r"kg's processes \(kg.workers.name_process\), x2: (.*)\.", text)
        assert kinds and {k.split()[0] for k in kinds.group(1).split(", ")} == {"kg-extract", "kg-pages", "kg-self-check"}, text
        row = next(line for line in text.splitlines() if line.startswith("| x2 |"))
        assert row.split(" | ")[7].isdigit(), row  # the self-check's process has its column


@pytest.mark.slow
def test_memory_benchmark_reports_what_a_build_holds_a_page():
    # benchmarks/memory.py: a rebuild's traced memory once its pages are written, x1 against x2 and against x1 of pages twice as long
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--sizes", "1,2", "--longer", "2", "--top", "5"], capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"traced once the pages are written: x1 ([0-9.]+) MB, x2 ([0-9.]+) MB\nper page of the seeds: (-?[0-9.]+) kB \(5 pages more\)", done.stdout)
    assert found and 5 < float(found.group(1)) < 200 and 5 < float(found.group(2)) < 200, done.stdout
    peak = re.search(r"traced peak of the rebuild: x1 ([0-9.]+) MB, x2 ([0-9.]+) MB\nper page of the seeds: (-?[0-9.]+) kB\n", done.stdout)
    assert peak and float(found.group(1)) <= float(peak.group(1)) < 400 and float(found.group(2)) <= float(peak.group(2)) < 400, done.stdout
    # the same of the x1 corpus with each page twice as long: the same files, twice the characters
    longer = re.search(
        r"x1, each page 2 times as long \(([0-9,]+) characters, x2 ([0-9,]+)\):\n  once the pages are written: ([0-9.]+) MB, (-?[0-9.]+) kB per million"
        r" characters more \(x2: (-?[0-9.]+)\)\n  traced peak: ([0-9.]+) MB, (-?[0-9.]+) kB per million characters more \(x2: (-?[0-9.]+)\)\n",
        done.stdout,
    )
    assert longer and abs(int(longer.group(1).replace(",", "")) - int(longer.group(2).replace(",", ""))) < 100, done.stdout
    assert 5 < float(longer.group(3)) <= float(longer.group(6)) < 400, done.stdout
    by_page, by_text = done.stdout.split("at the line that allocated it):\n")[1].split("\n\nwhere it grows with the pages 2 times as long (bytes per thousand characters more):\n")
    for rows in (by_page.splitlines(), by_text.splitlines()):
        assert len(rows) == 5 and all(re.match(r" *-?[0-9]+  [\w<> ]+\.?\w*:[0-9]+  ", row) for row in rows), done.stdout
    for wrong, said in ((["--sizes", "2,1"], "give two sizes, the smaller first"), (["--longer", "1"], "--longer 1: give 2 or more")):
        bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), *wrong], capture_output=True, text=True, cwd=ROOT)
        assert bad.returncode == 2 and said in bad.stderr, bad.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/comm is Linux's")
def test_a_process_kg_names_shows_its_name():
    done = subprocess.run(
        [sys.executable, "-c", "from kg.workers import name_process; name_process('kg-self-check-and-more'); print(open('/proc/self/comm').read())"],
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.strip() == "kg-self-check-a"  # 15 bytes, as the system keeps them


def test_a_pool_that_cannot_start_fails_the_build_and_writes_nothing(corpus, tmp_path, monkeypatch):
    # the pool is made in a thread while the cache is read: its failure reaches the build all the same
    import multiprocessing.context

    def no_pool(self, *args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(multiprocessing.context.ForkServerContext, "Pool", no_pool)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="no processes left"):
        build(corpus, out, jobs=2, cache=False)
    assert not out.exists()


def test_a_build_keeps_the_documents_outputs_in_its_spool_not_in_memory(corpus, tmp_path):
    """From extraction to export a document's parts of kg.ttl, kg.jsonld and mentions.trig and its
    lines of mentions.jsonl are in the build's spool, read back when written (and pickled into the
    cache as bytes); once the build is over they are not read from a file that is gone."""
    import pickle

    from kg.build import Documents, SpooledDoc, SpooledMentions, SpooledParts
    from kg.errors import KGError
    from kg.graph import DocInfo, GraphBuilder
    from kg.mention import Mention
    from kg.rdf import DocumentParts

    kept: list = []
    cache = tmp_path / "cache"
    build(corpus, tmp_path / "out", html=False, jobs=2, cache=cache, retain=kept)
    results = list(next(x for x in kept if isinstance(x, Documents)))  # the build's results, a row a document
    assert len(results) == 3 and all(isinstance(r.parts, SpooledParts) for r in results)
    # and its mentions and text: the build holds their count and the text's length (the mentions' IRIs are spooled too)
    assert all(isinstance(r.mentions, SpooledMentions) and r.mentions.count > 0 for r in results)
    assert all(isinstance(r.doc, SpooledDoc) and r.doc.characters > 0 for r in results)
    graph = next(x for x in kept if isinstance(x, GraphBuilder))  # the graph's documents are those
    assert sorted(graph.docs) == sorted(r.doc.doc_id for r in results) and all(type(d) is SpooledDoc for d in graph.docs.values())
    with pytest.raises(KGError, match="after its build had ended"):
        results[0].parts.ttl
    with pytest.raises(KGError, match="after its build had ended"):
        list(results[0].mentions)
    with pytest.raises(KGError, match="after its build had ended"):
        tuple(results[0].mentions.refs)
    # the cache holds the bytes themselves, as they were written into the build's files, and the mentions
    (version,) = [d for d in cache.iterdir() if d.is_dir()]
    cached = [pickle.loads(f.read_bytes()) for f in sorted(version.glob("*.pickle"))]
    assert all(type(r.parts) is DocumentParts and type(r.jsonl) is bytes for r in cached)
    assert all(type(r.mentions) is list and type(r.mentions[0]) is Mention for r in cached)
    spooled = {r.doc.doc_id: r.mentions for r in results}
    assert all(spooled[r.doc.doc_id].count == len(r.mentions) for r in cached)
    characters = {r.doc.doc_id: r.doc.characters for r in results}
    assert all(type(r.doc) is DocInfo and characters[r.doc.doc_id] == len(r.doc.text) for r in cached)
    out = tmp_path / "out"
    assert b"".join(r.jsonl for r in sorted(cached, key=lambda r: r.doc.doc_id)) == (out / "mentions.jsonl").read_bytes()
    ttl = (out / "kg.ttl").read_bytes()
    assert all(r.parts.ttl in ttl for r in cached)


def test_a_build_keeps_a_documents_relations_in_its_spool_once_graphed_and_lets_go_of_its_projection_once_cached(corpus, tmp_path):
    """What a build holds of a document until its export: its relations are in the graph's facts and
    in its spool (its article pages and another base read them again), and its projection for the
    self-check is in the cache (and with the check's loader on a rebuild), so its results hold
    neither, extracted or read from the cache; the cache keeps both."""
    import pickle

    from kg.build import Documents, SpooledRelations

    cache = tmp_path / "cache"
    for _ in range(2):  # extracted, then read from the cache
        kept: list = []
        build(corpus, tmp_path / "out", html=False, jobs=2, cache=cache, retain=kept)
        results = list(next(x for x in kept if isinstance(x, Documents)))
        assert len(results) == 3 and all(type(r.relations) is SpooledRelations and r.relations.count > 0 and r.reads is None for r in results)
    (version,) = [d for d in cache.iterdir() if d.is_dir()]
    cached = [pickle.loads(f.read_bytes()) for f in sorted(version.glob("*.pickle"))]
    assert all(r.relations and r.reads for r in cached)
    counts = {r.doc.doc_id: r.relations.count for r in results}
    assert all(counts[r.doc.doc_id] == len(r.relations) for r in cached)
    # another base writes each document's parts again from its relations, read from the spool
    based = build(corpus, tmp_path / "based", html=False, cache=False, base="https://example.org/id/")
    assert "https://example.org/id/" in (tmp_path / "based" / "kg.ttl").read_text(encoding="utf-8") and based.files == 3


def test_packed_articles_read_as_the_tuples_they_were():
    import pickle

    from kg.build import PackedArticles

    articles = [(0, 0, 12, "四平市\ud800铁西区", (3, 6)), (1, 12, 20, "", None), (5, 20, 2**40, "第三篇 title", None), (6, 2**40, 2**40 + 1, "末", (0, 0))]
    packed = PackedArticles(articles)
    assert list(packed) == articles and packed == articles and len(packed) == 4
    assert [packed[i] for i in range(-4, 0)] == articles and packed[1:3] == articles[1:3] and packed[::-2] == articles[::-2]
    assert pickle.loads(pickle.dumps(packed)) == articles and type(pickle.loads(pickle.dumps(packed))) is list
    assert PackedArticles([]) == [] and not list(PackedArticles([]))
    # as a spool keeps them (kg.build.SpooledDoc)
    assert PackedArticles.from_bytes(packed.to_bytes()) == articles and PackedArticles.from_bytes(PackedArticles([]).to_bytes()) == []
    with pytest.raises(IndexError):
        packed[4]
    with pytest.raises(IndexError):
        packed[-5]


def test_the_spool_gives_back_what_it_kept_and_says_where_it_cannot_write(tmp_path):
    import pickle

    from kg.build import DocResult, Spool, mention_iris
    from kg.errors import KGError
    from kg.graph import DocInfo
    from kg.mention import Evidence, Mention, Relation
    from kg.ontology import KGR
    from kg.rdf import DocumentParts

    spool = Spool(tmp_path)
    parts = DocumentParts(b"<a> <b> <c> .\n", b'{"@id": "a"}', b"<g> { <a> <b> <c> . }\n")
    mentions = [[Mention(f"d{i}", 0, 2, "四平", "PLACE", f"{KGR}place/{i}", 0, (0, 5))] * i for i in range(3)]
    docs = [DocInfo(f"d{i}", "四平市\ud800铁西区。" * i, "utf-8", [(0, 0, 8 * i, "四平市", None)]) for i in range(3)]  # a lone surrogate too
    relations = [[Relation(f"{KGR}place/{i}", "containedInPlace", f"{KGR}place/0", Evidence(f"d{i}", 0, 5), 0.5)] * i for i in range(3)]
    kept = [spool.keep(DocResult(docs[i], mentions[i], relations[i], parts, f'{{"n": {i}}}\n'.encode())) for i in range(3)]
    assert [(len(r.relations), list(r.relations)) for r in kept] == [(len(x), x) for x in relations]
    assert [(r.doc.doc_id, r.doc.text, r.doc.characters, r.doc.articles) for r in kept] == [(d.doc_id, d.text, len(d.text), d.articles) for d in docs]
    assert pickle.loads(pickle.dumps(kept[2].doc)) == docs[2]
    assert kept[2].doc.digest == docs[2].digest == hashlib.blake2b(docs[2].text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    assert [bytes(r.jsonl) for r in kept] == [b'{"n": 0}\n', b'{"n": 1}\n', b'{"n": 2}\n']
    assert [list(r.mentions) for r in kept] == mentions and pickle.loads(pickle.dumps(kept[2].mentions)) == mentions[2]
    assert [(len(r.mentions), tuple(r.mentions.refs)) for r in kept] == [(0, ()), (1, (f"{KGR}place/1",)), (2, (f"{KGR}place/2",))]
    refs = mention_iris(kept[2].mentions)  # what the self-check is handed: read from the spool as it is iterated
    assert (list(refs), len(refs), f"{KGR}place/2" in refs, f"{KGR}place/1" in refs) == ([f"{KGR}place/2"], 1, True, False)
    assert pickle.loads(pickle.dumps(refs)) == (f"{KGR}place/2",) and len(mention_iris(kept[0].mentions)) == 0
    assert (kept[2].parts.ttl, kept[2].parts.jsonld, kept[2].parts.trig, kept[2].parts.digest) == (parts.ttl, parts.jsonld, parts.trig, parts.digest)
    assert spool.keep(kept[1]) is kept[1]  # spooled once
    again = pickle.loads(pickle.dumps(kept[0]))
    assert again.parts == parts and again.jsonl == b'{"n": 0}\n'
    assert list(tmp_path.iterdir()) == []  # the spool has no name: nothing is left behind

    class Full:  # a disk that fills up: in the write, or only once the buffer is flushed
        def __init__(self, at):
            self.at = at

        def write(self, data):
            if self.at == "write":
                raise OSError(28, "No space left on device")

        def flush(self):
            raise OSError(28, "No space left on device")

    real = spool.file
    for at in ("write", "flush"):
        spool.file = Full(at)
        with pytest.raises(KGError, match=rf"{tmp_path}: cannot keep the documents' outputs there while building \(No space left on device\)"):
            spool.keep(DocResult(docs[0], [], [], parts, b""))
    spool.file = real
    assert bytes(kept[2].jsonl) == b'{"n": 2}\n'  # what was kept before stays readable
    os.ftruncate(spool.fd, spool.size - 1)  # a spool that lost its end says so, and what it read
    with pytest.raises(KGError, match=r"the build's spool of outputs was cut short \(\d+ of \d+ bytes read back\)"):
        kept[2].relations.rows()
    assert kept[0].parts.ttl == parts.ttl
    real.close()
    with pytest.raises(KGError, match="cannot keep the documents' outputs there"):
        Spool(tmp_path / "missing")


def test_a_builds_documents_are_rows_that_give_back_what_the_spool_keeps(tmp_path):
    """kg.build.Documents, what a build keeps of its results: a row of numbers and digests a
    document, each result made when it is read, equal to what `Spool.keep` gives; by id in the
    order of the ids; the mentions' index reads a document's mentions and relations there."""
    from dataclasses import replace

    from kg.build import Documents, DocResult, Spool
    from kg.graph import DocInfo, MentionIndex, SpilledAuthors
    from kg.mention import Evidence, Mention, Relation, relation_rows
    from kg.relations import article_iri
    from kg.ontology import KGR
    from kg.rdf import DocumentParts, parts_digest

    ttl, trig = b"<a> <b> <c> .\n", b"<g> { <a> <b> <c> . }\n"
    digested = DocumentParts(ttl, b'{"@id": "a"}', trig, parts_digest(ttl, trig))
    spool = Spool(tmp_path)

    def result(i: int, *, relations: bool = True, checked: str | None = None, parts: DocumentParts = digested) -> DocResult:
        doc = DocInfo(f"d{i}", "四平市\ud800铁西区。" * (i + 1), "gb18030" if i == 1 else "utf-8", [(0, 0, 8, "四平市", None), (1, 8, 9, "", (0, 3))])
        mentions = [Mention(doc.doc_id, 0, 3, "四平市", "PLACE", f"{KGR}place/{i}", 0, (0, 9))] * i
        found = [Relation(f"{KGR}place/{i}", "containedInPlace", f"{KGR}place/0", Evidence(doc.doc_id, 0, 9), 0.5)] * i
        return DocResult(doc, mentions, found if relations else None, parts, f'{{"n": {i}}}\n'.encode(), checked)

    made = [result(2, checked="ab" * 16), result(0), result(1)]
    table = Documents(spool)
    rows = [table.add(r, key) for r, key in zip(made, ["0f" * 16, None, "e1" * 16])]

    def seen(r: DocResult) -> tuple:
        d = r.doc
        relations = None if r.relations is None else (len(r.relations), list(r.relations))
        return (d.doc_id, d.text, d.encoding, d.characters, d.digest, list(d.articles), len(r.mentions), list(r.mentions), tuple(r.mentions.refs),
                relations, r.parts.ttl, r.parts.jsonld, r.parts.trig, r.parts.digest, bytes(r.jsonl), r.checked, r.reads)

    kept = [seen(spool.keep(r)) for r in made]
    assert [seen(r) for r in rows] == [seen(r) for r in table] == kept
    assert kept[0][-2] == "ab" * 16 and kept[1][-2] is None and kept[1][13] == digested.digest  # a key, none
    assert table[0] is not table[0] and [seen(r) for r in table[-2:]] == kept[1:]
    assert [seen(replace(table[n], doc=table.doc(n))) for n in range(3)] == kept  # a document alone, as in its result
    assert (table.ids, table.numbers, len(table)) == (["d2", "d0", "d1"], {"d2": 0, "d0": 1, "d1": 2}, 3)
    assert [r.doc.doc_id for r in table.in_order()] == ["d0", "d1", "d2"] and list(table.by_id) == ["d0", "d1", "d2"]
    assert "d1" in table.by_id and "d3" not in table.by_id and table.by_id["d2"].text == made[0].doc.text and len(table.by_id) == 3
    assert table.has_relations
    # each one's key in the cache, and with what the pages' keys add to it, by id
    assert [table.key(n) for n in range(3)] == ["0f" * 16, "00" * 16, "e1" * 16]
    keyed = table.keyed("v:", ":g")
    assert dict(keyed) == {"d0": f"v:{'00' * 16}:g", "d1": f"v:{'e1' * 16}:g", "d2": f"v:{'0f' * 16}:g"} and keyed.get("d9") is None
    index = MentionIndex(spill=spool, documents=table)
    for r in made:
        index.add(table.by_id[r.doc.doc_id], r.mentions)
    assert index.doc_ids is table.ids and index.has_relations
    assert index.of_doc("d2") == made[0].mentions and index.relation_rows("d2") == relation_rows(made[0].relations) and len(index.relation_rows("d2")) == 2
    assert index.of_doc("d9") == [] and index.relation_rows("d9") == []
    # who wrote the articles, by the documents' numbers there: none for those without
    authors = SpilledAuthors(spool, table)
    authors.add("d1", [(article_iri("d1", 0), f"{KGR}person/a")])
    authors.add("d1", [(article_iri("d1", 1), f"{KGR}person/b")])
    assert list(authors.at) == [-1, -1, authors.at[2]] and authors.ids is table.ids and len(authors) == 2
    assert dict(authors.items()) == {article_iri("d1", 0): (f"{KGR}person/a",), article_iri("d1", 1): (f"{KGR}person/b",)}
    assert authors[article_iri("d1", 1)] == (f"{KGR}person/b",) and article_iri("d0", 0) not in authors
    with pytest.raises(ValueError, match="d9: authors of a document not among the documents"):
        authors.add("d9", [(article_iri("d9", 0), f"{KGR}person/a")])
    with pytest.raises(ValueError, match="d2: a document kept twice"):
        table.add(made[0])
    with pytest.raises(ValueError, match="d5: a digest of 3 bytes and keys of 0 and 0 hex digits, not of 16 bytes"):
        table.add(result(5, parts=DocumentParts(ttl, b"", trig, b"abc")))
    with pytest.raises(ValueError, match="d5: a digest of 16 bytes and keys of 32 and 4 hex digits"):
        table.add(result(5, checked="ab" * 16), "abcd")
    table.add(result(3, relations=False))
    assert not table.has_relations and table[3].relations is None and len(table[3].mentions) == 3
    with pytest.raises(ValueError, match="d0: its mentions and relations are where the index's documents keep them"):
        index.add(made[1].doc, made[1].mentions)  # not in the order of the documents
    assert not Documents(spool).has_relations
    spool.close()


def test_the_mentions_index_holds_as_much_of_an_entity_of_many_runs_of_mentions_as_of_one(tmp_path):
    """With a spill, the index keeps an entity's rows there SPILL_ROWS at a time, each run after
    where the one before it is: in memory, the last run's offset and fewer than SPILL_ROWS rows,
    however many mentions the entity has; all of them read back, in order."""
    import tracemalloc

    from kg.build import Spool
    from kg.graph import DocInfo, MentionIndex
    from kg.mention import Mention
    from kg.ontology import KGR

    iri = f"{KGR}place/x"
    held, found, runs = {}, {}, (1, 300)
    for n in (k * MentionIndex.SPILL_ROWS + 5 for k in runs):
        doc = DocInfo("d", "四平市。" * n, "utf-8", [(0, 0, 4 * n, "", None)])
        mentions = [Mention("d", 4 * i, 4 * i + 3, "四平市", "PLACE", iri, 0, (4 * i, 4 * i + 4)) for i in range(n)]
        spool = Spool(tmp_path)
        tracemalloc.start()
        index = MentionIndex(spill=spool)
        index.add(doc, mentions)
        held[n] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        found[n] = index.of_entity(iri)
        assert found[n] == [("d", (4 * i, 4 * i + 4), 0, 4 * i, 4 * i + 3) for i in range(n)]
        assert len(index.rows[iri]) == 6 * 5 and spool.size > 0
        spool.close()
    more = held[max(found)] - held[min(found)]
    # 300 times the mentions: less held than a run's rows (a few bytes of a larger offset, the
    # allocator's noise); an offset held a run was 16 bytes more a run, 4.8 kB here
    assert more < 6 * 4 * MentionIndex.SPILL_ROWS, held


def test_extraction_results_are_taken_as_they_come():
    """A pool's results are read one at a time (`Pool.imap`), not gathered first, so a build holds
    no more of them than it has not taken yet; a worker server's list lets go of each as it goes."""
    import pickle
    from concurrent.futures import Future

    from kg.build import _Pending

    produced: list[int] = []

    def results():
        for i in range(3):
            produced.append(i)
            yield pickle.dumps(f"result {i}")  # as a pool's worker returns them (kg.build._extract_args)

    ready: Future = Future()
    ready.set_result((None, results()))
    taken = iter(_Pending([Path("a"), Path("b"), Path("c")], None, ready))
    assert next(taken) == (Path("a"), "result 0") and produced == [0]
    assert next(taken) == (Path("b"), "result 1") and produced == [0, 1]

    served: Future = Future()
    items = ["x", "y"]
    served.set_result(items)
    pending = _Pending([Path("a"), Path("b")], None, served=(served, []))
    taken = iter(pending)
    assert next(taken) == (Path("a"), "x") and items == [None, "y"]
    pending.served = None  # nothing to hang up in this test


def test_a_pool_result_the_build_cannot_read_is_an_error_that_names_its_file():
    """A worker's result is unpickled where the build reads it, not in the pool's result thread, which
    stopped at such an error and left the build waiting for ever: one the build cannot read (made
    by other code than the build's, say, when kg's files change while it runs) fails it, naming
    the file."""
    import pickle
    from concurrent.futures import Future

    from kg.build import _extract_args, _Pending
    from kg.errors import KGError
    from kg.mention import Evidence

    good = pickle.dumps(Evidence("d", 1, 2))
    unknown = good.replace(b"_evidence", b"_vanished")  # a function this kg does not have
    ready: Future = Future()
    ready.set_result((None, iter([good, unknown])))
    taken = iter(_Pending([Path("a.txt"), Path("b.txt")], None, ready))
    assert next(taken) == (Path("a.txt"), Evidence("d", 1, 2))
    with pytest.raises(KGError, match=r"b\.txt: its extraction result cannot be read \(AttributeError: .*_vanished.*\); were kg's files changed"):
        next(taken)
    # and the worker's side pickles what extraction gives: a skipped file's reason too
    missing = ROOT / "no-such-file.txt"
    assert pickle.loads(_extract_args((missing, "x", kg.build.DEFAULT_ONTOLOGY, None, False, None)))[0] == str(missing)


def test_unpickled_mentions_and_relations_share_their_strings_across_documents():
    """A build unpickles every document's mentions and relations (from a worker, from the cache);
    equal IRIs, surface forms, labels and predicates of two documents are then one string, not a
    copy each. Values are unchanged."""
    import pickle

    from kg.mention import Evidence, Mention, Relation

    def document(doc_id: str) -> bytes:
        iri = "https://w3id.org/kg/id/place/" + "220302"  # made at run time: not a constant shared already
        text = "铁" + "西区"
        ms = [Mention(doc_id, 0, 3, text, "PLACE", iri, 0, (0, 9), False)]
        rs = [Relation(iri, "contained" + "InPlace", iri + "0", Evidence(doc_id, 0, 9), 0.9, "位" + "于")]
        return pickle.dumps((ms, rs), protocol=pickle.HIGHEST_PROTOCOL)

    (a, ra), (b, rb) = pickle.loads(document("d1")), pickle.loads(document("d2"))
    assert a[0] == Mention("d1", 0, 3, "铁西区", "PLACE", "https://w3id.org/kg/id/place/220302", 0, (0, 9), False)
    assert rb[0] == Relation(b[0].iri, "containedInPlace", "https://w3id.org/kg/id/place/2203020", Evidence("d2", 0, 9), 0.9, "位于")
    assert a[0].iri is b[0].iri and a[0].text is b[0].text and a[0].label is b[0].label
    assert ra[0].subject is a[0].iri and ra[0].predicate is rb[0].predicate and ra[0].object is rb[0].object and ra[0].cue is rb[0].cue


def test_unpickled_evidence_shares_its_offsets_and_the_graph_a_documents_ranges():
    """A build keeps every fact's range until its pages are made: the offsets of two documents'
    evidence are then one int object each (CPython shares none above 256), and the facts read in
    one sentence share its range in the graph."""
    import pickle

    from kg.build import DEFAULT_ONTOLOGY
    from kg.graph import GraphBuilder
    from kg.mention import OFFSETS_SHARED, Evidence, Relation
    from kg.ontology import load_ontology

    def evidence(doc_id: str, start: int) -> Evidence:
        return pickle.loads(pickle.dumps(Evidence(doc_id, int(str(start)), int(str(start + 40)))))  # ints made at run time

    a, b = evidence("d1", 1000), evidence("d2", 1000)
    assert (a, b) == (Evidence("d1", 1000, 1040), Evidence("d2", 1000, 1040))
    assert a.start is b.start and a.end is b.end
    far = OFFSETS_SHARED + 5
    assert evidence("d1", far).start is not evidence("d2", far).start  # past the shared ones: no table of every offset
    p, q, r = (f"https://w3id.org/kg/id/org/{n}" for n in "pqr")
    rels = [Relation(p, "actsWith", q, evidence("d1", 1000), 0.8), Relation(q, "cooccursWith", r, evidence("d1", 1000), 0.5)]
    builder = GraphBuilder(load_ontology(DEFAULT_ONTOLOGY))
    builder.add([], [], rels)
    one, two = builder.facts.values()  # each read once: (range, confidence, cue)
    assert one[0] == two[0] == ("d1", 1000, 1040) and one[0] is two[0]


def test_the_mentions_of_a_sentence_share_its_range_in_a_worker_and_unpickled():
    """A mention's sentence is its sentence's range itself where that holds it, so the mentions of a
    sentence share one tuple, in the worker and, through the pickle's memo, where they are unpickled."""
    import pickle

    from kg.build import DEFAULT_ONTOLOGY, _extract
    from kg.corpus import doc_ids

    paths = SEEDS[:1]
    ((_, r),) = _extract(paths, doc_ids(paths, ROOT / "seeds"), DEFAULT_ONTOLOGY, None, jobs=1, dask=None)
    for mentions in (r.mentions, pickle.loads(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)).mentions):
        ranges = {m.sentence for m in mentions}
        assert len(ranges) < len(mentions)  # sentences that name several entities
        assert len({id(m.sentence) for m in mentions}) == len(ranges)
