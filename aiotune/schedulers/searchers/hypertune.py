"""Hyper-Tune's model (Li et al., VLDB 2022), on MOBSTER's GP: the ``"hypertune"`` searcher.

MOBSTER asks its GP over (config, level) for expected improvement at one level.
Hyper-Tune weighs the levels by how well each ranks what the highest
well-supported level observed: for every rung level below the highest one with
at least 6 values, joint posterior draws at the configs observed there are
ranked against those observed values; the top level itself is
scored by 5-fold cross-validation. A level's weight ``theta`` is the share of
draws in which it ranks best. New configs maximize EI of the ensemble
``mean = sum theta_r mean_r``, ``var = sum theta_r^2 var_r``, and the scheduler
draws each new trial's bracket with probability proportional to
``theta_k / r_k`` (Syne Tune's ``HyperTune`` with its joint GP model). Until two
levels are supported, it is MOBSTER's searcher.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
from scipy.special import ndtr

from ._checks import check_positive_int
from .base import register_searcher
from .gp.acquisition import condition_on_pending, expected_improvement, maximize_acquisition
from .gp.model import GPPosterior, standardize
from .mf_gp import MultiFidelityGPSearcher, MultiFidelityGPState

__all__ = ["EnsembleEI", "HyperTuneSearcher", "HyperTuneState", "ranking_losses"]

MIN_POINTS = 6  # values a level needs to be ranked against (Syne Tune's)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def ranking_losses(draws: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per draw (column of ``draws``), the fraction of pairs it orders unlike ``observed``."""
    n = len(observed)
    i, j = np.triu_indices(n, k=1)
    truth = observed[i] < observed[j]
    drawn = draws[i] < draws[j]
    return (drawn != truth[:, None]).mean(axis=0)


class HyperTuneState(MultiFidelityGPState, tag="hypertune", kw_only=True):
    """MOBSTER's searcher state plus the ensemble weights and what they were fitted on."""

    ensemble: list[tuple[float, float]] = []
    signature: list[int] = []


class EnsembleEI:
    """EI of the ensemble predictive of ``posterior`` over ``levels`` (fidelity
    coordinates) weighted by ``theta``, for configs without the fidelity column."""

    def __init__(
        self, posterior: GPPosterior, fidelities: np.ndarray, theta: np.ndarray, best: float
    ) -> None:
        self.posterior, self.best = posterior, best
        self.fidelities, self.theta = fidelities, theta

    def moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = np.zeros(len(X)), np.zeros(len(X))
        for u, w in zip(self.fidelities, self.theta, strict=True):
            m, v = self.posterior.predict(np.hstack([X, np.full((len(X), 1), u)]))
            mean += w * m
            var += w * w * v
        return mean, var

    def __call__(self, X: np.ndarray) -> np.ndarray:
        mean, var = self.moments(np.atleast_2d(X))
        return expected_improvement(mean, np.sqrt(var), self.best)

    def with_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        mean, var = 0.0, 0.0
        dmean, dvar = np.zeros(len(x)), np.zeros(len(x))
        for u, w in zip(self.fidelities, self.theta, strict=True):
            m, v, dm, dv = self.posterior.predict_with_grad(np.append(x, u))
            mean, var = mean + w * m, var + w * w * v
            dmean, dvar = dmean + w * dm[:-1], dvar + w * w * dv[:-1]
        std = math.sqrt(max(var, 1e-12))
        z = (self.best - mean) / std
        cdf, pdf = float(ndtr(z)), _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        return std * (z * cdf + pdf), -cdf * dmean + pdf * dvar / (2.0 * std)


