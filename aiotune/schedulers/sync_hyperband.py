"""Synchronous Hyperband with geometric brackets (Li et al., 2018; Syne Tune's layout).

Brackets cycle through offsets ``0 .. brackets-1``. Bracket ``b`` has rungs at
levels ``rung_levels[b:] + [max_t]``; with ``s_max = len(rung_levels)`` its
rung ``k`` holds ``ceil((s_max+1)/(s_max-b+1) * eta**(s_max-b-k))`` trials
(the last one ``ceil((s_max+1)/(s_max-b+1))``), exactly Syne Tune's
``SynchronousHyperbandRungSystem.geometric``. A rung's slots are handed out as
jobs; when every slot of a rung has reported, the best trials fill the next
rung and are resumed from their pause. Jobs go to the oldest active bracket
with a free slot, else a new bracket is opened, so no worker idles waiting for
a rung to fill. NaN results count as failed slots and are never promoted.
With ``max_resource_attr`` given, each job's config carries the level it runs
to in ``config[max_resource_attr]`` (Syne Tune's rule), so the training script
stops there by itself.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import msgspec

from .._checks import check_positive_int
from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial, TrialStatus
from ._rung_table import rung_levels
from ._scheduler_args import (
    build_searcher,
    check_rung_args,
    check_seed,
    read_resource,
    resource_name,
)
from ._thinking import think
from .base import BaseScheduler
from .searchers.base import Searcher

__all__ = ["SyncHyperband", "SyncHyperbandState", "geometric_brackets"]


def geometric_brackets(
    grace_period: int, reduction_factor: float, max_t: int, brackets: int | None = None
) -> list[list[tuple[int, int]]]:
    """``[(rung size, level), ...]`` per bracket offset, as Syne Tune's geometric rung system."""
    levels = rung_levels(grace_period, reduction_factor, max_t)
    s_max = len(levels)
    num = s_max + 1 if brackets is None else min(brackets, s_max + 1)
    out = []
    for b in range(num):
        r_num_m1 = s_max - b
        pre = (s_max + 1) / (r_num_m1 + 1)
        rungs = [
            (int(math.ceil(pre * reduction_factor ** (r_num_m1 - k))), levels[b + k])
            for k in range(r_num_m1)
        ]
        rungs.append((int(math.ceil(pre)), max_t))
        out.append(rungs)
    return out


class Slot(msgspec.Struct, array_like=True):
    """One job of a rung: the trial (-1 until started), its value (None = failed), done."""

    trial_id: int = -1
    value: float | None = None
    done: bool = False
    handed_out: bool = False


class Bracket(msgspec.Struct, kw_only=True):
    """One run of successive halving: its offset, current rung and that rung's slots."""

    offset: int
    rung: int = 0
    slots: list[Slot] = []
    next_free: int = 0
    num_done: int = 0
    complete: bool = False
    done_rungs: list[list[Slot]] = []
    """The slots of the rungs finished before the current one (kept by DEHB only)."""


class Job(msgspec.Struct, array_like=True):
    """A running trial's assignment: bracket, slot, target level, level resumed from."""

    bracket: int
    slot: int
    level: int
    resume_from: int = -1


class SyncHyperbandState(msgspec.Struct, tag="sync_hyperband", kw_only=True):
    """Everything SyncHyperband needs to continue exactly where it was."""

    seed: int
    brackets: list[Bracket]
    primary: int
    jobs: list[tuple[int, Job]]
    pending: list[tuple[int, int]] = []
    searcher: Any = None


