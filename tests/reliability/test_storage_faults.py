"""Storage faults: full disk, RLIMIT_FSIZE, fsync EIO (fail-stop, G5); torn, corrupt logs (G3)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiotune.errors import AiotuneError, LogCorruptError, StorageError
from aiotune.events import ResultEvent
from aiotune.store.event_log import EventLog, read_log
from aiotune.store.records import LogHeader, TrialAdded
from aiotune.tuner import Tuner

from .conftest import FAULTY, SCRIPTS, ListScheduler, gone_soon, zombie_children

ROOT = Path(__file__).resolve().parents[2]


class Inject:
    """Callback: after ``after`` results, run ``fault`` on the tuner's event log."""

    def __init__(self, after: int, fault: Any) -> None:
        self.after, self.fault = after, fault
        self.results = 0
        self.tuner: Tuner | None = None
        self.starts_after_fault = 0
        self.injected = False

    def on_tuning_start(self, tuner: Tuner) -> None:
        self.tuner = tuner

    def on_trial_start(self, trial: Any) -> None:
        if self.injected:
            self.starts_after_fault += 1

    def on_trial_result(self, *args: Any) -> None:
        self.results += 1
        if self.results == self.after:
            assert self.tuner is not None and self.tuner._run is not None
            self.fault(self.tuner._run.log)
            self.injected = True


def _dev_full(log: EventLog) -> None:
    """Point the log's descriptor at /dev/full: every later write fails with ENOSPC."""
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, log._fd)
    os.close(full)


def _tuner(inject: Inject, **kwargs: Any) -> Tuner:
    configs = [{"mode": "hang", "k": 1, "ignore_term": 1}]
    configs += [{"mode": "ok", "n": 30, "period": 0.01} for _ in range(20)]
    from aiotune.backends.local import LocalBackend

    return Tuner(
        LocalBackend(FAULTY, stop_grace_period=0.5),
        ListScheduler(configs),
        lambda s: False,
        n_workers=3,
        tuner_name="storage",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
        callbacks=[inject],
        **kwargs,
    )


def test_a_full_disk_fail_stops_the_run() -> None:
    inject = Inject(after=15, fault=_dev_full)
    tuner = _tuner(inject)
    with pytest.raises(StorageError) as info:
        tuner.run()
    error = info.value
    assert error.errno == errno.ENOSPC
    assert "events.log" in str(error) and "ENOSPC" in str(error)
    assert inject.starts_after_fault == 0  # nothing new started
    pids = json.loads((tuner.tuner_path / "trials/0/checkpoints/pids.json").read_text())
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])  # trials stopped
    assert tuner.status.num_trials_started < 21
    assert zombie_children() == []
    # what reached the disk before the fault is intact and readable
    contents = read_log(tuner.tuner_path / "events.log")
    assert contents.torn_tail_bytes == 0
    assert sum(isinstance(r, ResultEvent) for r in contents.records) >= 14


def test_an_fsync_eio_fail_stops_and_is_never_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    calls: list[bool] = []  # one entry per fsync of the log: did it fail?

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("events.log"):
            calls.append(inject.injected)
            if inject.injected:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    inject = Inject(after=10, fault=lambda log: None)
    tuner = _tuner(inject, fsync_before_act=True)
    with pytest.raises(StorageError) as info:
        tuner.run()
    assert info.value.errno == errno.EIO and "events.log" in str(info.value)
    assert "EIO" in str(info.value)
    assert calls.count(False) >= 3  # strict mode fsynced before each of the first starts
    assert calls.count(True) == 1  # one failed fsync; the log then refuses all, no retry
    assert inject.starts_after_fault == 0
    assert tuner._run is not None and tuner._run.log.failed


def test_strict_mode_fsyncs_before_each_action(monkeypatch: pytest.MonkeyPatch) -> None:
    counts: dict[bool, int] = {}
    real_fsync = os.fsync
    for strict in (False, True):
        n = 0

        def fsync(fd: int) -> None:
            nonlocal n
            if os.readlink(f"/proc/self/fd/{fd}").endswith("events.log"):
                n += 1
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        from aiotune.backends.local import LocalBackend

        tuner = Tuner(
            LocalBackend(FAULTY),
            ListScheduler([{"mode": "ok", "n": 2}] * 6),
            lambda s: False,
            n_workers=2,
            tuner_name=f"strict{strict}",
            suffix_tuner_name=False,
            results_update_interval=1000.0,
            print_update_interval=1000.0,
            fsync_before_act=strict,
        )
        tuner.run()
        counts[strict] = n
    assert counts[False] <= 1  # only the final fsync at exit
    assert counts[True] >= 6 + 1  # one before each of the 6 starts (grouped), plus the last


