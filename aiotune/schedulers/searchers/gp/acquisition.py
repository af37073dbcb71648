"""Expected improvement and its maximization: random candidates, then L-BFGS-B local search."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr

from .model import GPPosterior

__all__ = [
    "ConstrainedEI",
    "ExpectedImprovement",
    "condition_on_pending",
    "ei_at",
    "expected_improvement",
    "expected_improvement_with_grad",
    "maximize_acquisition",
]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI for minimization: ``E[max(best - f, 0)]`` with ``f ~ N(mean, std^2)``."""
    std = np.maximum(std, 1e-12)
    z = (best - mean) / std
    return std * (z * ndtr(z) + _INV_SQRT_2PI * np.exp(-0.5 * z * z))


def expected_improvement_with_grad(
    posterior: GPPosterior, x: np.ndarray, best: float
) -> tuple[float, np.ndarray]:
    """EI at one point and its gradient wrt the input (for local search)."""
    mean, var, dmean, dvar = posterior.predict_with_grad(x)
    std = float(np.sqrt(var))
    z = (best - mean) / std
    cdf = float(ndtr(z))
    pdf = float(_INV_SQRT_2PI * np.exp(-0.5 * z * z))
    ei = std * (z * cdf + pdf)
    # dEI/dmean = -Phi(z); dEI/dstd = phi(z); dstd/dx = dvar / (2 std)
    grad = -cdf * dmean + pdf * dvar / (2.0 * std)
    return ei, grad


def ei_at(posterior: GPPosterior, X: np.ndarray, best: float) -> np.ndarray:
    """EI of the posterior at the rows of ``X``."""
    mean, var = posterior.predict(X)
    return expected_improvement(mean, np.sqrt(var), best)


def condition_on_pending(
    posterior: GPPosterior, P: np.ndarray, y_std: np.ndarray, best: float, strategy: str
) -> tuple[GPPosterior, float]:
    """The posterior with pending points ``P`` given believed values, and the incumbent.

    ``"kriging_believer"``: believe the posterior mean at ``P`` (their variance
    collapses, and a believed value better than ``best`` becomes the incumbent);
    ``"constant_liar"``: the worst value seen, ``max(y_std)`` (pessimistic).
    """
    if strategy == "kriging_believer":
        lies = posterior.predict(P)[0]
        best = min(best, float(lies.min()))
    else:
        lies = np.full(len(P), float(y_std.max()))
    return posterior.extend(P, np.concatenate([posterior.y, lies])), best


class ExpectedImprovement:
    """EI of ``posterior`` over the incumbent ``best``, at many points or with its gradient."""

    def __init__(self, posterior: GPPosterior, best: float) -> None:
        self.posterior, self.best = posterior, best

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return ei_at(self.posterior, X, self.best)

    def with_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return expected_improvement_with_grad(self.posterior, x, self.best)


class ConstrainedEI:
    """EI times the probability that the constraint is met (Gardner et al., 2014).

    ``constraint`` models a value that must stay at or below ``threshold``;
    with ``best=None`` (no feasible observation yet) the acquisition is the
    probability of feasibility alone, so the search first looks for feasible
    configs.
    """

    def __init__(
        self,
        posterior: GPPosterior,
        best: float | None,
        constraint: GPPosterior,
        threshold: float,
    ) -> None:
        self.posterior, self.best = posterior, best
        self.constraint, self.threshold = constraint, threshold

    def feasibility(self, X: np.ndarray) -> np.ndarray:
        """P(constraint <= threshold) under the constraint's posterior."""
        mean, var = self.constraint.predict(X)
        return ndtr((self.threshold - mean) / np.sqrt(var))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        pof = self.feasibility(X)
        return pof if self.best is None else ei_at(self.posterior, X, self.best) * pof

    def with_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        mean, var, dmean, dvar = self.constraint.predict_with_grad(x)
        std = float(np.sqrt(var))
        z = (self.threshold - mean) / std
        pof = float(ndtr(z))
        # dz/dx = -dmean / std - z dstd / std, with dstd = dvar / (2 std)
        dpof = float(_INV_SQRT_2PI * np.exp(-0.5 * z * z)) * (
            -dmean / std - z * dvar / (2.0 * var)
        )
        if self.best is None:
            return pof, dpof
        ei, dei = expected_improvement_with_grad(self.posterior, x, self.best)
        return ei * pof, dei * pof + ei * dpof


def maximize_acquisition(
    acquisition: ExpectedImprovement | ConstrainedEI,
    candidates: np.ndarray,
    project: Callable[[np.ndarray], np.ndarray],
    is_excluded: Callable[[np.ndarray], bool] | None = None,
    num_local: int = 5,
    maxiter: int = 40,
    bounds: list[tuple[float, float]] | None = None,
) -> np.ndarray | None:
    """The valid point of highest acquisition: score ``candidates``, polish the best by
    L-BFGS-B.

    Local search runs in the continuous relaxation of the unit cube; each result
    is rounded by ``project`` and rescored. Points for which ``is_excluded`` is
    true (already evaluated or pending on a finite space) are never returned;
    None means every candidate was excluded. ``bounds`` (default the unit cube)
    can pin coordinates, e.g. the fidelity of a multi-fidelity model.
    """
    if candidates.shape[0] == 0:
        return None
    ei = acquisition(candidates)
    if is_excluded is not None:
        allowed = np.array([not is_excluded(c) for c in candidates])
        ei = np.where(allowed, ei, -np.inf)
    order = np.argsort(-ei, kind="stable")
    best_x: np.ndarray | None = None
    best_ei = -np.inf
    if np.isfinite(ei[order[0]]):
        best_x, best_ei = candidates[order[0]], float(ei[order[0]])
    dim = candidates.shape[1]
    if bounds is None:
        bounds = [(0.0, 1.0)] * dim

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = acquisition.with_grad(x)
        return -value, -grad

    for i in order[:num_local]:
        if not np.isfinite(ei[i]):
            break
        try:
            res = minimize(negative, candidates[i], jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": maxiter})
        except (ValueError, FloatingPointError):  # pragma: no cover - numerical corner
            continue
        x = project(res.x[None, :])[0]
        if is_excluded is not None and is_excluded(x):
            continue
        value = float(acquisition(x[None, :])[0])
        if value > best_ei:
            best_x, best_ei = x, value
    return best_x
