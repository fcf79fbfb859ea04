"""The kg benchmark: the seeds repeated x20 and x200, timed stage by stage and as a whole build.

    .venv/bin/python benchmarks/run.py                 # `make bench`; writes benchmarks/results.md
    .venv/bin/python benchmarks/run.py --sizes 2,20    # a quick look

What it measures, on one machine, in one run:
- each stage in this process on the largest corpus (read, NER, link, relations, graph, RDF, HTML),
  in characters per second;
- `kg build --jobs 2 --no-cache` of every corpus as a subprocess: wall time, CPU time and peak
  memory (each process's own peak, VmHWM, read every 50 ms: the build's own process, the
  self-check's, the largest of all and each kind that kg names (kg-extract, kg-pages,
  kg-self-check: /proc/<pid>/comm); and the sum over the process tree), so that a machine shared
  with other work shows as wall time well above CPU time / 2;
- jieba.posseg on the same text (1.2 M characters, some 9 s: on a machine shared with other work a
  3-second sample varied by a fifth between runs), and the whole build's throughput as a multiple of it;
- an incremental rebuild after adding one file to the largest corpus (the median of five, each
  from the corpus as built before), as a share of the clean build, checked byte for byte against a
  clean build of the same files;
- writing 1 M synthetic triples with `kg.rdf.write_turtle` in a fresh process (time, peak memory).

Targets are those of issue 7; the table says which are met.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RESULTS = ROOT / "benchmarks" / "results.md"
sys.path.insert(0, str(ROOT))

# Issue 7, acceptance.
TARGET_SECONDS = 60.0
TARGET_PEAK_MB = 2048.0
TARGET_GROWTH = 11.0
TARGET_INCREMENTAL = 0.15
TARGET_TRIPLES_SECONDS = 5.0
# one-file rebuilds timed; the median counts. Five, not three: on this shared machine one rebuild in
# five or so takes half as long again (two of ten interleaved runs took 5.0 and 5.5 s, the others
# 3.3-3.6), and two of three did in run Q (4.3 and 4.1 s against 3.5)
REBUILDS = 5

# Runs a command as its child and reports its wall time and peak memory. A fresh interpreter, so
# RUSAGE_CHILDREN holds this command's processes only. That alone misses processes nobody here waits
# for: the extraction workers and the self-check's process are children of multiprocessing's fork
# server, which reaps them itself (the largest process of a clean x200 build is an extraction worker,
# 253 MB, where RUSAGE_CHILDREN said 166). So every process's own peak (VmHWM) is read as it runs.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
try:
    import psutil
except ModuleNotFoundError:
    psutil = None
cmd = json.loads(sys.argv[1])
t = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
peak = 0
cpu = {}  # pid -> CPU seconds seen last, for the processes of the tree
hwm = {}  # pid -> its own peak resident memory (VmHWM, kB) seen last
kind = {}  # pid -> the name kg gives it (kg.workers.name_process: kg-extract, kg-pages, kg-self-check)
def own_peak(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0
def named(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            name = fh.read().strip()
    except OSError:
        return
    if name.startswith("kg-"):
        kind[pid] = name
if psutil is not None:
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    with p.oneshot():
                        total += p.memory_info().rss
                        t_ = p.cpu_times()
                        cpu[p.pid] = t_.user + t_.system
                    hwm[p.pid] = max(hwm.get(p.pid, 0), own_peak(p.pid))
                    named(p.pid)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
out, err = proc.communicate()
seconds = time.perf_counter() - t
print(json.dumps({
    "rc": proc.returncode,
    "seconds": seconds,
    "max_process_mb": max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, *hwm.values()) / 1024,
    "main_mb": hwm[proc.pid] / 1024 if proc.pid in hwm else None,
    # the largest peak of each kind of kg's processes
    "kinds_mb": {k: max(hwm.get(pid, 0) for pid, n in kind.items() if n == k) / 1024 for k in set(kind.values())},
    "tree_mb": peak / 2**20 if psutil is not None else None,
    "cpu_seconds": sum(cpu.values()) if psutil is not None else None,
    "stdout": out.decode("utf-8", "replace")[-4000:],
    "stderr": err.decode("utf-8", "replace")[-4000:],
}))
"""


