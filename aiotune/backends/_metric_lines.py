"""Cut a trial's stdout into lines and keep Syne Tune's ``[tune-metric]`` ones.

Shared by the process backends (which read the pipe on the tuner's machine) and
the Dask worker (which reads it on the trial's machine). Stdlib only: the Dask
worker imports it.
"""

from __future__ import annotations

__all__ = ["MAX_LINE", "METRIC_TAG", "MetricLines"]

METRIC_TAG = b"[tune-metric]"
MAX_LINE = 1 << 20
"""Longest line kept (bytes); a longer one is skipped to its end, never cut in two."""


class MetricLines:
    """Feed stdout chunks in; get back the complete lines that carry the metric tag."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._partial = b""
        self._skipping = False
        self._max_line = max_line

    def feed(self, chunk: bytes) -> list[bytes]:
        """The metric lines completed by ``chunk``, in order (without their newline)."""
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            self._hold(chunk)
            return []
        data = chunk[:cut]
        if self._skipping:  # the rest of an overlong line
            data = data[data.find(b"\n") + 1 :]
            self._skipping = False
        elif self._partial:
            data = self._partial + data
        self._partial = b""
        self._hold(chunk[cut:])
        if METRIC_TAG not in data:
            return []
        return [line for line in data.split(b"\n") if METRIC_TAG in line]

    def close(self) -> list[bytes]:
        """The last line if the stream ended without a newline and it carries the tag."""
        rest, self._partial = self._partial, b""
        return [rest] if METRIC_TAG in rest and not self._skipping else []

    def _hold(self, tail: bytes) -> None:
        """Keep an unfinished line, unless it grew past ``max_line``."""
        if self._skipping or not tail:
            return
        if len(self._partial) + len(tail) > self._max_line:
            self._partial = b""
            self._skipping = True
        else:
            self._partial += tail
