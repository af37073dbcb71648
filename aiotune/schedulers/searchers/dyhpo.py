"""DyHPO's searcher (``"dyhpo"``): one GP weighs resuming each paused trial against
starting a new config.

Wistuba, Kadra and Grabocka (2022), "Dynamic and Efficient Gray-Box Hyperparameter
Optimization for Deep Learning", as Syne Tune's ``DynamicHPOSearcher``: MOBSTER's GP
over (config, fidelity) (:mod:`.mf_gp`), asked at every free worker which is worth
more: running a paused trial up to its next rung level (expected improvement of its
config at that level) or starting a new config (expected improvement at the lowest
level). Each level's incumbent is the best value observed at that level, or the best
overall where the level has none. Pending work is conditioned on as in MOBSTER (a
constant liar by default): a new trial at the lowest level until its first result, a
resumed one at its next level until it reports there. As Syne Tune, the GP is
MOBSTER's, not the paper's deep kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import msgspec
import numpy as np

from ...errors import InvalidArgumentError
from ...trial import Trial
from .base import register_searcher
from .gp.acquisition import condition_on_pending, ei_at
from .gp.model import standardize
from .mf_gp import MultiFidelityGPSearcher, MultiFidelityGPState

__all__ = ["DyHPOChoice", "DyHPOSearcher", "DyHPOState", "PausedTrial"]


class PausedTrial(NamedTuple):
    """A paused trial the scheduler may resume, and the level it would reach."""

    trial_id: int
    next_level: float


class DyHPOChoice(NamedTuple):
    """Resume ``trial_id``, or start ``config`` (both None: nothing left to do)."""

    trial_id: int | None = None
    config: dict[str, Any] | None = None


class DyHPOState(MultiFidelityGPState, tag="dyhpo", kw_only=True):
    """MOBSTER's searcher state plus the level each pending trial is running to."""

    pending_levels: list[tuple[int, float]] = []


