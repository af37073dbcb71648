"""Asynchronous successive halving (ASHA), stopping and promotion variants.

Li et al. (2020), "A System for Massively Parallel Hyperparameter Tuning", with
Syne Tune's ``HyperbandScheduler`` semantics and argument names. Rung levels are
``grace_period * reduction_factor**k < max_t``. *Stopping*: when a trial reaches
a rung its value is recorded there, and it continues only if the value is no
worse than the ``1/reduction_factor`` quantile of all values recorded at that
rung (numpy's linear quantile, none below two values, as in Syne Tune).
*Promotion*: a trial reaching a rung is paused; ``suggest`` first resumes the
best paused trial of the highest rung whose value is within that quantile, and
only otherwise starts a new configuration. With ``max_resource_attr`` given, a
promotion-type trial is started or resumed with ``config[max_resource_attr]``
set to the level it is to pause at (Syne Tune's rule), so the training script
stops there by itself instead of training on until the pause signal lands. With
``brackets > 1`` this is asynchronous Hyperband (see
:class:`~aiotune.schedulers.hyperband.Hyperband`).

With a model-based searcher (BOHB's KDE, MOBSTER's GP) the quantile is, by
default (``rung_reference="prior"``), taken over the *reference field* of the
rung: the values of trials the model did not propose (random draws,
``points_to_evaluate``) once there are ``MIN_REFERENCE_VALUES`` of them. The
rule's ``1/eta`` promotion rate assumes a field drawn from the prior; a model
that proposes good trials makes the whole field stronger, and a cutoff taken
from it stops slow starters the rule means to keep (on our tabular benchmark
it stopped the best row at epoch 3 in 7 of 10 seeds). ``rung_reference="all"``
is Syne Tune's rule. With random search no trial is model-proposed, so both
give the same decisions.

NaN (or infinite) metric values are never good: the trial is stopped and nothing
is recorded, so such a value can never become a cutoff. ``on_result`` and
``suggest`` cost O(log n) in the number of trials (bisect and heaps per rung).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from .._checks import check_positive_int
from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial, TrialStatus
from ._rung_table import Rung, RungState, RungTable, rung_levels
from ._scheduler_args import (
    build_searcher,
    check_rung_args,
    check_seed,
    infer_max_t,
    read_resource,
    resource_name,
)
from ._thinking import think
from .base import BaseScheduler
from .searchers.base import Searcher, rng_from_json, rng_to_json

__all__ = ["ASHA", "ASHAState", "build_searcher", "infer_max_t", "read_resource"]

class TrialRecord(msgspec.Struct, array_like=True):
    """Per trial: bracket, next rung index, level it resumed from (-1 none), paused, done."""

    bracket: int
    next_rung: int = 0
    resume_from: int = -1
    paused: bool = False
    done: bool = False
    guided: bool = False  # proposed by the searcher's model: not in the reference field


class ASHAState(msgspec.Struct, tag="asha", kw_only=True):
    """Everything ASHA/Hyperband needs to continue exactly where it was."""

    seed: int
    rng: dict[str, Any]
    trials: list[tuple[int, TrialRecord]]
    rungs: list[list[RungState]]
    pending_brackets: list[int] = []
    pending_guided: list[bool] = []
    searcher: Any = None


MIN_REFERENCE_VALUES = 5
"""Reference values a rung needs before its cutoff comes from them alone (else: all values)."""


@component
class ASHA(BaseScheduler):
    """Asynchronous successive halving (``type="stopping"`` or ``"promotion"``).

    ``brackets > 1`` gives asynchronous Hyperband: each new trial draws a bracket
    ``s`` with Syne Tune's default distribution and skips the ``s`` lowest rungs;
    every bracket keeps its own rungs. ``rung_reference`` ("prior" or "all")
    chooses the values a rung's cutoff is taken over when a model proposes
    trials (see the module docstring). The result key that counts the resource
    is ``time_attr`` (Ray Tune's name) or ``resource_attr`` (Syne Tune's),
    "epoch" by default.
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
        type: str = "stopping",
        brackets: int | None = 1,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str | Searcher = "random",
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        rung_reference: str = "prior",
        resource_attr: str | None = None,
    ) -> None:
        who = self.__class__.__name__
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"{who}: metric must be one non-empty name, got {metric!r}")
        super().__init__(metric, mode)
        time_attr = resource_name(who, time_attr, resource_attr)
        if type not in ("stopping", "promotion"):
            raise InvalidArgumentError(
                f"{who}: type must be 'stopping' or 'promotion', got {type!r}"
            )
        if rung_reference not in ("prior", "all"):
            raise InvalidArgumentError(
                f"{who}: rung_reference must be 'prior' or 'all', got {rung_reference!r}"
            )
        self.max_t = check_rung_args(
            who, config_space, max_t, max_resource_attr, grace_period, reduction_factor
        )
        self.levels = rung_levels(grace_period, reduction_factor, self.max_t)
        if brackets is None:
            brackets = len(self.levels) + 1
        check_positive_int(f"{who}: brackets", brackets)
        self.num_brackets = min(brackets, len(self.levels) + 1)
        self.config_space = config_space
        self.time_attr = time_attr
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.type = type
        self.max_resource_attr = max_resource_attr
        self._q = 1.0 / reduction_factor
        self.rung_reference = rung_reference
        self._min_reference = MIN_REFERENCE_VALUES if rung_reference == "prior" else None
        self._seed = check_seed(who, random_seed)
        self._rng = np.random.default_rng([self._seed, 1])
        self._probs = default_bracket_probabilities(self.levels, self.max_t, self.num_brackets)
        self._tables = [RungTable(self.levels[s:]) for s in range(self.num_brackets)]
        self._trials: dict[int, TrialRecord] = {}
        # (bracket, proposed by the model) of each suggested config not yet added as a trial
        self._pending: deque[tuple[int, bool]] = deque()
        # promotion: the tuner's Trial objects, to see whether a pause has completed
        self._objs: dict[int, Trial] = {}
        self.searcher = build_searcher(
            searcher,
            config_space,
            metric,
            mode,
            self._seed,
            points_to_evaluate,
            searcher_kwargs,
            resource_attr=time_attr,
            max_resource=self.max_t,
        )
        self._who = who

    # -- brackets ---------------------------------------------------------------------

    def _sample_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0
        return int(self._rng.choice(self.num_brackets, p=self._probs))

    def _record(self, trial_id: int) -> TrialRecord:
        rec = self._trials.get(trial_id)
        if rec is None:
            bracket, guided = (
                self._pending.popleft() if self._pending else (self._sample_bracket(), False)
            )
            rec = self._trials[trial_id] = TrialRecord(bracket=bracket, guided=guided)
        return rec

    # -- scheduler protocol -----------------------------------------------------------

    async def suggest(self) -> Suggestion | None:
        """Resume the best promotable paused trial (promotion type), else a new config."""
        bracket = self._sample_bracket()
        if self.type == "promotion":
            promoted = self._promote(bracket)
            if promoted is not None:
                return self._resume_suggestion(promoted)
        if self.searcher.thinks_hard:
            config, guided = await think(self._suggest_config)
        else:
            config, guided = self._suggest_config()
        if config is None:
            return None
        self._pending.append((bracket, guided))
        return Suggestion.start(self._first_milestone(config, bracket))

    def _runs_to_milestones(self) -> bool:
        """True when each attempt is told where to pause (``config[max_resource_attr]``)."""
        return self.type == "promotion" and self.max_resource_attr is not None

    def _first_milestone(self, config: dict[str, Any], bracket: int) -> dict[str, Any]:
        """``config``, told its bracket's first rung level when it runs to milestones."""
        if not self._runs_to_milestones():
            return config
        table = self._tables[bracket]
        first = table.rungs[0].level if len(table) else self.max_t
        return {**config, self.max_resource_attr: int(first)}

    def _resume_suggestion(self, trial_id: int) -> Suggestion:
        """Resume ``trial_id``, told its next milestone when it runs to milestones."""
        if not self._runs_to_milestones():
            return Suggestion.resume(trial_id)
        rec = self._trials[trial_id]
        table = self._tables[rec.bracket]
        level = table.rungs[rec.next_rung].level if rec.next_rung < len(table) else self.max_t
        return Suggestion.resume(trial_id, {self.max_resource_attr: int(level)})

    def _suggest_config(self) -> tuple[dict[str, Any] | None, bool]:
        """The searcher's next config and whether its model proposed it (one thread call)."""
        config = self.searcher.suggest()
        return config, self.searcher.last_from_model

    def _promote(self, bracket: int) -> int | None:
        table = self._tables[bracket]
        for idx in range(len(table) - 1, -1, -1):
            rung = table.rungs[idx]
            trial_id = self.promotable_in(rung, idx, table)
            if trial_id is None:
                continue
            self.resume_from_rung(trial_id, idx, bracket)
            return trial_id
        return None

    def resume_from_rung(self, trial_id: int, idx: int, bracket: int = 0) -> None:
        """Take paused ``trial_id`` off rung ``idx`` of its bracket: it runs to the next."""
        rung = self._tables[bracket].rungs[idx]
        rung.mark_promoted(trial_id)
        rec = self._trials[trial_id]
        rec.paused = False
        rec.resume_from = rung.level
        rec.next_rung = idx + 1

    def promotable_in(self, rung: Any, idx: int, table: RungTable) -> int | None:
        """The trial to promote out of ``rung`` (PASHA overrides this to cap the resource)."""
        return self._ready(rung.promotable(self._q, self._min_reference))

    def _ready(self, trial_id: int | None) -> int | None:
        """``trial_id`` unless the tuner has not yet seen its pause complete (still RUNNING).

        A PAUSE frees the worker at once, so ``suggest`` can run before the trial's
        process has ended; resuming it then would race its own shutdown.
        """
        if trial_id is None:
            return None
        trial = self._objs.get(trial_id)
        if trial is not None and trial.status is TrialStatus.RUNNING:
            return None
        return trial_id

    async def on_trial_add(self, trial: Trial) -> None:
        """Assign the bracket drawn when the trial's config was suggested."""
        self._record(trial.trial_id)
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Record the value at a rung the trial reached and decide continue/stop/pause."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        rec = self._record(trial.trial_id)
        if rec.done or rec.paused:
            return Decision.CONTINUE
        if self.type == "promotion":
            self._objs[trial.trial_id] = trial
        if rec.resume_from >= 0 and resource <= rec.resume_from:
            # A resumed trial without a checkpoint restarted from scratch: old ground.
            return Decision.CONTINUE
        self.searcher.on_result(trial, result)
        if resource > self.max_t:
            return Decision.STOP
        table = self._tables[rec.bracket]
        idx = table.highest_at_or_below(resource)
        if idx < rec.next_rung:
            return Decision.CONTINUE
        if self.metric[0] not in result:
            # No metric in this report: decide at the next report carrying it.
            return Decision.CONTINUE
        rec.next_rung = idx + 1
        value = self.metric_value(result)
        if value is None or not math.isfinite(value):
            return Decision.STOP
        rung = table.rungs[idx]
        rung.add(trial.trial_id, value, guided=rec.guided)
        decision = self.decide_at_rung(trial.trial_id, rec, rung, idx, table, value)
        self.after_rung(rec, idx, table)
        return decision

    def decide_at_rung(
        self, trial_id: int, rec: TrialRecord, rung: Any, idx: int, table: RungTable, value: float
    ) -> Decision:
        """Stopping: continue within the quantile cutoff; promotion: pause until promoted."""
        if self.type == "promotion":
            rec.paused = True
            return Decision.PAUSE
        cutoff = self.rung_cutoff(rung)
        if cutoff is None or value <= cutoff:
            return Decision.CONTINUE
        return Decision.STOP

    def rung_cutoff(self, rung: Rung) -> float | None:
        """The cutoff at ``rung`` now: the ``1/eta`` quantile of its reference field
        (``rung_reference="prior"``, once it holds ``MIN_REFERENCE_VALUES``), else of
        all its values; None below 2 values (:meth:`Rung.cutoff`)."""
        return rung.cutoff(self._q, self._min_reference)

    def after_rung(self, rec: TrialRecord, idx: int, table: RungTable) -> None:
        """Hook after a value was recorded at a rung (PASHA grows its resource here)."""

    def _retire(self, trial_id: int) -> None:
        rec = self._trials.get(trial_id)
        if rec is not None:
            rec.done = True
            rec.paused = False
            self._tables[rec.bracket].block(trial_id)
        self._objs.pop(trial_id, None)

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The trial finished: it can never be promoted."""
        self._retire(trial.trial_id)
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """The trial failed: it can never be promoted."""
        self._retire(trial.trial_id)
        self.searcher.on_trial_error(trial)

    async def on_trial_remove(self, trial: Trial) -> None:
        """The tuner stopped the trial: it can never be promoted."""
        self._retire(trial.trial_id)

    # -- state ------------------------------------------------------------------------

    def state(self) -> ASHAState:
        """Rungs, per-trial records, random generator and searcher state as data."""
        return ASHAState(
            seed=self._seed,
            rng=rng_to_json(self._rng),
            trials=[(k, msgspec.structs.replace(v)) for k, v in self._trials.items()],
            rungs=[t.state() for t in self._tables],
            pending_brackets=[bracket for bracket, _ in self._pending],
            pending_guided=[guided for _, guided in self._pending],
            searcher=msgspec.to_builtins(self.searcher.state()),
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, ASHAState):
            state = msgspec.convert(state, ASHAState)
        self._restore_asha(state)

    def _restore_asha(self, state: ASHAState) -> None:
        if len(state.rungs) != len(self._tables):
            raise InvalidArgumentError(
                f"{self._who}: saved state has {len(state.rungs)} brackets, "
                f"this scheduler {len(self._tables)}"
            )
        self._seed = state.seed
        rng_from_json(self._rng, state.rng)
        self._trials = {k: msgspec.structs.replace(v) for k, v in state.trials}
        for table, rungs in zip(self._tables, state.rungs, strict=True):
            table.restore(rungs)
        # A state from before pending_guided existed: its pending trials count as unguided.
        missing = len(state.pending_brackets) - len(state.pending_guided)
        guided = [False] * missing + list(state.pending_guided)
        self._pending = deque(zip(state.pending_brackets, guided, strict=True))
        if state.searcher is not None:
            self.searcher.restore(state.searcher)

    def bracket_of(self, trial_id: int) -> int:
        """The bracket ``trial_id`` was assigned to (KeyError if unknown)."""
        return self._trials[trial_id].bracket

    def rung_table(self, bracket: int = 0) -> RungTable:
        """The rungs of ``bracket`` (read-only use: tests, reports)."""
        return self._tables[bracket]

    def __repr__(self) -> str:
        return (
            f"{self._who}(metric={self.metric[0]!r}, mode={self.mode[0]!r}, "
            f"type={self.type!r}, time_attr={self.time_attr!r}, max_t={self.max_t}, "
            f"rung_levels={self.levels}, brackets={self.num_brackets})"
        )


def default_bracket_probabilities(
    levels: list[int], max_t: int, num_brackets: int
) -> np.ndarray:
    """Syne Tune's default: proportional to the slots of each synchronous Hyperband bracket."""
    if num_brackets == 1:
        return np.ones(1)
    all_levels = [*levels, max_t]
    smax_plus1 = len(all_levels)
    p = np.array(
        [smax_plus1 / ((smax_plus1 - s) * all_levels[s]) for s in range(num_brackets)]
    )
    return p / p.sum()
