"""NSGA-II's variation operators on the unit cube: simulated binary crossover and
polynomial mutation, bounded versions (Deb and Agrawal, 1995; Deb and Goyal, 1996)."""

from __future__ import annotations

import numpy as np

__all__ = ["polynomial_mutation", "sbx_crossover"]

_TINY = 1e-14


def _spread(u: float, beta: float, eta: float) -> float:
    """The spread factor for a uniform draw ``u``, the bound's distance ``beta``."""
    alpha = 2.0 - beta ** -(eta + 1.0)
    if u <= 1.0 / alpha:
        return float((u * alpha) ** (1.0 / (eta + 1.0)))
    return float((1.0 / (2.0 - u * alpha)) ** (1.0 / (eta + 1.0)))


def sbx_crossover(
    rng: np.random.Generator, x1: float, x2: float, eta: float
) -> tuple[float, float]:
    """Two children of ``x1`` and ``x2`` in [0, 1], spread around them as a one-point
    binary crossover would spread bit strings; larger ``eta``: children nearer the parents."""
    if abs(x1 - x2) <= _TINY:
        return x1, x2
    lo, hi = min(x1, x2), max(x1, x2)
    u = float(rng.random())
    c1 = 0.5 * (lo + hi - _spread(u, 1.0 + 2.0 * lo / (hi - lo), eta) * (hi - lo))
    c2 = 0.5 * (lo + hi + _spread(u, 1.0 + 2.0 * (1.0 - hi) / (hi - lo), eta) * (hi - lo))
    c1, c2 = min(max(c1, 0.0), 1.0), min(max(c2, 0.0), 1.0)
    return (c2, c1) if rng.random() < 0.5 else (c1, c2)


def polynomial_mutation(rng: np.random.Generator, x: float, eta: float) -> float:
    """``x`` in [0, 1] moved by a polynomially distributed step that stays inside [0, 1]."""
    u = float(rng.random())
    power = 1.0 / (eta + 1.0)
    if u < 0.5:
        val = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - x) ** (eta + 1.0)
        delta = val**power - 1.0
    else:
        val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * x ** (eta + 1.0)
        delta = 1.0 - val**power
    return min(max(x + delta, 0.0), 1.0)
