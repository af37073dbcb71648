"""Module-level tune functions for PythonBackend tests (imported by name in the worker)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from aiotune.reporter import Reporter


def train(n: int, lr: float) -> None:
    """Reports n epochs of a fake loss."""
    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch, loss=lr / epoch)


def train_checkpointed(epochs: int, st_checkpoint_dir: str) -> None:
    """Writes its checkpoint folder's name to a file there, then reports each epoch."""
    Path(st_checkpoint_dir, "seen.txt").write_text(st_checkpoint_dir)
    reporter = Reporter()
    for epoch in range(1, epochs + 1):
        reporter(epoch=epoch)


def broken(n: int) -> None:
    """Reports n epochs, then raises."""
    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch)
    raise RuntimeError("broken on purpose")


def conformance(n: int = 3, fail: bool = False, block: bool = False) -> None:
    """The BackendTestCase standard trial as a function."""
    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch, loss=1.0 / epoch)
    if fail:
        print("conformance trial fails on purpose", file=sys.stderr)
        sys.exit(2)
    if block:
        signal.pause()


class Holder:
    """A class holding a static method (importable as Holder.run)."""

    @staticmethod
    def run(n: int) -> None:
        """Reports n epochs."""
        reporter = Reporter()
        for epoch in range(1, n + 1):
            reporter(epoch=epoch)
