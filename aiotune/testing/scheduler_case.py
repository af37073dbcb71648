"""A reusable conformance suite every scheduler passes (like optuna's storage tests).

Subclass :class:`SchedulerTestCase` in a test module, name the subclass
``Test...`` and implement :meth:`~SchedulerTestCase.make_scheduler`; pytest then
runs the whole battery against your scheduler::

    class TestMyScheduler(SchedulerTestCase):
        def make_scheduler(self, config_space, metric, mode, seed):
            return MyScheduler(config_space, metric=metric, mode=mode, random_seed=seed)

Trials are driven one at a time, deterministically: each suggested config is
added as a trial and reports ``max_epochs`` results (``{metric: value,
time_attr: epoch}``) unless the scheduler stops or pauses it. Multi-fidelity
schedulers should use :attr:`time_attr` and :attr:`max_epochs`. Needs pytest
and pytest-asyncio (the ``test`` extra).
"""

from __future__ import annotations

import copy
import math
import zlib
from typing import Any

import msgspec
import pytest

from ..config_space import check_config, choice, finrange, loguniform, ordinal, randint, uniform
from ..events import Decision, Suggestion
from ..schedulers.base import Scheduler
from ..trial import Trial, TrialStatus

__all__ = ["SchedulerDriver", "SchedulerTestCase", "objective"]


def objective(config: dict[str, Any], epoch: int) -> float:
    """A deterministic, config-dependent metric value that improves with ``epoch``."""
    blob = msgspec.json.encode(sorted(config.items(), key=lambda kv: kv[0]))
    return zlib.crc32(blob) / 2**32 + 1.0 / epoch


def _json_round_trip(state: msgspec.Struct) -> msgspec.Struct:
    """Encode a state to JSON and decode it with its own type (fails on NaN in float fields)."""
    return msgspec.json.decode(msgspec.json.encode(state), type=type(state))


class SchedulerDriver:
    """Plays the tuner for a scheduler, one trial at a time, and records what it suggested."""

    def __init__(
        self, scheduler: Scheduler, metric: str, time_attr: str = "epoch", max_epochs: int = 3
    ) -> None:
        self.scheduler = scheduler
        self.metric = metric
        self.time_attr = time_attr
        self.max_epochs = max_epochs
        self.trials: dict[int, Trial] = {}
        self.epochs: dict[int, int] = {}
        self.next_id = 0
        self.suggestions: list[Suggestion] = []

    def fork(self, scheduler: Scheduler) -> SchedulerDriver:
        """A copy of this driver's trial bookkeeping that drives ``scheduler`` from here on."""
        other = SchedulerDriver(scheduler, self.metric, self.time_attr, self.max_epochs)
        other.trials = copy.deepcopy(self.trials)
        other.epochs = dict(self.epochs)
        other.next_id = self.next_id
        return other

    def result(self, config: dict[str, Any], epoch: int) -> dict[str, Any]:
        """The report a trial with ``config`` makes at ``epoch``."""
        return {self.metric: objective(config, epoch), self.time_attr: epoch}

    async def start(self, suggestion: Suggestion) -> Trial:
        """Create (or resume) the trial a suggestion asks for."""
        if suggestion.resume_trial_id is not None:
            trial = self.trials.get(suggestion.resume_trial_id)
            if trial is None:
                raise AssertionError(f"resume of unknown trial {suggestion.resume_trial_id}")
            if trial.status is not TrialStatus.PAUSED:
                raise AssertionError(f"resume of trial {trial.trial_id} in state {trial.status}")
            if suggestion.config is not None:
                trial.config = dict(suggestion.config)
            trial.status = TrialStatus.RUNNING
            return trial
        if suggestion.config is None:
            raise AssertionError(f"suggestion {suggestion!r} has neither config nor resume id")
        trial = Trial(
            trial_id=self.next_id, config=dict(suggestion.config), status=TrialStatus.RUNNING
        )
        self.next_id += 1
        self.trials[trial.trial_id] = trial
        self.epochs[trial.trial_id] = 0
        await self.scheduler.on_trial_add(trial)
        return trial

    async def run(self, trial: Trial) -> None:
        """Report epochs until the trial completes or the scheduler stops or pauses it."""
        last: dict[str, Any] | None = None
        while self.epochs[trial.trial_id] < self.max_epochs:
            epoch = self.epochs[trial.trial_id] + 1
            self.epochs[trial.trial_id] = epoch
            last = self.result(trial.config, epoch)
            decision = await self.scheduler.on_result(trial, last)
            if not isinstance(decision, Decision):
                raise AssertionError(f"on_result returned {decision!r}, not a Decision")
            if decision is Decision.STOP:
                trial.status = TrialStatus.STOPPED
                return
            if decision is Decision.PAUSE:
                trial.status = TrialStatus.PAUSED
                return
        trial.status = TrialStatus.COMPLETED
        await self.scheduler.on_trial_complete(trial, last or {})

    async def step(self) -> Suggestion | None:
        """One suggestion, started and run; None when the scheduler has nothing more."""
        suggestion = await self.scheduler.suggest()
        if suggestion is None:
            return None
        if not isinstance(suggestion, Suggestion):
            raise AssertionError(f"suggest returned {suggestion!r}, not a Suggestion")
        self.suggestions.append(suggestion)
        trial = await self.start(suggestion)
        await self.run(trial)
        return suggestion

    async def steps(self, n: int) -> list[Suggestion]:
        """Up to ``n`` steps (fewer if the scheduler runs out)."""
        out: list[Suggestion] = []
        for _ in range(n):
            s = await self.step()
            if s is None:
                break
            out.append(s)
        return out