@component
class SyncHyperband(BaseScheduler):
    """Synchronous Hyperband; ``brackets=1`` is synchronous successive halving."""

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
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str | Searcher = "random",
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
    ) -> None:
        who = type(self).__name__
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"{who}: metric must be one non-empty name, got {metric!r}")
        super().__init__(metric, mode)
        self.max_t = check_rung_args(
            who, config_space, max_t, max_resource_attr, grace_period, reduction_factor
        )
        if brackets is not None:
            check_positive_int(f"{who}: brackets", brackets)
        time_attr = resource_name(who, time_attr, resource_attr)
        self.config_space = config_space
        self.time_attr = time_attr
        self.max_resource_attr = max_resource_attr
        self.layout = self._layout(grace_period, reduction_factor, brackets)
        self._seed = check_seed(who, random_seed)
        self._brackets: list[Bracket] = []
        self._primary = 0
        self._jobs: dict[int, Job] = {}
        self._pending: deque[tuple[int, int]] = deque()
        # the tuner's Trial objects: a PAUSE frees the worker before the process has ended
        self._objs: dict[int, Trial] = {}
        self._who = who
        self.searcher = build_searcher(
            searcher, config_space, metric, mode, self._seed, points_to_evaluate,
            searcher_kwargs, resource_attr=time_attr, max_resource=self.max_t,
        )
        self._open_bracket()

    # -- brackets ---------------------------------------------------------------------

    def _layout(
        self, grace_period: int, reduction_factor: float, brackets: int | None
    ) -> list[list[tuple[int, int]]]:
        """``[(rung size, level), ...]`` per bracket offset: the geometric brackets."""
        return geometric_brackets(grace_period, reduction_factor, self.max_t, brackets)

    def _open_bracket(self) -> int:
        offset = len(self._brackets) % len(self.layout)
        size = self.layout[offset][0][0]
        self._brackets.append(Bracket(offset=offset, slots=[Slot() for _ in range(size)]))
        return len(self._brackets) - 1

    def _level(self, bracket: Bracket, rung: int | None = None) -> int:
        return self.layout[bracket.offset][bracket.rung if rung is None else rung][1]

    def _ready(self, slot: Slot) -> bool:
        """False while the tuner has not yet seen the slot's trial pause (still RUNNING)."""
        trial = self._objs.get(slot.trial_id)
        return trial is None or trial.status is not TrialStatus.RUNNING

    def _next_job(self) -> tuple[int, int]:
        for bid in range(self._primary, len(self._brackets)):
            b = self._brackets[bid]
            if b.complete:
                continue
            for j in range(b.next_free, len(b.slots)):
                if self._ready(b.slots[j]):
                    k = b.next_free
                    b.slots[k], b.slots[j] = b.slots[j], b.slots[k]
                    b.next_free += 1
                    return bid, k
        bid = self._open_bracket()
        self._brackets[bid].next_free = 1
        return bid, 0

    def _finish_slot(self, bid: int, idx: int, value: float | None) -> None:
        b = self._brackets[bid]
        slot = b.slots[idx]
        if slot.done:
            return
        slot.done, slot.value = True, value
        b.num_done += 1
        if b.num_done < len(b.slots):
            return
        rungs = self.layout[b.offset]
        usable = sorted((s.value, s.trial_id) for s in b.slots if s.value is not None)
        if b.rung + 1 >= len(rungs) or not usable:
            b.complete = True
        else:
            b.rung += 1
            b.slots = self._next_rung(bid, b, [t for _, t in usable[: rungs[b.rung][0]]])
            b.next_free = b.num_done = 0
        while self._primary < len(self._brackets) - 1 and self._brackets[self._primary].complete:
            self._primary += 1

    def _next_rung(self, bid: int, bracket: Bracket, best: list[int]) -> list[Slot]:
        """The slots of ``bracket``'s new rung: its ``best`` trials of the rung below, resumed."""
        return [Slot(trial_id=t) for t in best]

    # -- scheduler protocol -----------------------------------------------------------

    async def suggest(self) -> Suggestion | None:
        """The next job: resume a promoted trial, or start a config in a bracket's first rung."""
        bid, idx = self._next_job()
        b = self._brackets[bid]
        slot = b.slots[idx]
        if slot.trial_id >= 0:
            prev = self._level(b, b.rung - 1)
            self._jobs[slot.trial_id] = Job(bid, idx, self._level(b), prev)
            if self.max_resource_attr is None:
                return Suggestion.resume(slot.trial_id)
            return Suggestion.resume(slot.trial_id, {self.max_resource_attr: self._level(b)})
        config = await self._new_config(bid, idx)
        if config is None:
            self._finish_slot(bid, idx, None)
            return None
        self._pending.append((bid, idx))
        if self.max_resource_attr is not None:
            config = {**config, self.max_resource_attr: self._level(b)}
        return Suggestion.start(config)

    async def _new_config(self, bid: int, idx: int) -> dict[str, Any] | None:
        """The config of a new trial for slot ``idx`` of bracket ``bid`` (None: none left)."""
        if self.searcher.thinks_hard:
            return await think(self.searcher.suggest)
        return self.searcher.suggest()

    async def on_trial_add(self, trial: Trial) -> None:
        """Bind the new trial to the first-rung slot its config was suggested for."""
        if self._pending:
            bid, idx = self._pending.popleft()
            b = self._brackets[bid]
            b.slots[idx].trial_id = trial.trial_id
            self._jobs[trial.trial_id] = Job(bid, idx, self._level(b))
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Pause the trial when it reaches its job's level (stop it if its value is NaN)."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        job = self._jobs.get(trial.trial_id)
        if job is None:
            return Decision.STOP if resource > self.max_t else Decision.CONTINUE
        if resource <= job.resume_from:
            return Decision.CONTINUE
        self.searcher.on_result(trial, result)
        if resource < job.level or self.metric[0] not in result:
            return Decision.CONTINUE
        self._objs[trial.trial_id] = trial
        value = self.metric_value(result)
        if value is not None and not math.isfinite(value):
            value = None
        del self._jobs[trial.trial_id]
        self._finish_slot(job.bracket, job.slot, self._keep_in_slot(trial, job, value))
        if value is None or resource > self.max_t:
            return Decision.STOP
        return Decision.CONTINUE if job.level >= self.max_t else self._at_level(job)

    def _keep_in_slot(self, trial: Trial, job: Job, value: float | None) -> float | None:
        """The value the job's slot keeps for ``trial``'s ``value`` at its level (DEHB may
        put an earlier trial in the slot instead)."""
        return value

    def _at_level(self, job: Job) -> Decision:
        """The decision for a trial that reached its job's level below ``max_t``: wait paused."""
        return Decision.PAUSE

    def _abandon(self, trial: Trial, result: Mapping[str, Any] | None) -> None:
        job = self._jobs.pop(trial.trial_id, None)
        if job is not None:
            value = self.metric_value(result) if result else None
            if value is not None and not math.isfinite(value):
                value = None
            self._finish_slot(job.bracket, job.slot, self._keep_in_slot(trial, job, value))

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial that ends before its job's level fills its slot with its last value."""
        self._abandon(trial, result)
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """A failed trial's slot counts as done and is never promoted."""
        self._abandon(trial, None)
        self.searcher.on_trial_error(trial)

    async def on_trial_remove(self, trial: Trial) -> None:
        """A trial stopped by the tuner: like a failure for its slot."""
        self._abandon(trial, None)

    # -- state ------------------------------------------------------------------------

    def state(self) -> SyncHyperbandState:
        """Brackets, running jobs and the searcher's state as data."""
        return SyncHyperbandState(
            seed=self._seed,
            brackets=msgspec.convert(msgspec.to_builtins(self._brackets), list[Bracket]),
            primary=self._primary,
            jobs=[(k, msgspec.structs.replace(v)) for k, v in self._jobs.items()],
            pending=list(self._pending),
            searcher=msgspec.to_builtins(self.searcher.state()),
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, SyncHyperbandState):
            state = msgspec.convert(state, SyncHyperbandState)
        self._seed = state.seed
        self._brackets = msgspec.convert(msgspec.to_builtins(state.brackets), list[Bracket])
        self._primary = state.primary
        self._jobs = {k: msgspec.structs.replace(v) for k, v in state.jobs}
        self._pending = deque(tuple(p) for p in state.pending)
        if state.searcher is not None:
            self.searcher.restore(state.searcher)

    def __repr__(self) -> str:
        return (
            f"{self._who}(metric={self.metric[0]!r}, mode={self.mode[0]!r}, "
            f"max_t={self.max_t}, brackets={self.layout})"
        )
