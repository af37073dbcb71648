"""The tuner side of the report channel: authenticate trial connections, turn frames into events.

One ``ReportServer`` per backend session listens on a pathname Unix socket in a
fresh 0700 folder (the socket itself 0600). Each trial attempt is registered
first and gets a 256-bit secret in its environment; a connection must present
it in a ``Hello`` within ``frame_timeout`` seconds, from a peer with our uid.
Every accepted report becomes a ``ResultEvent`` whose ``seq`` counts 0, 1, 2,
... per attempt; replays are dropped. Any malformed, oversized, stalled or
unauthenticated input closes *that* connection with a logged reason and a
counter, and never raises out of :meth:`ReportServer.serve`.
"""

from __future__ import annotations

import collections
import errno
import hmac
import logging
import os
import secrets
import select
import shutil
import socket
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from ..clock import Clock
from ..errors import InvalidArgumentError, WireError
from ..events import Event, ResultEvent
from ..wire import (
    ENV_ATTEMPT,
    ENV_REPORT_ADDR,
    ENV_SECRET,
    ENV_TRIAL_ID,
    MAX_FRAME,
    FrameReader,
    Goodbye,
    Hello,
    validate_metrics,
)

__all__ = ["ReportServer", "ReportServerStats"]

logger = logging.getLogger("aiotune.wire")

_MAX_REJECTIONS = 100
_PEERCRED = struct.Struct("3i")
_ACCEPT_RETRY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# A peer that hung up between connect and accept (anyio sets TCP_NODELAY on the new
# socket and gets ENOTCONN): that one connection is gone, the listener is fine.
_ACCEPT_PEER_GONE_ERRNOS = frozenset({errno.ENOTCONN, errno.ECONNABORTED, errno.ECONNRESET})


@dataclass
class ReportServerStats:
    """Counters of the report channel, for logs, tests and the tuner's status line.

    ``connections_rejected`` counts connections refused before they were
    authenticated (over the cap, foreign uid, no hello in time, unknown or
    unregistered attempt, wrong secret); ``frames_rejected`` counts bad frames
    (undecodable, oversized, truncated, stalled, invalid metrics, a report for
    another attempt, frames after unregister) and rejected ``deliver`` calls.
    """

    frames_accepted: int = 0
    frames_rejected: int = 0
    duplicates_dropped: int = 0
    connections_rejected: int = 0
    rejections: list[str] = field(default_factory=list)