class SchedulerTestCase:
    """The battery every scheduler must pass; subclasses implement :meth:`make_scheduler`.

    Class attributes tune the battery: :attr:`time_attr`/:attr:`max_epochs`
    (what trials report), :attr:`num_configs` (how many suggestions the
    determinism checks compare), :attr:`supports_exhaustion` (False for
    schedulers that never run out, e.g. ones that mutate configs forever).
    """

    metric: str = "loss"
    time_attr: str = "epoch"
    max_epochs: int = 3
    num_configs: int = 20
    supports_exhaustion: bool = True
    max_steps_to_exhaust: int = 200

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        """Build the scheduler under test (override this)."""
        raise NotImplementedError("SchedulerTestCase subclasses must implement make_scheduler")

    def make_config_space(self) -> dict[str, Any]:
        """The mixed space most checks use (override to adapt)."""
        return {
            "x": uniform(-1.0, 1.0),
            "lr": loguniform(1e-4, 1e-1),
            "layers": randint(1, 8),
            "act": choice(["relu", "tanh", "gelu"]),
            "width": ordinal([16, 32, 64]),
            "dropout": finrange(0.0, 0.5, 6),
            "batch_size": 32,
        }

    def make_tiny_config_space(self) -> dict[str, Any]:
        """A finite space of 4 configurations, for the exhaustion check."""
        return {"a": choice([1, 2]), "b": choice(["x", "y"]), "fixed": 7}

    def driver(self, scheduler: Scheduler) -> SchedulerDriver:
        """The tuner stand-in used by every check."""
        return SchedulerDriver(scheduler, self.metric, self.time_attr, self.max_epochs)

    def _check_suggestion(self, space: dict[str, Any], suggestion: Suggestion) -> None:
        if suggestion.config is not None:
            check_config(space, suggestion.config)

    # -- the battery ------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("mode", ["min", "max"])
    async def test_scheduler_protocol(self, mode: str) -> None:
        """The object has the protocol's methods and list-valued metric/mode; state is a Struct."""
        scheduler = self.make_scheduler(self.make_config_space(), self.metric, mode, 0)
        assert isinstance(scheduler, Scheduler)
        assert scheduler.metric[0] == self.metric
        assert scheduler.mode[0] == mode
        assert isinstance(scheduler.state(), msgspec.Struct)
        assert isinstance(repr(scheduler), str)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("mode", ["min", "max"])
    async def test_suggestions_inside_space(self, mode: str) -> None:
        """Every suggested config is a valid config of the space (checked by check_config)."""
        space = self.make_config_space()
        driver = self.driver(self.make_scheduler(space, self.metric, mode, 1))
        suggestions = await driver.steps(self.num_configs)
        assert suggestions, "the scheduler suggested nothing on an infinite space"
        for s in suggestions:
            self._check_suggestion(space, s)

    @pytest.mark.asyncio
    async def test_same_seed_same_configs(self) -> None:
        """Two schedulers with the same seed, fed the same results, suggest the same configs."""
        space = self.make_config_space()
        a = await self.driver(self.make_scheduler(space, self.metric, "min", 3)).steps(
            self.num_configs
        )
        b = await self.driver(self.make_scheduler(space, self.metric, "min", 3)).steps(
            self.num_configs
        )
        assert len(a) == len(b) > 0
        assert a == b

    @pytest.mark.asyncio
    async def test_state_round_trip_continues_sequence(self) -> None:
        """state() through msgspec JSON into a fresh scheduler continues the same sequence."""
        space = self.make_config_space()
        half = max(1, self.num_configs // 2)
        original = self.driver(self.make_scheduler(space, self.metric, "min", 5))
        await original.steps(half)
        state = original.scheduler.state()
        assert isinstance(state, msgspec.Struct)
        decoded = _json_round_trip(state)
        restored_scheduler = self.make_scheduler(space, self.metric, "min", 5)
        restored_scheduler.restore(decoded)
        restored = original.fork(restored_scheduler)
        expected = await original.steps(half)
        got = await restored.steps(half)
        assert got == expected

    @pytest.mark.asyncio
    async def test_nan_and_missing_metric(self) -> None:
        """NaN, inf and missing metric values are survivable and still yield Decisions."""
        space = self.make_config_space()
        scheduler = self.make_scheduler(space, self.metric, "min", 7)
        driver = self.driver(scheduler)
        bad_results = [
            {self.metric: math.nan},
            {},
            {self.metric: math.inf},
            {self.metric: -math.inf},
        ]
        for i in range(6):
            suggestion = await scheduler.suggest()
            assert suggestion is not None
            self._check_suggestion(space, suggestion)
            trial = await driver.start(suggestion)
            last: dict[str, Any] = {}
            for epoch in range(1, self.max_epochs + 1):
                last = dict(bad_results[(i + epoch) % len(bad_results)])
                last[self.time_attr] = epoch
                decision = await scheduler.on_result(trial, last)
                assert isinstance(decision, Decision)
                if decision is not Decision.CONTINUE:
                    break
            else:
                trial.status = TrialStatus.COMPLETED
                await scheduler.on_trial_complete(trial, last)
        # Good results after bad ones still work, and so does saving.
        assert await driver.steps(3)
        _json_round_trip(scheduler.state())

    @pytest.mark.asyncio
    async def test_trial_error(self) -> None:
        """A failed trial (before or after reporting) does not break later suggestions."""
        space = self.make_config_space()
        scheduler = self.make_scheduler(space, self.metric, "min", 11)
        driver = self.driver(scheduler)
        for reports in (0, 1):
            suggestion = await scheduler.suggest()
            assert suggestion is not None
            trial = await driver.start(suggestion)
            for epoch in range(1, reports + 1):
                await scheduler.on_result(trial, driver.result(trial.config, epoch))
            trial.status = TrialStatus.FAILED
            await scheduler.on_trial_error(trial)
        for s in await driver.steps(4):
            self._check_suggestion(space, s)
        _json_round_trip(scheduler.state())

    @pytest.mark.asyncio
    async def test_exhaustion_without_duplicates(self) -> None:
        """On a 4-config space the scheduler returns None eventually and repeats nothing."""
        if not self.supports_exhaustion:
            pytest.skip("this scheduler never runs out of configurations")
        space = self.make_tiny_config_space()
        driver = self.driver(self.make_scheduler(space, self.metric, "min", 13))
        new_configs: list[dict[str, Any]] = []
        for _ in range(self.max_steps_to_exhaust):
            s = await driver.step()
            if s is None:
                break
            self._check_suggestion(space, s)
            if s.resume_trial_id is None:
                assert s.config is not None
                new_configs.append(s.config)
        else:
            raise AssertionError(
                f"no None after {self.max_steps_to_exhaust} suggestions on a 4-config space"
            )
        keys = [msgspec.json.encode(sorted(c.items())) for c in new_configs]
        assert len(keys) == len(set(keys)), f"repeated configs: {new_configs}"
        assert await driver.scheduler.suggest() is None
