"""The trial-side Reporter: Syne Tune's stdout format by hand, frames on a socket under a tuner."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import aiotune.reporter as reporter_mod
from aiotune.errors import WireError
from aiotune.reporter import Reporter, checkpoint_dir
from aiotune.wire import (
    ENV_ATTEMPT,
    ENV_CHECKPOINT_DIR,
    ENV_REPORT_ADDR,
    ENV_SECRET,
    ENV_TRIAL_ID,
    Goodbye,
    Hello,
    Report,
    read_frame,
)

ROOT = Path(__file__).resolve().parents[1]
ENV_VARS = (ENV_REPORT_ADDR, ENV_TRIAL_ID, ENV_ATTEMPT, ENV_SECRET, ENV_CHECKPOINT_DIR)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
def no_channel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run by hand: no tuner address, no cached connection."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(reporter_mod, "_channel", None)
    yield


def test_prints_the_exact_syne_tune_line() -> None:
    script = (
        "from aiotune.reporter import Reporter\n"
        "import numpy as np\n"
        "r = Reporter()\n"
        "r(epoch=1, loss=0.5, acc=np.float32(0.25), n=np.int64(3), ok=True)\n"
        "r.report(epoch=2, loss=float('nan'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    prefix = "[tune-metric]: "
    first = json.loads(lines[0][len(prefix) :])
    assert lines[0] == prefix + json.dumps(first)  # byte-exact json.dumps, in this key order
    assert list(first) == [
        "epoch",
        "loss",
        "acc",
        "n",
        "ok",
        "st_worker_timestamp",
        "st_worker_time",
        "st_worker_cost",
        "st_worker_iter",
    ]
    assert first["acc"] == 0.25 and first["n"] == 3 and first["ok"] is True
    assert first["st_worker_iter"] == 0 and first["st_worker_cost"] == first["st_worker_time"]
    assert abs(first["st_worker_timestamp"] - time.time()) < 60
    second = json.loads(lines[1][len(prefix) :])
    assert math.isnan(second["loss"]) and "NaN" in lines[1]  # what Syne Tune prints too
    assert second["st_worker_iter"] == 1
    assert second["st_worker_time"] >= first["st_worker_time"]


def test_numpy_scalars_become_python_numbers(
    no_channel: None, capsys: pytest.CaptureFixture[str]
) -> None:
    Reporter(add_time=False, add_cost=False)(
        a=np.float64(1.5), b=np.int32(-2), c=np.bool_(True), d=np.array(4.0), e=np.float16(0.5)
    )
    line = capsys.readouterr().out
    got = json.loads(line.split(": ", 1)[1])
    assert got["a"] == 1.5 and got["b"] == -2 and got["c"] is True and got["d"] == 4.0
    assert got["e"] == 0.5 and "st_worker_time" not in got and "st_worker_cost" not in got
    assert got["st_worker_iter"] == 0 and "st_worker_timestamp" in got


@pytest.mark.parametrize(
    ("metrics", "named"),
    [
        ({"loss": "0.5"}, "'loss'"),
        ({"loss": None}, "'loss'"),
        ({"loss": [0.5]}, "'loss'"),
        ({"loss": {"x": 1}}, "'loss'"),
        ({"loss": np.array([1.0, 2.0])}, "'loss'"),
        ({"steps": 2**64}, "'steps'"),
        ({"": 1}, "empty"),
        ({"trial_id": 1}, "'trial_id'"),
        ({"aiotune_x": 1}, "'aiotune_x'"),
        ({"st_worker_time": 1.0}, "'st_worker_time'"),
        ({"x" * 300: 1}, "300 characters"),
    ],
)
def test_bad_values_raise_value_error_naming_the_key(
    no_channel: None, capsys: pytest.CaptureFixture[str], metrics: dict, named: str
) -> None:
    reporter = Reporter()
    with pytest.raises(ValueError, match=named):
        reporter.report(**metrics)
    assert capsys.readouterr().out == ""  # nothing half-reported
    reporter.report(ok=1)
    assert '"st_worker_iter": 0' in capsys.readouterr().out


def test_bad_values_raise_under_python_dash_o() -> None:
    script = (
        "from aiotune.reporter import Reporter\n"
        "try:\n    Reporter()(loss='x')\nexcept ValueError as e:\n    print('raised', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-O", "-c", script],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.startswith("raised metric 'loss'"), out.stderr


def test_importing_the_reporter_pulls_in_nothing_heavy() -> None:
    script = (
        "import aiotune.reporter, sys; from aiotune import Reporter; "
        'print(sorted(m for m in sys.modules if m.split(".")[0] in {"numpy","anyio","pandas"}))'
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_checkpoint_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CHECKPOINT_DIR, raising=False)
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.1"])
    assert checkpoint_dir() is None
    monkeypatch.setattr(sys, "argv", ["train.py", "--st_checkpoint_dir", "/ck/a"])
    assert checkpoint_dir() == Path("/ck/a")
    monkeypatch.setattr(sys, "argv", ["train.py", "--st_checkpoint_dir=/ck/b"])
    assert checkpoint_dir() == Path("/ck/b")
    monkeypatch.setenv(ENV_CHECKPOINT_DIR, str(tmp_path))
    assert checkpoint_dir() == tmp_path


class _Listener:
    """A plain blocking Unix listener standing in for the report server."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.sock.settimeout(10)

    def accept(self) -> socket.socket:
        conn, _ = self.sock.accept()
        conn.settimeout(10)
        return conn