_SPIN = "import time\nt = time.perf_counter()\ns = 0\nfor i in range(10_000_000): s += i\nprint(time.perf_counter() - t)"


def cpu_check() -> dict:
    """How free the cores are: a fixed loop alone, then two at once (equal on an idle 2-core machine)."""
    def spin(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(p.communicate()[0]) for p in procs]

    return {"load": os.getloadavg(), "one": spin(1)[0], "two": max(spin(2))}


def measured(cmd: list[str]) -> dict:
    """Run `cmd` under the wrapper in a fresh interpreter; its time and peak memory."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps(cmd)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"benchmark: {' '.join(cmd)} failed ({result['rc']}):\n{result['stderr']}")
    return result


# `kg build` as the command line runs it (kg.cli.run), printing the build's own stage times.
_KG_BUILD = r"""
import json, sys
import kg.build
from kg import cli

real = kg.build.build

def build(*args, **kwargs):
    report = real(*args, **kwargs)
    print("KG_SECONDS " + json.dumps(report.seconds))
    return report

kg.build.build = build
cli.run()  # as the `kg` command: main, then exit without tearing the heap down
"""


def kg_build(corpus: Path, out: Path, *, jobs: int, cache: bool, flags: Sequence[str] = ()) -> dict:
    cmd = [sys.executable, "-c", _KG_BUILD, "build", str(corpus), "--out", str(out), "--jobs", str(jobs), *flags]
    if not cache:
        cmd.append("--no-cache")
    result = measured(cmd)
    for line in result["stdout"].splitlines():
        if line.startswith("KG_SECONDS "):
            result["stages"] = json.loads(line.removeprefix("KG_SECONDS "))
    return result


def make_corpus(directory: Path, times: int) -> Path:
    """The seeds repeated `times` times, each copy a file of its own (distinct document IDs)."""
    directory.mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.txt")):
        for i in range(times):
            shutil.copyfile(seed, directory / f"{seed.stem}_r{i:04d}.txt")
    return directory


def corpus_chars(corpus: Path) -> int:
    from kg.corpus import read_document

    return sum(len(read_document(p).text) for p in sorted(corpus.glob("*.txt")))


# ---------------------------------------------------------------------------------------------
# Stages, in this process


class Stages:
    """Wall and CPU seconds of each stage, in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, int]] = []  # (stage, wall s, CPU s, characters)

    @contextmanager
    def __call__(self, name: str, chars: int = 0):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.rows.append((name, time.perf_counter() - wall, time.process_time() - cpu, chars))


