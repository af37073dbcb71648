"""DEHB: synchronous Hyperband whose configs evolve by differential evolution
(Awad, Mallik and Hutter, IJCAI 2021), in Syne Tune's layout.

Every bracket's rungs have the sizes of the first bracket's rungs at the same
levels, so bracket ``b`` is the first bracket without its lowest ``b`` rungs.
Only the very first bracket draws configs at random and promotes its best trials
by pausing and resuming them. Every later job starts a *new* trial at its level:
the child of a rand/1 mutation of three parents and a crossover with the
*target*, the trial in the same slot of the latest earlier rung at that level.
Parents come from the rung below in the same bracket (its best trials), or, in
a bracket's first rung, from the targets' rung. When the child has reported at
its level, selection keeps the better of child and target in the slot, so the
slots of each level form DE's population. A rung with fewer than three parents
borrows from every trial that reported at that level, then at the other levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from .._checks import check_number
from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision
from ..trial import Trial
from ._differential_evolution import crossover, mutate
from .searchers.gp.encoding import SpaceEncoder
from .sync_hyperband import (
    Bracket,
    Job,
    Slot,
    SyncHyperband,
    SyncHyperbandState,
    geometric_brackets,
)

__all__ = ["DEHB", "DEHBState"]

_DE_TRIES = 25  # children that repeat an earlier config before a random draw instead


class DEHBState(SyncHyperbandState, tag="dehb", kw_only=True):
    """SyncHyperband's state plus each trial's encoding and who reported at each level."""

    encodings: list[tuple[int, list[float]]] = []
    reported: list[tuple[int, list[int]]] = []


@component
class DEHB(SyncHyperband):
    """Differential Evolution Hyperband: synchronous brackets, configs bred by DE.

    ``mutation_factor`` (F of ``base + F * (a - b)``) and ``crossover_probability``
    (chance that a hyperparameter comes from the mutant) are Syne Tune's and the
    paper's, 0.5 each. The first bracket's configs are random (``points_to_evaluate``
    first); ``searcher_kwargs`` go to that random searcher, e.g.
    ``restrict_configurations``, to which children then snap: the nearest unused entry.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int | None = None,
        mutation_factor: float = 0.5,
        crossover_probability: float = 0.5,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
    ) -> None:
        who = type(self).__name__
        self.mutation_factor = check_number(f"{who}: mutation_factor", mutation_factor, 0.0, 1.0)
        self.crossover_probability = check_number(
            f"{who}: crossover_probability", crossover_probability, 0.0, 1.0
        )
        super().__init__(
            config_space,
            metric,
            mode,
            time_attr=time_attr,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            brackets=brackets,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher="random",
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            resource_attr=resource_attr,
        )
        self._encoder = SpaceEncoder(config_space)
        self._widths = [sl.stop - sl.start for sl in self._encoder.slices]
        if not self._widths:
            raise InvalidArgumentError(f"{who} needs at least one hyperparameter to breed")
        self._levels = [level for _, level in self.layout[0]]
        self._enc: dict[int, np.ndarray] = {}
        self._reported: dict[int, list[int]] = {level: [] for level in self._levels}

    def _layout(
        self, grace_period: int, reduction_factor: float, brackets: int | None
    ) -> list[list[tuple[int, int]]]:
        """Bracket ``b`` is the first geometric bracket without its lowest ``b`` rungs."""
        first = geometric_brackets(grace_period, reduction_factor, self.max_t)[0]
        count = len(first) if brackets is None else min(brackets, len(first))
        return [first[b:] for b in range(count)]

    # -- the population -----------------------------------------------------------------

    def _slot(self, bracket: Bracket, rung: int, idx: int) -> Slot | None:
        """Slot ``idx`` of ``bracket``'s rung ``rung`` (None if that rung is not open, or
        is short: a promotion rung with fewer usable trials than slots)."""
        if rung > bracket.rung:
            return None
        slots = bracket.done_rungs[rung] if rung < bracket.rung else bracket.slots
        return slots[idx] if idx < len(slots) else None

    def _target(self, bid: int, idx: int) -> Slot | None:
        """Slot ``idx`` of the latest earlier rung at bracket ``bid``'s current level, once
        it holds a value (DE's target for this job)."""
        level = self._brackets[bid].offset + self._brackets[bid].rung  # index into _levels
        for older in range(bid - 1, -1, -1):
            b = self._brackets[older]
            if level < b.offset:
                continue
            slot = self._slot(b, level - b.offset, idx)
            if slot is not None and slot.done and slot.value is not None:
                return slot
        return None

    def _random_trial(self) -> int:
        ids = list(self._enc)
        return ids[int(self.searcher.rng.integers(len(ids)))]

    def _parents(self, bid: int, bracket: Bracket) -> list[int] | None:
        """Parents for a job in ``bracket``, from three distinct places of its parent pool
        (None: the pool has fewer than three)."""
        rng = self.searcher.rng
        size, level = self.layout[bracket.offset][bracket.rung]
        if bracket.rung == 0:
            # the targets' rung: each position's target, or any trial while it has none
            pool: list[int | None] = [None] * size
        else:
            below = sorted(
                (s.value, s.trial_id) for s in bracket.done_rungs[-1] if s.value is not None
            )
            pool = [t for _, t in below[:size]]
        if len(pool) < 3:
            for other in [level, *(lv for lv in reversed(self._levels) if lv != level)]:
                if len(pool) >= 3:
                    break
                pool.extend(self._reported[other])
        if len(pool) < 3:
            return None
        picks = []
        for pos in rng.choice(len(pool), size=3, replace=False):
            tid = pool[int(pos)]
            if tid is None:
                target = self._target(bid, int(pos))
                tid = target.trial_id if target is not None else self._random_trial()
            picks.append(tid)
        return picks

    def _config_near(self, child: np.ndarray) -> dict[str, Any] | None:
        """The config ``child`` decodes to; with a restricted list, its nearest unused entry."""
        if self.searcher.restrict_configurations is None:
            return self._encoder.decode(child)
        return self.searcher.nearest_unseen_allowed(self._encoder.encode, child)

    # -- SyncHyperband hooks ------------------------------------------------------------

    def _next_rung(self, bid: int, bracket: Bracket, best: list[int]) -> list[Slot]:
        """The first bracket promotes its best trials; every other bracket breeds new ones."""
        bracket.done_rungs.append(bracket.slots)
        if bid == 0:
            return super()._next_rung(bid, bracket, best)
        return [Slot() for _ in range(self.layout[bracket.offset][bracket.rung][0])]

    async def _new_config(self, bid: int, idx: int) -> dict[str, Any] | None:
        """A random config in the first bracket (and while a first rung has no target);
        else a child, bred until it is a config not suggested before."""
        bracket = self._brackets[bid]
        target = self._target(bid, idx)
        if bid == 0 or (bracket.rung == 0 and target is None):
            return self.searcher.suggest()
        parents = self._parents(bid, bracket)
        if parents is None:
            return self.searcher.suggest()
        target_id = target.trial_id if target is not None else self._random_trial()
        rng = self.searcher.rng
        for attempt in range(_DE_TRIES):
            if attempt:
                parents = self._parents(bid, bracket) or parents
            a, b, c = (self._enc[t] for t in parents)
            mutant = mutate(rng, a, b, c, self.mutation_factor)
            child = crossover(rng, mutant, self._enc[target_id], self._widths,
                              self.crossover_probability)
            config = self._config_near(child)
            if config is None:
                return None  # a restricted list with no entry left
            if self.searcher.remember(config):
                return config
        return self.searcher.suggest()

    def _keep_in_slot(self, trial: Trial, job: Job, value: float | None) -> float | None:
        """Selection: a child keeps its slot only if it beats the target there."""
        if job.bracket == 0:
            return value
        target = self._target(job.bracket, job.slot)
        if target is None or target.value is None:
            return value
        if value is None or target.value <= value:
            self._brackets[job.bracket].slots[job.slot].trial_id = target.trial_id
            return target.value
        return value

    def _at_level(self, job: Job) -> Decision:
        """Only the first bracket's trials wait to be promoted; the others are done."""
        return Decision.PAUSE if job.bracket == 0 else Decision.STOP

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """SyncHyperband's decision; a trial done at its job's level joins that level's pool."""
        job = self._jobs.get(trial.trial_id)
        decision = await super().on_result(trial, result)
        if job is not None and trial.trial_id not in self._jobs:
            value = self.metric_value(result)
            if value is not None and np.isfinite(value):
                self._reported[job.level].append(trial.trial_id)
        return decision

    async def on_trial_add(self, trial: Trial) -> None:
        """Bind the trial to its slot and keep its encoding for breeding."""
        await super().on_trial_add(trial)
        self._enc[trial.trial_id] = self._encoder.encode(trial.config)

    # -- state ------------------------------------------------------------------------

    def state(self) -> DEHBState:
        """SyncHyperband's state plus the encodings and the per-level reporters."""
        base = super().state()
        return DEHBState(
            **msgspec.structs.asdict(base),
            encodings=[(t, v.tolist()) for t, v in self._enc.items()],
            reported=[(lv, list(ids)) for lv, ids in self._reported.items()],
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, DEHBState):
            state = msgspec.convert(
                msgspec.to_builtins(state) if isinstance(state, msgspec.Struct) else state,
                DEHBState,
            )
        super().restore(state)
        self._enc = {t: np.asarray(v, dtype=float) for t, v in state.encodings}
        self._reported = {level: [] for level in self._levels}
        self._reported.update((lv, list(ids)) for lv, ids in state.reported)
