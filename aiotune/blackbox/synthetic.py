"""Classic single-fidelity test functions with known optima: Branin, Hartmann3, Hartmann6.

Each evaluation "takes" ``runtime`` simulated seconds; with ``noise_std > 0`` a
Gaussian noise, deterministic given ``(config, seed)``, is added to the value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._spec import component
from ..config_space import uniform
from ..errors import InvalidArgumentError
from .base import BlackboxBase, config_seed

__all__ = ["Branin", "Hartmann3", "Hartmann6"]


class _Synthetic(BlackboxBase):
    """A deterministic function of a config, plus optional seeded noise."""

    optimum_value: float
    optimum_config: dict[str, float]

    def __init__(self, noise_std: float = 0.0, runtime: float = 1.0) -> None:
        if not (isinstance(noise_std, int | float) and noise_std >= 0 and math.isfinite(noise_std)):
            raise InvalidArgumentError(f"noise_std={noise_std!r} must be a finite number >= 0")
        if not (isinstance(runtime, int | float) and runtime > 0 and math.isfinite(runtime)):
            raise InvalidArgumentError(f"runtime={runtime!r} must be a finite number > 0")
        self.noise_std = float(noise_std)
        self.runtime = float(runtime)
        self.fidelity_space = None
        self.objectives = ["value", "elapsed_time"]
        self.runtime_name = "elapsed_time"
        self.metric = "value"
        self.mode = "min"
        self._keys = list(self.config_space)

    def _value(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        """The value and runtime as arrays of length 1 (there is no fidelity)."""
        self.check_config(config)
        value = self._value(np.array([float(config[k]) for k in self._keys]))
        if self.noise_std > 0:
            rng = np.random.default_rng(config_seed(config, seed, self._keys))
            value += self.noise_std * float(rng.standard_normal())
        return {"value": np.array([value]), "elapsed_time": np.array([self.runtime])}


@component
class Branin(_Synthetic):
    """Branin-Hoo on [-5, 10] x [0, 15]; minimum 0.397887 at three points."""

    optimum_value = 0.39788735772973816
    optimum_config = {"x1": math.pi, "x2": 2.275}

    def __init__(self, noise_std: float = 0.0, runtime: float = 1.0) -> None:
        self.config_space = {"x1": uniform(-5.0, 10.0), "x2": uniform(0.0, 15.0)}
        super().__init__(noise_std=noise_std, runtime=runtime)

    def _value(self, x: np.ndarray) -> float:
        x1, x2 = float(x[0]), float(x[1])
        b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
        r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
        return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(x: np.ndarray, a: np.ndarray, p: np.ndarray) -> float:
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))


@component
class Hartmann3(_Synthetic):
    """Hartmann 3-d on [0, 1]^3; minimum -3.86278."""

    optimum_value = -3.8627797869493365
    optimum_config = {"x1": 0.114614, "x2": 0.555649, "x3": 0.852547}

    def __init__(self, noise_std: float = 0.0, runtime: float = 1.0) -> None:
        self.config_space = {f"x{i}": uniform(0.0, 1.0) for i in range(1, 4)}
        super().__init__(noise_std=noise_std, runtime=runtime)

    def _value(self, x: np.ndarray) -> float:
        return _hartmann(x, _H3_A, _H3_P)


@component
class Hartmann6(_Synthetic):
    """Hartmann 6-d on [0, 1]^6; minimum -3.32237."""

    optimum_value = -3.3223680114155147
    optimum_config = {
        "x1": 0.20169,
        "x2": 0.150011,
        "x3": 0.476874,
        "x4": 0.275332,
        "x5": 0.311652,
        "x6": 0.6573,
    }

    def __init__(self, noise_std: float = 0.0, runtime: float = 1.0) -> None:
        self.config_space = {f"x{i}": uniform(0.0, 1.0) for i in range(1, 7)}
        super().__init__(noise_std=noise_std, runtime=runtime)

    def _value(self, x: np.ndarray) -> float:
        return _hartmann(x, _H6_A, _H6_P)
