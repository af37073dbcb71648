"""PASHA: progressive ASHA that grows its maximum resource only while rankings are unstable.

Bohdal et al. (2023), "PASHA: Efficient HPO and NAS with Progressive Resource
Allocation", as in Syne Tune's ``PASHARungSystem``. PASHA is promotion-type
ASHA whose effective maximum resource starts at the second rung level: trials
are never promoted out of the current top rung. Whenever a value lands in one
of the two top rungs, the ranking of the trials in the top rung is compared
with their ranking one rung below, with *soft ranking*: trials whose values
below differ by at most epsilon form a group, and the budget grows by one rung
(eventually to ``max_t``) when a trial's rank at the top falls outside its
group. Epsilon is estimated as in Syne Tune: the 90th percentile of the gaps
between pairs of trials whose order flipped and flipped back between the two
rungs. The check costs O(m^2) in the size m of the top rung, paid only when a
top-two rung receives a value, not on every report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision
from ..trial import Trial
from ._rung_table import Rung, RungTable
from ._scheduler_args import read_resource
from .asha import ASHA, ASHAState, TrialRecord
from .searchers.base import Searcher

__all__ = ["PASHA", "PASHAState"]


class PASHAState(msgspec.Struct, tag="pasha", kw_only=True):
    """ASHA's state plus the current top rung, epsilon and the per-epoch values kept."""

    asha: ASHAState
    top: int
    full: bool
    epsilon: float
    curves: list[tuple[int, list[tuple[int, float]]]] = []


@component
class PASHA(ASHA):
    """Progressive ASHA (promotion type, one bracket) with a growing maximum resource."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str | Searcher = "random",
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        rung_reference: str = "prior",
        resource_attr: str | None = None,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode=mode,
            time_attr=time_attr,
            resource_attr=resource_attr,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            type="promotion",
            brackets=1,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher=searcher,
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
        if not self.levels:
            raise InvalidArgumentError(
                f"PASHA needs at least one rung level below max_t={self.max_t}; lower grace_period"
            )
        # Index of the current top rung; trials are never promoted out of it.
        self._top = min(1, len(self.levels) - 1)
        self._full = len(self.levels) < 2
        self.epsilon = 0.0
        # trial -> {integer resource: value to minimize}, for epsilon (reports at or below top)
        self._curves: dict[int, dict[int, float]] = {}

    @property
    def current_max_t(self) -> int:
        """The resource trials may currently be trained to."""
        return self.max_t if self._full else self.levels[self._top]

    def promotable_in(self, rung: Rung, idx: int, table: RungTable) -> int | None:
        """Promote only out of rungs below the current maximum resource."""
        if rung.level >= self.current_max_t:
            return None
        return self._ready(rung.promotable(self._q, self._min_reference))

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """ASHA promotion decisions; keep the curve values needed for epsilon."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        value = self.metric_value(result)
        if (
            value is not None
            and math.isfinite(value)
            and resource == int(resource)
            and not self._full
        ):
            self._curves.setdefault(trial.trial_id, {})[int(resource)] = value
        return await super().on_result(trial, result)

    def after_rung(self, rec: TrialRecord, idx: int, table: RungTable) -> None:
        """After a value lands in one of the two top rungs, grow the budget if rankings moved."""
        if self._full or self._top == 0 or idx not in (self._top, self._top - 1):
            return
        self._update_epsilon(table)
        if self._ranking_unstable(table):
            if self._top + 1 < len(self.levels):
                self._top += 1
            else:
                self._full = True
                self._curves.clear()

    def _ranking_unstable(self, table: RungTable) -> bool:
        top = table.rungs[self._top].sorted_entries()
        below_rung = table.rungs[self._top - 1]
        ids = [t for t, _ in top]
        below = sorted((below_rung.value(t), t) for t in ids if t in below_rung)
        if len(below) < 2 or len(below) != len(ids):
            return False
        eps = self.epsilon
        values = [v for v, _ in below]
        for pos, tid in enumerate(ids):
            # soft group of position ``pos`` below: contiguous values within eps of it
            lo = pos
            while lo > 0 and values[lo - 1] >= values[pos] - eps:
                lo -= 1
            hi = pos
            while hi + 1 < len(values) and values[hi + 1] <= values[pos] + eps:
                hi += 1
            if tid not in {t for _, t in below[lo : hi + 1]}:
                return True
        return False

    def _update_epsilon(self, table: RungTable) -> None:
        """90th percentile of gaps of pairs whose order flipped and flipped back (Syne Tune)."""
        top_level = self.levels[self._top]
        low_level = self.levels[self._top - 1]
        ids = sorted(t for t, c in self._curves.items() if any(r > low_level for r in c))
        gaps: list[float] = []
        for a, b in itertools.combinations(ids, 2):
            ca, cb = self._curves[a], self._curves[b]
            common = sorted((r for r in ca if r in cb and r <= top_level), reverse=True)
            if not common or common[0] <= low_level:
                continue
            r0 = common[0]
            cond = ca[r0] > cb[r0]
            flipped = back = False
            for r in common[1:]:
                c = ca[r] > cb[r]
                if c != cond:
                    flipped = True
                elif flipped:
                    back = True
                    break
            if flipped and back:
                gaps.append(abs(ca[r0] - cb[r0]))
        if gaps:
            self.epsilon = float(np.percentile(gaps, 90))

    def state(self) -> PASHAState:  # type: ignore[override]
        """ASHA's state plus PASHA's budget, epsilon and curves."""
        return PASHAState(
            asha=super().state(),
            top=self._top,
            full=self._full,
            epsilon=self.epsilon,
            curves=[(k, list(v.items())) for k, v in self._curves.items()],
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, PASHAState):
            state = msgspec.convert(state, PASHAState)
        self._restore_asha(state.asha)
        self._top, self._full, self.epsilon = state.top, state.full, state.epsilon
        self._curves = {k: dict(v) for k, v in state.curves}
