"""Differential evolution's operators on unit-cube encodings: rand/1 mutation, binomial
crossover per hyperparameter (Storn and Price, 1997; as DEHB uses them)."""

from __future__ import annotations

import numpy as np

__all__ = ["crossover", "mutate"]


def mutate(
    rng: np.random.Generator, base: np.ndarray, a: np.ndarray, b: np.ndarray, factor: float
) -> np.ndarray:
    """``base + factor * (a - b)``; entries that leave ``[0, 1]`` are redrawn uniformly."""
    mutant = base + factor * (a - b)
    outside = (mutant < 0.0) | (mutant > 1.0)
    if outside.any():
        mutant[outside] = rng.uniform(0.0, 1.0, size=int(outside.sum()))
    return mutant


def crossover(
    rng: np.random.Generator,
    mutant: np.ndarray,
    target: np.ndarray,
    widths: list[int],
    probability: float,
) -> np.ndarray:
    """Each hyperparameter from ``mutant`` with ``probability``, else from ``target``.

    ``widths`` are the hyperparameters' numbers of entries in the encoding, so a
    categorical's one-hot block is never split. At least one hyperparameter comes
    from the mutant, so the child differs from the target wherever the mutant does.
    """
    take = rng.random(len(widths)) < probability
    if not take.any():
        take[int(rng.integers(len(widths)))] = True
    mask = np.repeat(take, widths)
    return np.where(mask, mutant, target)
