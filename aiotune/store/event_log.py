"""The append-only event log: framed, checksummed records, written before the tuner acts.

Frame: 4-byte big-endian payload length, 4-byte big-endian ``zlib.crc32`` of the
payload, then the msgpack payload (one :data:`~aiotune.store.records.LogRecord`).
The first record is always a :class:`~aiotune.store.records.LogHeader`.

* G1: :meth:`EventLog.append` hands the whole frame to the kernel with one
  ``os.write`` (no userland buffer) before it returns, so a SIGKILLed tuner
  loses nothing it acted on.
* G3: on reading, a *torn tail* (the bytes from the first bad frame to the end
  of the file, when no valid frame follows them) is dropped with a logged
  warning; a bad frame followed by a valid one is corruption and raises
  :class:`~aiotune.errors.LogCorruptError` naming file and offset.
* G5: any write or fsync error raises :class:`~aiotune.errors.StorageError`
  naming the file and errno, and the log refuses every later append (fail-stop;
  a failed fsync is never retried).
"""

from __future__ import annotations

import errno as _errno
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from ..errors import InvalidArgumentError, LogCorruptError, StorageError
from .atomic import run_in_thread_to_end, storage_error, write_atomic
from .records import FORMAT_VERSION, LogHeader, LogRecord

__all__ = [
    "MAX_RECORD_SIZE",
    "EventLog",
    "KnownLog",
    "LogContents",
    "LogTail",
    "encode_frames",
    "log_fingerprint",
    "parse_log",
    "read_log",
    "tail_of",
]

logger = logging.getLogger(__name__)

MAX_RECORD_SIZE = 16 * 1024 * 1024
"""Largest payload a frame may carry; a longer length field is a bad frame."""

_FRAME = struct.Struct(">II")
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(LogRecord)
_TAG_KEY = b"\xa4type"  # every payload is a map whose first key is the tag field "type"


