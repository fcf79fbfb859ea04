"""`kg build --keep-workers`: a worker server left by one build extracts for the next (kg.workers)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

import pytest

import kg.build
from kg import workers
from kg.build import build
from kg.cli import main
from kg.errors import ConfigError, KGError

from .test_scale import SEEDS, differing, outputs, seed_corpus

pytestmark = pytest.mark.slow  # each server loads the pipeline in a process of its own


@pytest.fixture
def folder(monkeypatch):
    """A folder of servers of the test's own (short: a socket's path has at most 107 bytes);
    every server in it is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="kgw"))
    monkeypatch.setenv("KG_WORKERS_DIR", str(path))
    yield path
    workers.stop_all()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Two seed pages: a third is the file a rebuild adds."""
    return seed_corpus(tmp_path / "corpus", 2)


def no_local_extraction(monkeypatch) -> None:
    """Fail the test if the build extracts in this process or starts a pool of its own (the
    self-check's process and the pages' are no pool)."""
    monkeypatch.setattr(kg.build, "extract_file", lambda *a: pytest.fail("extracted in the build's process"))
    for method in ("forkserver", "spawn"):
        context = type(kg.build.multiprocessing.get_context(method))
        monkeypatch.setattr(context, "Pool", lambda *a, **k: pytest.fail("the build started a pool"))


def gone(pid: int) -> bool:
    """The process has exited (a zombie too: here nobody may reap a process of another session)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def the_socket(folder: Path) -> Path:
    """The socket of the one server started in `folder` (its lock comes first, the socket once it is loaded)."""
    for _ in range(600):
        if locks := list(folder.glob("*.lock")):
            (lock,) = locks
            return lock.with_suffix(".sock")
        threading.Event().wait(0.05)
    pytest.fail(f"no server started in {folder}")


def test_a_build_leaves_a_server_that_the_next_build_extracts_with(corpus, folder, tmp_path, monkeypatch):
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    assert not first.served  # none ran: this build used a pool of its own, and started one
    assert workers.wait(the_socket(folder), 120)
    (name, pid), = workers.servers()
    assert pid is not None and the_socket(folder).stem == name

    shutil.copyfile(SEEDS[2], corpus / SEEDS[2].name)
    with monkeypatch.context() as m:
        no_local_extraction(m)
        second = build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    assert second.served and second.cache_hits == 2
    clean = tmp_path / "clean"
    build(corpus, clean, cache=False)
    assert not differing(outputs(out), outputs(clean))
    assert [n for n, _ in workers.servers()] == [name]  # the same server, still there, and no second one
    started = []
    with monkeypatch.context() as m:
        m.setattr(workers, "start", lambda *a, **k: started.append(a))
        third = build(corpus, out, cache=cache, jobs=2, keep_workers=True)  # nothing to extract
    assert not third.served and started == []  # one runs: none is started


def test_a_server_of_another_pipeline_is_not_asked(corpus, folder, tmp_path):
    """A server is named by all extraction depends on: a build that checks its documents where they
    are extracted and one that does not run different workers."""
    build(corpus, tmp_path / "out", cache=tmp_path / "cache", jobs=2, keep_workers=True)
    assert workers.wait(the_socket(folder), 120)
    report = build(corpus, tmp_path / "other", cache=tmp_path / "other-cache", jobs=2, keep_workers=True, validate=False)
    assert not report.served
    for _ in range(600):  # the second one, started as the build ended
        if len(list(workers.servers())) == 2:
            break
        threading.Event().wait(0.05)
    assert len(list(workers.servers())) == 2
    a = workers.server_name("v1", kg.build.DEFAULT_ONTOLOGY, None, True)
    assert a != workers.server_name("v2", kg.build.DEFAULT_ONTOLOGY, None, True) != workers.server_name("v1", kg.build.DEFAULT_ONTOLOGY, None, False)


