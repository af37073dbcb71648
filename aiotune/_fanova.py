"""Hyperparameter importance by functional ANOVA over a random forest (Hutter, Hoos and
Leyton-Brown, ICML 2014), as Optuna's default importance evaluator computes it.

A random forest is fitted from the configs (one column per hyperparameter in
``[0, 1]``) to the metric. For each tree, under the uniform distribution on the
unit cube, a hyperparameter's importance is the variance of the tree's marginal
prediction along that hyperparameter (every other one averaged out) as a
fraction of the tree's total variance; that is exact for a tree, whose leaves
are boxes. The importances are the mean fractions over the trees, normalized to
sum to 1 (Optuna's ``normalize=True``). CPU-bound: callers in async code run it
in a worker thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config_space import Categorical, Domain
from .errors import InvalidArgumentError

__all__ = ["fanova_importances", "importance_columns"]


def importance_columns(space: dict[str, Any], configs: list[dict[str, Any]]) -> np.ndarray:
    """One column per hyperparameter in ``[0, 1]``: its unit encoding (log scales
    included); a categorical's category index k of n as (k + 0.5) / n."""
    names = [k for k, v in space.items() if isinstance(v, Domain)]
    out = np.empty((len(configs), len(names)))
    for j, name in enumerate(names):
        dom = space[name]
        if isinstance(dom, Categorical):
            values = dom.values()
            column = [(values.index(dom.cast(c[name])) + 0.5) / len(values) for c in configs]
        else:
            column = [float(dom.encode(c[name])[0]) for c in configs]
        out[:, j] = column
    return out


def _leaf_boxes(tree: Any, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper corners and the value of every leaf of a fitted sklearn tree."""
    left, right = tree.children_left, tree.children_right
    lows, highs, values = [], [], []
    stack = [(0, np.zeros(dim), np.ones(dim))]
    while stack:
        node, lo, hi = stack.pop()
        if left[node] < 0:
            lows.append(lo)
            highs.append(hi)
            values.append(float(tree.value[node].reshape(-1)[0]))
            continue
        f, t = tree.feature[node], min(max(float(tree.threshold[node]), 0.0), 1.0)
        hi_left, lo_right = hi.copy(), lo.copy()
        hi_left[f], lo_right[f] = min(hi[f], t), max(lo[f], t)
        stack.append((left[node], lo, hi_left))
        stack.append((right[node], lo_right, hi))
    return np.array(lows), np.array(highs), np.array(values)


def _tree_fractions(tree: Any, dim: int) -> np.ndarray | None:
    """Each column's share of one tree's variance (None when the tree is constant)."""
    lo, hi, value = _leaf_boxes(tree, dim)
    width = hi - lo
    volume = width.prod(axis=1)
    mean = float(value @ volume)
    total = float((value**2) @ volume) - mean**2
    if total <= 1e-12 * max(1.0, mean**2):
        return None
    fractions = np.zeros(dim)
    for j in range(dim):
        cuts = np.unique(np.concatenate([[0.0, 1.0], lo[:, j], hi[:, j]]))
        seg_lo, seg_hi = cuts[:-1], cuts[1:]
        keep = seg_hi > seg_lo
        seg_lo, seg_hi = seg_lo[keep], seg_hi[keep]
        covers = (lo[:, j, None] <= seg_lo[None, :]) & (hi[:, j, None] >= seg_hi[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            rest = np.where(width[:, j] > 0, volume / width[:, j], 0.0)  # volume of the rest
        marginal = (value * rest) @ covers
        fractions[j] = float((seg_hi - seg_lo) @ (marginal - mean) ** 2) / total
    return fractions


def fanova_importances(
    X: np.ndarray, y: np.ndarray, n_trees: int = 64, max_depth: int = 64, seed: int = 0
) -> np.ndarray:
    """Each column's importance (summing to 1; all 0 when ``y`` is constant)."""
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:  # pragma: no cover - the surrogate extra is missing
        raise InvalidArgumentError(
            "hyperparameter importance needs scikit-learn: pip install 'aiotune[surrogate]'"
        ) from exc
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    if X.ndim != 2 or len(X) != len(y):
        raise InvalidArgumentError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    if len(y) < 2:
        raise InvalidArgumentError(f"importance needs at least 2 trials, got {len(y)}")
    forest = RandomForestRegressor(
        n_estimators=n_trees, max_depth=max_depth, min_samples_split=2, min_samples_leaf=1,
        random_state=seed,
    ).fit(X, y)
    shares = [_tree_fractions(est.tree_, X.shape[1]) for est in forest.estimators_]
    usable = [s for s in shares if s is not None]
    if not usable:
        return np.zeros(X.shape[1])
    mean = np.mean(usable, axis=0)
    return mean / mean.sum() if mean.sum() > 0 else mean