class LogContents(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`read_log` found: the header, the records after it, the dropped torn tail.

    ``end_offset`` is where the last complete record ends (the file size minus
    ``torn_tail_bytes``).
    """

    header: LogHeader
    records: list[Any]
    torn_tail_bytes: int = 0
    end_offset: int = 0


class LogTail(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`EventLog.open` keeps of an existing log: not its records, only the last.

    A resumed run appends for hours; holding every record it was resumed from
    (the replay has already used them) would double its memory for nothing.
    """

    header: LogHeader
    last_record: Any = None
    num_records: int = 0
    torn_tail_bytes: int = 0
    end_offset: int = 0


class KnownLog(msgspec.Struct, frozen=True):
    """A log already read (by ``Tuner.load``): its tail, and the file it was read from.

    ``fingerprint`` is ``(inode, size, mtime_ns)`` at that read; :meth:`EventLog.open`
    trusts ``tail`` only while the file still has it, so a log changed since is read again.
    """

    fingerprint: tuple[int, int, int]
    tail: LogTail


def log_fingerprint(stat: os.stat_result) -> tuple[int, int, int]:
    """What identifies one state of a log file: inode, size and modification time."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def tail_of(contents: LogContents) -> LogTail:
    """The :class:`LogTail` of a whole log read."""
    return LogTail(
        header=contents.header,
        last_record=contents.records[-1] if contents.records else None,
        num_records=len(contents.records),
        torn_tail_bytes=contents.torn_tail_bytes,
        end_offset=contents.end_offset,
    )


def encode_frames(records: Iterable[Any]) -> bytearray:
    """Frame ``records`` back to back; InvalidArgumentError if one is unencodable or too big."""
    buf = bytearray()
    for record in records:
        start = len(buf)
        buf.extend(b"\0" * _FRAME.size)
        try:
            _ENCODER.encode_into(record, buf, start + _FRAME.size)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise InvalidArgumentError(
                f"cannot encode {type(record).__name__} for the event log: {exc}"
            ) from exc
        length = len(buf) - start - _FRAME.size
        if length > MAX_RECORD_SIZE:
            raise InvalidArgumentError(
                f"{type(record).__name__} encodes to {length} bytes, "
                f"more than the event log's limit of {MAX_RECORD_SIZE}"
            )
        crc = zlib.crc32(memoryview(buf)[start + _FRAME.size :])
        _FRAME.pack_into(buf, start, length, crc)
    return buf


def _valid_frame_after(data: bytes, start: int) -> bool:
    """True when some complete frame with a matching checksum begins at or after ``start``."""
    size = len(data)
    view = memoryview(data)
    pos = data.find(_TAG_KEY, start)
    while pos >= 0:
        # fixmap header (1 byte) or map16 header (3 bytes) precedes the tag key
        for frame_start in (pos - _FRAME.size - 1, pos - _FRAME.size - 3):
            if frame_start < start:
                continue
            length, crc = _FRAME.unpack_from(data, frame_start)
            end = frame_start + _FRAME.size + length
            if 0 < length <= MAX_RECORD_SIZE and end <= size:
                if zlib.crc32(view[frame_start + _FRAME.size : end]) == crc:
                    return True
        pos = data.find(_TAG_KEY, pos + 1)
    return False


def _bad_frame(data: bytes, off: int) -> str | None:
    """Why the frame at ``off`` is unusable, or None when it is complete and its checksum holds."""
    size = len(data)
    if size - off < _FRAME.size:
        return "incomplete frame header"
    length, crc = _FRAME.unpack_from(data, off)
    if length == 0:
        return "zero length"
    if length > MAX_RECORD_SIZE:
        return f"length {length} over the limit of {MAX_RECORD_SIZE}"
    end = off + _FRAME.size + length
    if end > size:
        return f"frame of {length} bytes runs past the end of the file"
    if zlib.crc32(memoryview(data)[off + _FRAME.size : end]) != crc:
        return "checksum mismatch"
    return None


def parse_log(data: bytes, path: Path | str) -> LogContents:
    """Decode the bytes of an event log (see :func:`read_log`); ``path`` names it in errors."""
    if not data:
        raise LogCorruptError(f"{path}: empty file, not an aiotune event log (no header)")
    records: list[Any] = []
    header: LogHeader | None = None
    off = 0
    size = len(data)
    torn = 0
    view = memoryview(data)
    unpack_from, crc32, decode = _FRAME.unpack_from, zlib.crc32, _DECODER.decode
    while off < size:
        start = off + 8
        if start <= size:
            length, crc = unpack_from(data, off)
            end = start + length
            good = 0 < length <= MAX_RECORD_SIZE and end <= size and crc32(view[start:end]) == crc
        else:
            good = False
        if not good:
            reason = _bad_frame(data, off) or "bad frame"
            if _valid_frame_after(data, off + 1):
                raise LogCorruptError(f"{path}: corrupt record at offset {off} ({reason})")
            torn = size - off
            break
        try:
            record = decode(view[start:end])
        except msgspec.DecodeError as exc:
            raise LogCorruptError(
                f"{path}: corrupt record at offset {off} (undecodable: {exc})"
            ) from exc
        if header is None:
            if not isinstance(record, LogHeader):
                raise LogCorruptError(
                    f"{path}: not an aiotune event log "
                    f"(first record is {type(record).__name__}, not a header)"
                )
            header = record
        elif isinstance(record, LogHeader):
            raise LogCorruptError(f"{path}: corrupt record at offset {off} (a second header)")
        else:
            records.append(record)
        off = end
    if header is None:
        raise LogCorruptError(f"{path}: not an aiotune event log (no valid header record)")
    if header.format_version > FORMAT_VERSION:
        raise LogCorruptError(
            f"{path}: event log format version {header.format_version} is newer than "
            f"this aiotune reads ({FORMAT_VERSION})"
        )
    if torn:
        logger.warning(
            "%s: dropping a torn tail of %d bytes at offset %d (an interrupted write)",
            path,
            torn,
            size - torn,
        )
    return LogContents(header=header, records=records, torn_tail_bytes=torn, end_offset=size - torn)


def read_log(path: Path) -> LogContents:
    """Read the event log at ``path``: header, records, and the size of a dropped torn tail.

    Raises LogCorruptError naming file and offset for a bad record before the
    tail, or for a missing, wrong or too new header (an empty or foreign file);
    StorageError when the file cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise storage_error(exc, "cannot read event log", path) from exc
    return parse_log(data, path)


def _unchanged_tail(path: Path, known: KnownLog | None) -> LogTail | None:
    """``known.tail`` if the file at ``path`` is still the one it was read from, else None."""
    if known is None:
        return None
    try:
        fingerprint = log_fingerprint(os.stat(path))
    except OSError:
        return None
    return known.tail if fingerprint == known.fingerprint else None


class EventLog:
    """Appends records to an event log file; each append is one ``write`` to the kernel.

    Build one with :meth:`open`. The constructor wraps an already open file
    descriptor (opened for appending) and takes ownership of it.
    """

    def __init__(
        self, path: Path, fd: int, *, recovered: LogTail | None = None, start_size: int = 0
    ) -> None:
        self.path = Path(path)
        self.bytes_written = 0
        """Bytes appended through this object (the header of a new log not counted)."""
        self.start_size = start_size
        """The log's size when this object opened it."""
        self.recovered = recovered
        """What :meth:`open` kept of an existing log: header, last record (None for a new log)."""
        self._fd = fd
        self._failed: StorageError | None = None
        self._synced = -1  # bytes_written at the last successful fsync; -1: never synced
        self._lock = threading.Lock()  # an fsync in a worker thread vs. close

    @classmethod
    def open(cls, path: Path, header: LogHeader, known: KnownLog | None = None) -> EventLog:
        """Create the log at ``path`` starting with ``header``, or reopen an existing one to append.

        A new log is created atomically (header written to a temp file, fsync'd,
        renamed). An existing log is read whole: its header must be a format
        this code writes (LogCorruptError otherwise), it is not rewritten, and a
        torn tail is truncated away with a warning. ``known``: the same log as
        ``Tuner.load`` just read it, used instead of reading it again if the file
        is unchanged since. Raises StorageError on I/O errors, LogCorruptError on
        a corrupt log.
        """
        path = Path(path)
        recovered: LogTail | None = None
        if not path.exists():
            first = encode_frames([header])
            write_atomic(path, first)
            start_size = len(first)
        else:
            recovered = _unchanged_tail(path, known) or tail_of(read_log(path))
            start_size = recovered.end_offset
            old = recovered.header
            if old.format_version != FORMAT_VERSION:
                raise LogCorruptError(
                    f"{path}: event log format version {old.format_version} cannot be "
                    f"appended to by this aiotune (writes version {FORMAT_VERSION})"
                )
            if old.tuner_name != header.tuner_name:
                logger.warning(
                    "%s: log was created by tuner %r, now appended to by %r",
                    path,
                    old.tuner_name,
                    header.tuner_name,
                )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise storage_error(exc, "cannot open event log", path) from exc
        if recovered is not None and recovered.torn_tail_bytes:
            try:
                os.ftruncate(fd, recovered.end_offset)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise storage_error(exc, "cannot truncate the torn tail of", path) from exc
        return cls(path, fd, recovered=recovered, start_size=start_size)

    def __repr__(self) -> str:
        state = "failed" if self._failed else ("closed" if self._fd < 0 else "open")
        return f"EventLog({str(self.path)!r}, {state}, bytes_written={self.bytes_written})"

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def failed(self) -> bool:
        """True after a storage error: the log refuses further appends."""
        return self._failed is not None

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._fd < 0

    @property
    def size(self) -> int:
        """Where the next record will start: ``start_size + bytes_written``."""
        return self.start_size + self.bytes_written

    @property
    def unsynced_bytes(self) -> int:
        """Bytes appended since the last successful fsync (all of them before the first)."""
        return self.bytes_written - max(self._synced, 0)

    def append(self, record: LogRecord) -> None:
        """Frame ``record`` and hand it to the kernel in one ``write``.

        Raises InvalidArgumentError for a record that cannot be encoded (the log
        stays usable) and StorageError naming file and errno on a write error
        or short write (the log then refuses further appends).
        """
        if isinstance(record, LogHeader):
            raise InvalidArgumentError(
                "the event log header is written only when the log is created"
            )
        if self._failed is not None or self._fd < 0:
            self._check_usable()
        try:
            payload = _ENCODER.encode(record)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
            payload = None  # encode_frames below raises the named error
        if payload is None or len(payload) > MAX_RECORD_SIZE:
            self._write(encode_frames((record,)))
            return
        # The hot path (one call per event): frame and write without a bytearray round trip.
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        try:
            written = os.write(self._fd, frame)
        except OSError as exc:
            raise self._fail(exc, "cannot append to event log") from exc
        if written != len(frame):  # a short write: finish it, or surface the kernel's errno
            self._write(bytearray(frame[written:]))
        self.bytes_written += written

    def append_many(self, records: Iterable[LogRecord]) -> None:
        """Frame ``records`` and hand them all to the kernel in one ``write``."""
        records = list(records)
        for record in records:
            if isinstance(record, LogHeader):
                raise InvalidArgumentError(
                    "the event log header is written only when the log is created"
                )
        if records:
            self._write(encode_frames(records))

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise StorageError(
                self._failed.errno,
                f"event log {self.path} refuses writes after an earlier storage error "
                f"({self._failed.strerror})",
            ) from self._failed
        if self._fd < 0:
            raise StorageError(_errno.EBADF, f"event log {self.path} is closed")

    def _fail(self, exc: OSError, action: str) -> StorageError:
        error = storage_error(exc, action, self.path)
        self._failed = error
        return error

    def _write(self, buf: bytearray) -> None:
        self._check_usable()
        view = memoryview(buf)
        total = len(view)
        done = 0
        while done < total:
            try:
                written = os.write(self._fd, view[done:])
            except OSError as exc:
                raise self._fail(exc, "cannot append to event log") from exc
            if written <= 0:
                raise self._fail(
                    OSError(_errno.EIO, f"short write ({done} of {total} bytes)"),
                    "cannot append to event log",
                )
            done += written  # a short write: the next write reports the kernel's error
        self.bytes_written += total

    def fsync_sync(self) -> None:
        """Flush the log to stable storage; StorageError on failure (never retried, log fails)."""
        self._check_usable()
        target = self.bytes_written
        if target == self._synced:
            return
        with self._lock:
            if self._fd < 0:
                raise StorageError(_errno.EBADF, f"event log {self.path} is closed")
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise self._fail(exc, "cannot fsync event log") from exc
        self._synced = max(self._synced, target)

    async def fsync(self) -> None:
        """:meth:`fsync_sync` in a worker thread; raises StorageError on failure.

        A cancelled caller still waits for the fsync (:func:`run_in_thread_to_end`),
        so the log is never closed under a running fsync.
        """
        self._check_usable()
        if self.bytes_written == self._synced:
            return
        await run_in_thread_to_end(self.fsync_sync)

    def close(self) -> None:
        """Close the file (no fsync: call :meth:`fsync` first for durability). Idempotent."""
        with self._lock:
            if self._fd < 0:
                return
            fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        except OSError as exc:
            if self._failed is None:
                raise self._fail(exc, "cannot close event log") from exc
