"""The experiment folder: layout, trial folders, metadata, the one-writer lock (G7, G9)."""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiotune.errors import (
    ExperimentLockedError,
    InvalidArgumentError,
    LogCorruptError,
    StorageError,
)
from aiotune.store.experiment_dir import ExperimentDir

REPO = Path(__file__).resolve().parents[2]

TRY_LOCK = """
import sys
from pathlib import Path
from aiotune.errors import ExperimentLockedError
from aiotune.store.experiment_dir import ExperimentDir
try:
    ExperimentDir(Path(sys.argv[1])).lock()
except ExperimentLockedError as exc:
    print(exc)
    sys.exit(3)
print("locked")
"""

HOLD_LOCK = """
import sys, time
from pathlib import Path
from aiotune.store.experiment_dir import ExperimentDir
ExperimentDir(Path(sys.argv[1])).lock()
print("locked", flush=True)
time.sleep(60)
"""


def try_lock_in_subprocess(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_layout(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "root" / "exp-1")
    exp.create()
    exp.create()  # idempotent
    assert exp.path == tmp_path / "root" / "exp-1"
    assert (exp.path / "trials").is_dir()
    assert exp.metadata_path.name == "metadata.json"
    assert exp.log_path.name == "events.log"
    assert exp.results_path.name == "results.csv"
    assert exp.tuner_path.name == "tuner.json"
    assert exp.lock_path.name == ".lock"
    assert {p.parent for p in (exp.metadata_path, exp.log_path, exp.results_path)} == {exp.path}
    trial = exp.trial_dir(3)
    assert trial == exp.path / "trials" / "3" and trial.is_dir()
    ckpt = exp.checkpoint_dir(12)
    assert ckpt == exp.path / "trials" / "12" / "checkpoints" and ckpt.is_dir()
    assert "exp-1" in repr(exp)


@pytest.mark.parametrize("bad", [-1, "1", "../x", True, 1.0, None])
def test_trial_folders_are_named_by_integer_id_only(tmp_path: Path, bad: object) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    with pytest.raises(InvalidArgumentError, match="trial id"):
        exp.trial_dir(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="trial id"):
        exp.checkpoint_dir(bad)  # type: ignore[arg-type]
    assert os.listdir(exp.path / "trials") == []


def test_create_fails_with_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="file"):
        ExperimentDir(tmp_path / "file" / "exp").create()


def test_metadata_round_trip(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    meta = {"tuner_name": "x", "n_workers": 4, "max": math.inf, "cfg": {"a": [1, 2]}}
    exp.write_metadata(meta)
    assert exp.read_metadata() == meta
    exp.metadata_path.write_text("[1, 2]")
    with pytest.raises(LogCorruptError, match="metadata.json"):
        exp.read_metadata()
    exp.metadata_path.unlink()
    with pytest.raises(StorageError) as info:
        exp.read_metadata()
    assert info.value.errno == errno.ENOENT


def test_second_process_is_refused_naming_our_pid(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    exp.lock()
    exp.lock()  # idempotent while held
    try:
        assert exp.locked
        assert exp.lock_path.read_text().strip() == str(os.getpid())
        out = try_lock_in_subprocess(tmp_path)
        assert out.returncode == 3, out.stderr
        assert out.stdout.strip() == f"experiment {tmp_path} locked by pid {os.getpid()}"
        # a second holder in the same process is refused as well
        with pytest.raises(ExperimentLockedError, match=f"locked by pid {os.getpid()}"):
            ExperimentDir(tmp_path).lock()
    finally:
        exp.unlock()
    assert not exp.locked
    out = try_lock_in_subprocess(tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "locked", out.stderr
    exp.unlock()  # a no-op when not held


def test_lock_is_released_when_the_holder_is_sigkilled(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ExperimentLockedError) as info:
            exp.lock()
        assert str(info.value) == f"experiment {tmp_path} locked by pid {holder.pid}"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        holder.stdout.close()  # type: ignore[union-attr]
    exp.lock()  # no stale lock: the kernel released it with the dead process
    try:
        assert exp.lock_path.read_text().strip() == str(os.getpid())
    finally:
        exp.unlock()


def test_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A fork (without exec) of the holder must not hold the lock after the holder lets go."""
    exp = ExperimentDir(tmp_path)
    exp.create()
    exp.lock()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.write(ready_w, b"x")  # the at-fork handlers have run by now
        time.sleep(5)
        os._exit(0)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    try:
        exp.unlock()
        other = ExperimentDir(tmp_path)
        other.lock()
        other.unlock()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_context_manager_locks_and_unlocks(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    with exp:
        assert exp.locked
        with pytest.raises(ExperimentLockedError):
            ExperimentDir(tmp_path).lock()
    assert not exp.locked
    with ExperimentDir(tmp_path):
        pass


def test_lock_without_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=".lock"):
        ExperimentDir(tmp_path / "missing").lock()


def test_lock_removes_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path)
    exp.create()
    stale = tmp_path / ".tuner.json.12345.0123abcd.tmp"
    stale.write_text("half")
    keep = tmp_path / ".notes.tmp"
    keep.write_text("mine")
    with exp:
        assert not stale.exists() and keep.exists()
