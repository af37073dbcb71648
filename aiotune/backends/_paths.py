"""Experiment folders as absolute paths, for handing to trials that run in other folders."""

from __future__ import annotations

from pathlib import Path

from .base import ExperimentPaths

__all__ = ["AbsolutePaths"]


class AbsolutePaths:
    """An :class:`ExperimentPaths` whose folders are absolute.

    A trial runs with another working directory (the entry point's folder, a
    Dask worker's), so a relative results root (``AIOTUNE_RESULTS=rel/path``,
    ``Tuner.load("rel/path")``) handed on as is would put its checkpoints and
    config file somewhere else. Each path is made absolute against the tuner's
    working directory at the moment the folder is created, which is where it is.
    """

    def __init__(self, inner: ExperimentPaths) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return f"AbsolutePaths({self._inner!r})"

    @property
    def path(self) -> Path:
        """The experiment folder, absolute."""
        return Path(self._inner.path).absolute()

    def trial_dir(self, trial_id: int) -> Path:
        """``<experiment>/trials/<trial_id>``, absolute, created on demand."""
        return Path(self._inner.trial_dir(trial_id)).absolute()

    def checkpoint_dir(self, trial_id: int) -> Path:
        """``<experiment>/trials/<trial_id>/checkpoints``, absolute, created on demand."""
        return Path(self._inner.checkpoint_dir(trial_id)).absolute()