def test_kg_build_keep_workers_then_kg_workers_status_and_stop(corpus, folder, tmp_path, capsys):
    command = ["build", str(corpus), "--out", str(tmp_path / "out"), "--keep-workers"]
    assert main(command) == 0
    sock = the_socket(folder)
    assert workers.wait(sock, 120)
    shutil.copyfile(SEEDS[2], corpus / SEEDS[2].name)
    capsys.readouterr()
    assert main(command) == 0
    assert "3 files (2 from cache, 1 extracted by the worker server)" in capsys.readouterr().out
    (name, pid), = workers.servers()
    assert main(["workers", "status"]) == 0
    assert f"{name}  pid {pid}" in capsys.readouterr().out
    assert main(["workers", "stop"]) == 0
    assert capsys.readouterr().out.startswith("stopped 1 worker server(s)")
    assert list(workers.servers()) == [] and not sock.exists()
    for _ in range(200):  # it let go of its lock and socket as it exits
        if gone(pid):
            break
        threading.Event().wait(0.05)
    assert gone(pid)


def test_a_server_that_cannot_load_its_pipeline_says_why_in_kg_workers_status(folder, tmp_path, capsys):
    sock = folder / "broken.sock"
    workers.start(sock, tmp_path / "no-such-ontology", None, False)
    for _ in range(600):  # until the traceback's last line is written and the server has let go of its lock
        if not workers.running(sock) and any("OntologyError" in last for _, last in workers.failed([])):
            break
        threading.Event().wait(0.05)
    assert not workers.wait(sock, 0)
    assert main(["workers", "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 worker server(s)")
    assert f"  broken  stopped, saying: kg.errors.OntologyError: {tmp_path / 'no-such-ontology'}: no such ontology folder." in out
    assert str(folder / "broken.log") in out
    # one that loads, under the same name, has a log of its own
    workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False)
    assert workers.wait(sock, 120)
    assert workers.stop_all() == ["broken"] and workers.failed([]) == []


def test_an_idle_server_stops_by_itself(folder):
    sock = folder / "idle.sock"
    workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False, idle=0.5)
    assert workers.wait(sock, 120)
    for _ in range(200):
        if not sock.exists():
            break
        threading.Event().wait(0.1)
    assert not sock.exists() and list(workers.servers()) == []


def test_a_second_server_for_the_same_socket_stops_at_once(folder):
    sock = folder / "one.sock"
    workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False)
    assert workers.wait(sock, 120)
    assert workers.serve(sock, kg.build.DEFAULT_ONTOLOGY, None, False) == 0  # returns without loading anything
    assert workers.wait(sock, 0) and len(list(workers.servers())) == 1
    assert workers.running(sock) and not workers.running(folder / "other.sock")


def test_a_folder_open_to_others_is_refused_before_anything_is_written(corpus, tmp_path, monkeypatch):
    open_folder = tmp_path / "w"
    open_folder.mkdir(mode=0o755)
    open_folder.chmod(0o755)
    monkeypatch.setenv("KG_WORKERS_DIR", str(open_folder))
    with pytest.raises(ConfigError, match=f"{open_folder}: .*closed to others"):
        build(corpus, tmp_path / "out", keep_workers=True)
    assert not (tmp_path / "out").exists()


def test_a_folder_too_long_for_a_socket_is_refused_before_anything_is_written(corpus, tmp_path, monkeypatch):
    deep = tmp_path / ("w" * 60) / ("w" * 60)
    monkeypatch.setenv("KG_WORKERS_DIR", str(deep))
    with pytest.raises(ConfigError, match="too long a path for the worker servers' sockets; set KG_WORKERS_DIR"):
        build(corpus, tmp_path / "out", keep_workers=True)
    assert not (tmp_path / "out").exists()


def test_keep_workers_with_a_dask_cluster_is_refused_before_anything_is_written(corpus, tmp_path, capsys):
    assert main(["build", str(corpus), "--out", str(tmp_path / "out"), "--keep-workers", "--dask", "tcp://127.0.0.1:1"]) == 1
    assert capsys.readouterr().err == "kg: error: --keep-workers and --dask: choose one (a Dask cluster keeps workers of its own).\n"
    assert not (tmp_path / "out").exists()


