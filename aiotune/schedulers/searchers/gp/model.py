"""GP regression: marginal-likelihood fit of the hyperparameters, and the posterior.

Targets are standardized by the caller (:func:`standardize`); the prior mean is
zero. Hyperparameters (ARD lengthscales, signal variance, noise variance) are fit
in log space by L-BFGS-B with analytic gradients and a few restarts, under weak
log-normal priors that keep fits sane with few observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, lapack, solve_triangular
from scipy.optimize import minimize

from .kernel import Matern52

if TYPE_CHECKING:
    from .expdecay import ExpDecayHyperparameters

__all__ = ["GPHyperparameters", "GPPosterior", "fit_hyperparameters", "standardize"]

_JITTER = 1e-8
_LOG_2PI = math.log(2.0 * math.pi)
# Bounds (log space) and weak priors: (lower, upper), (prior mean, prior sd).
_LS_BOUNDS = (math.log(0.01), math.log(20.0))
_VAR_BOUNDS = (math.log(0.01), math.log(100.0))
_NOISE_BOUNDS = (math.log(1e-6), math.log(2.0))
_LS_PRIOR = (math.log(0.5), 1.0)
_VAR_PRIOR = (0.0, 1.0)
_NOISE_PRIOR = (math.log(1e-3), 2.0)


@dataclass(frozen=True)
class GPHyperparameters:
    """Kernel lengthscales (one per input dimension), signal variance and noise variance.

    ``theta`` keeps the exact log-space vector a fit produced, so saving and
    restoring a fit reproduces the same floats (``log(exp(t))`` need not be ``t``).
    """

    lengthscales: np.ndarray
    variance: float
    noise: float
    theta: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def default(cls, dim: int) -> GPHyperparameters:
        """The prior modes: the start of the first fit, and the model with no data to fit."""
        return cls(np.full(dim, math.exp(_LS_PRIOR[0])), 1.0, math.exp(_NOISE_PRIOR[0]))

    def to_theta(self) -> np.ndarray:
        """Log-space vector ``[log l_1..log l_d, log variance, log noise]``."""
        if self.theta is not None:
            return self.theta.copy()
        return np.concatenate([np.log(self.lengthscales), [math.log(self.variance)],
                               [math.log(self.noise)]])

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> GPHyperparameters:
        """Inverse of :meth:`to_theta`."""
        theta = np.array(theta, dtype=float)
        return cls(np.exp(theta[:-2]), float(math.exp(theta[-2])), float(math.exp(theta[-1])),
                   theta=theta)

    def kernel(self) -> Matern52:
        """The kernel these parameters define (its prior mean is zero)."""
        return Matern52(self.lengthscales, self.variance)


def standardize(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(y - mean) / std`` with ``std = 1`` for constant data (all-equal metrics)."""
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        return y.copy(), 0.0, 1.0
    mean = float(y.mean())
    std = float(y.std())
    if not std > 1e-12 * max(1.0, abs(mean)):
        std = 1.0
    return (y - mean) / std, mean, std


def _cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, adding jitter to the diagonal until it succeeds."""
    jitter = 0.0
    scale = float(np.mean(np.diag(K))) if K.size else 1.0
    for _ in range(8):
        try:
            if jitter:
                return cholesky(K + jitter * np.eye(K.shape[0]), lower=True, check_finite=False)
            return cholesky(K, lower=True, check_finite=False)
        except LinAlgError:
            jitter = max(jitter * 10.0, 1e-9 * scale)
    raise LinAlgError("kernel matrix is not positive definite even with jitter")


def _chol_inverse(L: np.ndarray) -> np.ndarray:
    """``K^-1`` from the lower Cholesky factor of ``K`` (LAPACK potri: a third of a solve)."""
    if L.shape[0] == 0:
        return np.zeros((0, 0))
    inv, info = lapack.dpotri(L, lower=1)
    if info != 0:  # pragma: no cover - L comes from a successful factorization
        return cho_solve((L, True), np.eye(L.shape[0]), check_finite=False)
    lower = np.tril(inv)
    return lower + np.tril(lower, -1).T


def _bounds(dim: int) -> list[tuple[float, float]]:
    return [_LS_BOUNDS] * dim + [_VAR_BOUNDS, _NOISE_BOUNDS]


def _prior(theta: np.ndarray, dim: int) -> tuple[float, np.ndarray]:
    """Negative log prior (up to a constant) and its gradient."""
    means = np.array([_LS_PRIOR[0]] * dim + [_VAR_PRIOR[0], _NOISE_PRIOR[0]])
    sds = np.array([_LS_PRIOR[1]] * dim + [_VAR_PRIOR[1], _NOISE_PRIOR[1]])
    z = (theta - means) / sds
    return 0.5 * float(z @ z), z / sds


def matern_terms(
    log_lengthscales: np.ndarray, sqdiff: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-coordinate squared differences over the squared lengthscales, the scaled
    distances, and the unit-variance Matern-5/2 matrix of a likelihood evaluation."""
    scaled = sqdiff / np.exp(2.0 * log_lengthscales)[:, None, None]
    dist = np.sqrt(np.maximum(scaled.sum(0), 0.0))
    return scaled, dist, Matern52.shape(dist)


