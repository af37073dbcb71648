"""A multi-fidelity family of synthetic learning curves with a runtime that depends on the config.

Six hyperparameters of mixed types, loosely modelled on training a neural
network. For each configuration the validation error falls from 0.9 towards a
final value ``e_inf`` at a speed ``1/tau``, then may creep up again
(overfitting):

* ``e_inf`` is smallest for a learning rate near an optimizer-specific optimum
  and moderate dropout, weight decay, width and batch size; a learning rate
  far above the optimum diverges (error near 0.9);
* ``tau`` (epochs to converge) grows with the batch size and shrinks with the
  learning rate, so a large learning rate looks best early and worse late: the
  curves cross, which is what makes early stopping non-trivial;
* every epoch costs ``runtime`` seconds that grow with the width and shrink
  with the batch size (``adam`` a little slower), with a per-config jitter.

``seed`` of the constructor picks one member of the family (shifted optima);
``seed`` of :meth:`learning_curve` draws the observation noise. Everything is
deterministic given ``(config, seed)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._spec import component
from ..config_space import choice, lograndint, loguniform, uniform
from ..errors import InvalidArgumentError
from .base import BlackboxBase, Fidelity, config_seed

__all__ = ["SyntheticLearningCurves"]

_LR_OPT = {"sgd": 0.1, "momentum": 0.02, "adam": 0.003}
_OPT_TIME = {"sgd": 1.0, "momentum": 1.05, "adam": 1.2}
_OPT_SPEED = {"sgd": 1.3, "momentum": 1.0, "adam": 0.7}
_BANK = 1024


@component
class SyntheticLearningCurves(BlackboxBase):
    """Synthetic validation-error curves over ``max_epochs`` epochs; see the module docstring."""

    def __init__(
        self, max_epochs: int = 27, seed: int = 0, noise_std: float = 0.01, epoch_time: float = 2.0
    ) -> None:
        if not isinstance(max_epochs, int) or isinstance(max_epochs, bool) or max_epochs < 1:
            raise InvalidArgumentError(f"max_epochs={max_epochs!r} must be an int >= 1")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidArgumentError(f"seed={seed!r} must be an int")
        if not (isinstance(noise_std, int | float) and 0 <= noise_std < math.inf):
            raise InvalidArgumentError(f"noise_std={noise_std!r} must be a finite number >= 0")
        if not (isinstance(epoch_time, int | float) and 0 < epoch_time < math.inf):
            raise InvalidArgumentError(f"epoch_time={epoch_time!r} must be a finite number > 0")
        self.max_epochs = max_epochs
        self.seed = seed
        self.noise_std = float(noise_std)
        self.epoch_time = float(epoch_time)
        self.config_space = {
            "learning_rate": loguniform(1e-4, 1.0),
            "batch_size": lograndint(16, 512),
            "n_units": lograndint(16, 1024),
            "dropout": uniform(0.0, 0.8),
            "weight_decay": loguniform(1e-6, 1e-1),
            "optimizer": choice(["sgd", "momentum", "adam"]),
        }
        self.fidelity_space = Fidelity("epoch", list(range(1, max_epochs + 1)))
        self.objectives = ["valid_error", "elapsed_time"]
        self.runtime_name = "elapsed_time"
        self.metric = "valid_error"
        self.mode = "min"
        self._keys = list(self.config_space)
        self._epochs = np.arange(1, max_epochs + 1, dtype=float)
        rng = np.random.default_rng(seed)
        shift = rng.uniform(-0.5, 0.5, size=3)
        # Noise banks (drawn once): a curve's noise is the sum of two rows picked by a hash of
        # (config, seed), which is deterministic and ~10x cheaper than seeding a generator.
        bank = rng.standard_normal((_BANK, max_epochs))
        self._noise = bank * (self.noise_std / math.sqrt(2.0))
        jitter = 1.0 + 0.05 * np.tanh(rng.standard_normal((_BANK, max_epochs)))
        self._cum_jitter = np.cumsum(jitter, axis=1)  # per-epoch time +-5%, cumulated
        self._lr_shift = float(shift[0])  # decades
        self._dropout_opt = 0.25 + 0.2 * float(shift[1])
        self._wd_opt = -4.0 + 2.0 * float(shift[2])  # log10

    def _shape(self, config: dict[str, Any]) -> tuple[float, float, float, float]:
        """``(e_inf, tau, overfit, seconds per epoch)`` of a config, before noise."""
        opt = config["optimizer"]
        lr_opt = _LR_OPT[opt] * 10.0**self._lr_shift
        d_lr = math.log10(config["learning_rate"] / lr_opt)
        width = math.log2(config["n_units"] / 256.0)
        batch = math.log2(config["batch_size"] / 64.0)
        wd = math.log10(config["weight_decay"]) - self._wd_opt
        e_inf = (
            0.04
            + 0.07 * d_lr**2
            + (0.25 if d_lr > 1.2 else 0.0)
            + 0.3 * (config["dropout"] - self._dropout_opt) ** 2
            + 0.006 * width**2
            + 0.004 * batch**2
            + 0.01 * wd**2
        )
        e_inf = min(max(e_inf, 0.02), 0.88)
        tau = 3.0 * _OPT_SPEED[opt] * 2.0 ** (0.5 * batch) * 10.0 ** (-0.5 * d_lr)
        tau = min(max(tau, 0.4), 80.0)
        overfit = 0.03 * (1.0 - config["dropout"] / 0.8) * math.sqrt(config["n_units"] / 1024.0)
        overfit *= 1.0 / (1.0 + 10.0 ** (wd + self._wd_opt + 3.0))
        epoch_time = (
            self.epoch_time
            * (config["n_units"] / 128.0) ** 0.6
            * (128.0 / config["batch_size"]) ** 0.4
            * _OPT_TIME[opt]
        )
        return e_inf, tau, overfit, epoch_time

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        """Validation error and cumulative runtime at every epoch (vectorized, ~20 us)."""
        self.check_config(config)
        e_inf, tau, overfit, epoch_time = self._shape(config)
        ep = self._epochs
        err = np.exp(ep / -tau)
        err *= 0.9 - e_inf
        err += e_inf
        if overfit > 0:
            ramp = ep - 3.0 * tau
            np.maximum(ramp, 0.0, out=ramp)
            ramp *= overfit / self.max_epochs
            err += ramp
        h = config_seed(config, seed, self._keys) ^ self.seed
        if self.noise_std > 0:
            err += self._noise[h % _BANK]
            err += self._noise[(h >> 11) % _BANK]
        np.minimum(err, 1.0, out=err)
        np.maximum(err, 0.0, out=err)
        runtime = self._cum_jitter[(h >> 22) % _BANK] * epoch_time
        return {"valid_error": err, "elapsed_time": runtime}

    def __repr__(self) -> str:
        return (
            f"SyntheticLearningCurves(max_epochs={self.max_epochs}, seed={self.seed}, "
            f"noise_std={self.noise_std}, epoch_time={self.epoch_time})"
        )
