"""Extraction workers kept loaded between builds: `kg build --keep-workers`, `kg workers`.

Most of a one-file rebuild's extraction is its workers starting: a server process imports spaCy and
the NER (0.6 s), and a worker forked from it loads the ontology and the pipeline (0.9 s) before it
reads the file (0.2 s). Meanwhile the build's own process reads its cache and waits, and the start's CPU time is
taken from everything else the build does on two cores.

A build run with `--keep-workers` leaves a server behind: a process that loads the pipeline once and
waits on a Unix socket (in a folder only its user can enter). A later build with the same pipeline
connects to it; each connection is served by a process forked from the loaded server, which extracts
the files it is sent exactly as a worker of the build's own pool does (`kg.build.extract_file`). The
server's name is a hash of everything extraction depends on (`kg.build.pipeline_version`) and the
Python that runs it, so a build never asks a server of other code, ontology, config or model: a
change makes a new server, and the old one stops once it has been idle for `IDLE` seconds (or with
`kg workers stop`).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kg.errors import ConfigError, KGError

IDLE = 900.0  # seconds without a connection after which a server stops
# a Unix socket's path has at most 107 bytes (103 on macOS); a server's is its folder's, "/", its
# 16-character name and ".sock" (and, as it is made, the server's pid: 8 more)
_LONGEST_FOLDER = 103 - 1 - 16 - 5 - 8
_TICK = 5.0  # how often an idle server looks whether its socket is still its own


def name_process(name: str) -> None:
    """This process named `name` where the system shows it (Linux: /proc/self/comm, what `ps`,
    `top` and the benchmark read; 15 bytes at most), so that kg's processes tell one another
    apart: kg-extract, kg-pages, kg-self-check, kg-workers. Elsewhere nothing changes."""
    with contextlib.suppress(OSError):
        with open("/proc/self/comm", "w", encoding="ascii") as fh:
            fh.write(name[:15])


def folder() -> Path:
    """Where the servers' sockets live: $KG_WORKERS_DIR, else $XDG_RUNTIME_DIR/kg, else a folder of
    this user's in the temporary folder; made if missing, and refused unless only its owner, this
    user, can enter it (a process that can connect can have files read)."""
    if env := os.environ.get("KG_WORKERS_DIR"):
        path = Path(env)
    elif runtime := os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(runtime) / "kg"
    else:
        path = Path(tempfile.gettempdir()) / f"kg-workers-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as err:
        raise ConfigError(f"{path}: cannot make the worker servers' folder ({err.strerror}).") from err
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ConfigError(f"{path}: the worker servers' folder must belong to this user and be closed to others (chmod 700).")
    if len(os.fsencode(path.resolve())) > _LONGEST_FOLDER:
        raise ConfigError(f"{path}: too long a path for the worker servers' sockets; set KG_WORKERS_DIR to a folder of at most {_LONGEST_FOLDER} bytes.")
    return path


def server_name(version: str, ontology: Path, config: Path | None, check: bool) -> str:
    """The name of the server for a pipeline: its version (`kg.build.pipeline_version`: all of kg's
    code, the config, model, ontology and cue words), where its inputs are, and the Python."""
    h = hashlib.blake2b(digest_size=8)
    for part in (version, str(ontology.resolve()), str(config.resolve()) if config else "", str(check), sys.executable):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def server_socket(version: str, ontology: Path, config: Path | None, check: bool) -> Path:
    """Where the server for a pipeline listens (`server_name` in `folder()`)."""
    return folder() / f"{server_name(version, ontology, config, check)}.sock"


def connect(sock: Path) -> Connection | None:
    """A connection to the server at `sock`, or None when none listens there."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.fspath(sock))
    except OSError:  # no such file, a server that stopped (refused), a name too long
        s.close()
        return None
    return Connection(s.detach())


def connections(sock: Path, n: int) -> list[Connection] | None:
    """`n` connections to the server at `sock` (each served by a process of its own), or None."""
    conns: list[Connection] = []
    for _ in range(n):
        conn = connect(sock)
        if conn is None:
            for c in conns:
                c.close()
            return None
        conns.append(conn)
    return conns


def hang_up(conn: Connection) -> None:
    """Close `conn`, waking a thread that waits on it (closing alone would leave it waiting)."""
    with contextlib.suppress(OSError):
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    conn.close()