@pytest.fixture
def channel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[_Listener, str]]:
    path = tmp_path / "r.sock"
    listener = _Listener(path)
    secret = "cd" * 32
    monkeypatch.setenv(ENV_REPORT_ADDR, str(path))
    monkeypatch.setenv(ENV_TRIAL_ID, "4")
    monkeypatch.setenv(ENV_ATTEMPT, "2")
    monkeypatch.setenv(ENV_SECRET, secret)
    monkeypatch.setattr(reporter_mod, "_channel", None)
    yield listener, secret
    if reporter_mod._channel is not None:
        reporter_mod._channel.close()
    listener.sock.close()


def test_frames_on_the_socket(
    channel_env: tuple[_Listener, str], capsys: pytest.CaptureFixture[str]
) -> None:
    listener, secret = channel_env
    reporter = Reporter()
    reporter(epoch=1, loss=np.float32(0.5))
    Reporter().report(epoch=2, loss=0.25)  # a second Reporter shares the connection and seq
    conn = listener.accept()
    with conn:
        assert read_frame(conn) == Hello(4, 2, secret)
        first, second = read_frame(conn), read_frame(conn)
        assert isinstance(first, Report) and isinstance(second, Report)
        assert (first.trial_id, first.attempt, first.seq) == (4, 2, 0)
        assert second.seq == 1 and second.metrics["st_worker_iter"] == 0
        assert first.metrics["loss"] == 0.5 and first.metrics["epoch"] == 1
        assert reporter_mod._channel is not None
        reporter_mod._channel.close()  # what atexit does
        assert read_frame(conn) == Goodbye(4, 2, 2)
        assert read_frame(conn) is None
    assert capsys.readouterr().out == ""  # nothing printed under a tuner


def test_reconnects_once_after_the_server_closed_the_connection(
    channel_env: tuple[_Listener, str],
) -> None:
    listener, secret = channel_env
    reporter = Reporter()
    reporter(step=0)
    conn = listener.accept()
    assert read_frame(conn) == Hello(4, 2, secret)
    assert isinstance(read_frame(conn), Report)
    conn.close()
    reporter(step=1)  # EPIPE on the old socket, then a new connection
    conn = listener.accept()
    with conn:
        assert read_frame(conn) == Hello(4, 2, secret)
        msg = read_frame(conn)
        assert isinstance(msg, Report) and msg.seq == 1 and msg.metrics["step"] == 1


def test_tuner_gone_raises_wire_error(channel_env: tuple[_Listener, str]) -> None:
    listener, _ = channel_env
    listener.sock.close()
    os.unlink(os.environ[ENV_REPORT_ADDR])
    with pytest.raises(WireError, match="cannot send report"):
        Reporter()(loss=1.0)


def test_incomplete_environment_is_an_error(
    monkeypatch: pytest.MonkeyPatch, no_channel: None
) -> None:
    monkeypatch.setenv(ENV_REPORT_ADDR, "/nonexistent/r.sock")
    with pytest.raises(WireError, match=ENV_TRIAL_ID):
        Reporter()(loss=1.0)


def test_full_socket_buffer_blocks_the_trial(channel_env: tuple[_Listener, str]) -> None:
    """Backpressure: with nobody reading, ``report`` blocks instead of buffering without bound."""
    listener, _ = channel_env
    done = threading.Event()
    sent = [0]

    def trial() -> None:
        reporter = Reporter()
        for i in range(20_000):
            reporter(i=i, pad=float(i))
            sent[0] += 1
        done.set()

    thread = threading.Thread(target=trial, daemon=True)
    thread.start()
    conn = listener.accept()
    assert not done.wait(0.5)
    blocked_at = sent[0]
    assert blocked_at < 20_000
    with conn:  # now read everything: the trial finishes
        count = 0
        assert isinstance(read_frame(conn), Hello)
        while count < 20_000:
            msg = read_frame(conn)
            assert isinstance(msg, Report) and msg.seq == count
            count += 1
    assert done.wait(10)
    thread.join(10)