def time_stages(corpus: Path, work: Path) -> tuple[list[tuple[str, float, float, int]], dict]:
    """(stage, wall s, CPU s, characters) for each stage over `corpus`, in the order `kg build` runs them."""
    from kg import rdf
    from kg.build import DEFAULT_ONTOLOGY, mention_lines, write_documents
    from kg.corpus import doc_ids, list_inputs, read_document
    from kg.graph import DocInfo, build_graph
    from kg.link import Linker
    from kg.ner import DEFAULT_CONFIG, extract_spans, load_nlp
    from kg.ontology import load_ontology
    from kg.relations import relations

    stage = Stages()
    notes: dict = {}
    with stage("load ontology"):
        onto = load_ontology(DEFAULT_ONTOLOGY)
    with stage("load NER pipeline and linker"):
        nlp = load_nlp(DEFAULT_CONFIG, ontology=onto)
        linker = Linker(onto)

    paths = list_inputs(corpus)
    ids = doc_ids(paths, corpus)
    chars = corpus_chars(corpus)
    with stage("read (decode, split articles)", chars):
        docs = []
        for p in paths:
            d = read_document(p)
            d.doc_id = ids[p]
            docs.append(d)
    with stage("NER (extract_spans)", chars):
        spans = [extract_spans(nlp, d.text) for d in docs]
    with stage("link", chars):
        mentions = [linker.link(d, s) for d, s in zip(docs, spans, strict=True)]
    with stage("relations", chars):
        rels = [relations(d, m, onto) for d, m in zip(docs, mentions, strict=True)]
    notes["mentions"] = sum(map(len, mentions))
    notes["relations"] = sum(map(len, rels))

    infos = [DocInfo.of(d) for d in docs]
    all_mentions = [m for ms in mentions for m in ms]
    all_rels = [x for rs in rels for x in rs]
    del spans, docs
    out = work / "stages"
    out.mkdir(parents=True, exist_ok=True)
    with stage("graph (networkx)", chars):
        g = build_graph(infos, all_mentions, all_rels, onto)
    with stage("RDF: mentions.jsonl", chars):
        (out / "mentions.jsonl").write_bytes(b"".join(mention_lines(ms) for ms in mentions))  # per document, as kg build
    with stage("RDF: per-document parts of kg.ttl, kg.jsonld, mentions.trig (document_parts, done in extraction)", chars):
        parts = [rdf.document_parts(info, ms, rs) for info, ms, rs in zip(infos, mentions, rels, strict=True)]
    with stage("RDF: corpus-wide triples of kg.ttl (graph_triples)", chars):
        triples = rdf.graph_triples(g)
    with stage("RDF: kg.ttl written (write_turtle_parts)", chars):
        rdf.write_turtle_parts(triples, (p.ttl for p in parts), out / "kg.ttl")
    with stage("RDF: mentions.trig written (write_trig_parts)", chars):
        rdf.write_trig_parts((p.trig for p in parts), out / "mentions.trig")
    with stage("RDF: kg.jsonld written (write_jsonld)", chars):
        rdf.write_jsonld(triples, (p.jsonld for p in parts), out / "kg.jsonld")
    notes["quads_mentions_trig"] = _count_triples(out / "mentions.trig")
    notes["triples_kg_ttl"] = _count_triples(out / "kg.ttl")
    from kg.build import entity_classes
    from kg.validate import DocumentCheck, DocumentPart, PartStore, check_build, corpus_reads

    reads = corpus_reads()
    with stage("self-check: load the per-document shapes (DocumentCheck, once per process)"):
        check = DocumentCheck()
    with stage("self-check: per-document shapes and projections (DocumentCheck, done in extraction)", chars):
        passed = [
            check(p.ttl, p.trig, entity_classes(onto, ms), p.digest, reads, doc=rdf.doc_iri(info.doc_id))
            for p, ms, info in zip(parts, mentions, infos, strict=True)
        ]
    keys = [ok.key if ok else None for ok in passed]
    documents = [
        DocumentPart(p, frozenset(m.iri for m in ms), k, rdf.doc_iri(info.doc_id)) for p, ms, k, info in zip(parts, mentions, keys, infos, strict=True)
    ]
    projections = [(p.digest, ok.reads[1]) for p, ok in zip(parts, passed, strict=True) if ok and ok.reads]
    del parts
    with stage("RDF: documents.json", chars):
        from kg.build import DocResult

        write_documents([DocResult(d, [], [], rdf.DocumentParts(b"", b"", b""), b"") for d in infos], out / "documents.json")
    try:
        from kg.html import write_pages
    except ImportError as err:
        notes["html"] = f"skipped: kg.html.write_pages is missing ({err})"
    else:
        with stage("HTML pages (write_pages)", chars):
            pages = write_pages(g, infos, all_mentions, out)
        notes["html_pages"] = len(pages)
    with stage("self-check: corpus-wide shapes over the projections (check_build; kg build runs it in a process of its own)", chars):
        store = PartStore()
        store.add(projections, projected=True)
        result = check_build(out, triples, documents, parts=store)
    notes["validate"] = "conforms" if result.conforms else f"{len(result.violations)} violations"
    notes["validate_rechecked"] = result.checked
    notes["stage_process_peak_mb"] = _peak_mb()
    return stage.rows, notes


def _count_triples(path: Path) -> int:
    import pyoxigraph as ox

    fmt = ox.RdfFormat.TRIG if path.suffix == ".trig" else ox.RdfFormat.TURTLE
    return sum(1 for _ in ox.parse(path=str(path), format=fmt))


def jieba_throughput(corpus: Path, limit_chars: int) -> tuple[float, int, float]:
    """jieba.posseg over the corpus text (up to `limit_chars`, whole files): chars/s, chars, s."""
    import logging

    import jieba
    import jieba.posseg

    from kg.corpus import read_document

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    texts, n = [], 0
    for p in sorted(corpus.glob("*.txt")):
        if n >= limit_chars:
            break
        text = read_document(p).text
        texts.append(text)
        n += len(text)
    t = time.perf_counter()
    for text in texts:
        for _ in jieba.posseg.cut(text):
            pass
    seconds = time.perf_counter() - t
    return n / seconds, n, seconds


