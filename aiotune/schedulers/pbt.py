"""Population based training (Jaderberg et al., 2017), with Syne Tune's argument names.

The first ``population_size`` trials get configs from the searcher. Whenever a
trial has trained ``perturbation_interval`` more units of ``time_attr`` since
its last check, its latest value is ranked among the population's: a trial in
the bottom ``quantile_fraction`` is stopped and replaced by a new trial that
*exploits* a donor drawn from the top quantile — it starts from the donor's
checkpoint (``Suggestion.start(config, checkpoint_from=donor)``; the backend
copies the checkpoint) — and *explores* by perturbing the donor's config: with
probability ``resample_probability`` a hyperparameter is resampled, else a
continuous value is multiplied by 0.8 or 1.2 (clipped), an integer or ordered
value moves to a neighbour, and a categorical one is resampled. A
``custom_explore_fn(config) -> config`` replaces that rule. NaN is never good:
such a trial is exploited like a bottom one and is never a donor. A trial that
reached ``max_t`` is no donor either (a clone would have nothing left to
train); ``max_t`` is, as in Syne Tune, taken from the config space when not
given: ``config_space[max_resource_attr]``, or with the default ``time_attr``
"epoch" an int constant named "epochs", "max_t" or "max_epochs".
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from .._spec import component
from ..config_space import Categorical, Domain, FiniteRange, Float, Integer, Ordinal
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._scheduler_args import (
    build_searcher,
    check_positive,
    check_seed,
    infer_max_t,
    max_t_in_space,
    read_resource,
    resource_name,
)
from .base import BaseScheduler
from .searchers.base import rng_from_json, rng_to_json

__all__ = ["PBTState", "PopulationBasedTraining", "perturb_config"]


def perturb_config(
    config_space: Mapping[str, Any],
    config: Mapping[str, Any],
    rng: np.random.Generator,
    resample_probability: float,
) -> dict[str, Any]:
    """PBT's explore step applied to every hyperparameter of ``config``."""
    out = dict(config)
    for name, domain in config_space.items():
        if not isinstance(domain, Domain):
            continue
        if name not in config or rng.random() < resample_probability:
            out[name] = domain.sample(rng)
            continue
        value = config[name]
        up = bool(rng.random() < 0.5)
        if isinstance(domain, Float):
            new = float(value) * (1.2 if up else 0.8)
            out[name] = min(max(new, domain.lower), domain.upper)
        elif isinstance(domain, Integer):
            new = int(round(int(value) * (1.2 if up else 0.8)))
            if new == value:
                new = int(value) + (1 if up else -1)
            out[name] = min(max(new, domain.lower), domain.upper)
        elif isinstance(domain, Ordinal | FiniteRange) and not isinstance(domain, Categorical):
            values = domain.values()
            try:
                i = values.index(domain.cast(value))
            except Exception:
                out[name] = domain.sample(rng)
                continue
            out[name] = values[min(max(i + (1 if up else -1), 0), len(values) - 1)]
        else:
            out[name] = domain.sample(rng)
    return out


class _Member(msgspec.Struct, array_like=True):
    """Per trial: config, last perturbation time, last score (None = none/NaN), alive."""

    config: dict[str, Any]
    last_time: float = 0.0
    score: float | None = None
    alive: bool = True
    time: float = 0.0


class PBTState(msgspec.Struct, tag="pbt", kw_only=True):
    """Everything PBT needs to continue exactly where it was."""

    seed: int
    rng: dict[str, Any]
    members: list[tuple[int, _Member]]
    queue: list[int]
    pending: list[int]
    num_started: int
    searcher: Any = None