def start(sock: Path, ontology: Path, config: Path | None, check: bool, *, idle: float = IDLE) -> None:
    """Start a server at `sock` in the background, in a session of its own (it outlives this process);
    what it says goes to `<sock>.log`. A second server for the same socket stops at once."""
    cmd = [sys.executable, "-m", "kg.workers", "serve", os.fspath(sock), "--ontology", os.fspath(ontology.resolve()), "--idle", str(idle)]
    if config is not None:
        cmd += ["--config", os.fspath(config.resolve())]
    if check:
        cmd.append("--check")
    with open(sock.with_suffix(".log"), "ab") as log:
        # through a shell that puts it in the background and returns: not a child of this process,
        # which would have to wait for it
        subprocess.run(
            ["/bin/sh", "-c", '"$@" &', "kg-workers", *cmd],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, check=True,
        )


def wait(sock: Path, timeout: float) -> bool:
    """Whether a server listens at `sock` within `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        conn = connect(sock)
        if conn is not None:
            conn.close()
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


def extract(conns: Sequence[Connection], args: Sequence[tuple], chunk: int) -> list:
    """`kg.build.extract_file(*a)` for each of `args`, in that order, by the server's processes behind
    `conns`, a chunk of `chunk` at a time to whichever is free."""
    from concurrent.futures import ThreadPoolExecutor

    results: list[Any] = [None] * len(args)
    chunks = iter(range(0, len(args), chunk))
    failed = threading.Event()  # one connection failed: the others take no more, the build fails

    def run(conn: Connection) -> None:
        for i in chunks:  # a shared iterator: next() is atomic under the GIL
            if failed.is_set():
                return
            share = args[i : i + chunk]
            try:
                conn.send(share)
                kind, value = conn.recv()
            except (EOFError, OSError) as err:
                failed.set()
                raise KGError(
                    f"the worker server's process stopped while extracting {share[0][0]} ({err or 'no answer'}); "
                    "the previous output is unchanged. Stop it with `kg workers stop` and build again."
                ) from None
            if kind == "error":
                failed.set()
                raise value
            results[i : i + len(value)] = value

    with ThreadPoolExecutor(len(conns), thread_name_prefix="kg-worker-conn") as pool:
        for future in [pool.submit(run, c) for c in conns]:
            future.result()
    return results


# ---------------------------------------------------------------------------------------------
# The server


def serve(sock: Path, ontology: Path, config: Path | None, check: bool, *, idle: float = IDLE) -> int:
    """Load the pipeline, then serve connections at `sock` until idle for `idle` seconds, stopped
    (SIGTERM), or its socket is taken away. One server a socket: a second stops at once."""
    lock = open(sock.with_suffix(".lock"), "a+")  # noqa: SIM115 (held for the server's life)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return 0  # another server has it
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    with contextlib.suppress(OSError):
        os.truncate(sock.with_suffix(".log"), 0)  # the log of this server's life, not of one before that failed
    from kg.build import load_worker, worker_gc

    name_process("kg-workers")
    load_worker(ontology, config, check)
    worker_gc()  # the pipeline, shared by every forked process, out of the collector's sight
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the connections' processes are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fresh = sock.with_name(f"{sock.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        fresh.unlink()
    listener.bind(os.fspath(fresh))
    listener.listen(16)
    os.replace(fresh, sock)  # the socket appears once the pipeline is loaded
    inode = sock.stat().st_ino

    def stop(signum: int, frame: object) -> None:
        # cleans up and exits here: a handler can run inside an at-fork hook (logging's, as a
        # connection's process is forked), which swallows an exception raised to unwind the loop
        _clean_up(sock, inode)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    listener.settimeout(min(idle, _TICK))
    last = time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last > idle or not _ours(sock, inode):
                    return 0
                continue
            last = time.monotonic()
            if os.fork() == 0:
                try:
                    listener.close()
                    lock.close()  # the server's alone: a server that stops frees its socket's name for the next
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    conn.setblocking(True)
                    _serve_connection(Connection(conn.detach()))
                finally:
                    os._exit(0)  # never back into the server's loop
            conn.close()
    finally:
        _clean_up(sock, inode)


def _clean_up(sock: Path, inode: int) -> None:
    """What a server that stops leaves: its socket and lock gone, and its log if it said nothing."""
    if _ours(sock, inode):
        sock.unlink()
    sock.with_suffix(".lock").unlink(missing_ok=True)  # a server that opened it meanwhile stops, as it would have
    log = sock.with_suffix(".log")
    with contextlib.suppress(OSError):
        if not log.stat().st_size:
            log.unlink()


def _ours(sock: Path, inode: int) -> bool:
    try:
        return sock.stat().st_ino == inode
    except OSError:
        return False


def _serve_connection(conn: Connection) -> None:
    """Extract what comes in over `conn` until it closes: a list of `extract_file` arguments in,
    ("value", their results) or ("error", what was raised) out."""
    from kg.build import extract_file

    while True:
        try:
            work = conn.recv()
        except (EOFError, OSError):
            return
        try:
            outcome: tuple[str, Any] = ("value", [extract_file(*a) for a in work])
        except Exception as err:  # handed to the build, which raises it
            outcome = ("error", err)
        try:
            conn.send(outcome)
        except Exception as err:  # an unpicklable error, or a build that went away
            with contextlib.suppress(Exception):
                conn.send(("error", KGError(f"{outcome[1]!r} ({err})")))
            return


# ---------------------------------------------------------------------------------------------
# `kg workers status | stop`


def servers() -> Iterator[tuple[str, int | None]]:
    """The servers in `folder()`: (name, pid) for each running one (it holds its lock)."""
    for lock_path in sorted(folder().glob("*.lock")):
        if (text := _held(lock_path)) is not None:
            yield lock_path.stem, int(text) if text.isdigit() else None


def running(sock: Path) -> bool:
    """Whether the server of `sock` runs: listening, or loading its pipeline (it holds its lock)."""
    return _held(sock.with_suffix(".lock")) is not None


def _held(lock_path: Path) -> str | None:
    """What a lock file says (its server's pid) while a server holds it; None when none does."""
    try:
        fh = open(lock_path)  # noqa: SIM115
    except FileNotFoundError:  # no server, or one that just stopped
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip()
    return None


def stop_all(*, timeout: float = 10.0) -> list[str]:
    """Stop every running server (SIGTERM, then wait for it to let go of its lock); their names."""
    stopped = []
    for name, pid in list(servers()):
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            stopped.append(name)
    end = time.monotonic() + timeout
    while any(n in stopped for n, _ in servers()) and time.monotonic() < end:
        time.sleep(0.05)
    return stopped


def _workers(args: argparse.Namespace) -> int:
    if args.action == "stop":
        names = stop_all()
        print(f"stopped {len(names)} worker server(s)" + (": " + ", ".join(names) if names else ""))
    else:
        live = list(servers())
        print(f"{len(live)} worker server(s) in {folder()}")
        for name, pid in live:
            print(f"  {name}  pid {pid}")
        for name, last in failed(live):
            print(f"  {name}  stopped, saying: {last}")
    return 0


def failed(running: Sequence[tuple[str, int | None]]) -> list[tuple[str, str]]:
    """The servers not running whose log says something (a server that could not load its pipeline
    says why there), with the log's last line."""
    names = {name for name, _ in running}
    out = []
    for log in sorted(folder().glob("*.log")):
        if log.stem not in names and log.stat().st_size:
            lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            out.append((log.stem, f"{lines[-1] if lines else ''} (the whole log: {log})"))
    return out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("workers", help="the extraction servers `kg build --keep-workers` leaves running")
    p.add_argument("action", choices=("status", "stop"), help="list them, or stop them all")
    p.set_defaults(func=_workers)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m kg.workers serve SOCKET ...`: what `start` runs."""
    import kg.lean  # noqa: F401 (spaCy without its command line: the server loads sooner)

    parser = argparse.ArgumentParser(prog="python -m kg.workers")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("socket")
    s.add_argument("--ontology", required=True)
    s.add_argument("--config", default=None)
    s.add_argument("--check", action="store_true")
    s.add_argument("--idle", type=float, default=IDLE)
    args = parser.parse_args(argv)
    return serve(Path(args.socket), Path(args.ontology), Path(args.config) if args.config else None, args.check, idle=args.idle)


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)  # without freeing the pipeline object by object