def matern_lengthscale_grad(
    W: np.ndarray, s2: float, dist: np.ndarray, scaled: np.ndarray
) -> np.ndarray:
    """``-0.5 sum(W * dK/dlog l_j)`` for each lengthscale of the Matern term ``s2 M``."""
    sr = math.sqrt(5.0) * dist
    factor = s2 * (5.0 / 3.0) * (1.0 + sr) * np.exp(-sr)
    return -0.5 * np.einsum("ik,jik->j", W * factor, scaled)


def neg_log_marginal_likelihood(
    theta: np.ndarray, sqdiff: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus prior, and its gradient wrt ``theta``.

    ``sqdiff[j]`` holds the pairwise squared differences of input coordinate ``j``.
    """
    dim, n = sqdiff.shape[0], y.shape[0]
    s2, noise = math.exp(theta[dim]), math.exp(theta[dim + 1])
    scaled, r, M = matern_terms(theta[:dim], sqdiff)
    K = s2 * M
    K[np.diag_indices(n)] += noise + _JITTER
    try:
        L = cholesky(K, lower=True, check_finite=False)
    except LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve((L, True), y, check_finite=False)
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(L)).sum()) + 0.5 * n * _LOG_2PI
    Kinv = _chol_inverse(L)
    W = np.outer(alpha, alpha) - Kinv
    grad = np.empty_like(theta)
    grad[:dim] = matern_lengthscale_grad(W, s2, r, scaled)
    grad[dim] = -0.5 * float(np.sum(W * (s2 * M)))
    grad[dim + 1] = -0.5 * noise * float(np.trace(W))
    pval, pgrad = _prior(theta, dim)
    return nll + pval, grad + pgrad


def fit_hyperparameters(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    init: GPHyperparameters | None = None,
    restarts: int = 2,
    maxiter: int = 100,
    max_points: int = 400,
    min_lengthscales: np.ndarray | None = None,
) -> GPHyperparameters:
    """Maximize the (prior-regularized) marginal likelihood by L-BFGS-B from several starts.

    Starts: ``init`` (the previous fit: warm start) or the prior modes, plus
    ``restarts`` random draws from the prior. With more than ``max_points``
    observations the fit uses a random subset (the posterior still uses all).
    ``min_lengthscales`` raises the lower bound of chosen lengthscales (MOBSTER
    keeps the fidelity coordinate smooth that way).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, dim = X.shape
    if n > max_points:
        idx = np.sort(rng.choice(n, size=max_points, replace=False))
        X, y = X[idx], y[idx]
    sqdiff = (X.T[:, :, None] - X.T[:, None, :]) ** 2
    bounds = _bounds(dim)
    if min_lengthscales is not None:
        for j, m in enumerate(np.asarray(min_lengthscales, dtype=float)):
            if m > 0:
                bounds[j] = (max(bounds[j][0], math.log(m)), max(bounds[j][1], math.log(m)))
    starts = [(init or GPHyperparameters.default(dim)).to_theta()]
    means = np.array([_LS_PRIOR[0]] * dim + [_VAR_PRIOR[0], _NOISE_PRIOR[0]])
    sds = np.array([_LS_PRIOR[1]] * dim + [_VAR_PRIOR[1], _NOISE_PRIOR[1]])
    for _ in range(restarts):
        starts.append(means + sds * rng.standard_normal(dim + 2))
    best_theta = best_of_starts(neg_log_marginal_likelihood, (sqdiff, y), starts, bounds, maxiter)
    if best_theta is None:
        return init or GPHyperparameters.default(dim)
    return GPHyperparameters.from_theta(best_theta)


def best_of_starts(
    objective: Callable[..., tuple[float, np.ndarray]],
    args: tuple[Any, ...],
    starts: list[np.ndarray],
    bounds: list[tuple[float, float]],
    maxiter: int,
) -> np.ndarray | None:
    """L-BFGS-B on ``objective`` (value and gradient) from each start (clipped into
    ``bounds``); the best finite optimum, or None if every start failed."""
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    best_theta, best_val = None, math.inf
    for theta0 in starts:
        try:
            res = minimize(objective, np.clip(theta0, lo, hi), args=args, jac=True,
                           method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": maxiter, "ftol": 1e-8, "gtol": 1e-4})
        except (ValueError, FloatingPointError):  # pragma: no cover - numerical corner
            continue
        if np.all(np.isfinite(res.x)) and res.fun < best_val:
            best_theta, best_val = res.x, float(res.fun)
    return best_theta


class GPPosterior:
    """The GP posterior given inputs ``X``, standardized targets ``y`` and hyperparameters.

    The kernel (and prior mean) is the one ``hypers.kernel()`` builds: Matern-5/2
    with zero mean, or the exponential-decay resource kernel of :mod:`.expdecay`.

    Holds the Cholesky factor of the kernel matrix; :meth:`extend` appends rows
    by a block update (O(n^2 m)) instead of refactorizing, so adding observations
    or pending points between hyperparameter fits stays cheap.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        hypers: GPHyperparameters | ExpDecayHyperparameters,
        _chol: np.ndarray | None = None,
    ) -> None:
        self.X = np.asarray(X, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.hypers = hypers
        self.kernel = hypers.kernel()
        if _chol is None:
            K = self.kernel(self.X)
            K[np.diag_indices_from(K)] += hypers.noise + _JITTER
            _chol = _cholesky(K)
        self.L = _chol
        resid = self.y - self.kernel.mean(self.X)
        self.alpha = cho_solve((self.L, True), resid, check_finite=False)
        self._kinv: np.ndarray | None = None

    @property
    def kinv(self) -> np.ndarray:
        """The inverse kernel matrix (computed once): many predictions then cost one GEMM."""
        if self._kinv is None:
            self._kinv = _chol_inverse(self.L)
        return self._kinv

    def __repr__(self) -> str:
        return f"GPPosterior(n={self.X.shape[0]}, {self.kernel!r}, noise={self.hypers.noise:.3g})"

    @property
    def num_points(self) -> int:
        """Number of conditioning points."""
        return self.X.shape[0]

    def extend(self, X_new: np.ndarray, y_all: np.ndarray) -> GPPosterior:
        """A posterior with ``X_new`` appended, targets replaced by ``y_all`` (same hypers)."""
        X_new = np.asarray(X_new, dtype=float).reshape(-1, self.X.shape[1])
        if X_new.shape[0] == 0:
            return GPPosterior(self.X, y_all, self.hypers, _chol=self.L)
        K12 = self.kernel(self.X, X_new)
        K22 = self.kernel(X_new)
        K22[np.diag_indices_from(K22)] += self.hypers.noise + _JITTER
        L21 = solve_triangular(self.L, K12, lower=True, check_finite=False).T
        try:
            L22 = _cholesky(K22 - L21 @ L21.T)
        except LinAlgError:
            return GPPosterior(np.vstack([self.X, X_new]), y_all, self.hypers)
        n, m = self.L.shape[0], X_new.shape[0]
        L = np.zeros((n + m, n + m))
        L[:n, :n] = self.L
        L[n:, :n] = L21
        L[n:, n:] = L22
        return GPPosterior(np.vstack([self.X, X_new]), y_all, self.hypers, _chol=L)

    def extend_rows(self, X_new: np.ndarray, y_all: np.ndarray) -> GPPosterior:
        """Like :meth:`extend`, one row at a time: the factor then does not depend on how
        the rows were grouped, so a restored searcher reproduces the same floats."""
        X_new = np.asarray(X_new, dtype=float).reshape(-1, self.X.shape[1])
        post = self
        for i in range(X_new.shape[0]):
            n = post.num_points + 1
            post = post.extend(X_new[i : i + 1], y_all[:n])
        return post if X_new.shape[0] else GPPosterior(self.X, y_all, self.hypers, _chol=self.L)

    def predict(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent function at the rows of ``Xs``."""
        Xs = np.atleast_2d(np.asarray(Xs, dtype=float))
        if self.X.shape[0] == 0:
            return self.kernel.mean(Xs), self.kernel.diag(Xs)
        Ks = self.kernel(Xs, self.X)
        mean = self.kernel.mean(Xs) + Ks @ self.alpha
        var = self.kernel.diag(Xs) - np.einsum("ij,ij->i", Ks @ self.kinv, Ks)
        return mean, np.maximum(var, 1e-12)

    def sample_joint(
        self, Xs: np.ndarray, num_samples: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``num_samples`` joint draws of the latent function at the rows of ``Xs``
        (shape ``(len(Xs), num_samples)``)."""
        Xs = np.atleast_2d(np.asarray(Xs, dtype=float))
        cov = self.kernel(Xs)
        if self.X.shape[0]:
            Ks = self.kernel(Xs, self.X)
            cov = cov - Ks @ self.kinv @ Ks.T
        mean = self.predict(Xs)[0]
        cov = 0.5 * (cov + cov.T)
        cov[np.diag_indices_from(cov)] += _JITTER + 1e-9 * float(np.max(self.kernel.diag(Xs)))
        try:
            factor = _cholesky(cov)
        except LinAlgError:  # numerically indefinite: fall back to the marginals
            factor = np.diag(np.sqrt(np.maximum(np.diag(cov), 1e-12)))
        return mean[:, None] + factor @ rng.standard_normal((Xs.shape[0], num_samples))

    def predict_with_grad(
        self, x: np.ndarray
    ) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients wrt the input at one point ``x``."""
        x = np.asarray(x, dtype=float).reshape(-1)
        mean0, var0, dmean0, dvar0 = self.kernel.point_moments_grad(x)
        if self.X.shape[0] == 0:
            return mean0, var0, dmean0, dvar0
        k, dk = self.kernel.grad_x(x, self.X)
        mean = mean0 + float(k @ self.alpha)
        dmean = dmean0 + dk.T @ self.alpha
        w = self.kinv @ k
        var = var0 - float(k @ w)
        dvar = dvar0 - 2.0 * (dk.T @ w)
        if var < 1e-12:
            return mean, 1e-12, dmean, np.zeros_like(x)
        return mean, var, dmean, dvar