# ---------------------------------------------------------------------------------------------
# 1 M triples


def _triples_child(n: int) -> None:
    """In a fresh process: make `n` realistic triples, write them as Turtle, print time and memory."""
    import pyoxigraph as ox

    from kg import rdf

    kgo, kgr, skos = "https://w3id.org/kg/ontology#", "https://w3id.org/kg/id/", "http://www.w3.org/2004/02/skos/core#"
    xsd = "http://www.w3.org/2001/XMLSchema#"
    nif = "http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#"
    labels = "铁西区民政局 红心物业 双报到 我为群众办实事 四平市委 社区党委 扫黄打非 街道办事处".split()
    classes = [kgo + c for c in ("Person", "Organisation", "Place", "Programme", "Policy")]
    integer, decimal = ox.NamedNode(xsd + "integer"), ox.NamedNode(xsd + "decimal")
    p = {k: ox.NamedNode(v) for k, v in {
        "type": rdf.RDF + "type", "pref": skos + "prefLabel", "alt": skos + "altLabel", "count": kgo + "mentionCount",
        "mentions": "https://schema.org/mentions", "begin": nif + "beginIndex", "end": nif + "endIndex",
        "anchor": nif + "anchorOf", "context": nif + "referenceContext", "conf": kgo + "confidence",
    }.items()}
    triples: list[ox.Triple] = []
    i = 0
    while len(triples) < n:
        h = hashlib.sha1(str(i).encode()).hexdigest()[:16]
        e = ox.NamedNode(f"{kgr}new/{['PERSON', 'ORG', 'PLACE'][i % 3]}/{h}")
        s = ox.NamedNode(f"{kgr}doc/p{i // 40:06d}#char={i % 9000},{i % 9000 + 12}")
        name = labels[i % len(labels)] + str(i)
        triples += [
            ox.Triple(e, p["type"], ox.NamedNode(classes[i % 5])),
            ox.Triple(e, p["pref"], ox.Literal(name, language="zh")),
            ox.Triple(e, p["alt"], ox.Literal(name[:4], language="zh")),
            ox.Triple(e, p["count"], ox.Literal(str(i % 17 + 1), datatype=integer)),
            ox.Triple(ox.NamedNode(f"{kgr}article/p{i // 40:06d}/{i % 7}"), p["mentions"], e),
            ox.Triple(s, p["begin"], ox.Literal(str(i % 9000), datatype=integer)),
            ox.Triple(s, p["end"], ox.Literal(str(i % 9000 + 12), datatype=integer)),
            ox.Triple(s, p["anchor"], ox.Literal(f"{name}在社区开展志愿服务活动，推进{labels[(i + 3) % len(labels)]}。")),
            ox.Triple(s, p["context"], ox.NamedNode(f"{kgr}doc/p{i // 40:06d}")),
            ox.Triple(e, p["conf"], ox.Literal(f"0.{i % 1000:03d}", datatype=decimal)),
        ]
        i += 1
    del triples[n:]
    triples.sort(key=lambda t: (t.subject.value, t.predicate.value, t.object.value))  # as graph_triples emits them
    before = _peak_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.ttl"
        t = time.perf_counter()
        rdf.write_turtle(triples, path)
        seconds = time.perf_counter() - t
        size = path.stat().st_size
    after = _peak_mb()
    print(json.dumps({"triples": len(triples), "seconds": seconds, "bytes": size, "peak_mb": after, "before_write_mb": before}))


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec, where getrusage's
    ru_maxrss carries over the peak of the process that forked it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def triples_benchmark(n: int) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--triples-child", str(n)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------------------------
# Report


