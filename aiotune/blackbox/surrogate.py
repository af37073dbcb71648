"""A blackbox that answers any configuration of a space with a regressor fitted to a table.

The regressor maps the unit-cube encoding of a configuration to its *whole*
learning curve (every objective at every fidelity, flattened), so one
prediction gives a consistent curve. The default, a k-nearest-neighbour
regressor with distance weighting, averages recorded curves; averages of
non-decreasing runtimes stay non-decreasing. Any scikit-learn style regressor
with multi-output ``fit``/``predict`` works; the runtime is made non-decreasing
after prediction. Needs scikit-learn (the ``surrogate`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config_space import Domain, encode_config
from ..errors import InvalidArgumentError
from .base import BlackboxBase
from .tabular import TabularBlackbox

__all__ = ["SurrogateBlackbox"]


class SurrogateBlackbox(BlackboxBase):
    """Fit ``model`` (default: 3-nearest-neighbour regression) to the ``tabular`` blackbox.

    Each recorded seed is one training row; ``learning_curve(config, seed)``
    predicts the mean curve (the seed does not change a deterministic
    regressor's answer). Predictions are cached per configuration.
    """

    def __init__(
        self, tabular: TabularBlackbox, model: Any = None, cache_size: int = 100_000
    ) -> None:
        if not isinstance(tabular, TabularBlackbox):
            raise InvalidArgumentError(
                f"SurrogateBlackbox needs a TabularBlackbox, got {type(tabular).__name__}"
            )
        if model is None:
            try:
                from sklearn.neighbors import KNeighborsRegressor
            except ImportError as exc:
                raise InvalidArgumentError(
                    "SurrogateBlackbox needs scikit-learn: pip install 'aiotune[surrogate]'"
                ) from exc
            model = KNeighborsRegressor(n_neighbors=min(3, tabular.n_configs), weights="distance")
        if not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise InvalidArgumentError(f"model {model!r} has no fit/predict methods")
        self.tabular = tabular
        self.model = model
        self.config_space = tabular.config_space
        self.fidelity_space = tabular.fidelity_space
        self.objectives = list(tabular.objectives)
        self.runtime_name = tabular.runtime_name
        self.metric, self.mode = tabular.metric, tabular.mode
        n, n_seeds, n_fid, n_obj = tabular.values.shape
        self._shape = (n_fid, n_obj)
        self._runtime_j = self.objectives.index(self.runtime_name)
        x = np.repeat(tabular._x, n_seeds, axis=0)
        y = tabular.values.reshape(n * n_seeds, n_fid * n_obj)
        model.fit(x, y)
        self._consts = {k: v for k, v in self.config_space.items() if not isinstance(v, Domain)}
        self._cache: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
        self._cache_size = cache_size
        self._hps = [k for k, v in self.config_space.items() if isinstance(v, Domain)]

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        """Predicted objectives over all fidelities (runtime made non-decreasing)."""
        self.check_config(config)
        key = tuple(config[k] for k in self._hps)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        x = encode_config(self.config_space, {**config, **self._consts})
        block = np.asarray(self.model.predict(x[None, :]), dtype=float).reshape(self._shape)
        rt = np.maximum.accumulate(np.maximum(block[:, self._runtime_j], 0.0))
        block[:, self._runtime_j] = rt
        block.setflags(write=False)
        out = {name: block[:, j] for j, name in enumerate(self.objectives)}
        if len(self._cache) < self._cache_size:
            self._cache[key] = out
        return out

    def __repr__(self) -> str:
        return f"SurrogateBlackbox(model={self.model!r}, tabular={self.tabular!r})"
