"""The report channel's frames: message types, framing, and metric validation.

A trial speaks to the tuner over a byte stream (a pathname Unix socket, or TCP
for distributed backends). Each frame is a 4-byte big-endian length followed by
a msgpack payload of one tagged Struct: a ``Hello`` that authenticates the
connection, then ``Report`` frames, then a ``Goodbye`` on clean close.

This module is shared by the trial side (:mod:`aiotune.reporter`, which must
stay tiny) and the backends, so it imports only the stdlib and msgspec; the
async ``FrameReader`` imports anyio lazily.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from .errors import WireError

logger = logging.getLogger("aiotune.wire")

if TYPE_CHECKING:
    from anyio.abc import ByteReceiveStream

__all__ = [
    "ENV_ATTEMPT",
    "ENV_CHECKPOINT_DIR",
    "ENV_REPORT_ADDR",
    "ENV_SECRET",
    "ENV_TRIAL_ID",
    "MAX_FRAME",
    "MAX_METRIC_NAME",
    "METRIC_LINE_PREFIX",
    "Goodbye",
    "Hello",
    "Message",
    "FrameReader",
    "Report",
    "check_metrics",
    "decode_payload",
    "encode_frame",
    "parse_tune_metric_line",
    "read_frame",
    "validate_metrics",
]

ENV_REPORT_ADDR = "AIOTUNE_REPORT_ADDR"
"""Unix socket path of the report server, or ``tcp://host:port``."""
ENV_TRIAL_ID = "AIOTUNE_TRIAL_ID"
ENV_ATTEMPT = "AIOTUNE_ATTEMPT"
ENV_SECRET = "AIOTUNE_SECRET"
"""64 hex characters (256 bits), bound to one ``(trial_id, attempt)``."""
ENV_CHECKPOINT_DIR = "AIOTUNE_CHECKPOINT_DIR"

MAX_FRAME = 1 << 20
"""Largest payload accepted, checked before a byte of the body is allocated."""
MAX_METRIC_NAME = 256
METRIC_LINE_PREFIX = "[tune-metric]: "
"""What Syne Tune training scripts print before the JSON of one report."""

_RESERVED_NAMES = frozenset({"trial_id", "attempt", "seq"})
_RESERVED_PREFIX = "aiotune_"
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_HEADER = struct.Struct("!I")

_NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class Hello(msgspec.Struct, tag="hello", frozen=True):
    """First frame of a connection: who is speaking, proven by the per-attempt secret."""

    trial_id: _NonNegative
    attempt: _NonNegative
    secret: Annotated[str, msgspec.Meta(max_length=256)]

    def __repr__(self) -> str:  # never print the secret
        return f"Hello(trial_id={self.trial_id}, attempt={self.attempt}, secret=<hidden>)"


class Report(msgspec.Struct, tag="report", frozen=True):
    """One report; ``seq`` counts 0, 1, 2, ... per sending process so replays can be dropped."""

    trial_id: _NonNegative
    attempt: _NonNegative
    seq: _NonNegative
    metrics: dict[str, Any]


class Goodbye(msgspec.Struct, tag="bye", frozen=True):
    """Last frame on a clean close; ``count`` is the number of reports the sender sent."""

    trial_id: _NonNegative
    attempt: _NonNegative
    count: _NonNegative


Message = Hello | Report | Goodbye
"""Any frame of the report channel."""

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


def encode_frame(msg: Message) -> bytes:
    """Length-prefix and encode ``msg``; raises WireError if it exceeds MAX_FRAME."""
    buf = bytearray(_HEADER.size)
    try:
        _encoder.encode_into(msg, buf, _HEADER.size)
    except (TypeError, OverflowError, msgspec.EncodeError) as exc:
        raise WireError(f"cannot encode {type(msg).__name__} frame: {exc}") from exc
    size = len(buf) - _HEADER.size
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    _HEADER.pack_into(buf, 0, size)
    return bytes(buf)


def decode_payload(payload: bytes) -> Message:
    """Decode one frame body; raises WireError naming what is wrong with it."""
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise WireError(f"undecodable frame: {exc}") from exc
    except RecursionError as exc:  # deeply nested containers: msgspec's depth limit
        raise WireError(f"undecodable frame: {exc}") from None


def _check_length(size: int, max_frame: int) -> None:
    if size > max_frame:
        raise WireError(f"frame length {size} exceeds the {max_frame}-byte limit")


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    """``n`` bytes from ``sock``; None on EOF before the first byte, WireError on EOF within."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            if got == 0:
                return None
            raise WireError(f"truncated frame: connection closed after {got} of {n} bytes")
        got += k
    return bytes(buf)


def read_frame(sock: socket.socket, max_frame: int = MAX_FRAME) -> Message | None:
    """Read one frame from a blocking socket; None on a clean EOF between frames."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    _check_length(size, max_frame)
    body = _recv_exactly(sock, size) if size else b""
    if body is None:
        raise WireError(f"truncated frame: connection closed before its {size}-byte body")
    return decode_payload(body)