def _same_bytes(a: Path, b: Path, names: tuple[str, ...]) -> dict[str, bool]:
    return {n: (a / n).read_bytes() == (b / n).read_bytes() for n in names}


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _kind(b: dict, name: str) -> str:
    """The peak MB of the processes kg names `name` in a measured build, or "n/a"."""
    mb = (b.get("kinds_mb") or {}).get(name)
    return "n/a" if mb is None else _fmt(mb, 0)


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def median_build(builds: Sequence[dict]) -> dict:
    """The build of median time among an odd number of timed builds."""
    return sorted(builds, key=lambda b: b["seconds"])[len(builds) // 2]


def one_file_added(corpus: Path, out: Path, added: Path, *, jobs: int, flags: Sequence[str]) -> list[dict]:
    """Rebuilds of the built `corpus` with `added` (a seed page, one line broken) added, timed
    REBUILDS times: a few seconds of work on a shared machine, whose median counts. Between two, the
    file is taken out again and the corpus rebuilt (not timed), as built before."""
    seed = sorted(SEEDS.glob("*.txt"))[0]
    rebuilds = []
    for i in range(REBUILDS):
        if i:
            added.unlink()
            kg_build(corpus, out, jobs=jobs, cache=True, flags=flags)
        added.write_bytes(seed.read_bytes().replace("。".encode(), "。\n".encode(), 1))
        rebuilds.append(kg_build(corpus, out, jobs=jobs, cache=True, flags=flags))
    return rebuilds


def kept_workers(corpus: Path, out: Path, added: Path, *, jobs: int, flags: Sequence[str]) -> list[dict]:
    """`one_file_added` with `--keep-workers`: a build without the file leaves a worker server (in a
    folder of the benchmark's own, stopped at the end), which the rebuilds extract with."""
    from kg import workers

    before = os.environ.get("KG_WORKERS_DIR")
    os.environ["KG_WORKERS_DIR"] = tempfile.mkdtemp(prefix="kgw")  # short: a socket's path has at most 107 bytes
    try:
        added.unlink(missing_ok=True)
        kg_build(corpus, out, jobs=jobs, cache=True, flags=[*flags, "--keep-workers"])
        end = time.monotonic() + 120
        while not any(workers.wait(lock.with_suffix(".sock"), 0) for lock in workers.folder().glob("*.lock")):
            if time.monotonic() > end:
                raise SystemExit("benchmark: the worker server did not start; see its log in " + os.environ["KG_WORKERS_DIR"])
            time.sleep(0.1)
        rebuilds = one_file_added(corpus, out, added, jobs=jobs, flags=[*flags, "--keep-workers"])
        if not all(" 1 extracted by the worker server" in b["stdout"] for b in rebuilds):
            raise SystemExit("benchmark: a rebuild with --keep-workers did not extract with the server")
        return rebuilds
    finally:
        workers.stop_all()
        shutil.rmtree(os.environ["KG_WORKERS_DIR"], ignore_errors=True)
        if before is None:
            del os.environ["KG_WORKERS_DIR"]
        else:
            os.environ["KG_WORKERS_DIR"] = before


def report(r: dict) -> str:
    lines = ["# kg benchmark", ""]
    lines.append(
        f"`{r['command']}` on {r['cores']} cores, Python {r['python']}, kg commit {r['commit']}. "
        "Seeds repeated: each copy is a file of its own."
    )
    for when in ("cpu_before", "cpu_after"):
        c = r.get(when)
        if c:
            lines.append(
                f"CPU check {when[4:]} the run: load average {c['load'][0]:.1f}; a fixed loop takes {c['one']:.2f} s alone "
                f"and {c['two']:.2f} s with two at once (equal when both cores are free)."
            )
    command = " ".join(["kg build --jobs 2 --no-cache", *r["flags"].split()])
    lines += ["", f"## Whole build: `{command}`, as a subprocess", ""]
    lines.append(
        "| corpus | files | characters | wall s | CPU s (all processes) | chars/s | peak MB, build's process | peak MB, self-check's process "
        "| peak MB, largest process | peak MB, process tree (RSS sum) | vs jieba.posseg |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, b in r["builds"].items():
        cps = b["chars"] / b["seconds"]
        tree = _fmt(b["tree_mb"], 0) if b.get("tree_mb") is not None else "n/a"
        cpu = _fmt(b["cpu_seconds"]) if b.get("cpu_seconds") is not None else "n/a"
        lines.append(
            f"| x{size} | {b['files']} | {b['chars']:,} | {_fmt(b['seconds'])} | {cpu} | {cps:,.0f} | "
            f"{_fmt(b['main_mb'], 0) if b.get('main_mb') is not None else 'n/a'} | {_kind(b, 'kg-self-check')} | {_fmt(b['max_process_mb'], 0)} | {tree} | "
            f"{cps / r['jieba']['cps']:.2f}x |"
        )
    lines.append("")
    for size, b in r["builds"].items():
        kinds = b.get("kinds_mb") or {}
        if kinds:
            each = ", ".join(f"{name} {_fmt(mb, 0)} MB" for name, mb in sorted(kinds.items()))
            lines.append(f"The peak of each kind of kg's processes (kg.workers.name_process), x{size}: {each}.")
    stage_names = sorted({k for b in r["builds"].values() for k in b.get("stages", {}) if k != "total"},
                         key=lambda k: ["load", "extract", "graph", "rdf", "html", "validate"].index(k)
                         if k in ("load", "extract", "graph", "rdf", "html", "validate") else 99)
    if stage_names:
        lines += ["", "Where the whole builds spend their wall time (`BuildReport.seconds`):", ""]
        lines.append("| corpus | " + " | ".join(stage_names) + " |")
        lines.append("|---|" + "---:|" * len(stage_names))
        for size, b in r["builds"].items():
            st = b.get("stages", {})
            lines.append(f"| x{size} | " + " | ".join(_fmt(st[k]) if k in st else "" for k in stage_names) + " |")
    j = r["jieba"]
    lines += ["", f"jieba.posseg (one process): {j['cps']:,.0f} chars/s over {j['chars']:,} characters of the same corpus ({_fmt(j['seconds'])} s)."]
    if r.get("stages"):
        s = r["stages"]
        lines += ["", f"## Stages in one process, x{s['size']} ({s['chars']:,} characters)", ""]
        lines.append("| stage | wall s | CPU s | chars/s (CPU) | share of CPU |")
        lines.append("|---|---:|---:|---:|---:|")
        total = sum(cpu for _, _, cpu, c in s["rows"] if c)
        for name, sec, cpu, chars in s["rows"]:
            cps = f"{chars / cpu:,.0f}" if chars and cpu > 0 else ""
            share = f"{100 * cpu / total:.0f}%" if chars else ""
            lines.append(f"| {name} | {_fmt(sec, 2)} | {_fmt(cpu, 2)} | {cps} | {share} |")
        wall = sum(sec for _, sec, _, c in s["rows"] if c)
        lines.append(f"| **all stages, one process** | {_fmt(wall, 2)} | {_fmt(total, 2)} | {s['chars'] / total:,.0f} | |")
        notes = s["notes"]
        lines += ["", f"{notes.get('mentions', 0):,} mentions, {notes.get('relations', 0):,} relations, "
                  f"{notes.get('triples_kg_ttl', 0):,} triples in kg.ttl, {notes.get('quads_mentions_trig', 0):,} quads in mentions.trig"
                  + (f", {notes['html_pages']:,} HTML files" if "html_pages" in notes else "")
                  + f"; peak memory of this process {_fmt(notes['stage_process_peak_mb'], 0)} MB."]
        for key in ("html", "validate"):
            if key in notes:
                lines.append(f"{key}: {notes[key]}.")
        if "validate_rechecked" in notes:
            again, of = notes["validate_rechecked"]
            lines.append(f"Documents whose per-document shapes the corpus-wide check ran again (their entities typed otherwise by the corpus): {again} of {of}.")
    if r.get("incremental"):
        inc = r["incremental"]
        flags_note = f" (`kg build --jobs 2 {inc['flags']}`)" if inc["flags"] else ""
        lines += ["", f"## Incremental: one file added to x{inc['size']}{flags_note}", ""]
        lines.append("| build | wall s | cache hits |")
        lines.append("|---|---:|---:|")
        lines.append(f"| clean, filling the cache | {_fmt(inc['cached_clean_seconds'])} | 0 |")
        runs = ", ".join(_fmt(x) for x in inc.get("all_seconds", [inc["seconds"]]))
        lines.append(f"| one file added, from the cache (median of {runs}) | {_fmt(inc['seconds'])} | {inc['hits']} of {inc['files']} |")
        if inc.get("warm_seconds") is not None:
            runs = ", ".join(_fmt(x) for x in inc["warm_all_seconds"])
            lines.append(f"| one file added, `--keep-workers`: extracted by the server an earlier build left (median of {runs}) | {_fmt(inc['warm_seconds'])} | {inc['hits']} of {inc['files']} |")
        lines.append(f"| clean `--no-cache` build of the same {inc['files']} files | {_fmt(inc['clean_again_seconds'])} | 0 |")
        for label, st in (("The rebuild", inc.get("stages")), ("The clean build", inc.get("clean_stages"))):
            if st:
                parts = ", ".join(f"{k} {_fmt(v)} s" for k, v in st.items() if k != "total")
                lines += ["", f"{label} spent: {parts}."]
        same = ", ".join(f"{k} {'identical' if v else '**differs**'}" for k, v in inc["same"].items())
        lines += ["", f"Against a clean `--no-cache` build of the same files: {same}."]
    t = r["triples"]
    lines += ["", "## Writing 1 M triples", ""]
    lines.append(
        f"`kg.rdf.write_turtle` of {t['triples']:,} synthetic triples (entity, label, NIF and statement shapes, sorted): "
        f"{_fmt(t['seconds'], 2)} s, {t['bytes'] / 2**20:,.0f} MB of Turtle; peak memory of the process "
        f"{_fmt(t['peak_mb'], 0)} MB ({_fmt(t['before_write_mb'], 0)} MB of it the triples in memory before writing)."
    )
    lines += ["", "## Targets (issue 7)", "", "| target | measured | |", "|---|---|---|"]
    for name, measured_, ok in r["checks"]:
        lines.append(f"| {name} | {measured_} | {_ok(ok)} |")
    return "\n".join(lines) + "\n"


def checks(r: dict, sizes: list[int]) -> list[tuple[str, str, bool]]:
    out = []
    big, small = max(sizes), min(sizes)
    b = r["builds"][big]
    out.append((f"x{big} build < {TARGET_SECONDS:.0f} s with --jobs 2", f"{b['seconds']:.1f} s", b["seconds"] < TARGET_SECONDS))
    peak = b["tree_mb"] if b.get("tree_mb") is not None else b["max_process_mb"]
    out.append((f"x{big} peak memory < 2 GB", f"{peak:,.0f} MB (process tree)", peak < TARGET_PEAK_MB))
    ratio = (b["chars"] / b["seconds"]) / r["jieba"]["cps"]
    out.append(("whole build at least as fast as jieba.posseg", f"{ratio:.2f}x", ratio >= 1.0))
    if big != small:
        growth = b["seconds"] / r["builds"][small]["seconds"]
        factor = big / small
        out.append((f"x{big} <= {TARGET_GROWTH * factor / 10:.1f} x x{small} (11 for x200/x20)", f"{growth:.2f}x",
                    growth <= TARGET_GROWTH * factor / 10))
    if r.get("incremental"):
        inc = r["incremental"]
        share = inc["seconds"] / inc["clean_again_seconds"]
        out.append(("one file added: < 15% of the clean build", f"{100 * share:.1f}%", share < TARGET_INCREMENTAL))
        if inc.get("warm_seconds") is not None:
            warm = inc["warm_seconds"] / inc["clean_again_seconds"]
            out.append(("one file added, `--keep-workers`: < 15% of the clean build", f"{100 * warm:.1f}%", warm < TARGET_INCREMENTAL))
        out.append(("incremental result equals a clean build", "bytes compared", all(inc["same"].values())))
    t = r["triples"]
    out.append(("1 M triples written in < 5 s", f"{t['seconds']:.2f} s", t["seconds"] < TARGET_TRIPLES_SECONDS))
    return out


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kg", "configs", "ontology"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200", help="repetitions of the seeds, comma-separated (default 20,200)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of the whole builds (default 2)")
    parser.add_argument("--triples", type=int, default=1_000_000, help="triples to write (default 1 M)")
    parser.add_argument("--jieba-chars", type=int, default=1_200_000, help="characters jieba.posseg reads (default 1.2 M, some 9 s)")
    parser.add_argument("--flags", default="", help="more `kg build` flags for the whole builds, e.g. '--no-validate'")
    parser.add_argument("--incremental-flags", default=None, help="`kg build` flags of the incremental test (default: --flags)")
    parser.add_argument("--stages-size", type=int, default=None, help="corpus of the per-stage timing (default: the largest)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage timing")
    parser.add_argument("--no-incremental", action="store_true", help="skip the incremental rebuild")
    parser.add_argument("--results", default=str(RESULTS), help="markdown file to write (default benchmarks/results.md)")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--triples-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.triples_child is not None:
        _triples_child(args.triples_child)
        return 0

    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    flags = args.flags.split()
    inc_flags = (args.flags if args.incremental_flags is None else args.incremental_flags).split()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="kg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    r: dict = {
        "command": "benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": _commit(),
        "builds": {},
        "flags": args.flags,
    }
    try:
        r["cpu_before"] = cpu_check()
        corpora = {n: make_corpus(work / f"corpus_x{n}", n) for n in sizes}
        for n in sizes:
            print(f"bench: kg build x{n} --jobs {args.jobs} --no-cache {args.flags} …", file=sys.stderr)
            b = kg_build(corpora[n], work / f"out_x{n}", jobs=args.jobs, cache=False, flags=flags)
            b["files"] = len(list(corpora[n].glob("*.txt")))
            b["chars"] = corpus_chars(corpora[n])
            r["builds"][n] = b
            print(f"bench:   {b['seconds']:.1f} s, {b['chars'] / b['seconds']:,.0f} chars/s, "
                  f"peak {b['max_process_mb']:.0f} MB / tree {b.get('tree_mb') or 0:.0f} MB", file=sys.stderr)

        print("bench: jieba.posseg …", file=sys.stderr)
        cps, chars, seconds = jieba_throughput(corpora[sizes[-1]], args.jieba_chars)
        r["jieba"] = {"cps": cps, "chars": chars, "seconds": seconds}

        big = sizes[-1]
        if not args.no_incremental:
            print(f"bench: incremental on x{big} …", file=sys.stderr)
            out = work / f"inc_x{big}"
            cached = kg_build(corpora[big], out, jobs=args.jobs, cache=True, flags=inc_flags)
            added = corpora[big] / "zz_added_page.txt"
            rebuilds = one_file_added(corpora[big], out, added, jobs=args.jobs, flags=inc_flags)
            inc = median_build(rebuilds)
            hits = int(inc["stdout"].split(" from cache")[0].rsplit("(", 1)[1])
            clean = kg_build(corpora[big], work / f"clean_x{big}", jobs=args.jobs, cache=False, flags=inc_flags)
            compared = ("kg.ttl", "mentions.jsonl", "mentions.trig", "kg.jsonld")
            same = _same_bytes(out, work / f"clean_x{big}", compared)
            print(f"bench: incremental on x{big} with --keep-workers …", file=sys.stderr)
            warm = kept_workers(corpora[big], out, added, jobs=args.jobs, flags=inc_flags)
            same |= {f"{name} (--keep-workers)": ok for name, ok in _same_bytes(out, work / f"clean_x{big}", compared).items()}
            r["incremental"] = {
                "size": big,
                "flags": " ".join(inc_flags),
                "clean_seconds": r["builds"][big]["seconds"],
                "cached_clean_seconds": cached["seconds"],
                "seconds": inc["seconds"],
                "all_seconds": [b["seconds"] for b in rebuilds],
                "hits": hits,
                "files": len(list(corpora[big].glob("*.txt"))),
                "clean_again_seconds": clean["seconds"],
                "stages": inc.get("stages", {}),
                "clean_stages": clean.get("stages", {}),
                "same": same,
                "warm_seconds": median_build(warm)["seconds"],
                "warm_all_seconds": [b["seconds"] for b in warm],
            }
            added.unlink()

        if not args.no_stages:
            at = args.stages_size or big
            print(f"bench: stages in one process on x{at} …", file=sys.stderr)
            stage_corpus = corpora.get(at) or make_corpus(work / f"corpus_x{at}", at)
            rows, notes = time_stages(stage_corpus, work)
            r["stages"] = {"size": at, "chars": corpus_chars(stage_corpus), "rows": rows, "notes": notes}
            gc.collect()

        print(f"bench: writing {args.triples:,} triples …", file=sys.stderr)
        r["triples"] = triples_benchmark(args.triples)
        r["cpu_after"] = cpu_check()
        r["checks"] = checks(r, sizes)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    text = report(r)
    Path(args.results).write_text(text, encoding="utf-8")
    print(text)
    return 1 if args.check and not all(ok for _, _, ok in r["checks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