class DyHPOSearcher(MultiFidelityGPSearcher):
    """Scores paused trials at their next level and new configs at the lowest level
    by expected improvement; :meth:`choose` returns the winner.

    MOBSTER's searcher arguments (those not named here pass through);
    ``random_fraction`` is 0 by default (Syne Tune's DyHPO draws at random only
    during the initial design), and the GP is the exponential-decay model
    (``resource_kernel="exp-decay-sum"``, Syne Tune's; ahead of MOBSTER's Matern
    kernel on both of our multi-fidelity benchmarks, benchmarks/README.md). With
    ``sparsify_data=True`` (Syne Tune's rule), once the data outgrows
    ``max_data_points`` the model keeps each trial's latest result per geometric
    bucket of levels (better on our table, worse on ``synthetic-lc``: off by default).
    Each decision scores ``num_candidates`` (250, Syne Tune's default) random new
    configs, or as many as there are paused trials if more; on a table
    (``restrict_configurations``) that many unused rows drawn at random.
    ``num_local_search`` is not used.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        resource_attr: str = "epoch",
        max_resource: int | None = None,
        num_candidates: int = 250,
        random_fraction: float = 0.0,
        resource_kernel: str = "exp-decay-sum",
        sparsify_data: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(config_space, metric, mode, random_seed, resource_attr=resource_attr,
                         max_resource=max_resource, num_candidates=num_candidates,
                         random_fraction=random_fraction, resource_kernel=resource_kernel,
                         **kwargs)
        if not isinstance(sparsify_data, bool):
            raise InvalidArgumentError(
                f"sparsify_data must be True or False, got {sparsify_data!r}"
            )
        self.sparsify_data = sparsify_data
        self.min_level = self.fidelity_levels[0] if self.fidelity_levels else 1.0
        self._pending_level: dict[int, float] = {}  # trial -> the level it runs to
        self._configs: dict[int, dict[str, Any]] = {}  # every trial's config (for resumes)
        self._winner: dict[str, Any] | None = None
        self._choosing = False

    # -- pending bookkeeping --------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        """A new trial is pending at the lowest level until its first result."""
        with self._lock:
            self._pending[trial.trial_id] = dict(trial.config)
            self._pending_level[trial.trial_id] = self.min_level
            self._configs[trial.trial_id] = dict(trial.config)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """MOBSTER's data point, and the trial's config kept for a later resume."""
        with self._lock:
            self._configs.setdefault(trial.trial_id, dict(trial.config))
        super().on_result(trial, result)

    def _resolve_pending(self, trial_id: int, level: float) -> None:
        """Pending until the trial reports at (or beyond) the level it was sent to."""
        with self._lock:
            reached = level >= self._pending_level.get(trial_id, -math.inf)
        if reached:
            self._drop_pending(trial_id)

    def _drop_pending(self, trial_id: int) -> None:
        """The trial is not pending any more, at any level."""
        with self._lock:
            self._pending.pop(trial_id, None)
            self._pending_level.pop(trial_id, None)

    # -- the decision (worker thread) -------------------------------------------------------

    def choose(self, paused: Sequence[PausedTrial]) -> DyHPOChoice:
        """Resume the paused trial or start the new config of highest expected improvement.

        ``points_to_evaluate`` and the initial random design come first (new configs);
        after that every paused trial (at its next level) competes with the new
        candidates (at the lowest level). A resumed trial becomes pending at its
        next level.
        """
        with self._lock:
            data = bool(self._y)
            paused = [p for p in paused if p.trial_id in self._configs]
        if self._points or self.num_suggested < self.num_init_random or not data:
            return DyHPOChoice(config=self._suggest_via_base())
        scores, new, rows = self._scores(paused)
        if scores.size == 0:
            return DyHPOChoice()
        best = int(np.argmax(scores))  # ties: a paused trial (listed first) wins
        if best < len(paused):
            chosen = paused[best]
            with self._lock:
                self._pending[chosen.trial_id] = dict(self._configs[chosen.trial_id])
                self._pending_level[chosen.trial_id] = float(chosen.next_level)
            return DyHPOChoice(trial_id=chosen.trial_id)
        pick = best - len(paused)
        self._winner = dict(rows[pick]) if rows is not None else self.encoder.decode(new[pick])
        return DyHPOChoice(config=self._suggest_via_base())

    def _suggest_via_base(self) -> dict[str, Any] | None:
        """``Searcher.suggest`` (points to evaluate, repeats, counting) around the winner."""
        self._choosing = True
        try:
            return self.suggest()
        finally:
            self._choosing = False

    def _suggest(self) -> dict[str, Any] | None:
        if not self._choosing:
            raise InvalidArgumentError(
                "the 'dyhpo' searcher decides between paused trials and new configs; "
                "use it through the DyHPO scheduler (aiotune.schedulers.DyHPO)"
            )
        winner, self._winner = self._winner, None
        return winner if winner is not None else self.random_config()

    def _scores(
        self, paused: Sequence[PausedTrial]
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]] | None]:
        """EI of each paused trial, then of each new candidate; the new candidates
        (encoded, and on a table their rows)."""
        with self._lock:
            X = np.array(self._rows)
            y = np.array(self._y, dtype=float)
            levels = np.array([m[1] for m in self._meta])
            trial_ids = [m[0] for m in self._meta]
            pending = [(self.encoder.encode(c), self._pending_level.get(tid, self.min_level))
                       for tid, c in self._pending.items()]
            configs = [self._configs[p.trial_id] for p in paused]
        y_std, _, _ = standardize(y)
        eligible = self._sparse_rows(trial_ids, levels) if self.sparsify_data else None
        posterior = self.gp.posterior(X, y_std, self.rng, prefer=levels > self.min_level,
                                      eligible=eligible)
        if pending:
            P = np.array([np.append(x, self.fidelity(lv)) for x, lv in pending])
            posterior, _ = condition_on_pending(posterior, P, y_std, 0.0, self.pending_strategy)
        new, rows = self._new_candidates(len(paused), pending)
        encoded = np.array([self.encoder.encode(c) for c in configs]).reshape(
            len(paused), self.encoder.dim)
        targets = [float(p.next_level) for p in paused] + [self.min_level] * len(new)
        if not targets:
            return np.zeros(0), new, rows
        Z = np.vstack([encoded, new])
        Z = np.hstack([Z, np.array([[self.fidelity(t)] for t in targets])])
        scores = np.empty(len(targets))
        target_arr = np.array(targets)
        for level in np.unique(target_arr):
            observed = levels == level
            incumbent = float(y_std[observed].min() if observed.any() else y_std.min())
            at_level = target_arr == level
            scores[at_level] = ei_at(posterior, Z[at_level], incumbent)
        return scores, new, rows

    def _sparse_rows(self, trial_ids: Sequence[int], levels: np.ndarray) -> np.ndarray:
        """Rows a refit may model once the data outgrows ``max_data_points``: per trial, its
        latest result in each bucket ``(r_(k-1), r_k]`` of the geometric levels
        ``min_level * 3**k`` (Syne Tune's DyHPO data rule). A trial that ran far
        otherwise brings one row per rung and outweighs the many short ones."""
        buckets = []
        level = self.min_level if self.min_level > 0 else 1.0  # a level 0 would never grow
        while level < self.max_resource:
            buckets.append(level)
            level *= 3.0
        edges = np.array([*buckets, self.max_resource])
        which = np.searchsorted(edges, levels, side="left")
        latest: dict[tuple[int, int], int] = {}
        for i, key in enumerate(zip(trial_ids, which.tolist(), strict=True)):
            j = latest.get(key)
            if j is None or levels[i] > levels[j]:
                latest[key] = i
        eligible = np.zeros(levels.size, dtype=bool)
        eligible[list(latest.values())] = True
        return eligible

    def _new_candidates(
        self, num_paused: int, pending: list[tuple[np.ndarray, float]]
    ) -> tuple[np.ndarray, list[dict[str, Any]] | None]:
        """Encoded new configs to score: ``max(num_candidates, num_paused)`` random ones
        (on a table, unused rows drawn at random, returned too: a decoded encoding
        need not be the row's exact floats), none suggested or pending.

        As in Syne Tune's DyHPO, the number of new candidates grows with the paused
        trials they compete with: the best of many draws would otherwise outscore
        every paused trial by sheer number, and only new trials would start.
        """
        enc = self.encoder
        n = max(self.num_candidates, num_paused)
        if self.restrict_configurations is not None:
            encoded = self.allowed_encodings(enc.encode)
            idx = np.array(self.unseen_allowed(), dtype=int)
            if idx.size > n:
                idx = np.sort(self.rng.choice(idx, size=n, replace=False))
            allowed = self.restrict_configurations
            return encoded[idx].reshape(len(idx), enc.dim), [allowed[i] for i in idx]
        candidates = enc.random(n, self.rng)
        taken = self._taken([x for x, _ in pending])
        if taken is not None:
            keep = [i for i, z in enumerate(candidates) if enc.key(z) not in taken]
            candidates = candidates[keep].reshape(len(keep), enc.dim)
        return candidates, None

    # -- state ------------------------------------------------------------------------------

    def state(self) -> DyHPOState:
        """MOBSTER's searcher state plus the pending trials' target levels."""
        base = msgspec.structs.asdict(super().state())
        with self._lock:
            levels = list(self._pending_level.items())
        return DyHPOState(**base, pending_levels=levels)

    def restore(self, state: DyHPOState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, DyHPOState):
            state = msgspec.convert(state, DyHPOState)
        super().restore(state)
        with self._lock:
            self._pending_level = {int(t): float(lv) for t, lv in state.pending_levels}
            self._configs = {tid: dict(c) for tid, _, c, _ in state.observations}
            self._configs.update((tid, dict(c)) for tid, c in state.pending)


register_searcher("dyhpo", DyHPOSearcher)
