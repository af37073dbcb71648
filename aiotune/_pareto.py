"""Pareto dominance on points to *minimize*: non-dominated fronts and NSGA-II's order.

Deb et al. (2002), "A fast and elitist multiobjective genetic algorithm: NSGA-II":
points are ranked by front (a point of front ``k`` is dominated only by points of
fronts ``< k``), then within a front by crowding distance, largest first, so the
order keeps the front's spread. MOASHA ranks a rung's trials with it, and
``TuningStatus.pareto_front`` uses the first front. Callers turn "max" objectives
into "min" by negating them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crowding_distance", "nondominated_fronts", "nsga2_order", "pareto_mask"]


def _as_points(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise ValueError(f"points must be a 2-d array (n points x m objectives), got {pts.shape}")
    return pts


def _dominance(pts: np.ndarray) -> np.ndarray:
    """``d[i, j]``: point ``i`` dominates point ``j`` (no worse everywhere, better somewhere)."""
    le = (pts[:, None, :] <= pts[None, :, :]).all(axis=2)
    lt = (pts[:, None, :] < pts[None, :, :]).any(axis=2)
    return le & lt


def nondominated_fronts(points: np.ndarray) -> list[np.ndarray]:
    """Indices of the points, front by front (the first front is the Pareto front)."""
    pts = _as_points(points)
    n = len(pts)
    if n == 0:
        return []
    dom = _dominance(pts)
    dominated_by = dom.sum(axis=0)  # how many points dominate each point
    remaining = np.ones(n, dtype=bool)
    fronts: list[np.ndarray] = []
    while remaining.any():
        front = np.flatnonzero(remaining & (dominated_by == 0))
        fronts.append(front)
        remaining[front] = False
        dominated_by = dominated_by - dom[front].sum(axis=0)
    return fronts


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each point within one front (boundary points: inf)."""
    pts = _as_points(points)
    n, m = pts.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for k in range(m):
        order = np.argsort(pts[:, k], kind="stable")
        values = pts[order, k]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def nsga2_order(points: np.ndarray) -> np.ndarray:
    """A permutation of the points, best first: by front, then by crowding distance
    (largest first); ties keep the input order."""
    ordered: list[np.ndarray] = []
    pts = _as_points(points)
    for front in nondominated_fronts(pts):
        crowding = crowding_distance(pts[front])
        ordered.append(front[np.argsort(-crowding, kind="stable")])
    return np.concatenate(ordered) if ordered else np.zeros(0, dtype=int)


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """True for each point no other point dominates."""
    pts = _as_points(points)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return ~_dominance(pts).any(axis=0)
