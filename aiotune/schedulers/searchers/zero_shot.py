"""Zero-shot transfer (Wistuba, Schilling and Schmidt-Thieme, ICDM 2015): ``"zero_shot"``.

Syne Tune's ``ZeroShotTransfer``. Earlier tasks evaluated the same
configurations; each suggestion greedily adds to a portfolio the configuration
that most lowers the portfolio's average rank over those tasks (a task's rank
of a portfolio: the rank of its best member there). When every task already
has its best configuration in the portfolio, the ranks start afresh over the
configurations left. The current task's results are not used: the order is
fixed by the earlier tasks. ``suggest`` returns None once every configuration
has been suggested, which ends the run.

If the tasks evaluated different configurations, ``use_surrogates=True`` fits a
regressor per task (scikit-learn, the ``surrogate`` extra) and ranks a common
set of random configurations by their predicted values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
from scipy.stats import rankdata

from ...config_space import sample_config
from ...errors import ConfigValueError, InvalidArgumentError
from ._transfer_data import TransferLearningTaskEvaluations, check_transfer_evaluations
from .base import Searcher, SearcherState, impute_config, register_searcher
from .gp.encoding import SpaceEncoder

__all__ = ["REGRESSORS", "ZeroShotSearcher", "ZeroShotState", "check_regressor",
           "fit_regressor"]


class ZeroShotState(SearcherState, tag="zero_shot", kw_only=True):
    """Base state plus how many portfolio members were chosen (replayed on restore)."""

    chosen: int = 0


REGRESSORS = ("hgbt", "gbt", "rf", "xgboost")
"""The regressors :func:`fit_regressor` builds."""


def check_regressor(name: Any) -> str:
    """``name`` if it is one of :data:`REGRESSORS`, else the error naming the argument."""
    if name not in REGRESSORS:
        raise InvalidArgumentError(f"regressor must be one of {REGRESSORS}, got {name!r}")
    return str(name)


def fit_regressor(name: str, X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """A fitted scikit-learn-style regressor (``"hgbt"``, ``"gbt"``, ``"rf"`` or, if
    installed, ``"xgboost"``) of ``y`` on ``X``."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError(
            "transfer learning with surrogates needs scikit-learn: "
            "pip install 'aiotune[surrogate]'"
        ) from None
    if name == "hgbt":
        from sklearn.ensemble import HistGradientBoostingRegressor

        model = HistGradientBoostingRegressor(random_state=seed)
    elif name == "gbt":
        from sklearn.ensemble import GradientBoostingRegressor

        model = GradientBoostingRegressor(random_state=seed)
    elif name == "rf":
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(random_state=seed, min_samples_leaf=2)
    elif name == "xgboost":
        try:
            from xgboost import XGBRegressor
        except ImportError:
            raise ImportError("regressor='xgboost' needs the xgboost package") from None
        model = XGBRegressor(random_state=seed)
    else:
        check_regressor(name)
    return model.fit(X, y)


