"""Crash-consistent snapshot files: temp file, fsync, rename, fsync of the folder (G3).

A reader sees either the old content or the new, never a mix, whatever moment
the writer dies at. JSON goes through msgspec's builtin conversion; non-finite
floats (NaN, inf), which strict JSON cannot hold and msgspec would turn into
``null``, are written as the ``NaN``/``Infinity`` tokens Python's ``json``
module reads back, so a snapshot round-trips them unchanged. Reading a file
never executes anything it names.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import msgspec

from ..errors import LogCorruptError, StorageError

__all__ = [
    "fsync_dir",
    "read_json",
    "run_in_thread_to_end",
    "storage_error",
    "write_atomic",
    "write_atomic_async",
    "write_json_atomic",
    "write_json_atomic_async",
]


def storage_error(exc: OSError, action: str, path: Path | str) -> StorageError:
    """Translate ``exc`` into a :class:`StorageError` naming ``path``, errno number and name."""
    code = exc.errno if exc.errno is not None else _errno.EIO
    name = _errno.errorcode.get(code, "?")
    reason = exc.strerror or os.strerror(code)
    return StorageError(code, f"{action} {path}: {reason} ({name})")


def fsync_dir(directory: Path) -> None:
    """fsync ``directory`` so a rename or a new file in it survives a power failure."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Replace ``path`` with ``data`` atomically and durably; raise StorageError naming the file.

    On any failure the old content of ``path`` is untouched and no temp file is left.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise storage_error(exc, "cannot write", path) from exc
    try:
        try:
            view = memoryview(data).cast("B")
            while view:
                written = os.write(fd, view)
                if written == 0:  # pragma: no cover - the kernel reports an error instead
                    raise OSError(_errno.EIO, "write returned 0 bytes")
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise storage_error(exc, "cannot write", path) from exc
    try:
        fsync_dir(path.parent)
    except OSError as exc:
        raise storage_error(exc, "cannot fsync the folder of", path) from exc


T = TypeVar("T")


async def run_in_thread_to_end(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, awaited to its end even if the caller is cancelled.

    ``anyio.to_thread.run_sync`` lets the thread run on but stops waiting for it
    when asyncio's ``Task.cancel()`` reaches the caller, so a file write could go
    on after its caller returned (and released the experiment lock). Here the
    wait happens in a child task, which a task group waits for whatever cancels
    the caller; the cancellation is raised once the thread has finished.
    Exceptions of ``fn`` are raised as they are.
    """
    outcome: list[tuple[bool, Any]] = []

    async def call() -> None:
        with anyio.CancelScope(shield=True):  # cancelled by the group: run anyway
            try:
                outcome.append((True, await anyio.to_thread.run_sync(fn, *args)))
            except Exception as exc:  # re-raised in the caller below
                outcome.append((False, exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


async def write_atomic_async(path: Path, data: bytes | bytearray | memoryview) -> None:
    """:func:`write_atomic` in a worker thread, so the event loop keeps running.

    Cancelled meanwhile, it still waits for the write to finish (see
    :func:`run_in_thread_to_end`), so no write outlives the caller.
    """
    await run_in_thread_to_end(write_atomic, path, data)


def _encode_json(obj: Any, indent: int | None) -> bytes:
    try:
        builtins = msgspec.to_builtins(obj, str_keys=True)
        text = json.dumps(builtins, allow_nan=True, ensure_ascii=False, indent=indent)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON: {exc}") from exc
    return (text + "\n").encode("utf-8")


def write_json_atomic(path: Path, obj: Any, *, indent: int | None = None) -> None:
    """Write ``obj`` (builtins or msgspec Structs) as JSON to ``path`` with :func:`write_atomic`.

    Raises TypeError when ``obj`` holds something JSON cannot express, StorageError on I/O.
    """
    write_atomic(path, _encode_json(obj, indent))


async def write_json_atomic_async(path: Path, obj: Any, *, indent: int | None = None) -> None:
    """:func:`write_json_atomic` with encoding and I/O in a worker thread, awaited to its end."""
    await run_in_thread_to_end(lambda: write_json_atomic(path, obj, indent=indent))


def read_json(path: Path, type: Any = Any) -> Any:
    """Read the JSON file ``path`` and convert it to ``type``.

    Raises StorageError (with the errno, ENOENT when missing) when it cannot be
    read, LogCorruptError naming the file when it is empty, truncated, not JSON
    or does not match ``type``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "cannot read", path) from exc
    if not data.strip():
        raise LogCorruptError(f"{path}: empty file, expected JSON")
    try:
        return msgspec.json.decode(data, type=type)
    except msgspec.ValidationError as exc:
        raise LogCorruptError(f"{path}: JSON does not match the expected schema: {exc}") from exc
    except msgspec.DecodeError:
        pass  # maybe NaN/Infinity tokens, which only the stdlib parser accepts
    try:
        builtins = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise LogCorruptError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return msgspec.convert(builtins, type=type)
    except msgspec.ValidationError as exc:
        raise LogCorruptError(f"{path}: JSON does not match the expected schema: {exc}") from exc
