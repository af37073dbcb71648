"""A GP kept across suggestions: refit hyperparameters now and then, extend the factor always."""

from __future__ import annotations

import threading

import numpy as np

from .expdecay import (
    ExpDecayHyperparameters,
    FreezeThawHyperparameters,
    fit_expdecay_hyperparameters,
)
from .model import GPHyperparameters, GPPosterior, fit_hyperparameters

__all__ = ["RESOURCE_KERNELS", "IncrementalGP", "select_subset"]

#: The GP models over (config, resource): Matern-5/2 ARD over both, or the
#: exponential-decay resource kernel, its curve shared by all configs or one per
#: config (Syne Tune's ``gp_resource_kernel`` names).
RESOURCE_KERNELS = ("matern52", "exp-decay-sum", "freeze-thaw")
_DECAY_KINDS = {"exp-decay-sum": ExpDecayHyperparameters,
                "freeze-thaw": FreezeThawHyperparameters}


def select_subset(
    y: np.ndarray, cap: int, rng: np.random.Generator, prefer: np.ndarray | None = None,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted indices of at most ``cap`` rows to model (all of them if there are fewer).

    As Syne Tune's ``max_size_data_for_model``: rows in ``prefer`` first (the
    best of them, up to half the cap), then the best quarter overall, then a
    random fill, so the model stays accurate where it matters and cheap. With
    ``eligible``, only those rows are candidates (all of them if they fit).
    """
    if eligible is not None:
        idx = np.flatnonzero(eligible)
        if idx.size <= cap:
            return idx
        return idx[select_subset(y[idx], cap, rng, None if prefer is None else prefer[idx])]
    n = y.size
    if n <= cap:
        return np.arange(n)
    chosen = np.zeros(n, dtype=bool)
    if prefer is not None and prefer.any():
        idx = np.flatnonzero(prefer)
        chosen[idx[np.argsort(y[idx], kind="stable")[: cap // 2]]] = True
    for i in np.argsort(y, kind="stable"):
        if chosen.sum() >= cap // 2 + cap // 4:
            break
        chosen[i] = True
    rest = np.flatnonzero(~chosen)
    fill = cap - int(chosen.sum())
    if fill > 0:
        chosen[rng.choice(rest, size=min(fill, rest.size), replace=False)] = True
    return np.flatnonzero(chosen)


class IncrementalGP:
    """The last hyperparameter fit and the Cholesky factor of the modelled rows.

    Inputs must grow append-only (rows never move), targets may change. At a
    hyperparameter fit (once the data grew by ``refit_fraction``, warm-started
    from the previous fit, with one random restart each time the data size
    crosses a power of two) the modelled rows are chosen: all of them, or a
    subset of ``max_data_points`` (:func:`select_subset`) when there are more.
    Until the next fit, new rows are appended to the factor by block updates
    (O(n^2) per row), one row at a time so that a restored model reproduces the
    same floats. ``kernel`` is ``"matern52"`` or, for inputs whose last column is
    a resource, ``"exp-decay-sum"`` or ``"freeze-thaw"``.
    """

    def __init__(self, refit_fraction: float = 0.1, opt_restarts: int = 2,
                 max_fit_points: int = 400, max_data_points: int = 500,
                 min_lengthscales: np.ndarray | None = None, kernel: str = "matern52") -> None:
        if kernel not in RESOURCE_KERNELS:
            raise ValueError(f"kernel must be one of {RESOURCE_KERNELS}, got {kernel!r}")
        self.kernel = kernel
        self.refit_fraction = refit_fraction
        self.opt_restarts = opt_restarts
        self.max_fit_points = max_fit_points
        self.max_data_points = max_data_points
        self.min_lengthscales = min_lengthscales
        self._lock = threading.Lock()
        self._hypers: GPHyperparameters | ExpDecayHyperparameters | None = None
        self._num_at_fit = 0
        self._subset: np.ndarray | None = None  # rows < num_at_fit modelled (None: all)
        self._cached: GPPosterior | None = None
        self.num_fits = 0

    def __repr__(self) -> str:
        return f"IncrementalGP(num_at_fit={self._num_at_fit}, num_fits={self.num_fits})"

    def posterior(self, X: np.ndarray, y_std: np.ndarray, rng: np.random.Generator,
                  prefer: np.ndarray | None = None,
                  eligible: np.ndarray | None = None) -> GPPosterior:
        """The posterior given the data (refitting the hyperparameters when due).

        ``prefer`` marks rows to keep first when the data is subsampled, ``eligible``
        the rows it is subsampled from (:func:`select_subset`).
        """
        with self._lock:
            hypers, num_at_fit = self._hypers, self._num_at_fit
            subset, cached = self._subset, self._cached
        n = y_std.size
        if hypers is None or n - num_at_fit >= max(1, int(self.refit_fraction * num_at_fit)):
            subset = None
            if n > self.max_data_points:
                subset = select_subset(y_std, self.max_data_points, rng, prefer, eligible)
            rows = np.arange(n) if subset is None else subset
            if hypers is None:
                restarts, maxiter = self.opt_restarts, 100
            else:
                # Warm start from the last fit; a random restart too whenever the data
                # crossed a power of two (a function of the saved state: restores exactly).
                crossed = int(np.log2(max(n, 1))) > int(np.log2(max(num_at_fit, 1)))
                restarts, maxiter = (1 if crossed else 0), 50
            if self.kernel in _DECAY_KINDS:
                hypers = fit_expdecay_hyperparameters(
                    X[rows], y_std[rows], rng, init=hypers,
                    restarts=restarts, maxiter=maxiter, max_points=self.max_fit_points,
                    per_config=self.kernel == "freeze-thaw",
                )
            else:
                hypers = fit_hyperparameters(
                    X[rows], y_std[rows], rng, init=hypers,
                    restarts=restarts, maxiter=maxiter, max_points=self.max_fit_points,
                    min_lengthscales=self.min_lengthscales,
                )
            num_at_fit, cached = n, None
            self.num_fits += 1
        base = np.arange(num_at_fit) if subset is None else subset
        rows = np.concatenate([base, np.arange(num_at_fit, n)]).astype(int)
        if cached is None and 0 < num_at_fit < n:
            # Restored between fits: factorize the fitted rows, then add the rest row by
            # row, exactly as the original grew its factor.
            cached = GPPosterior(X[base], y_std[base], hypers)
        if cached is not None and cached.hypers is hypers and cached.num_points <= rows.size:
            posterior = cached.extend_rows(X[rows[cached.num_points:]], y_std[rows])
        else:
            posterior = GPPosterior(X[rows], y_std[rows], hypers)
        with self._lock:
            self._hypers, self._num_at_fit = hypers, num_at_fit
            self._subset, self._cached = subset, posterior
        return posterior

    def get_fit(self) -> tuple[list[float], int, list[int]]:
        """The last fit as ``(theta, num_at_fit, subset)`` (empty theta before any fit)."""
        with self._lock:
            theta = [] if self._hypers is None else self._hypers.to_theta().tolist()
            subset = [] if self._subset is None else self._subset.tolist()
            return theta, self._num_at_fit, subset

    def set_fit(self, theta: list[float], num_at_fit: int, subset: list[int] | None = None) -> None:
        """Restore a fit saved by :meth:`get_fit` (the factor is recomputed when needed)."""
        with self._lock:
            kind = _DECAY_KINDS.get(self.kernel, GPHyperparameters)
            self._hypers = kind.from_theta(np.array(theta)) if theta else None
            self._num_at_fit = num_at_fit
            self._subset = np.array(subset, dtype=int) if subset else None
            self._cached = None
