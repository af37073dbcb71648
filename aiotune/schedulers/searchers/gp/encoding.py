"""Vectorized unit-cube encoding helpers: random valid points, rounding, config <-> vector."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....config_space import Categorical, Domain, Float, decode_config, encode_config

__all__ = ["SpaceEncoder"]

# Finite one-coordinate domains with at most this many values are snapped to their grid.
_MAX_GRID = 100_000


class SpaceEncoder:
    """Maps configs of a space to unit-cube vectors and rounds relaxed vectors to valid ones.

    Model-based searchers optimize in the continuous relaxation (integers and
    ordinals as one coordinate, categories one-hot); :meth:`project` turns such a
    vector into the encoding of the configuration it decodes to, vectorized over
    rows, so the model is only ever asked about points that can be suggested.
    """

    def __init__(self, config_space: dict[str, Any]) -> None:
        self.config_space = config_space
        self.domains: list[Domain] = [v for v in config_space.values() if isinstance(v, Domain)]
        self.slices: list[slice] = []
        self.grids: list[np.ndarray | None] = []
        """Per domain, the sorted encodings of a finite one-coordinate domain's values
        (at most 100,000 of them), else None."""
        pos = 0
        for dom in self.domains:
            d = dom.encoded_dim
            self.slices.append(slice(pos, pos + d))
            pos += d
            grid = None
            if d == 1 and dom.is_finite and (dom.num_values() or 0) <= _MAX_GRID:
                grid = np.sort(np.array([dom.encode(v)[0] for v in dom.values()]))
            self.grids.append(grid)
        self.dim = pos

    def __repr__(self) -> str:
        return f"SpaceEncoder(dim={self.dim}, hyperparameters={len(self.domains)})"

    def encode(self, config: dict[str, Any]) -> np.ndarray:
        """The config's unit-cube vector."""
        return encode_config(self.config_space, config)

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """The config a (possibly relaxed) vector stands for, constants included."""
        return decode_config(self.config_space, np.clip(x, 0.0, 1.0))

    def project(self, X: np.ndarray) -> np.ndarray:
        """Round every row of ``X`` to the encoding of the config it decodes to."""
        X = np.clip(np.atleast_2d(np.asarray(X, dtype=float)), 0.0, 1.0).copy()
        for dom, sl, grid in zip(self.domains, self.slices, self.grids, strict=True):
            if isinstance(dom, Float):
                continue
            if isinstance(dom, Categorical):
                block = X[:, sl]
                onehot = np.zeros_like(block)
                onehot[np.arange(block.shape[0]), np.argmax(block, axis=1)] = 1.0
                X[:, sl] = onehot
            elif grid is not None:
                # Snap to the nearest encoded value: a valid point that decodes exactly.
                mids = (grid[1:] + grid[:-1]) / 2.0
                X[:, sl.start] = grid[np.searchsorted(mids, X[:, sl.start])]
            else:
                col = X[:, sl.start]
                X[:, sl.start] = np.array([dom.encode(dom.decode(u))[0] for u in col.tolist()])
        return X

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random valid encoded points (uniform over each domain's encoded range)."""
        return self.project(rng.random((n, self.dim)))

    def perturb(self, X: np.ndarray, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
        """``n`` valid points near random rows of ``X``: Gaussian steps, categories resampled."""
        if X.shape[0] == 0 or n <= 0:
            return np.zeros((0, self.dim))
        base = X[rng.integers(X.shape[0], size=n)]
        out = base + scale * rng.standard_normal(base.shape)
        for dom, sl in zip(self.domains, self.slices, strict=True):
            if isinstance(dom, Categorical):
                flip = rng.random(n) < 0.2
                out[flip, sl] = rng.random((int(flip.sum()), dom.encoded_dim))
                out[~flip, sl] = base[~flip, sl]
        return self.project(out)

    def key(self, x: np.ndarray) -> bytes:
        """A hashable identity of a projected vector (for duplicate detection)."""
        return np.round(np.asarray(x, dtype=float), 9).tobytes()
