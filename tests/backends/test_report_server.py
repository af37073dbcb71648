"""The report server with real sockets and real trial subprocesses, under attack and at exit."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import SocketStream
from anyio.streams.memory import MemoryObjectReceiveStream

from aiotune.backends._report_server import ReportServer
from aiotune.clock import RealClock
from aiotune.errors import InvalidArgumentError, WireError
from aiotune.events import Event, ResultEvent
from aiotune.wire import (
    ENV_ATTEMPT,
    ENV_REPORT_ADDR,
    ENV_SECRET,
    ENV_TRIAL_ID,
    Goodbye,
    Hello,
    Report,
    encode_frame,
)

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = 0  # trial id of the well-behaved subprocess trial
TIMEOUT = 0.3  # frame timeout of the attack tests

TRIAL_SCRIPT = """
import sys, time
from aiotune.reporter import Reporter
n, pause = int(sys.argv[1]), float(sys.argv[2])
report = Reporter()
for i in range(n):
    report(step=i, loss=1.0 / (i + 1))
    if i == n // 2:
        time.sleep(pause)
"""

Receive = MemoryObjectReceiveStream[Event]


@contextlib.asynccontextmanager
async def serving(
    buffer: float = math.inf, **kwargs: float
) -> AsyncIterator[tuple[ReportServer, Receive]]:
    """A running server whose events pile up in ``receive`` (read them with ``take``)."""
    send, receive = anyio.create_memory_object_stream[Event](buffer)
    with receive:
        async with anyio.create_task_group() as tg:
            server = ReportServer(send, RealClock(), **kwargs)  # type: ignore[arg-type]
            assert await tg.start(server.serve) == server.address
            try:
                yield server, receive
            finally:
                tg.cancel_scope.cancel()


def take(receive: Receive, trial_id: int | None = None) -> list[ResultEvent]:
    """Every event already in the stream (optionally of one trial)."""
    out: list[Event] = []
    with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
        while True:
            out.append(receive.receive_nowait())
    assert all(isinstance(e, ResultEvent) for e in out)
    return [e for e in out if trial_id is None or e.trial_id == trial_id]  # type: ignore[misc]


async def run_trial(env: dict[str, str], n: int, pause: float = 0.0) -> None:
    """Run the Reporter script as a real trial process and check it exited cleanly."""
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    result = await anyio.run_process(
        [sys.executable, "-c", TRIAL_SCRIPT, str(n), str(pause)], env=full, check=False
    )
    assert result.returncode == 0, result.stderr.decode()


def check_contiguous(events: list[ResultEvent], n: int) -> None:
    assert [e.seq for e in events] == list(range(n))
    assert [e.metrics["step"] for e in events] == list(range(n))
    assert [e.metrics["st_worker_iter"] for e in events] == list(range(n))


async def connect(server: ReportServer) -> SocketStream:
    return await anyio.connect_unix(server.address)


async def hello(server: ReportServer, trial_id: int, attempt: int = 0) -> SocketStream:
    """A connection authenticated as ``(trial_id, attempt)``."""
    env = server.register(trial_id, attempt)
    conn = await connect(server)
    await conn.send(encode_frame(Hello(trial_id, attempt, env[ENV_SECRET])))
    return conn


async def closed_by_server(conn: SocketStream, within: float = 5.0) -> None:
    """Wait until the server closes ``conn`` (it never writes to it)."""
    with anyio.fail_after(within):
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
            while True:
                await conn.receive()
    await conn.aclose()


# -- a healthy trial, and no report lost at exit ---------------------------------------------


@pytest.mark.asyncio
async def test_subprocess_trial_1000_reports_all_arrive_after_drain() -> None:
    async with serving() as (server, receive):
        env = server.register(HEALTHY, 0)
        assert env[ENV_REPORT_ADDR] == server.address
        assert (env[ENV_TRIAL_ID], env[ENV_ATTEMPT]) == ("0", "0")
        assert len(env[ENV_SECRET]) == 64 and int(env[ENV_SECRET], 16) >= 0
        clock = RealClock()
        started = clock.now()
        await run_trial(env, 1000)
        await server.drain(HEALTHY, 0, timeout=10)
        events = take(receive)
        check_contiguous(events, 1000)
        assert all(e.trial_id == HEALTHY and e.attempt == 0 for e in events)
        assert started <= events[0].time <= events[-1].time <= clock.now()
        assert server.stats.frames_accepted == 1000
        assert server.stats.frames_rejected == server.stats.connections_rejected == 0
        assert server.stats.duplicates_dropped == 0


@pytest.mark.asyncio
async def test_backpressure_with_a_slow_consumer_keeps_every_report_in_order() -> None:
    got: list[ResultEvent] = []
    async with serving(buffer=0) as (server, receive), anyio.create_task_group() as tg:
        all_in = anyio.Event()

        async def slow_consumer() -> None:
            async for event in receive:
                assert isinstance(event, ResultEvent)
                got.append(event)
                if len(got) == 300:
                    all_in.set()
                await anyio.sleep(0.0005)

        tg.start_soon(slow_consumer)
        await run_trial(server.register(HEALTHY, 0), 300)
        await server.drain(HEALTHY, 0, timeout=10)
        with anyio.fail_after(5):
            await all_in.wait()
        tg.cancel_scope.cancel()
    check_contiguous(got, 300)


# -- attacks, each while a healthy trial reports ---------------------------------------------


async def wrong_secret(server: ReportServer) -> None:
    server.register(50, 0)
    conn = await connect(server)
    await conn.send(encode_frame(Hello(50, 0, "00" * 32)))
    await closed_by_server(conn)


async def another_trials_secret(server: ReportServer) -> None:
    other = server.register(51, 0)
    server.register(52, 0)
    conn = await connect(server)
    await conn.send(encode_frame(Hello(52, 0, other[ENV_SECRET])))
    await closed_by_server(conn)


async def non_ascii_secret(server: ReportServer) -> None:
    server.register(53, 0)
    conn = await connect(server)
    await conn.send(encode_frame(Hello(53, 0, "é" * 64)))
    await closed_by_server(conn)


async def no_hello(server: ReportServer) -> None:
    conn = await connect(server)
    await closed_by_server(conn)


async def goodbye_instead_of_hello(server: ReportServer) -> None:
    conn = await connect(server)
    await conn.send(encode_frame(Goodbye(0, 0, 0)))
    await closed_by_server(conn)


async def never_registered(server: ReportServer) -> None:
    conn = await connect(server)
    await conn.send(encode_frame(Hello(99, 0, "ab" * 32)))
    await closed_by_server(conn)


async def unregistered_attempt(server: ReportServer) -> None:
    env = server.register(54, 0)
    server.unregister(54, 0)
    conn = await connect(server)
    await conn.send(encode_frame(Hello(54, 0, env[ENV_SECRET])))
    await closed_by_server(conn)


async def garbage_bytes(server: ReportServer) -> None:
    conn = await connect(server)
    await conn.send(b"\x00\x00\x00\x08garbage!")
    await closed_by_server(conn)


async def http_request(server: ReportServer) -> None:
    conn = await connect(server)  # "GET " read as a length: about 1.2 GB
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await closed_by_server(conn)


async def oversized_length(server: ReportServer) -> None:
    conn = await hello(server, 55)
    await conn.send(struct.pack("!I", 0xFFFFFFFF) + b"\x00" * 100)
    await closed_by_server(conn)


async def stalled_half_frame(server: ReportServer) -> None:
    conn = await hello(server, 56)
    await conn.send(encode_frame(Report(56, 0, 0, {"loss": 1.0}))[:7])
    await closed_by_server(conn)


async def invalid_metric_value(server: ReportServer) -> None:
    conn = await hello(server, 57)
    await conn.send(encode_frame(Report(57, 0, 0, {"loss": "abc"})))
    await closed_by_server(conn)


async def report_for_another_trial(server: ReportServer) -> None:
    server.register(59, 0)
    conn = await hello(server, 58)
    await conn.send(encode_frame(Report(59, 0, 0, {"loss": 1.0})))
    await closed_by_server(conn)


async def second_hello(server: ReportServer) -> None:
    conn = await hello(server, 60)
    await conn.send(encode_frame(Hello(60, 0, "ab" * 32)))
    await closed_by_server(conn)


async def replayed_frame(server: ReportServer) -> None:
    conn = await hello(server, 61)
    frames = [encode_frame(Report(61, 0, s, {"step": s})) for s in (0, 1)]
    await conn.send(frames[0] + frames[0] + frames[1] + frames[0])
    await conn.aclose()
    await server.drain(61, 0, timeout=5)


async def death_mid_frame(server: ReportServer) -> None:
    conn = await hello(server, 62)
    frame = encode_frame(Report(62, 0, 0, {"step": 0}))
    await conn.send(frame + frame[:-3])
    await conn.aclose()
    await server.drain(62, 0, timeout=5)


ATTACKS: list[tuple[Callable[[ReportServer], Awaitable[None]], str, str]] = [
    (wrong_secret, "connections_rejected", "wrong secret"),
    (another_trials_secret, "connections_rejected", "wrong secret"),
    (non_ascii_secret, "connections_rejected", "wrong secret"),
    (no_hello, "connections_rejected", "no hello within"),
    (goodbye_instead_of_hello, "connections_rejected", "not a Hello"),
    (never_registered, "connections_rejected", "not registered"),
    (unregistered_attempt, "connections_rejected", "not registered"),
    (garbage_bytes, "frames_rejected", "undecodable"),
    (http_request, "frames_rejected", "exceeds"),
    (oversized_length, "frames_rejected", "exceeds"),
    (stalled_half_frame, "frames_rejected", "stalled"),
    (invalid_metric_value, "frames_rejected", "'loss'"),
    (report_for_another_trial, "frames_rejected", "trial 59"),
    (second_hello, "frames_rejected", "second hello"),
    (replayed_frame, "duplicates_dropped", ""),
    (death_mid_frame, "frames_rejected", "truncated"),
]
COUNTERS = ("frames_rejected", "connections_rejected", "duplicates_dropped")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("attack", "counter", "reason"), ATTACKS, ids=[a[0].__name__ for a in ATTACKS]
)
async def test_attack_is_counted_while_a_healthy_trial_reports(
    attack: Callable[[ReportServer], Awaitable[None]], counter: str, reason: str
) -> None:
    async with serving(frame_timeout=TIMEOUT) as (server, receive):
        env = server.register(HEALTHY, 0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_trial, env, 1000, 2 * TIMEOUT)  # pauses mid-way: truly concurrent
            await attack(server)
        await server.drain(HEALTHY, 0, timeout=10)
        events = take(receive)
        check_contiguous([e for e in events if e.trial_id == HEALTHY], 1000)
        stats = server.stats
        for name in COUNTERS:
            expected = 2 if name == counter == "duplicates_dropped" else int(name == counter)
            assert getattr(stats, name) == expected, (name, stats)
        if reason:
            assert len(stats.rejections) == 1 and reason in stats.rejections[0], stats.rejections
        attackers = [e for e in events if e.trial_id != HEALTHY]
        if attack is replayed_frame:
            assert [(e.seq, e.metrics["step"]) for e in attackers] == [(0, 0), (1, 1)]
        elif attack is death_mid_frame:
            assert [(e.seq, e.metrics["step"]) for e in attackers] == [(0, 0)]
        else:
            assert attackers == []


@pytest.mark.asyncio
async def test_all_attacks_at_once() -> None:
    async with serving(frame_timeout=TIMEOUT) as (server, receive):
        env = server.register(HEALTHY, 0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_trial, env, 1000, 2 * TIMEOUT)
            for attack, _, _ in ATTACKS:
                tg.start_soon(attack, server)
        await server.drain(HEALTHY, 0, timeout=10)
        check_contiguous(take(receive, HEALTHY), 1000)
        for name in COUNTERS:
            expected = sum(
                2 if c == "duplicates_dropped" else 1 for _, c, _ in ATTACKS if c == name
            )
            assert getattr(server.stats, name) == expected, (name, server.stats)


# -- connections, registration, draining ------------------------------------------------------


@pytest.mark.asyncio
async def test_socket_folder_0700_socket_0600_removed_on_exit() -> None:
    send, receive = anyio.create_memory_object_stream[Event]()
    with receive:
        async with anyio.create_task_group() as tg:
            server = ReportServer(send, RealClock())
            await tg.start(server.serve)
            path = anyio.Path(server.address)
            mode = (await path.stat()).st_mode
            assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
            assert stat.S_IMODE((await path.parent.stat()).st_mode) == 0o700
            assert not server.address.startswith("\0")
            tg.cancel_scope.cancel()
        assert not await path.parent.exists()
        with pytest.raises(anyio.EndOfStream):  # the server closed its send stream
            receive.receive_nowait()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
@pytest.mark.asyncio
async def test_other_users_cannot_connect_and_are_rejected_by_peer_uid() -> None:
    script = (
        "import os, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(13)\n"
        "s.settimeout(5); print(s.recv(1))\n"
    )
    async with serving(frame_timeout=5) as (server, _):
        argv = [sys.executable, "-c", script, server.address]
        result = await anyio.run_process(argv, check=False)
        assert result.returncode == 13  # the 0700 folder keeps other users out
        await anyio.Path(server.address).parent.chmod(0o711)
        await anyio.Path(server.address).chmod(0o777)
        result = await anyio.run_process(argv, check=False)
        assert result.returncode == 0 and result.stdout.strip() == b"b''"  # closed at once
        assert server.stats.connections_rejected == 1
        assert "peer uid 65534" in server.stats.rejections[0]


@pytest.mark.asyncio
async def test_register_needs_a_serving_server_and_retired_attempts_stay_retired() -> None:
    send, receive = anyio.create_memory_object_stream[Event]()
    with send, receive:
        with pytest.raises(WireError, match="not serving"):
            ReportServer(send, RealClock()).register(1, 0)
    async with serving() as (server, _):
        first = server.register(1, 0)
        assert server.register(1, 0) == first  # idempotent
        assert server.register(1, 1)[ENV_SECRET] != first[ENV_SECRET]
        server.unregister(1, 0)
        with pytest.raises(InvalidArgumentError, match="attempt 0"):
            server.register(1, 0)


def test_invalid_constructor_arguments() -> None:
    send, receive = anyio.create_memory_object_stream[Event]()
    with send, receive:
        for kwargs in ({"max_frame": 0}, {"frame_timeout": 0}, {"max_connections": 0}):
            with pytest.raises(InvalidArgumentError):
                ReportServer(send, RealClock(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_frames_after_unregister_are_rejected() -> None:
    async with serving() as (server, receive):
        conn = await hello(server, 7)
        await conn.send(encode_frame(Report(7, 0, 0, {"step": 0})))
        await server.drain(7, 0, timeout=0.2)  # still connected: returns at the timeout
        assert [e.seq for e in take(receive)] == [0]
        server.unregister(7, 0)
        await conn.send(encode_frame(Report(7, 0, 1, {"step": 1})))
        await closed_by_server(conn)
        assert take(receive) == []
        assert server.stats.frames_rejected == 1
        assert "unregistered" in server.stats.rejections[0]


@pytest.mark.asyncio
async def test_a_trial_may_reconnect_and_replays_across_connections_are_dropped() -> None:
    async with serving() as (server, receive):
        first = await hello(server, 8)
        await first.send(b"".join(encode_frame(Report(8, 0, s, {"step": s})) for s in (0, 1)))
        await first.aclose()
        await server.drain(8, 0, timeout=5)
        second = await hello(server, 8)
        await second.send(b"".join(encode_frame(Report(8, 0, s, {"step": s})) for s in (1, 2)))
        await second.send(encode_frame(Goodbye(8, 0, 3)))
        await closed_by_server(second)  # the server closes after the goodbye
        await server.drain(8, 0, timeout=5)
        assert [(e.seq, e.metrics["step"]) for e in take(receive)] == [(0, 0), (1, 1), (2, 2)]
        assert server.stats.duplicates_dropped == 1
        assert server.stats.frames_rejected == server.stats.connections_rejected == 0


@pytest.mark.asyncio
async def test_connections_over_the_cap_are_closed() -> None:
    async with serving(max_connections=2, frame_timeout=10) as (server, receive):
        idle = [await connect(server), await connect(server)]
        extra = await connect(server)
        await closed_by_server(extra, within=2)
        assert server.stats.connections_rejected == 1
        assert "limit 2" in server.stats.rejections[0]
        for conn in idle:
            await conn.aclose()
        with anyio.fail_after(5):
            while server._active:  # noqa: ASYNC110 (test-only look at a private counter)
                await anyio.sleep(0.01)
        for _ in range(2):  # both slots free again: a real trial gets in
            conn = await hello(server, 9)
            await conn.send(encode_frame(Report(9, 0, 0, {"step": 0})))
            await conn.aclose()
            await server.drain(9, 0, timeout=5)
        assert [e.seq for e in take(receive)] == [0]


@pytest.mark.asyncio
async def test_drain_returns_at_once_if_never_connected_and_waits_for_eof() -> None:
    async with serving() as (server, receive):
        server.register(10, 0)
        started = time.monotonic()
        await server.drain(10, 0, timeout=5)
        await server.drain(999, 0, timeout=5)  # unknown attempt
        assert time.monotonic() - started < 0.5

        conn = await hello(server, 11)
        await conn.send(encode_frame(Report(11, 0, 0, {"step": 0})))

        async def close_later() -> None:
            await anyio.sleep(0.3)
            await conn.send(encode_frame(Report(11, 0, 1, {"step": 1})))
            await conn.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(close_later)
            started = time.monotonic()
            await server.drain(11, 0, timeout=5)
            waited = time.monotonic() - started
        assert 0.25 < waited < 3
        assert [e.seq for e in take(receive)] == [0, 1]


@pytest.mark.asyncio
async def test_drain_waits_for_a_connection_still_queued_in_the_listener() -> None:
    """A trial that connected and exited before the server accepted still gets drained."""
    async with serving() as (server, receive):
        env = {**os.environ, **server.register(12, 0), "PYTHONPATH": str(ROOT)}
        # Block the event loop on purpose while the trial runs, so the server
        # cannot accept its connection before the trial has exited.
        done = subprocess.run(  # noqa: ASYNC221
            [sys.executable, "-c", TRIAL_SCRIPT, "5", "0"], env=env, timeout=60
        )
        assert done.returncode == 0
        assert server._listener_pending()  # still queued in the listener
        await server.drain(12, 0, timeout=5)
        check_contiguous(take(receive), 5)


# -- metrics read from stdout lines -----------------------------------------------------------


@pytest.mark.asyncio
async def test_deliver_validates_and_numbers_after_socket_reports() -> None:
    async with serving() as (server, receive):
        conn = await hello(server, 20)
        await conn.send(encode_frame(Report(20, 0, 0, {"step": 0})))
        await conn.aclose()
        await server.drain(20, 0, timeout=5)
        assert server.deliver(20, 0, {"step": 1, "loss": math.nan})
        assert not server.deliver(20, 0, {"step": "2"})
        assert not server.deliver(21, 0, {"step": 2})  # not registered
        assert await server.adeliver(20, 0, {"step": 2})
        events = take(receive)
        assert [(e.seq, e.metrics["step"]) for e in events] == [(0, 0), (1, 1), (2, 2)]
        assert math.isnan(events[1].metrics["loss"])
        assert server.stats.frames_rejected == 2
        assert "'step'" in server.stats.rejections[0]
        assert "not registered" in server.stats.rejections[1]


@pytest.mark.asyncio
async def test_deliver_never_blocks_and_keeps_order_when_the_stream_is_full() -> None:
    async with serving(buffer=1) as (server, receive):
        server.register(22, 0)
        assert all(server.deliver(22, 0, {"step": i}) for i in range(50))  # no await, no loss
        got: list[Event] = []

        async def consume() -> None:
            async for event in receive:
                got.append(event)

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await server.drain(22, 0, timeout=5)  # waits until the queue is in the stream
            assert len(got) >= 49
            tg.cancel_scope.cancel()
        assert [e.seq for e in got] == list(range(len(got)))
        assert [e.metrics["step"] for e in got] == list(range(len(got)))  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_cancel_with_connections_just_accepted_leaks_no_socket() -> None:
    for steps in range(6):  # cancel at many points of the accept / handler start dance
        clients: list[socket.socket] = []
        try:
            async with serving() as (server, _):
                env = server.register(30, 0)
                hello_frame = encode_frame(Hello(30, 0, env[ENV_SECRET]))
                for _ in range(20):  # queued in the listener; nothing accepted yet
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    clients.append(sock)
                    sock.connect(server.address)
                    sock.sendall(hello_frame)
                for _ in range(steps):
                    await anyio.lowlevel.checkpoint()
            gc.collect()  # an unclosed server-side socket would warn (warnings are errors)
        finally:
            for sock in clients:
                sock.close()
