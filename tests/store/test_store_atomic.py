"""Snapshot files: all or nothing, durable, no temp files left, JSON with NaN/inf (G3, G5)."""

from __future__ import annotations

import errno
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiotune.errors import LogCorruptError, StorageError
from aiotune.store.atomic import (
    read_json,
    write_atomic,
    write_atomic_async,
    write_json_atomic,
    write_json_atomic_async,
)
from aiotune.trial import TrialStatus

REPO = Path(__file__).resolve().parents[2]


class State(msgspec.Struct, kw_only=True):
    best: float
    history: list[float]
    status: TrialStatus
    blob: bytes = b""
    nested: dict[str, Any] = {}


def test_write_atomic_creates_and_replaces_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    write_atomic(path, b"one")
    write_atomic(path, bytearray(b"two"))
    write_atomic(path, memoryview(b"three"))
    assert path.read_bytes() == b"three"
    assert os.listdir(tmp_path) == ["results.csv"]


@pytest.mark.asyncio
async def test_write_atomic_async(tmp_path: Path) -> None:
    path = tmp_path / "tuner.json"
    await write_atomic_async(path, b"x" * 100_000)
    assert path.read_bytes() == b"x" * 100_000
    await write_json_atomic_async(path, {"a": math.inf})
    assert read_json(path) == {"a": math.inf}


def test_failed_fsync_keeps_old_content_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tuner.json"
    write_atomic(path, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError) as info:
        write_atomic(path, b"new")
    assert info.value.errno == errno.EIO
    assert str(path) in str(info.value) and "EIO" in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["tuner.json"]


def test_file_size_limit_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    """A write that fails half way (RLIMIT_FSIZE, like a full disk) changes nothing visible."""
    path = tmp_path / "results.csv"
    write_atomic(path, b"old content")
    code = f"""
import resource
from pathlib import Path
from aiotune.errors import StorageError
from aiotune.store.atomic import write_atomic
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_atomic(Path({str(path)!r}), b"n" * 100_000)
except StorageError as exc:
    print(exc.errno, exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    code_, message = out.stdout.strip().split(" ", 1)
    assert int(code_) == errno.EFBIG and str(path) in message
    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["results.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    write_atomic(path, b"old")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="metadata.json"):
            write_atomic(path, b"new")
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["metadata.json"]


def test_target_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    with pytest.raises(StorageError, match="taken"):
        write_atomic(target, b"data")
    assert os.listdir(tmp_path) == ["taken"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        write_atomic(tmp_path / "nope" / "f.json", b"{}")
    assert info.value.errno == errno.ENOENT and "f.json" in str(info.value)


def test_json_round_trip_keeps_nan_inf_and_types(tmp_path: Path) -> None:
    path = tmp_path / "tuner.json"
    state = State(
        best=-math.inf,
        history=[1.0, math.nan, math.inf],
        status=TrialStatus.PAUSED,
        blob=b"\x00\xff",
        nested={"k": [1, "two", None]},
    )
    write_json_atomic(path, state)
    back = read_json(path, State)
    assert back.best == -math.inf and math.isnan(back.history[1])
    assert back.history[2] == math.inf and back.status is TrialStatus.PAUSED
    assert back.blob == b"\x00\xff" and back.nested == {"k": [1, "two", None]}
    text = path.read_text()
    assert '"best": -Infinity' in text and "NaN, Infinity" in text
    write_json_atomic(path, {"plain": 1, "s": "é"}, indent=2)
    assert read_json(path, dict[str, Any]) == {"plain": 1, "s": "é"}
    assert "\n  " in path.read_text()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b'{"best": 1.0, "hist', "not valid JSON"),
        (b"\x80\x81 binary", "not valid JSON"),
        (b'{"best": "high", "history": [], "status": "paused"}', "schema"),
        (b'{"best": 1.0, "history": [], "status": "exploded"}', "schema"),
        (b'{"best": NaN, "history": [], "status": "bogus"}', "schema"),
        (b"[1, 2]", "schema"),
    ],
)
def test_bad_snapshots_are_named_errors(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "tuner.json"
    path.write_bytes(content)
    with pytest.raises(LogCorruptError, match=match) as info:
        read_json(path, State)
    assert str(path) in str(info.value)


def test_missing_snapshot_is_enoent(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        read_json(tmp_path / "tuner.json")
    assert info.value.errno == errno.ENOENT


def test_unencodable_object_is_a_type_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    with pytest.raises(TypeError, match="JSON"):
        write_json_atomic(path, {"f": object()})
    assert not path.exists() and os.listdir(tmp_path) == []
