"""The event log: round trip, torn tails, corruption, fail-stop on storage errors (G1, G3, G5)."""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aiotune.errors import InvalidArgumentError, LogCorruptError, StorageError
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.store.event_log import MAX_RECORD_SIZE, EventLog, encode_frames, read_log
from aiotune.store.records import DecisionMade, LogHeader, TrialAdded, TuningEnded
from aiotune.trial import TrialStatus

REPO = Path(__file__).resolve().parents[2]
HEADER = LogHeader(tuner_name="exp-1", created=1700000000.5)


def sample_records(n_results: int = 3) -> list:
    records: list = [
        TrialAdded(trial_id=0, attempt=0, config={"lr": 0.1, "opt": "adam", "n": [1, 2]}, time=0.0),
        TrialAdded(trial_id=1, attempt=0, config={"lr": 1e-3}, time=0.5, checkpoint_from=0),
    ]
    for seq in range(n_results):
        records.append(
            ResultEvent(
                trial_id=seq % 2,
                attempt=0,
                seq=seq // 2,
                time=1.0 + seq,
                metrics={"loss": 1.0 / (seq + 1), "epoch": seq, "ok": True},
            )
        )
        records.append(
            DecisionMade(trial_id=seq % 2, attempt=0, seq=seq // 2, decision="continue", time=1.5)
        )
    records.append(
        TrialEndedEvent(
            trial_id=0, attempt=0, time=9.0, status=TrialStatus.FAILED, reason="exit 1", exit_code=1
        )
    )
    records.append(TuningEnded(time=10.0, reason="max_num_evaluations"))
    return records


def write_log(path: Path, records: list) -> list[int]:
    """Write a log with ``records``; return the frame boundaries (offsets after each frame)."""
    with EventLog.open(path, HEADER) as log:
        for record in records:
            log.append(record)
    boundaries = [len(encode_frames([HEADER]))]
    for record in records:
        boundaries.append(boundaries[-1] + len(encode_frames([record])))
    assert boundaries[-1] == path.stat().st_size
    return boundaries


def test_round_trip_every_record_kind(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    records = sample_records()
    records.append(
        ResultEvent(
            trial_id=1,
            attempt=2,
            seq=0,
            time=3.0,
            metrics={"nan": math.nan, "inf": math.inf, "big": 2**62},
        )
    )
    write_log(path, records)
    contents = read_log(path)
    assert contents.header == HEADER
    assert contents.torn_tail_bytes == 0
    assert contents.end_offset == path.stat().st_size
    assert contents.records[:-1] == records[:-1]
    last = contents.records[-1]
    assert math.isnan(last.metrics["nan"]) and last.metrics["inf"] == math.inf
    assert last.metrics["big"] == 2**62
    assert isinstance(contents.records[-3].status, TrialStatus)


def test_append_many_is_one_frame_sequence(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    records = sample_records(5)
    with EventLog.open(path, HEADER) as log:
        log.append_many(records)
        log.append_many([])
        assert log.size == path.stat().st_size
        assert log.bytes_written == log.size - len(encode_frames([HEADER]))
    assert read_log(path).records == records


def test_append_reaches_the_kernel_before_returning(tmp_path: Path) -> None:
    """G1: a reader sees each record as soon as append returns, with no fsync or close."""
    path = tmp_path / "events.log"
    log = EventLog.open(path, HEADER)
    try:
        for i, record in enumerate(sample_records()):
            log.append(record)
            assert len(read_log(path).records) == i + 1
    finally:
        log.close()


def test_sigkilled_writer_loses_nothing_it_appended(tmp_path: Path) -> None:
    """G1 for real: SIGKILL a writer right after its appends; every record is in the file."""
    path = tmp_path / "events.log"
    code = f"""
import sys, time
from pathlib import Path
from aiotune.store.event_log import EventLog
from aiotune.store.records import LogHeader, TrialAdded
log = EventLog.open(Path({str(path)!r}), LogHeader(tuner_name="k", created=0.0))
for i in range(500):
    log.append(TrialAdded(trial_id=i, attempt=0, config={{"i": i}}, time=float(i)))
print("appended", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "appended"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
    contents = read_log(path)
    assert [r.trial_id for r in contents.records] == list(range(500))
    assert contents.torn_tail_bytes == 0


def test_truncation_at_every_offset_of_the_last_three_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "full.log"
    records = sample_records()
    boundaries = write_log(source, records)
    data = source.read_bytes()
    path = tmp_path / "events.log"
    extra = TuningEnded(time=99.0, reason="resumed")
    first_cut = boundaries[-4]  # the start of the third-last record
    cuts = 0
    for cut in range(first_cut, len(data)):
        path.write_bytes(data[:cut])
        complete = sum(1 for b in boundaries[1:] if b <= cut)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiotune.store.event_log"):
            contents = read_log(path)
        assert contents.records == records[:complete], cut
        assert contents.end_offset == boundaries[complete]
        assert contents.torn_tail_bytes == cut - boundaries[complete]
        if cut in boundaries:
            assert contents.torn_tail_bytes == 0
            assert not caplog.records
        else:
            cuts += 1
            assert contents.torn_tail_bytes > 0
            assert "torn tail" in caplog.text and str(path) in caplog.text
        # reopening truncates the torn tail; an append then lands on a clean boundary
        with EventLog.open(path, HEADER) as log:
            assert log.recovered is not None
            assert log.recovered.torn_tail_bytes == contents.torn_tail_bytes
            log.append(extra)
        again = read_log(path)
        assert again.torn_tail_bytes == 0
        assert again.records == [*records[:complete], extra]
        assert path.read_bytes()[: boundaries[complete]] == data[: boundaries[complete]]
    assert cuts > 60  # really inside three records, not just at their boundaries


@pytest.mark.parametrize("xor", [0x01, 0xFF])
def test_flipped_byte_before_the_tail_is_named_corruption(tmp_path: Path, xor: int) -> None:
    source = tmp_path / "full.log"
    boundaries = write_log(source, sample_records())
    data = source.read_bytes()
    path = tmp_path / "events.log"
    start, end = boundaries[3], boundaries[4]  # one record in the middle, frame header included
    for pos in range(start, end):
        bad = bytearray(data)
        bad[pos] ^= xor
        path.write_bytes(bad)
        with pytest.raises(LogCorruptError) as info:
            read_log(path)
        assert str(path) in str(info.value)
        assert f"offset {start}" in str(info.value), pos
        with pytest.raises(LogCorruptError):  # open refuses too, and changes nothing
            EventLog.open(path, HEADER)
        assert path.read_bytes() == bad


def test_flipped_byte_in_the_header_is_corruption_at_offset_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, sample_records())
    data = bytearray(path.read_bytes())
    data[12] ^= 0x20
    path.write_bytes(data)
    with pytest.raises(LogCorruptError, match="corrupt record at offset 0 "):
        read_log(path)


def test_oversized_length_before_the_tail_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    boundaries = write_log(path, sample_records())
    data = bytearray(path.read_bytes())
    data[boundaries[2] : boundaries[2] + 4] = (MAX_RECORD_SIZE + 1).to_bytes(4, "big")
    path.write_bytes(data)
    with pytest.raises(LogCorruptError, match=f"offset {boundaries[2]} .*limit"):
        read_log(path)


def test_damaged_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    records = sample_records()
    boundaries = write_log(path, records)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(data)
    contents = read_log(path)
    assert contents.records == records[:-1]
    assert contents.torn_tail_bytes == boundaries[-1] - boundaries[-2]


def test_zero_filled_tail_is_a_torn_tail(tmp_path: Path) -> None:
    """What a power failure leaves after delayed allocation: the size grew, the data did not."""
    path = tmp_path / "events.log"
    records = sample_records()
    write_log(path, records)
    with path.open("ab") as f:
        f.write(b"\0" * 100)
    contents = read_log(path)
    assert contents.records == records and contents.torn_tail_bytes == 100


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_bytes(b"")
    with pytest.raises(LogCorruptError, match="empty file"):
        read_log(path)
    with pytest.raises(LogCorruptError, match="empty file"):
        EventLog.open(path, HEADER)


def test_foreign_file_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    text = b"these are my notes, not an event log\n" * 20
    path.write_bytes(text)
    with pytest.raises(LogCorruptError, match="not an aiotune event log"):
        read_log(path)
    with pytest.raises(LogCorruptError, match="not an aiotune event log"):
        EventLog.open(path, HEADER)
    assert path.read_bytes() == text


def test_log_without_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_bytes(bytes(encode_frames(sample_records())))
    with pytest.raises(LogCorruptError, match="first record is TrialAdded, not a header"):
        read_log(path)


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_bytes(bytes(encode_frames([LogHeader(format_version=2, tuner_name="x", created=0)])))
    with pytest.raises(LogCorruptError, match="format version 2"):
        read_log(path)
    with pytest.raises(LogCorruptError, match="format version 2"):
        EventLog.open(path, HEADER)


def test_missing_log_is_a_storage_error_with_enoent(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        read_log(tmp_path / "nope.log")
    assert info.value.errno == errno.ENOENT and "nope.log" in str(info.value)


def test_open_creates_atomically_and_reopen_keeps_the_header(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    with EventLog.open(path, HEADER) as log:
        assert log.recovered is None
        assert log.bytes_written == 0
    assert os.listdir(tmp_path) == ["events.log"]  # no temp file left behind
    original = path.read_bytes()
    other = LogHeader(tuner_name="exp-1", created=5.0)
    with EventLog.open(path, other) as log:
        assert log.recovered is not None and log.recovered.header == HEADER
        assert log.recovered.last_record is None and log.recovered.num_records == 0
        log.append(TuningEnded(time=1.0, reason="x"))
    assert path.read_bytes().startswith(original)
    with EventLog.open(path, other) as log:  # keeps the last record, not all of them
        assert log.recovered is not None and log.recovered.num_records == 1
        assert log.recovered.last_record == TuningEnded(time=1.0, reason="x")
        assert not hasattr(log.recovered, "records")
    assert read_log(path).header == HEADER


def test_bad_records_are_refused_and_the_log_stays_usable(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    with EventLog.open(path, HEADER) as log:
        with pytest.raises(InvalidArgumentError, match="header"):
            log.append(HEADER)
        with pytest.raises(InvalidArgumentError, match="TrialAdded"):
            log.append(TrialAdded(trial_id=0, attempt=0, config={"f": object()}, time=0))
        big = TrialAdded(trial_id=0, attempt=0, config={"x": "a" * MAX_RECORD_SIZE}, time=0)
        with pytest.raises(InvalidArgumentError, match="limit"):
            log.append(big)
        log.append(TuningEnded(time=1.0, reason="ok"))
        assert not log.failed
    assert read_log(path).records == [TuningEnded(time=1.0, reason="ok")]


def test_full_disk_fails_stop_with_enospc(tmp_path: Path) -> None:
    fd = os.open("/dev/full", os.O_WRONLY)
    log = EventLog(Path("/dev/full"), fd)
    record = TuningEnded(time=1.0, reason="x")
    with pytest.raises(StorageError) as info:
        log.append(record)
    assert info.value.errno == errno.ENOSPC
    assert "ENOSPC" in str(info.value) and "/dev/full" in str(info.value)
    assert log.failed
    for attempt in (lambda: log.append(record), lambda: log.append_many([record]), log.fsync_sync):
        with pytest.raises(StorageError, match="refuses writes") as later:
            attempt()
        assert later.value.errno == errno.ENOSPC
    log.close()


def test_file_size_limit_fails_stop_with_efbig_and_keeps_complete_records(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: a short write, then EFBIG; what was written reads back minus a torn tail."""
    path = tmp_path / "events.log"
    code = f"""
import resource
from pathlib import Path
from aiotune.errors import StorageError
from aiotune.store.event_log import EventLog
from aiotune.store.records import LogHeader, TrialAdded
log = EventLog.open(Path({str(path)!r}), LogHeader(tuner_name="f", created=0.0))
resource.setrlimit(resource.RLIMIT_FSIZE, (5000, 5000))
i = 0
try:
    while True:
        log.append(TrialAdded(trial_id=i, attempt=0, config={{"pad": "x" * 37}}, time=0.0))
        i += 1
except StorageError as exc:
    print(i, exc.errno, exc)
try:
    log.append(TrialAdded(trial_id=i, attempt=0, config={{}}, time=0.0))
except StorageError as exc:
    print("refused", exc.errno)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    appended, code_, message = first.split(" ", 2)
    assert int(code_) == errno.EFBIG and "EFBIG" in message and str(path) in message
    assert second == f"refused {errno.EFBIG}"
    contents = read_log(path)
    assert [r.trial_id for r in contents.records] == list(range(int(appended)))
    assert path.stat().st_size == 5000 and contents.torn_tail_bytes > 0


@pytest.mark.asyncio
async def test_async_fsync_and_injected_fsync_eio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.log"
    log = EventLog.open(path, HEADER)
    log.append(TuningEnded(time=1.0, reason="a"))
    assert log.unsynced_bytes > 0
    await log.fsync()
    assert log.unsynced_bytes == 0
    calls: list[int] = []

    def broken_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    await log.fsync()  # nothing new to flush: no fsync call at all
    assert calls == []
    log.append(TuningEnded(time=2.0, reason="b"))
    with pytest.raises(StorageError) as info:
        await log.fsync()
    assert (
        info.value.errno == errno.EIO and "EIO" in str(info.value) and str(path) in str(info.value)
    )
    with pytest.raises(StorageError, match="refuses writes"):
        await log.fsync()  # never retried
    with pytest.raises(StorageError, match="refuses writes"):
        log.append(TuningEnded(time=3.0, reason="c"))
    assert len(calls) == 1
    log.close()
    log.close()  # idempotent
    assert log.closed


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path / "events.log", HEADER)
    log.close()
    with pytest.raises(StorageError, match="closed"):
        log.append(TuningEnded(time=1.0, reason="x"))
    assert "closed" in repr(log)