class FrameReader:
    """Reads frames from an anyio byte stream, buffering whole socket reads.

    Wraps anyio's ``BufferedByteReceiveStream`` and counts the bytes it holds,
    so a frame already in the buffer is read without a trip through the event
    loop, and the wait for the next frame reads a whole chunk at once.
    """

    def __init__(self, stream: ByteReceiveStream, *, max_frame: int = MAX_FRAME) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        self.max_frame = max_frame
        self._stream = stream
        self._buffered = BufferedByteReceiveStream(stream)
        self._pending = 0  # bytes in self._buffered's buffer

    def _length(self, header: bytes) -> int:
        (size,) = _HEADER.unpack(header)
        _check_length(size, self.max_frame)
        return size

    async def _exactly(self, n: int) -> bytes:
        data = await self._buffered.receive_exactly(n)
        self._pending = max(self._pending - n, 0)  # it reads only what the buffer lacks
        return data

    async def receive(self, frame_timeout: float | None = None) -> Message | None:
        """The next frame; None on a clean EOF between frames.

        Waiting for a frame's first byte has no deadline (a trial may train for
        hours between reports); the rest of the frame must arrive within
        ``frame_timeout`` seconds, so a half-sent frame cannot hold the reader.
        Raises WireError for an oversized, truncated, stalled or undecodable frame.
        """
        import anyio

        if self._pending == 0:
            try:
                chunk = await self._stream.receive()
            except anyio.EndOfStream:
                return None
            self._buffered.feed_data(chunk)
            self._pending += len(chunk)
        try:
            if self._pending >= _HEADER.size:  # buffered: no wait, so no deadline needed
                size = self._length(await self._exactly(_HEADER.size))
                if self._pending >= size:
                    return decode_payload(await self._exactly(size))
                with anyio.fail_after(frame_timeout):
                    body = await self._exactly(size)
            else:
                with anyio.fail_after(frame_timeout):
                    size = self._length(await self._exactly(_HEADER.size))
                    body = await self._exactly(size)
        except anyio.IncompleteRead as exc:
            raise WireError("truncated frame: connection closed in the middle of a frame") from exc
        except TimeoutError as exc:
            raise WireError(f"stalled frame: not completed within {frame_timeout}s") from exc
        return decode_payload(body)


def check_metrics(metrics: dict[str, Any], error: type[Exception]) -> dict[str, Any]:
    """Validate names and values of one report, raising ``error`` naming the bad key."""
    if not isinstance(metrics, dict):
        raise error(f"a report must be a dict of metrics, got {type(metrics).__name__}")
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise error(f"metric name {name!r} is not a string")
        if not name:
            raise error("metric name must not be empty")
        if len(name) > MAX_METRIC_NAME:
            raise error(
                f"metric name {name[:40]!r}... is {len(name)} characters long "
                f"(limit {MAX_METRIC_NAME})"
            )
        if name in _RESERVED_NAMES or name.startswith(_RESERVED_PREFIX):
            raise error(
                f"metric name {name!r} is reserved ('trial_id', 'attempt', 'seq' and "
                f"names starting with {_RESERVED_PREFIX!r} are aiotune's)"
            )
        if isinstance(value, bool):
            out[name] = value
        elif isinstance(value, int):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise error(f"metric {name!r}: integer {value} does not fit in 64 bits")
            out[name] = int(value)
        elif isinstance(value, float):
            out[name] = float(value)  # NaN and inf are data
        else:
            raise error(
                f"metric {name!r} has a value of type {type(value).__name__}; "
                "expected int, float or bool"
            )
    return out


def validate_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Check a report received from a trial (tuner side); raises WireError naming the bad key."""
    return check_metrics(metrics, WireError)


def parse_tune_metric_line(line: str) -> dict[str, Any] | None:
    """The metrics of a Syne Tune ``[tune-metric]: {json}`` stdout line, else None.

    Like Syne Tune's own parser, the tag may appear anywhere in the line and the
    JSON object runs to the last ``}``. Malformed JSON after the tag gives None.
    Syne Tune's reporter takes any JSON value, so a Syne Tune script may report a
    string (``"phase": "train"``) beside its numbers: such values (strings, null,
    lists, objects) are dropped with a warning naming the key, once per key, and
    the line's numbers are kept; a line of nothing else gives None. Numbers are
    validated by the report server.
    """
    start = line.find(METRIC_LINE_PREFIX)
    if start < 0:
        return None
    body = line[start + len(METRIC_LINE_PREFIX) :]
    end = body.rfind("}")
    if not body.startswith("{") or end < 0:
        return None
    try:
        value = json.loads(body[: end + 1])
    except (ValueError, RecursionError):  # JSONDecodeError, int digit limit, deep nesting
        return None
    return _numbers_only(value) if isinstance(value, dict) else None


_warned_keys: set[str] = set()


def _numbers_only(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """``metrics`` without its non-numeric values (each key warned about once)."""
    kept = {k: v for k, v in metrics.items() if not isinstance(v, str | list | dict | None)}
    for key in metrics.keys() - kept.keys():
        if key not in _warned_keys and len(_warned_keys) < 1000:
            _warned_keys.add(key)
            logger.warning(
                "[tune-metric] key %r: a value of type %s is not a metric (numbers and "
                "bools are); dropped, the line's other metrics kept",
                key[:80], type(metrics[key]).__name__,
            )
    return kept if kept or not metrics else None