def test_rlimit_fsize_fail_stops_with_a_non_zero_exit(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), AIOTUNE_RESULTS=str(tmp_path / "results"))
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "fsize_tuner.py"), str(FAULTY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    assert proc.returncode != 0
    assert "limited" in proc.stdout
    assert "StorageError" in proc.stderr and "EFBIG" in proc.stderr, proc.stderr[-2000:]
    assert "events.log" in proc.stderr
    lines = proc.stdout.splitlines()
    after = lines[lines.index("limited") + 1 :]
    assert not [line for line in after if line.startswith("started")]  # nothing new started
    log = tmp_path / "results" / "fsize" / "events.log"
    assert read_log(log).torn_tail_bytes >= 0  # still readable: a torn tail at most


def _real_log(tmp_path: Path) -> Path:
    """A log written by a real run: header, trial starts, results, ends."""
    from aiotune.backends.local import LocalBackend

    tuner = Tuner(
        LocalBackend(FAULTY),
        ListScheduler([{"mode": "ok", "n": 4}] * 3),
        lambda s: False,
        n_workers=1,
        tuner_name="real",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    return tuner.tuner_path / "events.log"


def _frame_offsets(data: bytes) -> list[int]:
    offsets, off = [], 0
    while off < len(data):
        offsets.append(off)
        off += 8 + int.from_bytes(data[off : off + 4], "big")
    return offsets + [len(data)]


def test_a_log_truncated_at_every_offset_of_its_last_records(tmp_path: Path) -> None:
    path = _real_log(tmp_path)
    data = path.read_bytes()
    offsets = _frame_offsets(data)
    full = read_log(path)
    n = len(full.records)
    start = offsets[-4]  # the last three records, byte by byte
    copy = tmp_path / "cut.log"
    for cut in range(start, len(data) + 1):
        copy.write_bytes(data[:cut])
        contents = read_log(copy)
        complete = sum(1 for o in offsets[1:] if o <= cut) - 1  # records ending by ``cut``
        assert len(contents.records) == complete, cut
        assert contents.records == full.records[:complete]
        assert contents.end_offset == offsets[complete + 1]  # header + ``complete`` records
        assert contents.torn_tail_bytes == cut - contents.end_offset
        if cut in (start + 1, len(data) - 1):  # reopen: the torn tail is cut off, appends work
            header = LogHeader(tuner_name="real", created=0.0)
            with EventLog.open(copy, header) as log:
                assert log.start_size == contents.end_offset
                log.append(TrialAdded(trial_id=99, attempt=0, config={}, time=0.0))
            again = read_log(copy)
            assert again.torn_tail_bytes == 0 and again.records[-1].trial_id == 99
    assert n == len(full.records)


def test_a_flipped_byte_mid_log_is_named_with_its_offset(tmp_path: Path) -> None:
    path = _real_log(tmp_path)
    data = path.read_bytes()
    offsets = _frame_offsets(data)
    copy = tmp_path / "flipped.log"
    for index in range(1, len(offsets) - 2):  # every record but the header and the last
        frame = offsets[index]
        for pos in (frame + 2, frame + 5, frame + 9, offsets[index + 1] - 1):
            bad = bytearray(data)
            bad[pos] ^= 0x40
            copy.write_bytes(bytes(bad))
            with pytest.raises(LogCorruptError, match=f"offset {frame} ") as info:
                read_log(copy)
            assert str(copy) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"format_version": 1, "tuner_na',
        b'{"format_version": 1}',
        b"[1, 2, 3]",
        b'{"tuner_name": 5, "args": {}}',
        b"\x80\x81 not json",
    ],
)
def test_a_bad_tuner_json_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = _real_log(tmp_path).parent
    (path / "tuner.json").write_bytes(content)
    with pytest.raises(AiotuneError, match="tuner.json"):
        Tuner.load(path)


def test_a_tampered_tuner_json_executes_nothing(tmp_path: Path) -> None:
    path = _real_log(tmp_path).parent
    state = json.loads((path / "tuner.json").read_text())
    marker = tmp_path / "PWNED"
    state["scheduler"] = {"kind": "posix.system", "kwargs": {"command": f"touch {marker}"}}
    state["scheduler_state"] = {"__reduce__": ["os.system", [f"touch {marker}"]]}
    (path / "tuner.json").write_text(json.dumps(state))
    with pytest.raises(AiotuneError):
        Tuner.load(path)
    assert not marker.exists()
