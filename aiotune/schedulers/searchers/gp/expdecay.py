"""The exponential-decay resource kernel over ``(config, resource)`` ("exp-decay-sum").

Swersky et al. (2014, "Freeze-Thaw Bayesian Optimization") model a learning
curve as a mixture of exponential decays ``exp(-lam r)`` with ``lam`` Gamma
distributed; Tiao, Klein, Archambeau and Seeger (2020, MOBSTER) centre that
kernel and move its mean into the mean function. With ``delta = 0`` (Syne
Tune's ``gp_resource_kernel="exp-decay-sum"``, its MOBSTER default) the model is

    f(x, r) = g(x) + h(r),   g ~ GP(mu, k_x),   h ~ GP(gamma kappa(r), k_r)
    kappa(u) = (beta / (u + beta)) ** alpha,   beta = alpha / mean_lam
    k_r(r, r') = gamma^2 (kappa(r + r') - kappa(r) kappa(r'))

with ``k_x`` Matern-5/2 ARD: every config shares one learning-curve shape, so what a
config did at a low resource speaks for it at every resource. The freeze-thaw
variant (``per_config``; Syne Tune's ``gp_resource_kernel="freeze-thaw"``, the model of
Swersky et al.) gives each config its own curve ``h_x`` instead, independent between
configs: ``k_r`` only between rows of the same config. The resource is the
last input column (``level / max_resource`` in MOBSTER's searcher). Hyperparameters
are fit as for the plain GP: L-BFGS-B on the prior-regularized marginal likelihood
with analytic gradients, in log space (``mu`` as is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky

from .kernel import Matern52
from .model import (
    _JITTER,
    _LOG_2PI,
    _LS_BOUNDS,
    _LS_PRIOR,
    _NOISE_BOUNDS,
    _NOISE_PRIOR,
    _VAR_BOUNDS,
    _VAR_PRIOR,
    _chol_inverse,
    best_of_starts,
    matern_lengthscale_grad,
    matern_terms,
)

__all__ = [
    "ExpDecayHyperparameters",
    "ExpDecaySumKernel",
    "FreezeThawHyperparameters",
    "fit_expdecay_hyperparameters",
]

# Bounds and weak priors of theta = [log l_1..log l_d, log s2, log noise, log alpha,
# log mean_lam, log gamma, mu]: the first three as the plain GP's.
_LS = (_LS_BOUNDS, _LS_PRIOR)
_VAR = (_VAR_BOUNDS, _VAR_PRIOR)
_NOISE = (_NOISE_BOUNDS, _NOISE_PRIOR)
_ALPHA = ((math.log(1e-3), math.log(250.0)), (0.0, 1.5))
_MEAN_LAM = ((math.log(1e-4), math.log(50.0)), (math.log(0.5), 1.5))
_GAMMA = ((math.log(1e-4), math.log(10.0)), (0.0, 1.0))
_MU = ((-10.0, 10.0), (0.0, 1.0))


def _specs(dim: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return [_LS] * dim + [_VAR, _NOISE, _ALPHA, _MEAN_LAM, _GAMMA, _MU]


class ExpDecaySumKernel:
    """``k_x(x, x') + k_r(r, r')`` and the mean ``mu + gamma kappa(r)`` (module docstring);
    with ``per_config``, ``k_r`` only between rows of the same config (freeze-thaw)."""

    def __init__(self, lengthscales: np.ndarray, variance: float, alpha: float,
                 mean_lam: float, gamma: float, mu: float, per_config: bool = False) -> None:
        self.per_config = per_config
        self.kernel_x = Matern52(lengthscales, variance)
        self.alpha = float(alpha)
        self.beta = float(alpha) / float(mean_lam)
        self.gamma = float(gamma)
        self.mu = float(mu)

    def __repr__(self) -> str:
        return (f"ExpDecaySumKernel({self.kernel_x!r}, alpha={self.alpha:.4g}, "
                f"beta={self.beta:.4g}, gamma={self.gamma:.4g}, mu={self.mu:.4g})")

    def kappa(self, u: np.ndarray) -> np.ndarray:
        """``(beta / (u + beta)) ** alpha``: the mean decay at resource ``u``."""
        return np.power(self.beta / (u + self.beta), self.alpha)

    def dkappa(self, u: np.ndarray) -> np.ndarray:
        """``d kappa / d u``."""
        return -self.alpha * self.kappa(u) / (u + self.beta)

    def __call__(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """The kernel matrix between the rows of ``a`` and ``b`` (``b`` defaults to ``a``)."""
        b = a if b is None else b
        ra, rb = a[:, -1], b[:, -1]
        kr = self.kappa(ra[:, None] + rb[None, :]) - np.outer(self.kappa(ra), self.kappa(rb))
        if self.per_config:
            kr = kr * same_config(a[:, :-1], b[:, :-1])
        return self.kernel_x(a[:, :-1], b[:, :-1]) + self.gamma**2 * kr

    def diag(self, a: np.ndarray) -> np.ndarray:
        """The prior variance at each row."""
        r = a[:, -1]
        return self.kernel_x.variance + self.gamma**2 * (self.kappa(2.0 * r) - self.kappa(r) ** 2)

    def mean(self, a: np.ndarray) -> np.ndarray:
        """The prior mean at each row."""
        return self.mu + self.gamma * self.kappa(a[:, -1])

    def grad_x(self, x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``k(x, b_j)`` for one point ``x`` and its gradient wrt ``x`` (shape ``(m, d + 1)``)."""
        r, rb = float(x[-1]), b[:, -1]
        kx, dkx = self.kernel_x.grad_x(x[:-1], b[:, :-1])
        kr = self.kappa(r + rb) - self.kappa(np.array(r)) * self.kappa(rb)
        dkr = self.dkappa(r + rb) - self.dkappa(np.array(r)) * self.kappa(rb)
        if self.per_config:  # the indicator is locally constant: no gradient of its own
            same = same_config(x[None, :-1], b[:, :-1])[0]
            kr, dkr = kr * same, dkr * same
        return kx + self.gamma**2 * kr, np.hstack([dkx, (self.gamma**2 * dkr)[:, None]])

    def point_moments_grad(self, x: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Prior mean and variance at one point ``x``, and their gradients wrt ``x``."""
        r = np.array(float(x[-1]))
        dmean = np.zeros(x.size)
        dvar = np.zeros(x.size)
        dmean[-1] = self.gamma * float(self.dkappa(r))
        dvar[-1] = self.gamma**2 * float(2.0 * self.dkappa(2.0 * r)
                                         - 2.0 * self.kappa(r) * self.dkappa(r))
        point = x[None, :]
        return float(self.mean(point)[0]), float(self.diag(point)[0]), dmean, dvar


def same_config(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1.0 where row ``i`` of ``a`` and row ``j`` of ``b`` are the same config, else 0.0."""
    return np.all(a[:, None, :] == b[None, :, :], axis=-1).astype(float)


@dataclass(frozen=True)
class ExpDecayHyperparameters:
    """The fitted parameters of :class:`ExpDecaySumKernel` plus the noise variance.

    ``theta`` keeps the exact vector a fit produced (see ``GPHyperparameters``).
    """

    lengthscales: np.ndarray
    variance: float
    noise: float
    alpha: float
    mean_lam: float
    gamma: float
    mu: float
    theta: np.ndarray | None = field(default=None, compare=False, repr=False)
    per_config: ClassVar[bool] = False

    @classmethod
    def default(cls, dim: int) -> ExpDecayHyperparameters:
        """The prior modes over ``dim`` config coordinates."""
        return cls.from_theta(np.array([s[1][0] for s in _specs(dim)]))

    def to_theta(self) -> np.ndarray:
        """``[log l_1..log l_d, log s2, log noise, log alpha, log mean_lam, log gamma, mu]``."""
        if self.theta is not None:
            return self.theta.copy()
        logs = np.log([self.variance, self.noise, self.alpha, self.mean_lam, self.gamma])
        return np.concatenate([np.log(self.lengthscales), logs, [self.mu]])

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> ExpDecayHyperparameters:
        """Inverse of :meth:`to_theta`."""
        theta = np.array(theta, dtype=float)
        s2, noise, alpha, mean_lam, gamma = (float(v) for v in np.exp(theta[-6:-1]))
        return cls(np.exp(theta[:-6]), s2, noise, alpha, mean_lam, gamma, float(theta[-1]),
                   theta=theta)

    def kernel(self) -> ExpDecaySumKernel:
        """The kernel (and mean function) these parameters define."""
        return ExpDecaySumKernel(self.lengthscales, self.variance, self.alpha, self.mean_lam,
                                 self.gamma, self.mu, per_config=self.per_config)


@dataclass(frozen=True)
class FreezeThawHyperparameters(ExpDecayHyperparameters):
    """The same parameters for the freeze-thaw variant (one curve per config)."""

    per_config: ClassVar[bool] = True


def neg_log_marginal_likelihood_expdecay(
    theta: np.ndarray, sqdiff: np.ndarray, r: np.ndarray, y: np.ndarray,
    same: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus prior, and its gradient wrt ``theta``.

    ``sqdiff[j]``: pairwise squared differences of config coordinate ``j``;
    ``r``: the resource column; ``same``: the same-config mask of the freeze-thaw
    variant (None: the curve is shared by all configs).
    """
    dim, n = sqdiff.shape[0], y.shape[0]
    s2, noise, alpha, mean_lam, gamma = (float(v) for v in np.exp(theta[dim:dim + 5]))
    mu = float(theta[dim + 5])
    beta = alpha / mean_lam
    scaled, dist, M = matern_terms(theta[:dim], sqdiff)
    U = r[:, None] + r[None, :]
    q_u = U / (U + beta)
    log_u = -np.log1p(U / beta)  # log(beta / (U + beta))
    kU = np.exp(alpha * log_u)
    q_1 = r / (r + beta)
    log_1 = -np.log1p(r / beta)
    k1 = np.exp(alpha * log_1)
    KR = kU - np.outer(k1, k1)
    if same is not None:
        KR = KR * same
    K = s2 * M + gamma**2 * KR
    K[np.diag_indices(n)] += noise + _JITTER
    try:
        L = cholesky(K, lower=True, check_finite=False)
    except LinAlgError:
        return 1e25, np.zeros_like(theta)
    v = y - (mu + gamma * k1)
    a = cho_solve((L, True), v, check_finite=False)
    nll = 0.5 * float(v @ a) + float(np.log(np.diag(L)).sum()) + 0.5 * n * _LOG_2PI
    W = np.outer(a, a) - _chol_inverse(L)
    # dK/dt = A * kU - outer(dk1, k1) - outer(k1, dk1) for t = log alpha, log mean_lam,
    # with A = d log kappa(U) / dt: alpha (log_u + q_u) and -alpha q_u. W is symmetric, so
    # sum(W * dK) = sum(WkU * A) - 2 dk1' W k1: two reductions over n^2 per parameter.
    Wr = W if same is None else W * same  # the resource term sees W through the mask
    WkU = Wr * kU
    Wk1 = Wr @ k1
    sum_wkq = float(np.sum(WkU * q_u))
    grad = np.empty_like(theta)
    grad[:dim] = matern_lengthscale_grad(W, s2, dist, scaled)
    grad[dim] = -0.5 * s2 * float(np.sum(W * M))
    grad[dim + 1] = -0.5 * noise * float(np.trace(W))
    g2 = gamma**2
    d_alpha = alpha * (float(np.sum(WkU * log_u)) + sum_wkq)
    dk1_alpha = k1 * alpha * (log_1 + q_1)
    grad[dim + 2] = -0.5 * g2 * (d_alpha - 2.0 * float(dk1_alpha @ Wk1)) - gamma * float(
        a @ dk1_alpha)
    dk1_lam = -alpha * k1 * q_1
    grad[dim + 3] = -0.5 * g2 * (-alpha * sum_wkq - 2.0 * float(dk1_lam @ Wk1)) - gamma * float(
        a @ dk1_lam)
    sum_wkr = float(np.sum(WkU)) - float(k1 @ Wk1)
    grad[dim + 4] = -g2 * sum_wkr - gamma * float(a @ k1)
    grad[dim + 5] = -float(a.sum())
    specs = _specs(dim)
    means = np.array([s[1][0] for s in specs])
    sds = np.array([s[1][1] for s in specs])
    z = (theta - means) / sds
    return nll + 0.5 * float(z @ z), grad + z / sds


def fit_expdecay_hyperparameters(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    init: ExpDecayHyperparameters | None = None,
    restarts: int = 2,
    maxiter: int = 100,
    max_points: int = 400,
    per_config: bool = False,
) -> ExpDecayHyperparameters:
    """Maximize the prior-regularized marginal likelihood by L-BFGS-B from several starts
    (``init`` or the prior modes, plus ``restarts`` draws from the prior);
    ``per_config``: the freeze-thaw variant."""
    kind = FreezeThawHyperparameters if per_config else ExpDecayHyperparameters
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, dim = X.shape[0], X.shape[1] - 1
    if n > max_points:
        idx = np.sort(rng.choice(n, size=max_points, replace=False))
        X, y = X[idx], y[idx]
    C, r = X[:, :-1], X[:, -1]
    sqdiff = (C.T[:, :, None] - C.T[:, None, :]) ** 2
    same = (sqdiff.sum(0) == 0.0).astype(float) if per_config else None
    specs = _specs(dim)
    means = np.array([s[1][0] for s in specs])
    sds = np.array([s[1][1] for s in specs])
    starts = [(init or kind.default(dim)).to_theta()]
    for _ in range(restarts):
        starts.append(means + sds * rng.standard_normal(means.size))
    best_theta = best_of_starts(neg_log_marginal_likelihood_expdecay, (sqdiff, r, y, same),
                                starts, [s[0] for s in specs], maxiter)
    if best_theta is None:
        return init or kind.default(dim)
    return kind.from_theta(best_theta)
