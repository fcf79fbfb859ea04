"""Atomic output folders: a build writes beside `--out` and swaps the result in only when complete.

Interrupting a build (SIGINT, SIGTERM, a crash) leaves the previous output as it was; two builds
into one folder at once are refused by a lock with a clear message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TypeVar

from kg.errors import OutputError

T = TypeVar("T")

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OutputError(f"{b}: cannot swap in the new output ({os.strerror(ctypes.get_errno())}).")


def replace_file(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write `data` (or its chunks, one after the other) to `path` in one step: into a temporary file
    beside it (named by this process, so concurrent writers do not share one), then renamed over
    it. Raises OSError, leaving no temporary file behind, when the folder cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, bytes | bytearray | memoryview):
            tmp.write_bytes(data)
        else:
            with tmp.open("wb") as fh:
                fh.writelines(data)
        tmp.replace(path)
    except BaseException:  # an error of the folder, or of the chunks as they are made
        tmp.unlink(missing_ok=True)
        raise


def pickled_path(folder: Path, name: str, key: str) -> Path:
    """Where `pickled` keeps `name` made under `key`."""
    return folder / f"{name}-{key}.pickle"


def pickled(folder: Path, name: str, key: str, make: Callable[[], T]) -> T:
    """`make()`, kept in `folder/<name>-<key>.pickle` and read from there while the key is the same.

    An unreadable file is made again; writing a new one removes the files of other keys of `name`
    (each change of the inputs would otherwise leave megabytes behind). Without a writable folder,
    `make()` each time: a cache only saves time."""
    path = pickled_path(folder, name, key)
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        pass  # none yet, or stale or broken: made again below
    value = make()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        replace_file(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        for old in folder.glob(f"{name}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    return value


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the lock of the output folder `out`: one build at a time writes it.

    A build takes it before extracting, so a second build into the same folder stops at once
    with a clear message instead of after all its work.
    """
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out.")
    lock_path = out.parent / f".{out.name}.lock"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "w")  # noqa: SIM115 - held for the whole build
    except OSError as err:
        raise OutputError(f"{out}: cannot be written ({err.strerror}: {err.filename}); choose another --out.") from err
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        lock.close()
        raise OutputError(f"{out}: another kg build is writing this folder; wait for it or choose another --out.") from err
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


@contextmanager
def atomic_output(
    out: Path, *, keep: tuple[str, ...] = ("README.md", ".gitignore", "screenshots"), locked: bool = False
) -> Iterator[Path]:
    """Yield a fresh folder beside `out`; on success it replaces `out` in one step.

    Files named in `keep` (the output README kept in git, screenshots of the browser tests) are
    carried over from the previous output. `locked`: the caller already holds `output_lock(out)`.
    """
    out = out.resolve()
    with nullcontext() if locked else output_lock(out):
        # under the lock, temporary folders beside `out` are leftovers of a killed build (SIGKILL)
        for stale in sorted(out.parent.glob(f".{out.name}.new-*")) + sorted(out.parent.glob(f".{out.name}.old-*")):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        except OSError as err:
            raise OutputError(f"{out}: cannot be written ({err.strerror}: {err.filename}); choose another --out.") from err
        try:
            yield tmp
            for name in keep:
                src = out / name
                if src.exists() and not (tmp / name).exists():
                    if src.is_dir():
                        shutil.copytree(src, tmp / name)
                    else:
                        shutil.copy2(src, tmp / name)
            os.chmod(tmp, 0o755)
            if out.exists():
                if _exchange(tmp, out):
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    old = out.parent / f".{out.name}.old-{os.getpid()}"
                    os.replace(out, old)
                    os.replace(tmp, out)
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, out)
        except OSError as err:
            # a full disk or a folder that became unwritable: one line, the previous output kept
            shutil.rmtree(tmp, ignore_errors=True)
            raise OutputError(f"{out}: writing the new output failed ({err}); the previous output is unchanged.") from err
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
