"""Frames, framing limits and metric validation of the report channel."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import struct
import tracemalloc
from collections.abc import Iterator

import anyio
import msgspec
import pytest

import aiotune.wire
from aiotune.errors import WireError
from aiotune.wire import (
    MAX_FRAME,
    FrameReader,
    Goodbye,
    Hello,
    Report,
    encode_frame,
    parse_tune_metric_line,
    read_frame,
    validate_metrics,
)

MESSAGES = [
    Hello(3, 1, "ab" * 32),
    Report(3, 1, 0, {"loss": 0.25, "epoch": 1, "ok": True, "nan": math.inf}),
    Goodbye(3, 1, 7),
]


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b.settimeout(5)
    return a, b


def test_round_trip_over_a_socket() -> None:
    a, b = _pair()
    with a, b:
        a.sendall(b"".join(encode_frame(m) for m in MESSAGES))
        a.shutdown(socket.SHUT_WR)
        got = [read_frame(b) for _ in MESSAGES]
        assert got == MESSAGES
        assert read_frame(b) is None  # clean EOF between frames


def test_nan_survives_the_wire() -> None:
    a, b = _pair()
    with a, b:
        a.sendall(encode_frame(Report(0, 0, 0, {"x": math.nan})))
        msg = read_frame(b)
    assert isinstance(msg, Report) and math.isnan(msg.metrics["x"])


def test_frame_layout_is_big_endian_length_then_msgpack() -> None:
    frame = encode_frame(Goodbye(1, 2, 3))
    (size,) = struct.unpack("!I", frame[:4])
    assert size == len(frame) - 4
    assert msgspec.msgpack.decode(frame[4:]) == {
        "type": "bye",
        "trial_id": 1,
        "attempt": 2,
        "count": 3,
    }


def test_hello_repr_hides_the_secret() -> None:
    assert "ab" * 32 not in repr(MESSAGES[0])


def test_oversized_length_rejected_before_allocating() -> None:
    a, b = _pair()
    with a, b:
        a.sendall(struct.pack("!I", 0xFFFFFFFF) + b"x" * 16)
        tracemalloc.start()
        try:
            with pytest.raises(WireError, match="exceeds"):
                read_frame(b)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 64 * 1024


def test_encode_refuses_a_frame_over_the_limit() -> None:
    with pytest.raises(WireError, match="exceeds"):
        encode_frame(Report(0, 0, 0, {f"m{i}": 1.0 for i in range(MAX_FRAME // 8)}))


@pytest.mark.parametrize("cut", [2, 4, 10])
def test_truncated_frame(cut: int) -> None:
    frame = encode_frame(Report(0, 0, 0, {"loss": 1.0}))
    a, b = _pair()
    with a, b:
        a.sendall(frame[:cut])
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(WireError, match="truncated"):
            read_frame(b)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xc1",  # never used in msgpack
        msgspec.msgpack.encode({"type": "nope", "trial_id": 1}),
        msgspec.msgpack.encode(
            {"type": "report", "trial_id": -1, "attempt": 0, "seq": 0, "metrics": {}}
        ),
        msgspec.msgpack.encode(
            {"type": "report", "trial_id": 1, "attempt": 0, "seq": 0, "metrics": {1: 2}}
        ),
        msgspec.msgpack.encode([1, 2, 3]),
    ],
)
def test_undecodable_payload(payload: bytes) -> None:
    a, b = _pair()
    with a, b:
        a.sendall(struct.pack("!I", len(payload)) + payload)
        with pytest.raises(WireError, match="undecodable"):
            read_frame(b)


@contextlib.contextmanager
def _reader(chunks: list[bytes], max_frame: int = MAX_FRAME) -> Iterator[FrameReader]:
    send, receive = anyio.create_memory_object_stream[bytes](len(chunks) + 1)
    with send, receive:
        for chunk in chunks:
            send.send_nowait(chunk)
        send.close()
        yield FrameReader(receive, max_frame=max_frame)  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk", [1, 3, 7, 50, 10_000])
async def test_async_reader_round_trip_whatever_the_chunking(chunk: int) -> None:
    messages = MESSAGES * 5
    data = b"".join(encode_frame(m) for m in messages)
    with _reader([data[i : i + chunk] for i in range(0, len(data), chunk)]) as stream:
        got = [await stream.receive(frame_timeout=1) for _ in messages]
        assert got == messages
        assert await stream.receive() is None


@pytest.mark.asyncio
async def test_async_reader_honours_its_own_limit() -> None:
    with _reader([encode_frame(MESSAGES[1])], max_frame=10) as stream:
        with pytest.raises(WireError, match="10-byte limit"):
            await stream.receive()


@pytest.mark.asyncio
async def test_async_reader_rejects_oversize_and_truncation() -> None:
    with _reader([struct.pack("!I", MAX_FRAME + 1)]) as stream:
        with pytest.raises(WireError, match="exceeds"):
            await stream.receive()
    with _reader([encode_frame(MESSAGES[1])[:-1]]) as stream:
        with pytest.raises(WireError, match="truncated"):
            await stream.receive()
    with _reader([b"\x00\x00"]) as stream:
        with pytest.raises(WireError, match="truncated"):
            await stream.receive()


@pytest.mark.asyncio
@pytest.mark.parametrize("cut", [2, 6])  # stalled inside the header, inside the body
async def test_async_reader_deadline_covers_the_frame_not_the_idle_wait(cut: int) -> None:
    send, receive = anyio.create_memory_object_stream[bytes](10)
    frame = encode_frame(MESSAGES[2])
    with send, receive:
        stream = FrameReader(receive)  # type: ignore[arg-type]
        async with anyio.create_task_group() as tg:

            async def late_sender() -> None:
                await anyio.sleep(0.3)  # idle longer than the frame timeout: fine
                await send.send(frame)
                await send.send(frame[:cut])  # then a half frame that stalls

            tg.start_soon(late_sender)
            assert await stream.receive(frame_timeout=0.1) == MESSAGES[2]
            with anyio.fail_after(5):
                with pytest.raises(WireError, match="stalled"):
                    await stream.receive(frame_timeout=0.1)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('[tune-metric]: {"loss": 0.5, "epoch": 1}', {"loss": 0.5, "epoch": 1}),
        ('[tune-metric]: {"loss": 0.5}\n', {"loss": 0.5}),
        ('INFO:root:[tune-metric]: {"a": 1} trailing', {"a": 1}),
        ('[tune-metric]: {"x": NaN, "y": Infinity}', None),  # checked separately below
        ("epoch 1 loss 0.5", None),
        ("[tune-metric]: {broken json", None),
        ("[tune-metric]: [1, 2]", None),
        ("[tune-metric]: 3", None),
        ("[tune-metric]:{}", None),
        ("[tune-metric]: {" + '"a":' * 100_000 + "}", None),
        ('[tune-metric]: {"big": ' + "9" * 5000 + "}", None),  # int digit limit
        ("", None),
    ],
)
def test_parse_tune_metric_line(line: str, expected: dict | None) -> None:
    got = parse_tune_metric_line(line)
    if "NaN" in line:
        assert got is not None and math.isnan(got["x"]) and got["y"] == math.inf
    else:
        assert got == expected


def test_non_numeric_values_of_a_line_are_dropped_and_its_numbers_kept(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Syne Tune's reporter takes any JSON value: a Syne Tune script's line keeps its
    numbers, and each dropped key is named in a warning once."""
    monkeypatch.setattr(aiotune.wire, "_warned_keys", set())  # once per process
    line = '[tune-metric]: {"epoch": 1, "loss": 0.5, "phase": "train", "a": [1, {"b": null}]}'
    with caplog.at_level(logging.WARNING, logger="aiotune.wire"):
        assert parse_tune_metric_line(line) == {"epoch": 1, "loss": 0.5}
        assert parse_tune_metric_line(line) == {"epoch": 1, "loss": 0.5}
    warned = [r.getMessage() for r in caplog.records]
    assert sum("'phase'" in w and "str" in w for w in warned) == 1
    assert sum("'a'" in w and "list" in w for w in warned) == 1
    assert parse_tune_metric_line('[tune-metric]: {"phase": "eval", "note": null}') is None
    assert parse_tune_metric_line('[tune-metric]: {"ok": true, "n": 2}') == {"ok": True, "n": 2}
    with pytest.raises(WireError, match="'a'"):  # a frame is still checked whole
        validate_metrics({"a": [1, {"b": None}]})