@component
class PopulationBasedTraining(BaseScheduler):
    """Population based training: exploit a top trial's checkpoint, explore its config."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        population_size: int = 4,
        perturbation_interval: float = 60,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str = "random",
        searcher_kwargs: dict[str, Any] | None = None,
        max_t: float | None = None,
        resource_attr: str | None = None,
        max_resource_attr: str | None = None,
    ) -> None:
        who = type(self).__name__
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"{who}: metric must be one non-empty name, got {metric!r}")
        super().__init__(metric, mode)
        time_attr = resource_name(who, time_attr, resource_attr)
        if (
            isinstance(population_size, bool)
            or not isinstance(population_size, int)
            or population_size < 2
        ):
            raise InvalidArgumentError(
                f"{who}: population_size must be an int >= 2, got {population_size!r}"
            )
        check_positive(who, "perturbation_interval", perturbation_interval, 1e-12)
        if not isinstance(quantile_fraction, int | float) or not 0 < quantile_fraction <= 0.5:
            raise InvalidArgumentError(
                f"{who}: quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}"
            )
        if not isinstance(resample_probability, int | float) or not 0 <= resample_probability <= 1:
            raise InvalidArgumentError(
                f"{who}: resample_probability must be in [0, 1], got {resample_probability!r}"
            )
        if searcher_kwargs and "restrict_configurations" in searcher_kwargs:
            raise InvalidArgumentError(
                f"{who}: restrict_configurations is not supported: the explore step "
                "perturbs a donor's config, which leaves a table's rows"
            )
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise InvalidArgumentError(f"{who}: custom_explore_fn must be callable")
        if max_t is not None:
            check_positive(who, "max_t", max_t, 1e-12)
        elif max_resource_attr is not None:
            max_t = infer_max_t(config_space, None, max_resource_attr, who)
        elif time_attr == "epoch" and (found := max_t_in_space(config_space, None)) is not None:
            max_t = infer_max_t(config_space, found, None, who)  # checked as a given max_t
        self.config_space = config_space
        self.time_attr = time_attr
        self.population_size = population_size
        self.perturbation_interval = float(perturbation_interval)
        self.quantile_fraction = float(quantile_fraction)
        self.resample_probability = float(resample_probability)
        self.custom_explore_fn = custom_explore_fn
        self.max_t = max_t
        self._who = who
        self._seed = check_seed(who, random_seed)
        self._rng = np.random.default_rng([self._seed, 2])
        self._members: dict[int, _Member] = {}
        self._ranked: list[tuple[float, int]] = []  # (score, trial) of scored, usable members
        self._queue: deque[int] = deque()  # donors whose clone is to be started
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._num_started = 0
        self.searcher = build_searcher(
            searcher, config_space, metric, mode, self._seed, points_to_evaluate, searcher_kwargs
        )

    # -- ranking ----------------------------------------------------------------------

    def _unrank(self, trial_id: int) -> None:
        m = self._members.get(trial_id)
        if m is not None and m.score is not None:
            i = bisect.bisect_left(self._ranked, (m.score, trial_id))
            if i < len(self._ranked) and self._ranked[i] == (m.score, trial_id):
                del self._ranked[i]

    def _quantile_size(self) -> int:
        n = len(self._ranked)
        if n <= 1:
            return 0
        k = int(math.ceil(n * self.quantile_fraction))
        return min(k, n // 2)

    def _is_donor(self, trial_id: int) -> bool:
        m = self._members.get(trial_id)
        return m is not None and m.alive and m.score is not None

    def _draw_donor(self) -> int | None:
        k = self._quantile_size()
        if k == 0:
            return None
        return self._ranked[int(self._rng.integers(k))][1]

    # -- scheduler protocol -----------------------------------------------------------

    async def suggest(self) -> Suggestion | None:
        """A clone of a queued donor, else a new member, else a clone of a top trial."""
        donor: int | None = None
        if self._queue:
            donor = self._queue.popleft()
            if not self._is_donor(donor):
                donor = self._draw_donor()  # it finished meanwhile: another top trial
        elif self._num_started >= self.population_size:
            donor = self._draw_donor()
        if donor is None:
            config = self.searcher.suggest()
            if config is None:
                return None
            self._pending.append((-1, config))
            return Suggestion.start(config)
        base = self._members[donor].config
        if self.custom_explore_fn is not None:
            config = dict(self.custom_explore_fn(dict(base)))
        else:
            config = perturb_config(self.config_space, base, self._rng, self.resample_probability)
        self._pending.append((donor, config))
        return Suggestion.start(config, checkpoint_from=donor)

    async def on_trial_add(self, trial: Trial) -> None:
        """Register the new member; a clone starts at its donor's time."""
        donor = self._pending.popleft()[0] if self._pending else -1
        member = _Member(config=dict(trial.config))
        if donor >= 0 and donor in self._members:
            member.last_time = member.time = self._members[donor].time
        self._members[trial.trial_id] = member
        self._num_started += 1
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """At each perturbation interval: stop a bottom-quantile trial and queue a clone."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        m = self._members.get(trial.trial_id)
        if m is None:
            m = self._members[trial.trial_id] = _Member(config=dict(trial.config))
        if not m.alive:
            return Decision.CONTINUE
        self.searcher.on_result(trial, result)
        m.time = resource
        if self.max_t is not None and resource >= self.max_t:
            self._unrank(trial.trial_id)  # finishing: nothing left to clone from it
            m.score = None
            return Decision.CONTINUE if resource == self.max_t else Decision.STOP
        if resource - m.last_time < self.perturbation_interval or self.metric[0] not in result:
            return Decision.CONTINUE
        m.last_time = resource
        value = self.metric_value(result)
        self._unrank(trial.trial_id)
        if value is None or not math.isfinite(value):
            m.score = None
        else:
            m.score = value
            bisect.insort(self._ranked, (value, trial.trial_id))
        k = self._quantile_size()
        if m.score is not None:
            if k == 0 or bisect.bisect_left(self._ranked, (m.score, trial.trial_id)) < (
                len(self._ranked) - k
            ):
                return Decision.CONTINUE
        donor = self._draw_donor()
        if donor is None or donor == trial.trial_id:
            return Decision.CONTINUE
        self._queue.append(donor)
        self._retire(trial.trial_id)
        return Decision.STOP

    def _retire(self, trial_id: int) -> None:
        self._unrank(trial_id)
        m = self._members.get(trial_id)
        if m is not None:
            m.alive = False
            m.score = None

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """A finished member is no donor: a clone of it would have nothing left to train."""
        self._retire(trial.trial_id)
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """A failed member is never a donor."""
        self._retire(trial.trial_id)
        self.searcher.on_trial_error(trial)

    async def on_trial_remove(self, trial: Trial) -> None:
        """A member stopped by the tuner is no donor any more."""
        self._retire(trial.trial_id)

    # -- state ------------------------------------------------------------------------

    def state(self) -> PBTState:
        """Members, queue, random generator and searcher state as data."""
        return PBTState(
            seed=self._seed,
            rng=rng_to_json(self._rng),
            members=[(k, msgspec.structs.replace(v)) for k, v in self._members.items()],
            queue=list(self._queue),
            pending=[d for d, _ in self._pending],
            num_started=self._num_started,
            searcher=msgspec.to_builtins(self.searcher.state()),
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, PBTState):
            state = msgspec.convert(state, PBTState)
        self._seed = state.seed
        rng_from_json(self._rng, state.rng)
        self._members = {k: msgspec.structs.replace(v) for k, v in state.members}
        self._ranked = sorted(
            (m.score, k) for k, m in self._members.items() if m.score is not None
        )
        self._queue = deque(state.queue)
        self._pending = deque((d, {}) for d in state.pending)
        self._num_started = state.num_started
        if state.searcher is not None:
            self.searcher.restore(state.searcher)

    def __repr__(self) -> str:
        return (
            f"{self._who}(metric={self.metric[0]!r}, mode={self.mode[0]!r}, "
            f"population_size={self.population_size}, "
            f"perturbation_interval={self.perturbation_interval})"
        )