class _Reject(Exception):
    """Close this connection for ``reason``; ``connection`` picks the counter."""

    def __init__(self, reason: str, *, connection: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.connection = connection


class _StreamClosed(Exception):
    """The event stream's receiver is gone: nothing more can be delivered."""


@dataclass(eq=False)
class _Attempt:
    """What the server knows about one registered ``(trial_id, attempt)``."""

    trial_id: int
    attempt: int
    secret: str
    lock: anyio.Lock = field(default_factory=lambda: anyio.Lock(fast_acquire=True))
    registered: bool = True
    last_wire_seq: int = -1
    next_seq: int = 0
    open: int = 0
    backlog: int = 0

    @property
    def name(self) -> str:
        return f"trial {self.trial_id} attempt {self.attempt}"


class ReportServer:
    """Accepts trial connections on a private Unix socket and sends their reports as events.

    Start it with ``address = await tg.start(server.serve)``; cancel the task
    group to stop it (the listener closes, its folder is removed and ``send``
    is closed, so pass a ``clone()`` of the backend's send stream).
    """

    def __init__(
        self,
        send: MemoryObjectSendStream[Event],
        clock: Clock,
        *,
        max_frame: int = MAX_FRAME,
        frame_timeout: float = 10.0,
        max_connections: int = 1024,
        on_report: Callable[[int, int], None] | None = None,
        tcp_host: str | None = None,
        tcp_port: int = 0,
    ) -> None:
        if not 0 < max_frame <= 1 << 31:
            raise InvalidArgumentError(f"max_frame must be in (0, 2**31], got {max_frame}")
        if not frame_timeout > 0:
            raise InvalidArgumentError(f"frame_timeout must be > 0, got {frame_timeout}")
        if max_connections < 1:
            raise InvalidArgumentError(f"max_connections must be >= 1, got {max_connections}")
        self.clock = clock
        self.address = ""
        self.stats = ReportServerStats()
        self._send = send
        self._max_frame = max_frame
        self._frame_timeout = frame_timeout
        self._max_connections = max_connections
        self._on_report = on_report
        """Called with ``(trial_id, attempt)`` for each accepted report (a trial's heartbeat)."""
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._retired: set[tuple[int, int]] = set()
        self._backlog: collections.deque[tuple[_Attempt, ResultEvent]] = collections.deque()
        self._active = 0
        self._unidentified = 0
        self._serving = False
        self._listener_sock: socket.socket | None = None
        self._conns: set[SocketStream] = set()
        self._changed: anyio.Event | None = None
        self._pump_wake: anyio.Event | None = None
        self._init_tcp(tcp_host, tcp_port)

    def __repr__(self) -> str:
        return (
            f"ReportServer(address={self.address!r}, attempts={len(self._attempts)}, "
            f"connections={self._active}, accepted={self.stats.frames_accepted})"
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; ``task_status.started`` gets the socket path.

        Raises OSError if the socket cannot be created (reaches ``tg.start``).
        """
        if self._serving:
            raise WireError("this ReportServer is already serving")
        self._changed = anyio.Event()
        self._pump_wake = anyio.Event()
        tmp = tempfile.gettempdir()
        folder = tempfile.mkdtemp(prefix="aiotune-", dir=tmp if len(tmp) < 64 else "/tmp")
        try:
            path = os.path.join(folder, "report.sock")
            listener = await anyio.create_unix_listener(path, mode=0o600)
            async with listener, anyio.create_task_group() as tg:
                self._listener_sock = listener.extra(SocketAttribute.raw_socket)
                self.address = path
                self._serving = True
                tg.start_soon(self._pump)
                await self._start_tcp(tg)
                task_status.started(path)
                await self._accept_loop(listener, tg)
        finally:
            self._serving = False
            self._listener_sock = None
            with anyio.CancelScope(shield=True):
                for conn in list(self._conns):  # handlers cancelled before they started
                    await conn.aclose()
            self._conns.clear()
            shutil.rmtree(folder, ignore_errors=True)
            self._send.close()
            self._notify()

    async def _accept_loop(self, listener: SocketListener, tg: TaskGroup) -> None:
        while True:
            try:
                conn = await listener.accept()
            except (OSError, anyio.BrokenResourceError) as exc:
                cause = exc if isinstance(exc, OSError) else exc.__cause__
                code = getattr(cause, "errno", None)
                if code in _ACCEPT_PEER_GONE_ERRNOS:
                    self._reject(f"connection lost before accept: {cause!r}", connection=True)
                    continue
                if code not in _ACCEPT_RETRY_ERRNOS:
                    raise
                logger.warning("report channel: accept failed (%s); retrying in 0.1s", cause)
                await anyio.sleep(0.1)  # out of fds: let connections finish first
                continue
            if self._active >= self._max_connections:
                self._reject(
                    f"connection refused: {self._active} connections open "
                    f"(limit {self._max_connections})",
                    connection=True,
                )
                await conn.aclose()
                self._notify()
                continue
            self._active += 1
            self._unidentified += 1
            self._conns.add(conn)
            tg.start_soon(self._handle, conn)
            self._notify()

    # -- registration ----------------------------------------------------------------------

    def register(self, trial_id: int, attempt: int) -> dict[str, str]:
        """Admit ``(trial_id, attempt)``; returns the environment variables its process needs."""
        if not self._serving:
            raise WireError("ReportServer.register called while the server is not serving")
        key = (trial_id, attempt)
        if key in self._retired:
            raise InvalidArgumentError(
                f"trial {trial_id} attempt {attempt} was unregistered; use a new attempt number"
            )
        st = self._attempts.get(key)
        if st is None:
            st = self._attempts[key] = _Attempt(trial_id, attempt, secrets.token_hex(32))
        return {
            ENV_REPORT_ADDR: self.address,
            ENV_TRIAL_ID: str(trial_id),
            ENV_ATTEMPT: str(attempt),
            ENV_SECRET: st.secret,
        }

    def unregister(self, trial_id: int, attempt: int) -> None:
        """Retire ``(trial_id, attempt)``: its later frames and connections are rejected."""
        key = (trial_id, attempt)
        self._retired.add(key)
        st = self._attempts.get(key)
        if st is not None:
            st.registered = False
            st.secret = ""
            self._forget_if_idle(st)
        self._notify()

    def _forget_if_idle(self, st: _Attempt) -> None:
        key = (st.trial_id, st.attempt)
        if not st.registered and st.open == 0 and st.backlog == 0:
            if self._attempts.get(key) is st:
                del self._attempts[key]

    # -- delivery --------------------------------------------------------------------------

    def deliver(self, trial_id: int, attempt: int, metrics: dict[str, Any]) -> bool:
        """Send metrics parsed from a trial's stdout as the attempt's next event.

        Never blocks: when the stream is full the event waits in an internal
        queue (in order) until the consumer takes it. False if rejected.
        """
        admitted = self._admit(trial_id, attempt, metrics)
        if admitted is None:
            return False
        st, values = admitted
        event = self._next_event(st, values)
        if not self._backlog and not st.lock.locked():
            try:
                self._send.send_nowait(event)
            except anyio.WouldBlock:
                pass
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._reject(f"{st.name}: event stream closed", connection=False)
                return False
            else:
                self.stats.frames_accepted += 1
                return True
        self._backlog.append((st, event))
        st.backlog += 1
        if self._pump_wake is not None:  # always set while serving
            self._pump_wake.set()
        return True

    async def adeliver(self, trial_id: int, attempt: int, metrics: dict[str, Any]) -> bool:
        """Like :meth:`deliver`, but waits while the stream is full (backpressure)."""
        admitted = self._admit(trial_id, attempt, metrics)
        if admitted is None:
            return False
        st, values = admitted
        try:
            await self._emit(st, values, None)
        except _StreamClosed:
            return False
        return True

    def _admit(
        self, trial_id: int, attempt: int, metrics: Any
    ) -> tuple[_Attempt, dict[str, Any]] | None:
        """The attempt and validated metrics of a delivery, or None (rejection counted)."""
        st = self._attempts.get((trial_id, attempt))
        if st is None or not st.registered or not self._serving:
            why = "server not serving" if not self._serving else "not registered"
            self._reject(f"trial {trial_id} attempt {attempt}: {why}", connection=False)
            return None
        try:
            values = validate_metrics(metrics)
        except WireError as exc:
            self._reject(f"{st.name}: {exc}", connection=False)
            return None
        if self._on_report is not None:
            self._on_report(trial_id, attempt)
        return st, values

    def _next_event(self, st: _Attempt, metrics: dict[str, Any]) -> ResultEvent:
        event = ResultEvent(
            trial_id=st.trial_id,
            attempt=st.attempt,
            seq=st.next_seq,
            time=self.clock.now(),
            metrics=metrics,
        )
        st.next_seq += 1
        return event

    async def _emit(self, st: _Attempt, metrics: dict[str, Any], wire_seq: int | None) -> None:
        """Send one accepted report in order for its attempt, dropping wire replays."""
        async with st.lock:
            if wire_seq is not None:
                if wire_seq <= st.last_wire_seq:
                    self.stats.duplicates_dropped += 1
                    logger.debug("report channel: %s: dropped replay of seq %d", st.name, wire_seq)
                    return
                st.last_wire_seq = wire_seq
            while st.backlog:  # deliver()'d events of this attempt go first
                await self._wait_changed()
            event = self._next_event(st, metrics)
            try:
                try:
                    self._send.send_nowait(event)  # no trip through the loop while there is room
                except anyio.WouldBlock:
                    await self._send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise _StreamClosed from exc
            self.stats.frames_accepted += 1

    async def _pump(self) -> None:
        """Move ``deliver``'d events into the stream in order, waiting while it is full."""
        while True:
            wake = self._pump_wake = anyio.Event()
            while self._backlog:
                st, event = self._backlog[0]
                try:
                    await self._send.send(event)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    for st, _ in self._backlog:
                        st.backlog = 0
                    self._backlog.clear()
                    self._notify()
                    return
                self._backlog.popleft()
                st.backlog -= 1
                self.stats.frames_accepted += 1
                self._forget_if_idle(st)
                self._notify()
            await wake.wait()

    # -- draining --------------------------------------------------------------------------

    async def drain(self, trial_id: int, attempt: int, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the attempt's connections reached EOF and its events are in the stream.

        Call it after the trial's process exited, before sending its ended
        event. Returns at once if the attempt never connected, once every
        connection still queued in the listener or not yet past its hello has
        identified itself (one of them may be this attempt's: a trial can exit
        before its connection is accepted), and after ``timeout`` at the latest.
        """
        with anyio.move_on_after(timeout):
            while not self._drained((trial_id, attempt)):
                await self._wait_changed()

    def _drained(self, key: tuple[int, int]) -> bool:
        st = self._attempts.get(key)
        if st is None:
            return True
        if st.open or st.backlog:
            return False
        return not (self._unidentified or self._listener_pending())

    def _listener_pending(self) -> bool:
        """True if a connection waits in the listener's queue (not yet accepted)."""
        if self._tcp_pending():
            return True
        sock = self._listener_sock
        if sock is None:
            return False
        poller = select.poll()
        try:
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False

    async def _wait_changed(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _notify(self) -> None:
        """Wake everything waiting for a change of connections or queues."""
        if self._changed is not None:
            self._changed.set()
            self._changed = anyio.Event()

    # -- connections -----------------------------------------------------------------------

    async def _handle(self, conn: SocketStream) -> None:
        st: _Attempt | None = None
        try:
            async with conn:
                stream = FrameReader(conn, max_frame=self._max_frame)
                try:
                    st = await self._authenticate(conn, stream)
                    await self._read_reports(st, stream)
                except _Reject as exc:
                    prefix = f"{st.name}: " if st is not None else ""
                    self._reject(prefix + exc.reason, connection=exc.connection)
                except WireError as exc:
                    prefix = f"{st.name}: " if st is not None else ""
                    self._reject(prefix + str(exc), connection=False)
                except (anyio.BrokenResourceError, OSError) as exc:
                    self._reject(f"connection broken: {exc!r}", connection=False)
                except _StreamClosed:
                    logger.debug("report channel: event stream closed; dropping connection")
                except Exception as exc:  # never let one connection take the server down
                    logger.exception("report channel: unexpected error on a connection")
                    self._reject(f"internal error: {exc!r}", connection=False)
        finally:
            self._conns.discard(conn)
            self._active -= 1
            if st is None:
                self._unidentified -= 1
            else:
                st.open -= 1
                self._forget_if_idle(st)
            self._notify()

    async def _authenticate(self, conn: SocketStream, stream: FrameReader) -> _Attempt:
        """Check the peer's uid and its Hello; returns the attempt it speaks for."""
        peercred = getattr(socket, "SO_PEERCRED", None)
        is_unix = conn.extra(SocketAttribute.family) == socket.AF_UNIX  # not over TCP
        if peercred is not None and is_unix:  # Linux; elsewhere the 0700 folder is the guard
            raw: socket.socket = conn.extra(SocketAttribute.raw_socket)
            creds = raw.getsockopt(socket.SOL_SOCKET, peercred, _PEERCRED.size)
            pid, uid, _gid = _PEERCRED.unpack(creds)
            if uid != os.getuid():
                raise _Reject(f"peer uid {uid} (pid {pid}) is not ours", connection=True)
        try:
            with anyio.fail_after(self._frame_timeout):
                msg = await stream.receive(self._frame_timeout)
        except TimeoutError:
            raise _Reject(f"no hello within {self._frame_timeout}s", connection=True) from None
        if msg is None:
            raise _Reject("connection closed before its hello", connection=True)
        if not isinstance(msg, Hello):
            raise _Reject(f"first frame is a {type(msg).__name__}, not a Hello", connection=True)
        st = self._attempts.get((msg.trial_id, msg.attempt))
        name = f"trial {msg.trial_id} attempt {msg.attempt}"
        if st is None or not st.registered:
            raise _Reject(f"hello for {name}, which is not registered", connection=True)
        if not hmac.compare_digest(
            msg.secret.encode("utf-8", "surrogatepass"), st.secret.encode("utf-8")
        ):
            raise _Reject(f"wrong secret in the hello for {name}", connection=True)
        self._unidentified -= 1
        st.open += 1
        self._notify()
        return st

    async def _read_reports(self, st: _Attempt, stream: FrameReader) -> None:
        """Turn the Report frames of an authenticated connection into events until EOF."""
        while True:
            msg = await stream.receive(self._frame_timeout)
            if msg is None:
                return
            if isinstance(msg, Hello):
                raise _Reject("a second hello on an authenticated connection", connection=False)
            if (msg.trial_id, msg.attempt) != (st.trial_id, st.attempt):
                raise _Reject(
                    f"{type(msg).__name__} for trial {msg.trial_id} attempt {msg.attempt} "
                    "on this connection",
                    connection=False,
                )
            if not st.registered:
                raise _Reject("frame after the attempt was unregistered", connection=False)
            if isinstance(msg, Goodbye):
                if msg.count != st.last_wire_seq + 1:
                    logger.debug(
                        "report channel: %s said goodbye after %d reports; last seq %d",
                        st.name,
                        msg.count,
                        st.last_wire_seq,
                    )
                return
            try:
                metrics = validate_metrics(msg.metrics)
            except WireError as exc:
                raise _Reject(f"report seq {msg.seq}: {exc}", connection=False) from None
            if self._on_report is not None:
                self._on_report(st.trial_id, st.attempt)
            await self._emit(st, metrics, msg.seq)

    def _reject(self, reason: str, *, connection: bool) -> None:
        if connection:
            self.stats.connections_rejected += 1
        else:
            self.stats.frames_rejected += 1
        rejections = self.stats.rejections
        rejections.append(reason)
        if len(rejections) > _MAX_REJECTIONS:
            del rejections[: len(rejections) - _MAX_REJECTIONS]
        logger.warning("report channel: rejected (%s)", reason)

    # -- TCP listener (distributed backends) ---------------------------------------------------
    # Additive: without ``tcp_host`` nothing here runs. Over TCP there is no SO_PEERCRED; the
    # per-attempt secret in the Hello is the authentication (RELIABILITY.md, report channel).

    def _init_tcp(self, tcp_host: str | None, tcp_port: int) -> None:
        if tcp_host is not None and not (isinstance(tcp_host, str) and tcp_host):
            raise InvalidArgumentError(f"tcp_host must be a non-empty string, got {tcp_host!r}")
        if not (isinstance(tcp_port, int) and 0 <= tcp_port <= 65535):
            raise InvalidArgumentError(f"tcp_port must be in [0, 65535], got {tcp_port!r}")
        self._tcp_host = tcp_host
        self._tcp_port = tcp_port
        self._tcp_listener_socks: list[socket.socket] = []
        self.tcp_address = ""
        """``tcp://host:port`` while serving with ``tcp_host`` set, else empty."""

    async def _start_tcp(self, tg: TaskGroup) -> None:
        """Bind the TCP listener (an OSError reaches ``serve``'s caller) and accept on it."""
        if self._tcp_host is None:
            return
        multi = await anyio.create_tcp_listener(
            local_host=self._tcp_host, local_port=self._tcp_port
        )
        listeners = list(multi.listeners)  # one per address the host resolves to
        self._tcp_listener_socks = [sub.extra(SocketAttribute.raw_socket) for sub in listeners]
        host, port = self._tcp_listener_socks[0].getsockname()[:2]
        self.tcp_address = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
        for sub in listeners:
            tg.start_soon(self._serve_tcp, sub, tg)

    async def _serve_tcp(self, listener: SocketListener, tg: TaskGroup) -> None:
        try:
            async with listener:
                await self._accept_loop(listener, tg)
        finally:
            self._tcp_listener_socks = []
            self.tcp_address = ""

    def _tcp_pending(self) -> bool:
        """True if a TCP connection waits in a listener's queue (not yet accepted)."""
        if not self._tcp_listener_socks:
            return False
        poller = select.poll()
        try:
            for sock in self._tcp_listener_socks:
                poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False