class HyperTuneSearcher(MultiFidelityGPSearcher):
    """MOBSTER's GP with Hyper-Tune's level ensemble and bracket weights.

    ``num_samples`` posterior draws score the levels (Syne Tune's default 50).
    Needs ``fidelity_levels`` (the scheduler's rung levels and ``max_t``).
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        resource_attr: str = "epoch",
        max_resource: int | None = None,
        num_samples: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(config_space, metric, mode, random_seed, resource_attr=resource_attr,
                         max_resource=max_resource, **kwargs)
        self.num_samples = check_positive_int("num_samples", num_samples, 1)
        self._ensemble: dict[float, float] = {}  # level -> theta
        self._signature: tuple[int, int] = (0, 0)

    # -- the level weights --------------------------------------------------------------

    def _levels(self) -> list[float]:
        return list(self.fidelity_levels or [])

    def _top_supported(self, levels: np.ndarray) -> int:
        """Index of the highest rung level above the lowest with ``MIN_POINTS`` values
        (0: none, and no ensemble)."""
        rungs = self._levels()
        counts = [int(np.sum(levels == r)) for r in rungs]
        return max((k for k in range(1, len(rungs)) if counts[k] >= MIN_POINTS), default=0)

    def _fit_ensemble(self, posterior: GPPosterior, X: np.ndarray, y_std: np.ndarray,
                      levels: np.ndarray, top: int) -> None:
        """Recompute ``theta`` when the top supported level or its data changed."""
        rungs = self._levels()
        at_top = levels == rungs[top]
        signature = (top, int(at_top.sum()))
        if signature == self._signature:
            return
        configs, observed = X[at_top, :-1], y_std[at_top]
        losses = np.zeros((top + 1, self.num_samples))
        for k in range(top):
            Z = np.hstack([configs, np.full((len(configs), 1), self.fidelity(rungs[k]))])
            draws = posterior.sample_joint(Z, self.num_samples, self.rng)
            losses[k] = ranking_losses(draws, observed)
        losses[top] = self._cross_validated_losses(posterior, configs, observed, rungs[top])
        best = losses.min(axis=0, keepdims=True)
        theta = (losses == best).sum(axis=1).astype(float)
        theta /= theta.sum()
        kept = {rungs[k]: float(t) for k, t in enumerate(theta) if t > 0.01}
        total = sum(kept.values())
        # one assignment: the loop thread reads it for the bracket weights meanwhile
        self._ensemble = {r: t / total for r, t in kept.items()}
        self._signature = signature

    def _cross_validated_losses(self, posterior: GPPosterior, configs: np.ndarray,
                                observed: np.ndarray, level: float) -> np.ndarray:
        """Losses of the top level: K <= 5 folds of at least two points, each fold ranked
        by a GP (the fitted hyperparameters) on the other folds' values at that level."""
        n = len(observed)
        folds = np.array_split(np.arange(n), min(n // 2, 5))
        u = self.fidelity(level)
        Z = np.hstack([configs, np.full((n, 1), u)])
        out = np.zeros(self.num_samples)
        for fold in folds:
            train = np.setdiff1d(np.arange(n), fold)
            gp = GPPosterior(Z[train], observed[train], posterior.hypers)
            out += ranking_losses(gp.sample_joint(Z[fold], self.num_samples, self.rng),
                                  observed[fold])
        return out / len(folds)

    def bracket_distribution(self, num_brackets: int) -> np.ndarray | None:
        """Weights ``theta_k / r_k`` over the first brackets (None before the ensemble
        exists); bracket ``k`` starts at the ``k``-th level."""
        rungs = self._levels()
        if not self._ensemble:
            return None
        head = min(num_brackets, self._signature[0] + 1)
        w = np.array([self._ensemble.get(r, 0.0) / r for r in rungs[:head]])
        return w / w.sum() if w.sum() > 0 else None

    # -- suggest (worker thread) ----------------------------------------------------------

    def _suggest(self) -> dict[str, Any] | None:
        X, y, levels, pending = self._snapshot()
        if self._random_turn(y.size):
            return self.random_config()
        top = self._top_supported(levels)
        if top == 0 and not self._ensemble:
            return self._choose_at_level(X, y, levels, pending)  # MOBSTER's, until then
        y_std, _, _ = standardize(y)
        posterior = self.gp.posterior(X, y_std, self.rng)
        if top:
            self._fit_ensemble(posterior, X, y_std, levels, top)
        fid = np.array([self.fidelity(r) for r in self._ensemble])
        theta = np.array(list(self._ensemble.values()))
        observed = X[levels == self._levels()[self._signature[0]], :-1]
        if pending:
            P = np.vstack([np.hstack([np.array(pending), np.full((len(pending), 1), u)])
                           for u in fid])
            posterior, _ = condition_on_pending(posterior, P, y_std, float(y_std.min()),
                                                self.pending_strategy)
        acquisition = EnsembleEI(posterior, fid, theta, 0.0)
        acquisition.best = float(acquisition.moments(observed)[0].min())
        if self.restrict_configurations is not None:
            return self.best_unseen_allowed(self.encoder.encode, acquisition)
        enc = self.encoder
        taken = self._taken(pending)
        x = maximize_acquisition(
            acquisition, self._candidate_configs(X[:, :-1], y_std, posterior.num_points),
            enc.project, None if taken is None else (lambda z: enc.key(z) in taken),
            num_local=self.num_local_search,
        )
        return self.random_config() if x is None else enc.decode(x)

    # -- state ----------------------------------------------------------------------------

    def state(self) -> HyperTuneState:
        """MOBSTER's state plus the ensemble."""
        base = msgspec.structs.asdict(super().state())
        return HyperTuneState(**base, ensemble=list(self._ensemble.items()),
                              signature=list(self._signature))

    def restore(self, state: HyperTuneState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, HyperTuneState):
            state = msgspec.convert(state, HyperTuneState)
        super().restore(state)
        self._ensemble = {float(r): float(t) for r, t in state.ensemble}
        sig: Sequence[int] = state.signature or (0, 0)
        self._signature = (int(sig[0]), int(sig[1]))


register_searcher("hypertune", HyperTuneSearcher)
