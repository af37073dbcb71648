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


async def train_async(n: int, lr: float) -> None:
    """An async def tune function: reports n epochs, awaiting between them."""
    import asyncio

    reporter = Reporter()
    for epoch in range(1, n + 1):
        await asyncio.sleep(0)
        reporter(epoch=epoch, loss=lr / epoch)


async def returns_async(x: float) -> dict[str, float]:
    """An async def tune function that returns its metrics."""
    import asyncio

    await asyncio.sleep(0)
    return {"loss": x * 2}


def returns_dict(x: float) -> dict[str, float]:
    """Returns its metrics, Optuna/Ray style, without a Reporter."""
    return {"loss": (x - 0.25) ** 2}


def reports_then_returns(n: int) -> dict[str, float]:
    """Reports n epochs, then returns a last result."""
    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch, loss=1.0 / epoch)
    return {"epoch": n + 1, "loss": 0.0, "final": True}


def returns_scalar(x: float) -> float:
    """Returns a bare number, which PythonBackend refuses."""
    return x


def returns_bad_metric(x: float) -> dict[str, object]:
    """Returns a dict whose metric is not a number."""
    return {"loss": "low"}


def yields(x: float) -> object:
    """A generator function."""
    yield {"loss": x}


async def yields_async(x: float) -> object:
    """An async generator function."""
    yield {"loss": x}


def only_x(x: float) -> None:
    """Takes x only."""
    Reporter()(loss=x)


def keyword_only(*, x: float, y: int = 1) -> None:
    """Takes keyword-only parameters."""
    Reporter()(loss=x * y)


def any_keywords(**config: float) -> None:
    """Takes every key through **kwargs."""
    Reporter()(loss=config["x"])


def needs_z(x: float, z: float) -> None:
    """Requires z, a parameter the tests' spaces do not have."""
    Reporter()(loss=x + z)


def positional_only(x: float, /) -> None:
    """Takes x only positionally, which keyword arguments cannot fill."""
    Reporter()(loss=x)


def checkpointing(x: float, st_checkpoint_dir: str) -> None:
    """Requires st_checkpoint_dir, which the backend passes itself."""
    Reporter()(loss=x)
