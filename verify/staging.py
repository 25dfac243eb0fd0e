r"""Signals and leftovers of report staging folders.

* :func:`terminate_like_interrupt`: while the CLI runs, ``SIGTERM`` raises :class:`Terminated`
  (a ``KeyboardInterrupt``), so that exactly the Ctrl-C path runs: the report writer's
  ``with`` block removes its staging folder, nothing is published, earlier reports and
  ``latest`` are untouched, and the CLI exits with 143 (128 + 15).
* :class:`StagingLock`: a run holds an exclusive ``flock`` on ``<out>/.run-lock-<id>`` for
  as long as it lives and names its staging folder in it. The kernel releases the lock when the
  process (and any forked worker that inherited the descriptor) is gone, however it ended
  (``SIGKILL``, power loss aside). :func:`remove_stale` — called when a run starts — removes the
  staging folders named by lock files that nobody holds, and only those: a live run's folder, or
  a folder without a lock file, is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StagingLock", "Terminated", "remove_stale", "terminate_like_interrupt"]

LOCK_PREFIX = ".run-lock-"
STAGING_PREFIX = ".staging-"

try:  # POSIX only; elsewhere the lock is a plain file and nothing is ever removed
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM (handled like Ctrl-C; exit code 143)."""


@contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in this process (a forked child
    that inherited the handler dies of the signal as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked worker: default action
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StagingLock:
    r"""Hold ``<out_root>/.run-lock-<id>`` locked while the run lives (see module doc).

    Use ``with StagingLock(out) as lock, ReportWriter(out, name) as writer:`` and then
    ``lock.attach(writer.staging)``: the writer's cleanup runs before the lock is released.
    """

    def __init__(self, out_root: str | Path) -> None:
        self.out_root = Path(out_root)
        self.path = self.out_root / f"{LOCK_PREFIX}{uuid.uuid4().hex[:12]}"
        self._fd: int | None = None

    def __enter__(self) -> StagingLock:
        self.out_root.mkdir(parents=True, exist_ok=True)
        remove_stale(self.out_root)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd
        return self

    def attach(self, staging: str | Path) -> None:
        """Name a staging folder of this run in the lock file."""
        if self._fd is not None:
            os.write(self._fd, f"{Path(staging).name}\n".encode())

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                os.close(self._fd)  # releases the lock
                self._fd = None


def remove_stale(out_root: str | Path) -> list[Path]:
    """Remove the staging folders of runs that are no longer alive (their lock file is not
    held); return the folders removed. Folders of live runs and folders no lock file names
    are left alone."""
    root = Path(out_root)
    removed: list[Path] = []
    if fcntl is None or not root.is_dir():
        return removed
    for lock in sorted(root.glob(f"{LOCK_PREFIX}*")):
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # held: the run is alive
            text = lock.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                name = line.strip()
                if not name.startswith(STAGING_PREFIX) or "/" in name or name in (".", ".."):
                    continue
                folder = root / name
                if folder.is_dir() and not folder.is_symlink():
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return removed
