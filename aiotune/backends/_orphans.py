"""Find and kill trial processes a dead tuner left running (G8).

A trial process is identified by its process group *and* its start time, so a
reused pid can never make us kill a stranger:

* :func:`record_process` (called by a process backend right after it spawned an
  attempt as a session leader) writes ``trials/<id>/process.json`` with the
  pid, the process group id and the start time (``/proc/<pid>/stat`` field 22,
  clock ticks since boot);
* :func:`kill_orphans` (called by ``Tuner.load``) kills every recorded group
  whose leader is still the recorded process, and also every process group of
  a process whose environment names a checkpoint folder of this experiment
  (``AIOTUNE_CHECKPOINT_DIR``, set for every trial by the process backends):
  that second way finds orphans even when no ``process.json`` was written.

Linux only (``/proc``); elsewhere both functions do nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

import msgspec

from ..store.atomic import write_json_atomic
from ..wire import ENV_CHECKPOINT_DIR

__all__ = ["ProcessRecord", "find_orphans", "kill_orphans", "process_start_time", "record_process"]

logger = logging.getLogger("aiotune.resume")

PROCESS_FILE = "process.json"
_KILL_WAIT = 5.0


class ProcessRecord(msgspec.Struct, kw_only=True):
    """The process group of one trial attempt, as written to ``trials/<id>/process.json``."""

    pid: int
    pgid: int
    start_time: int
    attempt: int = 0


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks), or None if gone."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _stat(pid: int) -> tuple[int, int, str] | None:
    """``(pgid, start_time, state)`` of ``pid`` from ``/proc/<pid>/stat``; None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return int(fields[2]), int(fields[19]), fields[0].decode()
    except (IndexError, ValueError):
        return None


def record_process(trial_dir: Path, pid: int, attempt: int = 0) -> None:
    """Write ``process.json`` for a freshly spawned session leader ``pid`` (best effort)."""
    stat = _stat(pid)
    if stat is None:
        return
    record = ProcessRecord(pid=pid, pgid=stat[0], start_time=stat[1], attempt=attempt)
    try:
        write_json_atomic(Path(trial_dir) / PROCESS_FILE, record)
    except OSError as exc:  # StorageError is an OSError; losing this record is not fatal
        logger.warning("cannot record the process of %s: %s", trial_dir, exc)


def _live_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _environ_mentions(pid: int, needle: bytes) -> bool:
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return needle in data


def find_orphans(experiment_path: Path) -> set[int]:
    """Process group ids of live trial processes of the experiment at ``experiment_path``."""
    if not Path("/proc/self/stat").exists():
        return set()
    root = Path(experiment_path).resolve()
    own = {os.getpid(), os.getpgrp()}
    procs: dict[int, tuple[int, int, str]] = {}  # one pass over /proc
    for pid in _live_pids():
        stat = _stat(pid)
        if stat is not None and stat[2] != "Z":
            procs[pid] = stat
    members: dict[int, list[int]] = {}  # pgid -> start times of its live members
    for pgid, start, _state in procs.values():
        members.setdefault(pgid, []).append(start)
    groups: set[int] = set()
    trials = root / "trials"
    # 1. recorded groups: the leader itself, or members started after it (the leader died)
    with contextlib.suppress(OSError):
        for entry in trials.iterdir():
            path = entry / PROCESS_FILE
            if not path.is_file():
                continue
            try:
                rec = msgspec.json.decode(path.read_bytes(), type=ProcessRecord)
            except (OSError, msgspec.DecodeError):
                continue
            leader = procs.get(rec.pid)
            if leader is not None:
                # The leader's pid with another start time was reused: a stranger's group
                # (the kernel never reuses a pid while a group of that id has members).
                if leader[1] == rec.start_time:
                    groups.add(rec.pgid)
            elif any(start >= rec.start_time for start in members.get(rec.pgid, ())):
                groups.add(rec.pgid)
    # 2. any process whose environment names one of this experiment's trial folders
    needle = f"{ENV_CHECKPOINT_DIR}={trials}{os.sep}".encode()
    for pid, (pgid, _start, _state) in procs.items():
        if pid not in own and _environ_mentions(pid, needle):
            groups.add(pgid)
    return groups - own


def _group_alive(pgid: int) -> bool:
    for pid in _live_pids():
        st = _stat(pid)
        if st is not None and st[0] == pgid and st[2] != "Z":
            return True
    return False


def kill_orphans(experiment_path: Path, wait: float = _KILL_WAIT) -> list[int]:
    """SIGKILL every orphan trial process group (see :func:`find_orphans`); return their ids.

    Waits up to ``wait`` seconds for the groups to be gone (a blocking call:
    ``Tuner.load`` runs it before any event loop work).
    """
    groups = sorted(find_orphans(experiment_path))
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        logger.warning("killed orphan trial process group %d of %s", pgid, experiment_path)
    deadline = time.monotonic() + wait
    pending = list(groups)
    while pending and time.monotonic() < deadline:
        pending = [g for g in pending if _group_alive(g)]
        if pending:
            time.sleep(0.02)
    return groups
