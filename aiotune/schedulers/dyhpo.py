"""DyHPO: pause-and-resume scheduling where a GP decides, at every free worker, whether
to resume a paused trial or start a new config (Syne Tune's ``DyHPO``).

Wistuba, Kadra and Grabocka (2022), with Syne Tune's hybrid: promotion-type
successive halving on linearly spaced rung levels ``grace_period + k *
rung_increment < max_t``. At each free worker, with probability ``probability_sh``
the successive-halving rule runs first (the best paused trial of the highest rung
within its quantile ``r_k / r_{k+1}`` is resumed); otherwise, or when it promotes
nothing, the ``"dyhpo"`` searcher scores every paused trial at its next level and
new configs at the lowest level by expected improvement, and the winner is resumed
or started (:mod:`aiotune.schedulers.searchers.dyhpo`). The rule keeps trials
moving up: the model alone, without data at the high levels, favours new trials.
The GP works in a worker thread, so results keep reaching the scheduler meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .._checks import check_number, check_positive_int
from .._spec import component
from ..events import Suggestion
from ._rung_table import Rung, RungTable
from ._scheduler_args import check_rung_args
from ._thinking import think
from .asha import ASHA, ASHAState
from .searchers import dyhpo as _dyhpo  # noqa: F401 - registers searcher="dyhpo"
from .searchers.dyhpo import PausedTrial

__all__ = ["DyHPO", "DyHPOSchedulerState", "linear_rung_levels"]

DEFAULT_SH_PROBABILITY = 0.25
"""Syne Tune's default ``probability_sh``."""


def linear_rung_levels(grace_period: int, rung_increment: int, max_t: int) -> list[int]:
    """``grace_period + k * rung_increment`` below ``max_t`` (DyHPO's rung levels)."""
    return list(range(grace_period, max_t, rung_increment))


class DyHPOSchedulerState(msgspec.Struct, tag="dyhpo_scheduler", kw_only=True):
    """ASHA's state plus how the suggestions so far were answered (``decision_counts``)."""

    asha: ASHAState
    decision_counts: dict[str, int]


@component
class DyHPO(ASHA):
    """Dynamic gray-box HPO: promotion-type ASHA whose resume-or-start decisions are
    model-based (Syne Tune's ``DyHPO``; ``rung_increment=2`` and ``probability_sh=0.25``
    are its defaults).

    Options of :class:`~aiotune.schedulers.searchers.dyhpo.DyHPOSearcher` (those of
    MOBSTER's searcher) go in ``searcher_kwargs``. The training script must be able to
    resume from its checkpoint (as for any promotion-type scheduler); one that cannot
    restarts from scratch and its repeated reports are ignored.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        rung_increment: int = 2,
        probability_sh: float = DEFAULT_SH_PROBABILITY,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
    ) -> None:
        who = type(self).__name__
        top = check_rung_args(who, config_space, max_t, max_resource_attr, grace_period, 2)
        check_positive_int(f"{who}: grace_period", grace_period)
        check_positive_int(f"{who}: rung_increment", rung_increment)
        self.probability_sh = check_number(f"{who}: probability_sh", probability_sh, 0.0, 1.0)
        levels = linear_rung_levels(grace_period, rung_increment, top)
        kwargs = dict(searcher_kwargs or {})
        kwargs.setdefault("fidelity_levels", [float(v) for v in [*levels, top]])
        super().__init__(
            config_space,
            metric,
            mode=mode,
            time_attr=time_attr,
            resource_attr=resource_attr,
            max_t=top,
            grace_period=grace_period,
            type="promotion",
            brackets=1,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher="dyhpo",
            searcher_kwargs=kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference="all",
        )
        self.rung_increment = rung_increment
        self.levels = levels
        self._tables = [RungTable(levels)]
        # Syne Tune's promotion quantile of rung k: r_k / r_{k+1} (1/eta for geometric rungs)
        self._quantiles = [a / b for a, b in zip(levels, [*levels[1:], top], strict=True)]
        self.decision_counts = {"promoted_by_sh": 0, "promoted_by_dyhpo": 0,
                                "started_by_dyhpo": 0}
        """How this scheduler object answered ``suggest`` (Syne Tune's summary keys; the
        initial random design counts as started)."""

    async def suggest(self) -> Suggestion | None:
        """The successive-halving promotion (with ``probability_sh``), else the model's
        choice between the paused trials and a new config."""
        if self._rng.random() < self.probability_sh:
            promoted = self._promote(0)
            if promoted is not None:
                self.decision_counts["promoted_by_sh"] += 1
                return self._resume_suggestion(promoted)
        choice = await think(self.searcher.choose, self._paused())
        if choice.trial_id is not None:
            self.resume_from_rung(choice.trial_id, self._trials[choice.trial_id].next_rung - 1)
            self.decision_counts["promoted_by_dyhpo"] += 1
            return self._resume_suggestion(choice.trial_id)
        if choice.config is None:
            return None
        self.decision_counts["started_by_dyhpo"] += 1
        self._pending.append((0, self.searcher.last_from_model))
        return Suggestion.start(self._first_milestone(choice.config, 0))

    def promotable_in(self, rung: Rung, idx: int, table: RungTable) -> int | None:
        """The best paused trial of ``rung`` within its quantile ``r_k / r_{k+1}``."""
        return self._ready(rung.promotable(self._quantiles[idx]))

    def _paused(self) -> list[PausedTrial]:
        """Every paused trial that can be resumed now, with the level it would reach."""
        table = self._tables[0]
        paused = []
        for trial_id, rec in self._trials.items():
            if not rec.paused or rec.done or self._ready(trial_id) is None:
                continue
            nxt = rec.next_rung
            level = table.levels[nxt] if nxt < len(table) else self.max_t
            paused.append(PausedTrial(trial_id, float(level)))
        return paused

    def state(self) -> DyHPOSchedulerState:  # type: ignore[override]
        """ASHA's state plus the decision counts, so a loaded run goes on counting."""
        return DyHPOSchedulerState(asha=super().state(),
                                   decision_counts=dict(self.decision_counts))

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (or a plain ASHA state: counts start at 0)."""
        if not isinstance(state, (DyHPOSchedulerState, ASHAState)):
            state = msgspec.convert(state, DyHPOSchedulerState | ASHAState)
        if isinstance(state, ASHAState):  # saved before the counts were kept
            self._restore_asha(state)
            return
        self._restore_asha(state.asha)
        self.decision_counts.update(state.decision_counts)

    def __repr__(self) -> str:
        return (
            f"DyHPO(metric={self.metric[0]!r}, mode={self.mode[0]!r}, "
            f"time_attr={self.time_attr!r}, max_t={self.max_t}, rung_levels={self.levels}, "
            f"probability_sh={self.probability_sh})"
        )