def test_a_server_that_hangs_up_fails_the_build_with_one_line_and_keeps_the_output(corpus, folder, tmp_path, monkeypatch):
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2)
    before = outputs(out)
    # a server that takes the connection and closes it, where the build looks for its server
    sock = workers.server_socket(kg.build.pipeline_version(kg.build.DEFAULT_ONTOLOGY, None), kg.build.DEFAULT_ONTOLOGY, None, True)
    assert sock.parent == folder
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(4)

    def hang_up() -> None:  # one connection: one file to extract
        conn, _ = listener.accept()
        conn.recv(1 << 16)
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    no_local_extraction(monkeypatch)
    shutil.copyfile(SEEDS[2], corpus / SEEDS[2].name)
    with pytest.raises(KGError, match=f"the worker server's process stopped while extracting .*{SEEDS[2].name}.*previous output is unchanged") as err:
        build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    assert "\n" not in str(err.value)
    listener.close()
    assert outputs(out) == before


def test_a_build_that_fails_while_the_server_extracts_hangs_up_and_the_server_serves_on(corpus, folder, tmp_path, monkeypatch):
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    assert workers.wait(the_socket(folder), 120)
    for seed in SEEDS[2:]:
        shutil.copyfile(seed, corpus / seed.name)
    with monkeypatch.context() as m:
        # the build fails on the first cached result it reads, with the new files sent to the server
        m.setattr(kg.build.GraphBuilder, "add", lambda *a: (_ for _ in ()).throw(RuntimeError("stop here")))
        with pytest.raises(RuntimeError, match="stop here"):
            build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    report = build(corpus, out, cache=cache, jobs=2, keep_workers=True)
    assert report.served and report.cache_hits == 2 and report.files == len(SEEDS)


def test_a_server_killed_while_a_connection_is_open_lets_the_next_one_start(folder):
    """The process serving a connection outlives its server; it must not hold the server's lock,
    or no server could start until it ends."""
    sock = folder / "s.sock"
    workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False)
    assert workers.wait(sock, 120)
    (_, pid), = workers.servers()
    conn = workers.connect(sock)
    conn.send([])  # nothing to extract: answered by the process forked for it, which then waits for more
    assert conn.recv() == ("value", [])
    try:
        os.kill(pid, signal.SIGKILL)  # no clean-up: the lock file stays, and the socket
        for _ in range(200):
            if gone(pid):
                break
            threading.Event().wait(0.05)
        assert list(workers.servers()) == []
        workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False)
        assert workers.wait(sock, 120) and len(list(workers.servers())) == 1
    finally:
        conn.close()


def test_a_server_stopped_while_it_forks_stops(folder):
    """SIGTERM as a connection's process is forked lands in an at-fork hook (logging's), where an
    exception would be swallowed: the server still stops, and cleans up."""
    sock = folder / "s.sock"
    workers.start(sock, kg.build.DEFAULT_ONTOLOGY, None, False)
    assert workers.wait(sock, 120)
    for _ in range(20):
        conn = workers.connect(sock)
        conn.close()
    assert workers.stop_all(timeout=30) and list(workers.servers()) == [] and not sock.exists()


def test_once_a_connection_fails_the_others_take_no_more_work():
    """A build whose server's process died does not wait for the rest of the extraction to fail."""
    from multiprocessing import Pipe

    slow, slow_end = Pipe()
    dead, dead_end = Pipe()
    served = []

    def answer_slowly() -> None:
        while True:
            try:
                work = slow_end.recv()
            except EOFError:
                return
            served.append(work)
            threading.Event().wait(0.05)
            slow_end.send(("value", [None] * len(work)))

    threading.Thread(target=answer_slowly, daemon=True).start()
    dead_end.close()  # the other process is gone
    args = [(f"/f{i}.txt",) for i in range(20)]
    with pytest.raises(KGError, match="the worker server's process stopped while extracting /f"):
        workers.extract([slow, dead], args, 1)
    assert len(served) <= 2  # the chunk it had, and perhaps one taken as the other failed
    slow.close()
