"""The trial side of the report channel: ``Reporter`` sends metrics from a training script.

Under an aiotune backend the environment names a report socket, the trial's id,
attempt and secret; the Reporter then connects lazily on the first report and
sends one length-prefixed msgpack frame per report over a plain blocking
socket (no event loop; a full socket buffer blocks the trial, which is the
backpressure). Run by hand it prints ``[tune-metric]: {json}`` lines exactly as
Syne Tune's Reporter does, so Syne Tune scripts and aiotune scripts are
interchangeable. Imports only the stdlib and msgspec, and has no import-time
side effects.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .errors import WireError
from .wire import (
    ENV_ATTEMPT,
    ENV_CHECKPOINT_DIR,
    ENV_REPORT_ADDR,
    ENV_SECRET,
    ENV_TRIAL_ID,
    METRIC_LINE_PREFIX,
    Goodbye,
    Hello,
    Report,
    check_metrics,
    encode_frame,
)

__all__ = ["Reporter", "checkpoint_dir"]

ST_WORKER_TIME = "st_worker_time"
ST_WORKER_TIMESTAMP = "st_worker_timestamp"
ST_WORKER_ITER = "st_worker_iter"
ST_WORKER_COST = "st_worker_cost"
_USER_FORBIDDEN_PREFIX = "st_"
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)  # EPIPE, not SIGPIPE, if the tuner hung up


class Reporter:
    """Reports a training script's metrics to the tuner (or prints them, run by hand).

    Adds ``st_worker_timestamp`` (``time.time()``), ``st_worker_time`` (seconds
    since this Reporter was created, if ``add_time``), ``st_worker_cost`` (the
    same seconds, if ``add_cost``: Syne Tune's meaning off SageMaker) and
    ``st_worker_iter`` (0, 1, 2, ...). Raises ValueError naming the key for a
    value that is not an int, float or bool (numpy scalars are converted), or
    for a reserved or malformed name.
    """

    def __init__(self, add_time: bool = True, add_cost: bool = True) -> None:
        self.add_time = add_time
        self.add_cost = add_cost
        self._start = time.perf_counter()
        self._iter = 0

    def __repr__(self) -> str:
        return f"Reporter(add_time={self.add_time}, add_cost={self.add_cost}, reports={self._iter})"

    def __call__(self, **metrics: Any) -> None:
        """Same as :meth:`report` (Syne Tune scripts call the reporter directly)."""
        self.report(**metrics)

    def report(self, **metrics: Any) -> None:
        """Send one report, e.g. ``report(epoch=3, loss=0.25)``."""
        values = {name: _plain(name, value) for name, value in metrics.items()}
        for name in values:
            if name.startswith(_USER_FORBIDDEN_PREFIX):
                raise ValueError(
                    f"metric name {name!r} is reserved: names starting with "
                    f"{_USER_FORBIDDEN_PREFIX!r} are added by the Reporter"
                )
        values = check_metrics(values, ValueError)
        values[ST_WORKER_TIMESTAMP] = time.time()
        elapsed = time.perf_counter() - self._start
        if self.add_time:
            values[ST_WORKER_TIME] = elapsed
        if self.add_cost:
            values[ST_WORKER_COST] = elapsed
        values[ST_WORKER_ITER] = self._iter
        channel = _get_channel()
        if channel is None:
            print(f"{METRIC_LINE_PREFIX}{json.dumps(values)}", flush=True)
        else:
            channel.send(values)
        self._iter += 1


def checkpoint_dir() -> Path | None:
    """The folder this trial should write and resume checkpoints from, if the tuner gave one.

    Read from ``AIOTUNE_CHECKPOINT_DIR``, else from a ``--st_checkpoint_dir``
    argument (Syne Tune's convention), else None.
    """
    env = os.environ.get(ENV_CHECKPOINT_DIR)
    if env:
        return Path(env)
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--st_checkpoint_dir" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--st_checkpoint_dir="):
            return Path(arg.split("=", 1)[1])
    return None


def _plain(name: str, value: Any) -> Any:
    """``value`` as a Python bool, int or float; numpy-like scalars via ``.item()``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes | dict | list | tuple):
        try:
            converted = item()
        except Exception as exc:  # e.g. a numpy array with more than one element
            raise ValueError(
                f"metric {name!r}: cannot convert {type(value).__name__} to a number ({exc})"
            ) from exc
        if isinstance(converted, bool | int | float):
            return converted
    raise ValueError(
        f"metric {name!r} has a value of type {type(value).__name__}; expected int, float or bool"
    )


class _Channel:
    """One connection per process to the report server; shared by every Reporter."""

    def __init__(self, addr: str, trial_id: int, attempt: int, secret: str) -> None:
        self._addr = addr
        self._trial_id = trial_id
        self._attempt = attempt
        self._secret = secret
        self._sock: socket.socket | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        atexit.register(self.close)

    def send(self, metrics: dict[str, Any]) -> None:
        """Send one report frame, reconnecting once if the connection broke."""
        report = Report(self._trial_id, self._attempt, self._seq, metrics)
        try:
            frame = encode_frame(report)
        except WireError as exc:
            raise ValueError(f"report cannot be sent: {exc}") from exc
        with self._lock:
            try:
                self._connected().sendall(frame, _NOSIGNAL)
            except OSError:
                self._drop()
                try:
                    self._connected().sendall(
                        frame, _NOSIGNAL
                    )  # the server drops it if it was a replay
                except OSError as exc:
                    self._drop()
                    raise WireError(
                        f"cannot send report to the tuner at {self._addr!r}: {exc}"
                    ) from exc
            self._seq += 1

    def close(self) -> None:
        """Say goodbye and close (at exit); data already sent stays readable by the tuner."""
        if os.getpid() != self._pid or self._closed:
            return
        self._closed = True
        with self._lock:
            sock, self._sock = self._sock, None
            if sock is None:
                return
            try:
                sock.sendall(
                    encode_frame(Goodbye(self._trial_id, self._attempt, self._seq)), _NOSIGNAL
                )
                sock.shutdown(socket.SHUT_WR)  # EOF even if a forked child holds the fd
            except OSError:
                pass
            finally:
                sock.close()

    def _connected(self) -> socket.socket:
        if self._sock is None:
            sock = _connect(self._addr)
            try:
                sock.sendall(
                    encode_frame(Hello(self._trial_id, self._attempt, self._secret)), _NOSIGNAL
                )
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _connect(addr: str) -> socket.socket:
    """A blocking socket connected to ``addr`` (a Unix socket path or ``tcp://host:port``)."""
    if addr.startswith("tcp://"):
        host, _, port = addr[len("tcp://") :].rpartition(":")
        try:
            port_number = int(port)
        except ValueError:
            raise WireError(f"{ENV_REPORT_ADDR}={addr!r} has no valid port") from None
        sock = socket.create_connection((host.strip("[]"), port_number))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(addr)
    except OSError:
        sock.close()
        raise
    return sock


_channel: _Channel | None = None
_channel_pid: int | None = None
_channel_lock = threading.Lock()


def _get_channel() -> _Channel | None:
    """The process's channel to the tuner, or None when run by hand (no address set)."""
    global _channel, _channel_pid
    addr = os.environ.get(ENV_REPORT_ADDR)
    if not addr:
        return None
    with _channel_lock:
        if _channel is not None:
            if _channel_pid != os.getpid():
                raise WireError(
                    "Reporter used in a forked child process; report from the process "
                    "that was started as the trial"
                )
            return _channel
        values: dict[str, str] = {}
        for var in (ENV_TRIAL_ID, ENV_ATTEMPT, ENV_SECRET):
            value = os.environ.get(var)
            if not value:
                raise WireError(f"{ENV_REPORT_ADDR} is set but {var} is missing")
            values[var] = value
        try:
            trial_id, attempt = int(values[ENV_TRIAL_ID]), int(values[ENV_ATTEMPT])
        except ValueError:
            raise WireError(f"{ENV_TRIAL_ID} and {ENV_ATTEMPT} must be integers") from None
        _channel = _Channel(addr, trial_id, attempt, values[ENV_SECRET])
        _channel_pid = os.getpid()
        return _channel
