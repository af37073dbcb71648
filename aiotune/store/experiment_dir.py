"""The experiment folder: its file layout, trial folders, and the one-writer lock (G7, G9).

Layout of ``<results root>/<tuner_name>/``::

    metadata.json  events.log  results.csv  tuner.json  .lock
    trials/<trial_id>/            stdout, stderr (written by backends)
    trials/<trial_id>/checkpoints/
"""

from __future__ import annotations

import errno as _errno
import fcntl
import os
import re
import time
import weakref
from pathlib import Path
from typing import Any

from ..errors import ExperimentLockedError, InvalidArgumentError
from .atomic import read_json, storage_error, write_json_atomic

__all__ = ["ExperimentDir"]

_PID_WAIT = 0.5  # seconds to wait for a fresh lock holder to write its pid
_TEMP_FILE = re.compile(r"\..+\.\d+\.[0-9a-f]{8}\.tmp")  # see aiotune.store.atomic.write_atomic


def _close_fd_in_child(ref: weakref.ref[ExperimentDir]) -> None:
    """After a fork, drop the child's copy of the lock fd so the lock dies with its owner."""
    owner = ref()
    if owner is not None and owner._lock_fd >= 0:
        try:
            os.close(owner._lock_fd)
        except OSError:
            pass
        owner._lock_fd = -1


class ExperimentDir:
    """Paths of one experiment folder, its trial folders, metadata and the writer lock.

    Implements :class:`aiotune.backends.base.ExperimentPaths`.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path).absolute()  # trials run elsewhere (cwd: their script)
        self._lock_fd = -1

    def __repr__(self) -> str:
        held = ", locked" if self._lock_fd >= 0 else ""
        return f"ExperimentDir({str(self._path)!r}{held})"

    @property
    def path(self) -> Path:
        """The experiment folder."""
        return self._path

    @property
    def metadata_path(self) -> Path:
        """``metadata.json``: tuner arguments and user metadata (JSON)."""
        return self._path / "metadata.json"

    @property
    def log_path(self) -> Path:
        """``events.log``: the append-only event log."""
        return self._path / "events.log"

    @property
    def results_path(self) -> Path:
        """``results.csv``: one row per report, rewritten atomically."""
        return self._path / "results.csv"

    @property
    def tuner_path(self) -> Path:
        """``tuner.json``: the state ``Tuner.load`` rebuilds from."""
        return self._path / "tuner.json"

    @property
    def lock_path(self) -> Path:
        """``.lock``: flock'd by the one tuner writing this experiment."""
        return self._path / ".lock"

    @property
    def trials_path(self) -> Path:
        """``trials/``: one folder per trial id."""
        return self._path / "trials"

    def create(self) -> None:
        """Create the folder (and its parents) and ``trials/``; StorageError on failure."""
        try:
            self.trials_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, "cannot create experiment folder", self._path) from exc

    def _trial_path(self, trial_id: int) -> Path:
        if isinstance(trial_id, bool) or not isinstance(trial_id, int) or trial_id < 0:
            raise InvalidArgumentError(f"trial id must be a non-negative int, got {trial_id!r}")
        return self.trials_path / str(int(trial_id))

    def trial_dir(self, trial_id: int) -> Path:
        """``trials/<trial_id>``, created on demand (named by the integer id only)."""
        path = self._trial_path(trial_id)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, "cannot create trial folder", path) from exc
        return path

    def checkpoint_dir(self, trial_id: int) -> Path:
        """``trials/<trial_id>/checkpoints``, created on demand."""
        path = self._trial_path(trial_id) / "checkpoints"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, "cannot create checkpoint folder", path) from exc
        return path

    @property
    def locked(self) -> bool:
        """True while this object holds the experiment's lock."""
        return self._lock_fd >= 0

    def lock(self) -> None:
        """Take the experiment's exclusive lock (``flock`` on ``.lock``) and write our pid into it.

        The kernel releases the lock when this process dies, so a crash never
        leaves a stale lock. Idempotent while held. Once locked, temp files a
        killed writer left in the folder are removed. Raises ExperimentLockedError
        ("experiment <path> locked by pid N") when another holder has it, and
        StorageError when the lock file cannot be opened or written.
        """
        if self._lock_fd >= 0:
            return
        path = self.lock_path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error(exc, "cannot open lock file", path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (_errno.EWOULDBLOCK, _errno.EAGAIN, _errno.EACCES):
                os.close(fd)
                raise storage_error(exc, "cannot lock", path) from exc
            pid = _read_pid(fd)
            os.close(fd)
            holder = f"pid {pid}" if pid is not None else "another process (pid unknown)"
            raise ExperimentLockedError(f"experiment {self._path} locked by {holder}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, "cannot write lock file", path) from exc
        self._lock_fd = fd
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _close_fd_in_child(ref))
        self._remove_stale_temp_files()

    def _remove_stale_temp_files(self) -> None:
        """Delete snapshot temp files a killed writer left behind (safe: we hold the lock)."""
        try:
            names = os.listdir(self._path)
        except OSError:
            return
        for name in names:
            if _TEMP_FILE.fullmatch(name):
                try:
                    os.unlink(self._path / name)
                except OSError:
                    pass

    def unlock(self) -> None:
        """Release the lock (clearing the pid in the file); a no-op when not held."""
        fd, self._lock_fd = self._lock_fd, -1
        if fd < 0:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> ExperimentDir:
        self.lock()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.unlock()

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Write ``metadata.json`` atomically (JSON; NaN/inf kept); StorageError on I/O failure."""
        write_json_atomic(self.metadata_path, metadata, indent=2)

    def read_metadata(self) -> dict[str, Any]:
        """Read ``metadata.json``; StorageError if unreadable, LogCorruptError if not an object."""
        return read_json(self.metadata_path, dict[str, Any])


def _read_pid(fd: int) -> int | None:
    """The pid a lock holder wrote, waiting briefly for a holder that has just locked."""
    deadline = time.monotonic() + _PID_WAIT
    while True:
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except OSError:
            return None
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
