"""The Matern-5/2 kernel with one lengthscale per input dimension (ARD), and its gradients."""

from __future__ import annotations

import numpy as np

__all__ = ["Matern52"]

_SQRT5 = float(np.sqrt(5.0))


class Matern52:
    """Matern-5/2 ARD kernel ``s2 * (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)``.

    ``r`` is the Euclidean distance after dividing each coordinate by its
    lengthscale. The kernel is smooth enough for gradient-based acquisition
    search and rough enough to model real response surfaces (the usual BO choice).
    """

    def __init__(self, lengthscales: np.ndarray, variance: float) -> None:
        self.lengthscales = np.asarray(lengthscales, dtype=float).reshape(-1)
        self.variance = float(variance)

    def __repr__(self) -> str:
        ls = np.array2string(self.lengthscales, precision=3)
        return f"Matern52(lengthscales={ls}, variance={self.variance:.4g})"

    @staticmethod
    def shape(r: np.ndarray) -> np.ndarray:
        """The unit-variance Matern-5/2 profile as a function of scaled distance ``r``."""
        sr = _SQRT5 * r
        return (1.0 + sr + sr * sr / 3.0) * np.exp(-sr)

    def scaled_dist(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairwise scaled distances between the rows of ``a`` and ``b``."""
        a = a / self.lengthscales
        b = b / self.lengthscales
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(sq, 0.0))

    def __call__(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """The kernel matrix ``k(a_i, b_j)`` (``b`` defaults to ``a``)."""
        r = self.scaled_dist(a, a if b is None else b)
        return self.variance * self.shape(r)

    def diag(self, a: np.ndarray) -> np.ndarray:
        """``k(a_i, a_i)`` for every row (the prior variance)."""
        return np.full(a.shape[0], self.variance)

    def mean(self, a: np.ndarray) -> np.ndarray:
        """The prior mean at each row: zero (targets are standardized)."""
        return np.zeros(a.shape[0])

    def point_moments_grad(self, x: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Prior mean and variance at one point ``x``, and their gradients (zero) wrt ``x``."""
        return 0.0, self.variance, np.zeros(x.size), np.zeros(x.size)

    def grad_x(self, x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``k(x, b_j)`` for one point ``x`` and its gradient wrt ``x`` (shape ``(m, d)``)."""
        diff = x[None, :] - b
        scaled = diff / self.lengthscales
        r = np.sqrt((scaled * scaled).sum(1))
        sr = _SQRT5 * r
        e = np.exp(-sr)
        k = self.variance * (1.0 + sr + sr * sr / 3.0) * e
        # dk/dr * dr/dx = -s2 5/3 (1 + sqrt5 r) e^{-sqrt5 r} * diff / l^2 (no 1/r singularity)
        coef = -self.variance * (5.0 / 3.0) * (1.0 + sr) * e
        return k, coef[:, None] * diff / (self.lengthscales**2)

    def grad_log_lengthscale_factors(self, r: np.ndarray) -> np.ndarray:
        """``dK/dlog l_j = factor * ((x_ij - x_kj) / l_j)^2``; returns that common factor."""
        sr = _SQRT5 * r
        return self.variance * (5.0 / 3.0) * (1.0 + sr) * np.exp(-sr)
