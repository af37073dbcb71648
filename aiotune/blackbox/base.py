"""The blackbox protocol: a function of a configuration (and a fidelity) the simulator can query.

A blackbox stands in for a training script. For a configuration it returns the
metrics the script would report at each fidelity (for example each epoch),
together with the *cumulative* runtime in seconds the script would have needed
to get there. :class:`aiotune.backends.simulator.SimulatorBackend` turns those
runtimes into simulated time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec
import numpy as np

from ..config_space import check_config
from ..errors import ConfigValueError, InvalidArgumentError

__all__ = ["Blackbox", "BlackboxBase", "Fidelity", "config_seed"]


class Fidelity(msgspec.Struct, frozen=True):
    """The fidelity axis of a multi-fidelity blackbox: its name and increasing values."""

    name: str
    values: list[int] | list[float]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"fidelity name must be a non-empty str, got {self.name!r}")
        vals = list(self.values)
        if not vals:
            raise InvalidArgumentError(f"fidelity {self.name!r} has no values")
        if any(not isinstance(v, int | float) or isinstance(v, bool) for v in vals):
            raise InvalidArgumentError(f"fidelity {self.name!r}: values must be numbers")
        if any(b <= a for a, b in zip(vals, vals[1:], strict=False)):
            raise InvalidArgumentError(f"fidelity {self.name!r}: values must strictly increase")

    @property
    def max(self) -> int | float:
        """The largest fidelity (for example the number of epochs)."""
        return self.values[-1]


@runtime_checkable
class Blackbox(Protocol):
    """What the simulator needs from a benchmark.

    ``objectives`` names every value ``evaluate`` returns; ``runtime_name`` is
    the one among them holding the cumulative runtime in seconds up to (and
    including) a fidelity. ``metric``/``mode`` are the default objective to tune.

    Optional, for the simulator: ``learning_curve`` may return arrays shorter
    than the fidelity values (the trial then ends early), and a method
    ``failure(config, seed) -> str | None`` may name a reason for the trial to
    end ``FAILED`` after its curve (a simulated crash).
    """

    config_space: dict[str, Any]
    fidelity_space: Fidelity | None
    objectives: list[str]
    runtime_name: str
    metric: str
    mode: str

    def evaluate(
        self, config: dict[str, Any], fidelity: int | float | None = None, seed: int = 0
    ) -> dict[str, float]:
        """Objectives of ``config`` at ``fidelity`` (the largest one if None)."""
        ...

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        """Every objective at every fidelity: arrays over the fidelity values (length 1 if none)."""
        ...


class BlackboxBase:
    """Shared behaviour: ``evaluate`` from ``learning_curve``, config checks, repr."""

    config_space: dict[str, Any]
    fidelity_space: Fidelity | None
    objectives: list[str]
    runtime_name: str = "elapsed_time"
    metric: str
    mode: str = "min"

    @property
    def fidelity_values(self) -> list[int] | list[float]:
        """Fidelity values (``[1]`` for a single-fidelity blackbox)."""
        return list(self.fidelity_space.values) if self.fidelity_space is not None else [1]

    def check_config(self, config: dict[str, Any]) -> None:
        """Raise ConfigValueError naming the key when ``config`` is not in the config space."""
        if not isinstance(config, dict):
            raise ConfigValueError(f"{type(self).__name__}: config must be a dict, got {config!r}")
        try:
            check_config(self.config_space, config)
        except ConfigValueError as exc:
            raise ConfigValueError(f"{type(self).__name__}: {exc}") from None

    def fidelity_index(self, fidelity: int | float | None) -> int:
        """Position of ``fidelity`` among the fidelity values (the last one for None)."""
        values = self.fidelity_values
        if fidelity is None:
            return len(values) - 1
        if self.fidelity_space is None:
            if fidelity == 1:
                return 0
            raise InvalidArgumentError(
                f"{type(self).__name__} has no fidelity; got fidelity={fidelity!r}"
            )
        try:
            return values.index(fidelity)  # type: ignore[arg-type]
        except ValueError:
            raise InvalidArgumentError(
                f"{type(self).__name__}: fidelity {self.fidelity_space.name}={fidelity!r} "
                f"is not one of {values[0]!r}..{values[-1]!r}"
            ) from None

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def evaluate(
        self, config: dict[str, Any], fidelity: int | float | None = None, seed: int = 0
    ) -> dict[str, float]:
        """Objectives of ``config`` at ``fidelity`` (the largest one if None)."""
        i = self.fidelity_index(fidelity)
        curve = self.learning_curve(config, seed=seed)
        return {name: float(curve[name][i]) for name in self.objectives}

    def __repr__(self) -> str:
        fid = self.fidelity_space
        fid_s = f"{fid.name}={fid.values[0]}..{fid.values[-1]}" if fid else "none"
        return (
            f"{type(self).__name__}(hyperparameters={len(self.config_space)}, fidelity={fid_s}, "
            f"objectives={self.objectives!r}, metric={self.metric!r}, mode={self.mode!r})"
        )


def config_seed(config: dict[str, Any], seed: int, keys: Sequence[str]) -> int:
    """A stable 32-bit seed from a config's values (in ``keys`` order) and ``seed``."""
    text = "|".join(f"{k}={config[k]!r}" for k in keys) + f"|seed={seed}"
    return zlib.crc32(text.encode())


def check_finite(owner: str, name: str, values: np.ndarray) -> None:
    """Raise InvalidArgumentError when an objective has NaN or infinite entries."""
    bad = ~np.isfinite(values)
    if bad.any():
        n = int(bad.sum())
        raise InvalidArgumentError(
            f"{owner}: objective {name!r} has {n} non-finite value(s) (NaN or inf)"
        )


def is_number(x: Any) -> bool:
    """True for a real, finite number (bools excluded)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
