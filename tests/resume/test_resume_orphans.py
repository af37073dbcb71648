"""Orphan trial processes: found by record (pgid + start time) or environment, never a stranger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiotune.backends._orphans import (
    PROCESS_FILE,
    ProcessRecord,
    _group_alive,
    find_orphans,
    kill_orphans,
    process_start_time,
    record_process,
)
from aiotune.errors import ExperimentLockedError
from aiotune.store.atomic import write_json_atomic
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.wire import ENV_CHECKPOINT_DIR


def _spawn(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    code = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)']); time.sleep(60)"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _wait_children(pgid: int, n: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        members = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pgid]
        if len(members) >= n:
            return
        time.sleep(0.02)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_recorded_group_is_killed_with_its_grandchild(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    exp.create()
    proc = _spawn()
    try:
        _wait_children(proc.pid, 2)
        record_process(exp.trial_dir(0), proc.pid, attempt=0)
        rec = (exp.trial_dir(0) / PROCESS_FILE).read_bytes()
        assert str(process_start_time(proc.pid)).encode() in rec
        assert find_orphans(exp.path) == {proc.pid}
        assert kill_orphans(exp.path) == [proc.pid]
        proc.wait(timeout=5)
        assert not _group_alive(proc.pid)  # the grandchild is gone too
    finally:
        _kill_group(proc)


def test_a_reused_pid_is_not_mistaken_for_a_trial(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    exp.create()
    proc = _spawn()
    try:
        start = process_start_time(proc.pid)
        assert start is not None
        stale = ProcessRecord(pid=proc.pid, pgid=proc.pid, start_time=start + 12345)
        write_json_atomic(exp.trial_dir(0) / PROCESS_FILE, stale)
        # The live process with that pid started at another time: not the recorded trial.
        assert find_orphans(exp.path) == set()
        assert proc.poll() is None
    finally:
        _kill_group(proc)


def test_found_by_its_environment_without_a_record(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    exp.create()
    env = dict(os.environ)
    env[ENV_CHECKPOINT_DIR] = str(exp.checkpoint_dir(3))
    other = dict(os.environ)
    other[ENV_CHECKPOINT_DIR] = str(tmp_path / "elsewhere" / "trials" / "3" / "checkpoints")
    mine, stranger = _spawn(env), _spawn(other)
    try:
        _wait_children(mine.pid, 2)
        assert find_orphans(exp.path) == {mine.pid}
        kill_orphans(exp.path)
        mine.wait(timeout=5)
        assert stranger.poll() is None
    finally:
        for p in (mine, stranger):
            _kill_group(p)


def test_load_refuses_a_locked_experiment_and_kills_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    backend = SimulatorBackend("synthetic-lc")
    Tuner(
        trial_backend=backend,
        scheduler=RandomSearch(backend.blackbox.config_space, "valid_error", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=2),
        n_workers=1,
        tuner_name="held",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    ).run()
    exp = ExperimentDir(tmp_path / "held")
    env = dict(os.environ)
    env[ENV_CHECKPOINT_DIR] = str(exp.checkpoint_dir(0))
    trial = _spawn(env)
    holder = ExperimentDir(tmp_path / "held")
    holder.lock()  # a live tuner holds it
    try:
        with pytest.raises(ExperimentLockedError, match=f"locked by pid {os.getpid()}"):
            Tuner.load(tmp_path / "held")
        assert trial.poll() is None  # a live tuner's trial is not an orphan
    finally:
        holder.unlock()
        _kill_group(trial)


def test_a_grandchild_outliving_its_recorded_leader_is_found(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    exp.create()
    code = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)']); time.sleep(0.5)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        _wait_children(proc.pid, 2)
        record_process(exp.trial_dir(0), proc.pid)
        proc.wait(timeout=10)  # the leader is gone, its grandchild is not
        assert _group_alive(proc.pid)
        assert find_orphans(exp.path) == {proc.pid}
        kill_orphans(exp.path)
        assert not _group_alive(proc.pid)
    finally:
        _kill_group(proc)