class ZeroShotSearcher(Searcher):
    """Suggest the configurations of earlier tasks, best portfolio first."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations]
        | None = None,
        use_surrogates: bool = False,
        regressor: str = "hgbt",
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        tasks = check_transfer_evaluations(transfer_learning_evaluations, config_space, metric)
        check_regressor(regressor)
        if use_surrogates:
            configs, scores = self._surrogate_scores(tasks, regressor)
        else:
            configs, scores = self._shared_scores(tasks)
        self._configs = configs
        self._scores = scores  # (tasks, configs), lower is better; +inf: not evaluated
        index = {self._key(c): i for i, c in enumerate(configs)}
        # Points to evaluate among the configurations start the portfolio.
        self._given = [index[k] for k in (self._key(p) for p in self._points) if k in index]
        self._left = np.ones(len(configs), dtype=bool)
        self._start_portfolio()

    # -- the tasks' scores ---------------------------------------------------------------

    def _shared_scores(
        self, tasks: dict[str, TransferLearningTaskEvaluations]
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Every task's final values, aligned on the configurations (which must match)."""
        first_task, first = next(iter(tasks.items()))
        index: dict[tuple[Any, ...], int] = {}
        configs: list[dict[str, Any]] = []
        for i, c in enumerate(first.hyperparameters):
            config = self._checked(c, first_task, i)
            if index.setdefault(self._key(config), len(configs)) == len(configs):
                configs.append(config)  # a repeated row counts once (its first value)
        scores = np.full((len(tasks), len(configs)), np.inf)
        for t, (task, evals) in enumerate(tasks.items()):
            keys = [self._key(c) for c in evals.hyperparameters]
            if set(keys) != set(index):
                raise InvalidArgumentError(
                    f"transfer_learning_evaluations[{task!r}] evaluated other configurations "
                    f"than [{first_task!r}]; zero-shot transfer needs the same ones in every "
                    "task, or use_surrogates=True"
                )
            values = evals.final_values(self.metric, self.mode)
            for key, value in reversed(list(zip(keys, values, strict=True))):
                scores[t, index[key]] = value  # reversed: the first of repeats wins
        return configs, scores

    def _surrogate_scores(
        self, tasks: dict[str, TransferLearningTaskEvaluations], regressor: str
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Predicted final values of common random configurations, one regressor per task
        (Syne Tune's count: 10,000 configurations, or 5^d for fewer than 6 hyperparameters)."""
        encoder = SpaceEncoder(self.config_space)
        n = 10_000 if len(self.hp_names) >= 6 else 5 ** len(self.hp_names)
        configs = [sample_config(self.config_space, self.rng) for _ in range(n)]
        X_new = np.array([encoder.encode(c) for c in configs])
        scores = np.empty((len(tasks), n))
        for t, evals in enumerate(tasks.values()):
            y = evals.final_values(self.metric, self.mode)
            keep = np.isfinite(y)
            X = np.array([encoder.encode(c) for c in evals.hyperparameters])[keep]
            model = fit_regressor(regressor, X, y[keep], int(self.rng.integers(2**31 - 1)))
            scores[t] = model.predict(X_new)
        return configs, scores

    def _checked(self, config: dict[str, Any], task: str, i: int) -> dict[str, Any]:
        try:
            return impute_config(self.config_space, config)
        except ConfigValueError as exc:
            raise ConfigValueError(
                f"transfer_learning_evaluations[{task!r}].hyperparameters[{i}] is not a "
                f"config of this search: {exc}"
            ) from None

    # -- the portfolio --------------------------------------------------------------------

    def _fresh_ranks(self) -> np.ndarray:
        """Per task, the rank of every configuration left (ties share their mean rank)."""
        ranks = np.full(self._scores.shape, np.inf)
        if self._left.any():
            ranks[:, self._left] = rankdata(self._scores[:, self._left], axis=1)
        return ranks

    def _start_portfolio(self) -> None:
        """An empty portfolio, then the points to evaluate among the configurations."""
        self._left[:] = True
        self._ranks = self._fresh_ranks()
        self._chosen = 0
        for i in self._given:
            if self._left[i]:
                self._take(i)

    def _take(self, best: int) -> None:
        """Add configuration ``best`` to the portfolio."""
        # A task's rank of the portfolio is its best member's: no later pick can do worse.
        np.minimum(self._ranks, self._ranks[:, best : best + 1], out=self._ranks)
        self._left[best] = False
        left = self._ranks[:, self._left]
        if left.size and np.all(left == left[:, :1]):
            self._ranks = self._fresh_ranks()  # every task has its best: start afresh

    def _next_index(self) -> int | None:
        """The configuration that most lowers the portfolio's mean rank (None: none left)."""
        if not self._left.any():
            return None
        mean_rank = np.where(self._left, self._ranks.mean(axis=0), np.inf)
        best = int(np.argmin(mean_rank))
        self._take(best)
        self._chosen += 1
        return best

    def _suggest(self) -> dict[str, Any] | None:
        best = self._next_index()
        return None if best is None else dict(self._configs[best])

    # -- state ------------------------------------------------------------------------------

    def state(self) -> ZeroShotState:
        """Base state plus the portfolio's length (the scores come from the constructor)."""
        return ZeroShotState(**msgspec.structs.asdict(super().state()), chosen=self._chosen)

    def restore(self, state: ZeroShotState | Mapping[str, Any]) -> None:
        """Continue from ``state``: the portfolio is chosen again up to its saved length."""
        if not isinstance(state, ZeroShotState):
            state = msgspec.convert(state, ZeroShotState)
        self._start_portfolio()
        while self._chosen < state.chosen and self._next_index() is not None:
            pass
        self._restore_base(state)


register_searcher("zero_shot", ZeroShotSearcher)
