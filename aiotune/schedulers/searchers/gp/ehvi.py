"""Expected hypervolume improvement of independent Gaussian objectives, in closed form.

The region a new point could add to the hypervolume (inside the reference box,
not dominated by the current front) is cut into axis-aligned cells on the grid
of the front's coordinates (:func:`nondominated_cells`). For a cell ``[l, u]``
and a point ``Y`` the added volume is ``prod_i (u_i - max(Y_i, l_i))^+``; with
independent objectives its expectation is the product of the one-dimensional
ones, each ``g_i(u_i) - g_i(l_i)`` with ``g(t) = E[(t - Y)^+]`` (the expected
improvement below ``t``). EHVI is the sum over the cells: exact, no sampling,
for any number of objectives. The grid has ``(n + 1)^m`` cells for ``n`` front
points and ``m`` objectives: beyond :data:`MAX_CELLS` the front is thinned to its
most spread points (NSGA-II crowding) for the acquisition, and points are scored
in chunks, so memory stays bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr

from ...._pareto import crowding_distance
from .model import GPPosterior

__all__ = [
    "MAX_CELLS",
    "ExpectedHypervolumeImprovement",
    "nondominated_cells",
    "reference_point",
    "thin_front",
]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
MAX_CELLS = 20_000
"""Grid cells at most: larger fronts are thinned (two objectives reach it at 140 points)."""
_CHUNK = 2_000_000
"""Points x cells scored at once."""


def thin_front(front: np.ndarray, max_cells: int = MAX_CELLS) -> np.ndarray:
    """``front`` itself, or its most spread points (highest crowding distance, the extremes
    first) if its grid would exceed ``max_cells`` cells."""
    front = np.atleast_2d(front)
    n, m = front.shape
    keep = int(max_cells ** (1.0 / m)) - 1
    if n <= keep:
        return front
    order = np.argsort(-crowding_distance(front), kind="stable")
    return front[np.sort(order[:max(keep, 1)])]


def reference_point(Y: np.ndarray, margin: float = 0.1,
                    span: np.ndarray | None = None) -> np.ndarray:
    """Each objective's worst value in ``Y`` plus ``margin`` of ``span`` (default: ``Y``'s
    range; one unit where it is 0): the box the hypervolume is measured in (all
    objectives minimized)."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    span = Y.max(axis=0) - Y.min(axis=0) if span is None else np.asarray(span, dtype=float)
    return Y.max(axis=0) + margin * np.where(span > 0, span, 1.0)


def nondominated_cells(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners ``(C, m)`` of the grid cells below ``ref`` that no point of
    ``front`` dominates (lower corners may be ``-inf``); together they tile the region a
    new point can add to the hypervolume."""
    ref = np.asarray(ref, dtype=float)
    m = ref.size
    front = np.atleast_2d(np.asarray(front, dtype=float)).reshape(-1, m)
    front = front[np.all(front < ref, axis=1)]
    edges = [np.concatenate([[-np.inf], np.unique(front[:, i]), [ref[i]]]) for i in range(m)]
    index = np.array(list(itertools.product(*[range(len(e) - 1) for e in edges])), dtype=int)
    lower = np.column_stack([edges[i][index[:, i]] for i in range(m)])
    upper = np.column_stack([edges[i][index[:, i] + 1] for i in range(m)])
    if len(front):
        # A cell is dominated as a whole when a front point is <= its lower corner.
        dominated = np.any(np.all(front[None, :, :] <= lower[:, None, :], axis=2), axis=1)
        lower, upper = lower[~dominated], upper[~dominated]
    return lower, upper


def _shortfall(t: np.ndarray, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, ...]:
    """``g(t) = E[(t - Y)^+]`` for ``Y ~ N(mean, std^2)``, with ``dg/dmean = -Phi(z)`` and
    ``dg/dstd = phi(z)`` (``z = (t - mean) / std``); ``t = -inf`` gives 0."""
    finite = np.isfinite(t) & np.ones_like(mean, dtype=bool)
    diff = np.where(finite, t, 0.0) - mean
    z = diff / std
    cdf = np.where(finite, ndtr(z), 0.0)
    pdf = np.where(finite, _INV_SQRT_2PI * np.exp(-0.5 * z * z), 0.0)
    g = np.where(finite, diff * cdf + std * pdf, 0.0)
    return g, cdf, pdf


class ExpectedHypervolumeImprovement:
    """EHVI over ``front`` in the box below ``ref``, one GP posterior per objective
    (all minimized, independent), at many points or with its gradient.

    ``g`` is evaluated once per point at each objective's few cell edges, not once
    per cell: cells share edges.
    """

    def __init__(self, posteriors: Sequence[GPPosterior], front: np.ndarray,
                 ref: np.ndarray) -> None:
        self.posteriors = list(posteriors)
        self.ref = np.asarray(ref, dtype=float)
        lower, upper = nondominated_cells(thin_front(front), ref)
        self.edges: list[np.ndarray] = []
        self.lo_index: list[np.ndarray] = []
        self.hi_index: list[np.ndarray] = []
        for i in range(lower.shape[1]):
            edges = np.unique(np.concatenate([lower[:, i], upper[:, i]]))
            self.edges.append(edges)
            self.lo_index.append(np.searchsorted(edges, lower[:, i]))
            self.hi_index.append(np.searchsorted(edges, upper[:, i]))

    def _factors(self, means: np.ndarray, stds: np.ndarray,
                 derivatives: bool = False) -> tuple[np.ndarray, ...]:
        """Per point, cell and objective: ``g(u) - g(l)``; with ``derivatives`` also its
        derivatives by the mean and the std (only the gradient needs them)."""
        a, da_dmean, da_dstd = [], [], []
        for i, edges in enumerate(self.edges):
            g, cdf, pdf = _shortfall(edges[None, :], means[:, i:i + 1], stds[:, i:i + 1])
            hi, lo = self.hi_index[i], self.lo_index[i]
            a.append(g[:, hi] - g[:, lo])
            if derivatives:
                da_dmean.append(cdf[:, lo] - cdf[:, hi])
                da_dstd.append(pdf[:, hi] - pdf[:, lo])
        if not derivatives:
            return (np.stack(a, axis=2),)
        return np.stack(a, axis=2), np.stack(da_dmean, axis=2), np.stack(da_dstd, axis=2)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        step = max(1, _CHUNK // max(1, len(self.lo_index[0])))
        if len(X) > step:
            return np.concatenate([self(X[i:i + step]) for i in range(0, len(X), step)])
        preds = [p.predict(X) for p in self.posteriors]
        means = np.column_stack([m for m, _ in preds])
        stds = np.sqrt(np.column_stack([v for _, v in preds]))
        factors = self._factors(means, stds)[0]
        return np.prod(factors, axis=2).sum(axis=1)

    def with_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        parts = [p.predict_with_grad(x) for p in self.posteriors]
        means = np.array([[m for m, _, _, _ in parts]])
        stds = np.sqrt(np.array([[v for _, v, _, _ in parts]]))
        a, da_dmean, da_dstd = (f[0] for f in self._factors(means, stds, derivatives=True))
        value = float(np.prod(a, axis=1).sum())
        grad = np.zeros_like(np.asarray(x, dtype=float).reshape(-1))
        for i, (_, var, dmean, dvar) in enumerate(parts):
            others = np.prod(np.delete(a, i, axis=1), axis=1)  # product over j != i
            dstd = dvar / (2.0 * np.sqrt(var))
            grad += float(others @ da_dmean[:, i]) * dmean + float(others @ da_dstd[:, i]) * dstd
        return value, grad
