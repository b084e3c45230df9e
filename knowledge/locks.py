"""One serving process per data directory, when its Chroma store is embedded.

The embedded Chroma store (a ``PersistentClient`` in ``<data_dir>/chroma``) is not safe for two writer
processes, so the process that serves a data directory (``Recommender.from_settings``: the web chat, the
terminal chat, an application that embeds us) and an index build that rewrites it hold
``<data_dir>/.serve.lock``: an ``fcntl.flock`` that the kernel drops when the process exits, however it
exits (``kill -9`` included), so a crash never leaves a stale lock. The file holds the holder's pid, which
the refusal names.

Within one process the lock is shared by reference count: several recommenders, and the index build that
``from_settings`` may run, hold it together. SQLite conversations are safe for several processes, and a
Chroma server (``chroma = "http://..."``) needs no lock; reading an index (``crs-agent status``, the
evaluation workers with their throw-away memory) takes none.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.errors import DataDirBusyError

__all__ = ["SERVE_LOCK", "ServeLease", "acquire_serve_lock", "needs_serve_lock", "serve_lock", "serving"]

SERVE_LOCK = ".serve.lock"


@dataclass
class _Held:
    fd: int
    count: int = 0


_guard = threading.Lock()
_held: dict[Path, _Held] = {}  # lock file -> this process's open, locked descriptor and its holders


class ServeLease:
    """One holder's share of a data directory's serve lock. ``release`` is idempotent; the lock itself is
    released when the process's last lease on that directory is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        with _guard:
            if self._released:
                return
            self._released = True
            held = _held.get(self.path)  # None in a forked child, which never held its parent's lock
            if held is None:
                return
            held.count -= 1
            if held.count == 0:
                del _held[self.path]
                fcntl.flock(held.fd, fcntl.LOCK_UN)
                os.close(held.fd)

    def __enter__(self) -> ServeLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_file(path: Path) -> int:
    """Open and lock ``path`` without blocking; on refusal name the pid that holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the holder's pid must survive our attempt
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        raise DataDirBusyError(path.parent, int(holder) if holder.isdigit() else None) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _forget_in_child() -> None:
    """A forked child is another process: it holds none of its parent's locks and must never unlock them
    (``flock`` locks belong to the open file, which the child shares)."""
    global _guard
    _guard = threading.Lock()
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def acquire_serve_lock(data_dir: Path) -> ServeLease:
    """Hold ``data_dir``'s serve lock (shared with this process's other holders); raise
    :class:`DataDirBusyError` when another process holds it."""
    path = data_dir.resolve() / SERVE_LOCK
    with _guard:
        held = _held.get(path)
        if held is None:
            held = _held[path] = _Held(_lock_file(path))
        held.count += 1
    return ServeLease(path)


def needs_serve_lock(settings: Settings) -> bool:
    """Only an embedded Chroma store is one process's; a Chroma server is shared by design."""
    return settings.chroma == "embedded"


def serve_lock(settings: Settings) -> ServeLease | None:
    """The serve lock of ``settings.data_dir`` when its Chroma store is embedded, else ``None``."""
    return acquire_serve_lock(settings.data_dir) if needs_serve_lock(settings) else None


@contextmanager
def serving(settings: Settings) -> Iterator[ServeLease | None]:
    """``serve_lock`` for the duration of a ``with`` block (an index build)."""
    lease = serve_lock(settings)
    try:
        yield lease
    finally:
        if lease is not None:
            lease.release()