def test_validate_metrics_keeps_nan_inf_and_plain_values() -> None:
    metrics = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "b": False, "i": 2**63 - 1}
    out = validate_metrics(metrics)
    assert math.isnan(out["nan"]) and out["inf"] == math.inf and out["ninf"] == -math.inf
    assert out["b"] is False and out["i"] == 2**63 - 1
    assert validate_metrics({"i": -(2**63)}) == {"i": -(2**63)}


@pytest.mark.parametrize(
    ("metrics", "named"),
    [
        ({"loss": "0.5"}, "'loss'"),
        ({"loss": None}, "'loss'"),
        ({"loss": [0.5]}, "'loss'"),
        ({"loss": {"a": 1}}, "'loss'"),
        ({"loss": b"x"}, "'loss'"),
        ({"steps": 2**63}, "'steps'"),
        ({"steps": -(2**63) - 1}, "'steps'"),
        ({"": 1.0}, "empty"),
        ({"trial_id": 1}, "'trial_id'"),
        ({"attempt": 1}, "'attempt'"),
        ({"seq": 1}, "'seq'"),
        ({"aiotune_time": 1}, "'aiotune_time'"),
        ({"x" * 257: 1}, "257 characters"),
        ({3: 1}, "3"),
    ],
)
def test_validate_metrics_rejects_naming_the_key(metrics: dict, named: str) -> None:
    with pytest.raises(WireError, match=named):
        validate_metrics(metrics)


def test_validate_metrics_accepts_a_256_character_name() -> None:
    assert validate_metrics({"x" * 256: 1}) == {"x" * 256: 1}


def test_validate_metrics_rejects_a_non_dict() -> None:
    with pytest.raises(WireError, match="dict"):
        validate_metrics([("a", 1)])  # type: ignore[arg-type]
