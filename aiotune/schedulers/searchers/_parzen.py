"""Parzen estimators as in Optuna's TPE, over each hyperparameter's own coordinate.

A numeric hyperparameter lives on its unit-interval encoding (log domains are
already log-scaled there); its kernels are Gaussians truncated to ``[0, 1]``.
A finite ordered domain (integers, finite ranges, ordinals) scores a value by
the kernel's mass over the value's cell, the part of ``[0, 1]`` that decodes
to it. A categorical hyperparameter lives on its category index; each kernel
is a smoothed point mass. Every estimator is a mixture of one kernel per
observation plus a prior kernel (uniform-ish, weight ``prior_weight``).

Bandwidths follow Optuna 5's ``_ParzenEstimator``: per coordinate, the larger
gap to the neighbouring observations (both ends count), clipped to
``[1 / min(100, n + 2), 1]`` (the "magic clip"); the prior kernel is centred
with width 1. Multivariate or not changes only whether a component spans all
coordinates (one observation) or each coordinate mixes on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

__all__ = ["Coordinate", "ParzenEstimator"]

_SQRT_2PI_LOG = 0.5 * math.log(2.0 * math.pi)
_TINY = 1e-300


@dataclass(frozen=True)
class Coordinate:
    """One hyperparameter as the estimator sees it.

    ``categories`` > 0: a categorical with that many values (a value is its index).
    Otherwise a number in ``[0, 1]``; ``edges`` (sorted, from 0 to 1) bound the
    cells of a finite domain's values, None for a continuous one.
    """

    categories: int = 0
    edges: np.ndarray | None = None

    def cell(self, u: np.ndarray) -> np.ndarray:
        """The index of the cell of each number (a finite domain's value it stands for)."""
        assert self.edges is not None
        return np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0, len(self.edges) - 2)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Each number of a finite domain moved to the middle of its cell."""
        if self.edges is None:
            return u
        cell = self.cell(u)
        return 0.5 * (self.edges[cell] + self.edges[cell + 1])


class ParzenEstimator:
    """A mixture over the coordinates, fitted to ``values`` (one row per observation).

    ``weights`` weigh the observations (Optuna ramps older ones down); the prior
    kernel gets ``prior_weight``. With ``multivariate`` a component is one
    observation across all coordinates; otherwise each coordinate is its own
    mixture and densities are per coordinate.
    """

    def __init__(
        self,
        coords: list[Coordinate],
        values: np.ndarray,
        weights: np.ndarray,
        prior_weight: float = 1.0,
        multivariate: bool = True,
        consider_endpoints: bool = False,
        magic_clip: bool = True,
    ) -> None:
        self.coords = coords
        self.multivariate = multivariate
        n = values.shape[0]
        w = np.append(np.asarray(weights, dtype=float), prior_weight)
        self.log_weights = np.log(np.maximum(w / w.sum(), _TINY))
        self.mus: list[np.ndarray | None] = []
        self.sigmas: list[np.ndarray | None] = []
        self.cat_log_probs: list[np.ndarray | None] = []
        for j, coord in enumerate(coords):
            col = values[:, j] if n else np.zeros(0)
            if coord.categories:
                self.mus.append(None)
                self.sigmas.append(None)
                self.cat_log_probs.append(_categorical_kernels(col, coord.categories, prior_weight))
                continue
            sig = _bandwidths(col, consider_endpoints, magic_clip)
            self.mus.append(np.append(col, 0.5))
            self.sigmas.append(np.append(sig, 1.0))
            self.cat_log_probs.append(None)

    @property
    def num_components(self) -> int:
        return self.log_weights.size

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` draws, one row each (finite domains at their cell middles)."""
        p = np.exp(self.log_weights)
        p /= p.sum()
        shared = rng.choice(self.num_components, size=m, p=p) if self.multivariate else None
        out = np.empty((m, len(self.coords)))
        for j, coord in enumerate(self.coords):
            comp = shared if shared is not None else rng.choice(self.num_components, size=m, p=p)
            cat = self.cat_log_probs[j]
            if cat is not None:
                probs = np.exp(cat[comp])
                cum = np.cumsum(probs, axis=1)
                draw = rng.random(m)[:, None] * cum[:, -1:]
                out[:, j] = np.minimum((cum < draw).sum(axis=1), coord.categories - 1)
                continue
            mu, sigma = self.mus[j][comp], self.sigmas[j][comp]  # type: ignore[index]
            lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
            q = lo + rng.random(m) * (hi - lo)
            u = mu + sigma * ndtri(np.clip(q, 1e-15, 1.0 - 1e-15))
            out[:, j] = coord.snap(np.clip(u, 0.0, 1.0))
        return out

    def component_log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density (or cell mass) of every row under every component, per coordinate:
        shape ``(rows, coordinates, components)``."""
        out = np.empty((x.shape[0], len(self.coords), self.num_components))
        for j, coord in enumerate(self.coords):
            cat = self.cat_log_probs[j]
            if cat is not None:
                out[:, j, :] = cat[:, x[:, j].astype(int)].T
                continue
            mu, sigma = self.mus[j], self.sigmas[j]
            assert mu is not None and sigma is not None
            log_z = np.log(np.maximum(ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma), _TINY))
            u = x[:, j][:, None]
            if coord.edges is None:
                z = (u - mu) / sigma
                out[:, j, :] = -0.5 * z * z - np.log(sigma) - _SQRT_2PI_LOG - log_z
            else:
                cell = coord.cell(u[:, 0])[:, None]
                a, b = coord.edges[cell], coord.edges[cell + 1]
                mass = ndtr((b - mu) / sigma) - ndtr((a - mu) / sigma)
                out[:, j, :] = np.log(np.maximum(mass, _TINY)) - log_z
        return out

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row: shape ``(rows,)`` when multivariate, else
        ``(rows, coordinates)`` (each coordinate's own mixture)."""
        comp = self.component_log_pdf(x) + self.log_weights
        if self.multivariate:
            return logsumexp(comp.sum(axis=1), axis=-1)
        return logsumexp(comp, axis=-1)


def _categorical_kernels(obs: np.ndarray, k: int, prior_weight: float) -> np.ndarray:
    """Log probabilities, one row per observation then the prior's uniform row.

    As Optuna: every row starts at ``prior_weight / (n + 1)`` per category, the
    observed category gets 1 more, and the row is normalized.
    """
    n = obs.size
    probs = np.full((n + 1, k), prior_weight / (n + 1))
    probs[np.arange(n), obs.astype(int)] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    return np.log(probs)


def _bandwidths(mus: np.ndarray, consider_endpoints: bool, magic_clip: bool) -> np.ndarray:
    """The kernel widths of the observations at ``mus`` on ``[0, 1]``: each the larger
    gap to its neighbours (the ends count as neighbours), clipped."""
    n = mus.size
    order = np.argsort(mus, kind="stable")
    pts = np.concatenate([[0.0], mus[order], [1.0]])
    gaps = np.maximum(pts[1:-1] - pts[:-2], pts[2:] - pts[1:-1])
    if not consider_endpoints and pts.size >= 4:
        gaps[0] = pts[2] - pts[1]
        gaps[-1] = pts[-2] - pts[-3]
    sigmas = np.empty_like(gaps)
    sigmas[order] = gaps
    low = 1.0 / min(100.0, n + 2.0) if magic_clip else 1e-12
    return np.clip(sigmas, low, 1.0)
