"""Pareto dominance on points to *minimize*: non-dominated fronts and NSGA-II's order.

Deb et al. (2002), "A fast and elitist multiobjective genetic algorithm: NSGA-II":
points are ranked by front (a point of front ``k`` is dominated only by points of
fronts ``< k``), then within a front by crowding distance, largest first, so the
order keeps the front's spread. MOASHA ranks a rung's trials with it, and
``TuningStatus.pareto_front`` uses the first front. Callers turn "max" objectives
into "min" by negating them.
"""

from __future__ import annotations

import bisect

import numpy as np

__all__ = [
    "ParetoRanking",
    "crowding_distance",
    "nondominated_fronts",
    "nsga2_order",
    "pareto_mask",
]


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


def _front_numbers_2d(pts: np.ndarray) -> np.ndarray:
    """Each point's front for two objectives, in O(n log n) (Jensen's sweep).

    In the order of (x, y), every point that could dominate a point comes
    before it, and a front is dominated-or-not by its last member alone (its
    lowest y): front keys ``(lowest y, its x)`` never decrease from one front to
    the next, so a point joins the first front whose key is not below its own.
    """
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    keys: list[tuple[float, float]] = []
    numbers = np.empty(len(pts), dtype=np.int64)
    for i in order.tolist():
        key = (float(pts[i, 1]), float(pts[i, 0]))
        k = bisect.bisect_left(keys, key)
        if k == len(keys):
            keys.append(key)
        else:
            keys[k] = key
        numbers[i] = k
    return numbers


def nondominated_fronts(points: np.ndarray) -> list[np.ndarray]:
    """Indices of the points, front by front (the first front is the Pareto front)."""
    pts = _as_points(points)
    n = len(pts)
    if n == 0:
        return []
    if pts.shape[1] == 2:
        numbers = _front_numbers_2d(pts)
        return [np.flatnonzero(numbers == k) for k in range(int(numbers.max()) + 1)]
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
    """True for each point no other point dominates.

    Two objectives: the first front of the O(n log n) sweep. More: a point can
    be dominated only by points before it in lexicographic order, and then by
    one of those on the front so far, so each point is checked against that
    front alone: O(n x front size).
    """
    pts = _as_points(points)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    if pts.shape[1] == 2:
        return _front_numbers_2d(pts) == 0
    mask = np.zeros(len(pts), dtype=bool)
    front = np.empty((0, pts.shape[1]))
    for i in np.lexsort(pts.T[::-1]).tolist():
        p = pts[i]
        if not ((front <= p).all(axis=1) & (front < p).any(axis=1)).any():
            mask[i] = True
            front = np.vstack([front, p])
    return mask


class ParetoRanking:
    """A growing set of points with each one's front kept up to date, so that inserting
    a point and learning its place in NSGA-II's order costs O(n), not an O(n^2) sort.

    Why it works: adding ``v`` changes the front only of points ``v`` dominates
    (dominance is transitive, so no other point gains a dominator), and ``v``'s
    own front is one past the highest front among the points dominating it.
    """

    def __init__(self, num_objectives: int) -> None:
        self._points = np.empty((0, num_objectives))
        self._fronts = np.empty(0, dtype=np.int64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def fronts(self) -> np.ndarray:
        """Each point's front number, in insertion order (a copy)."""
        return self._fronts[: self._n].copy()

    def insert(self, values: np.ndarray | list[float]) -> int:
        """Add a point; return how many points NSGA-II's order puts before it (the same
        as :func:`nsga2_order` of all points with this one last)."""
        v = np.asarray(values, dtype=float)
        pts, fronts = self._points[: self._n], self._fronts[: self._n]
        dominators = (pts <= v).all(axis=1) & (pts < v).any(axis=1)
        dominated = (v <= pts).all(axis=1) & (v < pts).any(axis=1)
        front = int(fronts[dominators].max()) + 1 if dominators.any() else 0
        place = int((~dominated & (fronts < front)).sum())
        peers = np.flatnonzero(~dominated & (fronts == front))
        if len(peers):
            crowding = crowding_distance(np.vstack([pts[peers], v]))
            order = np.argsort(-crowding, kind="stable")
            place += int(np.flatnonzero(order == len(peers))[0])
        hit = np.flatnonzero(dominated)
        if len(hit):
            # A point v dominates gains v's chain: its front is now at least v's front,
            # plus one, plus its front within the dominated set alone.
            within = np.empty(len(hit), dtype=np.int64)
            for k, members in enumerate(nondominated_fronts(pts[hit])):
                within[members] = k
            fronts[hit] = np.maximum(fronts[hit], front + 1 + within)
        if self._n == len(self._points):  # grow by doubling
            grown = max(8, 2 * self._n)
            self._points = np.resize(self._points, (grown, self._points.shape[1]))
            self._fronts = np.resize(self._fronts, grown)
        self._points[self._n] = v
        self._fronts[self._n] = front
        self._n += 1
        return place
