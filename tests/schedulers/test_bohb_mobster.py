"""BOHB and MOBSTER: multi-fidelity model-based schedulers on a simulated blackbox."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import anyio
import anyio.to_thread
import msgspec
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.config_space import config_in_space, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision, ResultEvent, TrialEndedEvent
from aiotune.schedulers.asha import ASHA
from aiotune.schedulers.bohb import BOHB
from aiotune.schedulers.mobster import MOBSTER
from aiotune.schedulers.searchers.kde import KernelDensitySearcher
from aiotune.schedulers.searchers.mf_gp import MultiFidelityGPSearcher
from aiotune.trial import Trial, TrialStatus


async def simulate(scheduler: Any, backend: SimulatorBackend, n_workers: int,
                   max_trials: int) -> dict[int, list[float]]:
    """A minimal tuner loop (as DESIGN.md's): returns the values each trial reported."""
    trials: dict[int, Trial] = {}
    curves: dict[int, list[float]] = {}
    last: dict[int, dict[str, Any]] = {}
    busy: set[int] = set()
    metric = scheduler.metric[0]

    async def fill() -> None:
        while len(busy) < n_workers:
            s = await scheduler.suggest()
            if s is None or (s.resume_trial_id is None and len(trials) >= max_trials):
                return  # past the budget only paused trials are resumed
            if s.resume_trial_id is not None:
                t = trials[s.resume_trial_id]
                t.attempt += 1
                await backend.resume_trial(t)
                busy.add(t.trial_id)
                continue
            t = Trial(trial_id=len(trials), config=s.config)
            trials[t.trial_id] = t
            curves[t.trial_id] = []
            await scheduler.on_trial_add(t)
            await backend.start_trial(t)
            busy.add(t.trial_id)

    async with backend.session(None) as events:
        await fill()
        async for ev in events:
            t = trials[ev.trial_id]
            if ev.attempt != t.attempt:
                continue  # the end of an attempt that was paused and already resumed
            if isinstance(ev, ResultEvent):
                if ev.trial_id not in busy:
                    continue
                curves[t.trial_id].append(ev.metrics[metric])
                last[t.trial_id] = ev.metrics
                decision = await scheduler.on_result(t, dict(ev.metrics))
                if decision is Decision.STOP:
                    busy.discard(t.trial_id)
                    await backend.stop_trial(t.trial_id)
                    await scheduler.on_trial_remove(t)
                elif decision is Decision.PAUSE:
                    busy.discard(t.trial_id)
                    await backend.pause_trial(t.trial_id)
            elif isinstance(ev, TrialEndedEvent):
                busy.discard(t.trial_id)
                if ev.status is TrialStatus.COMPLETED:
                    await scheduler.on_trial_complete(t, dict(last[t.trial_id]))
                elif ev.status is TrialStatus.FAILED:
                    await scheduler.on_trial_error(t)
            await fill()
    return curves


def _space(bb: SyntheticLearningCurves) -> dict[str, Any]:
    return dict(bb.config_space)


@pytest.mark.asyncio
@pytest.mark.parametrize("cls", [BOHB, MOBSTER])
@pytest.mark.parametrize("kind", ["stopping", "promotion"])
async def test_runs_on_learning_curves(cls: type, kind: str) -> None:
    bb = SyntheticLearningCurves(max_epochs=9)
    sched = cls(_space(bb), "valid_error", time_attr="epoch", max_t=9, type=kind,
                random_seed=0)
    curves = await simulate(sched, SimulatorBackend(bb, seed=0), n_workers=4, max_trials=30)
    assert len(curves) == 30
    lengths = sorted(len(c) for c in curves.values())
    assert lengths[0] < 9 and lengths[-1] == 9  # early stopping happened, some went to the end
    searcher = sched.searcher
    if cls is BOHB:
        assert isinstance(searcher, KernelDensitySearcher)
        assert searcher._training_data() is not None  # the KDE had a level with enough data
    else:
        assert isinstance(searcher, MultiFidelityGPSearcher)
        assert searcher.gp.num_fits > 0
        assert searcher.fidelity_levels == [1.0, 3.0, 9.0]
        theta, _, _ = searcher.gp.get_fit()
        assert theta[-3] >= math.log(searcher.min_fidelity_lengthscale) - 1e-12  # smooth in r
    # Only rung levels are data for the GP; every epoch for the KDE.
    state = msgspec.to_builtins(searcher.state())
    levels = {row[1] if cls is MOBSTER else row[0] for row in state["observations"]}
    assert levels <= {1.0, 3.0, 9.0} if cls is MOBSTER else len(levels) == 9


@pytest.mark.asyncio
async def test_mobster_state_and_spec_round_trip() -> None:
    bb = SyntheticLearningCurves(max_epochs=9)
    sched = MOBSTER(_space(bb), "valid_error", max_t=9, random_seed=1)
    await simulate(sched, SimulatorBackend(bb, seed=1), n_workers=2, max_trials=12)
    again = from_spec(to_spec(sched))
    again.restore(msgspec.json.decode(msgspec.json.encode(sched.state())))
    assert again.searcher.num_observations == sched.searcher.num_observations > 0
    a, b = await again.suggest(), await sched.suggest()
    assert config_in_space(bb.config_space, a.config) and config_in_space(bb.config_space, b.config)
    assert a.config == b.config


def test_mf_searcher_uses_the_highest_level_with_enough_data() -> None:
    s = MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", random_seed=0, resource_attr="epoch",
                                max_resource=9, fidelity_levels=[1, 3, 9], num_init_random=2,
                                num_min_data_points=3)
    for i in range(5):
        t = Trial(trial_id=i, config={"x": i / 5})
        s.on_trial_add(t)
        s.on_result(t, {"y": (i / 5 - 0.6) ** 2 + 0.5, "epoch": 1})
        s.on_result(t, {"y": 5.0, "epoch": 2})  # not a fidelity level: ignored
        s.on_result(t, {"y": float("nan"), "epoch": 3})  # NaN: ignored
    assert s.num_observations == 5
    for _ in range(8):
        config = s.suggest()
        assert config is not None and 0 <= config["x"] <= 1
    assert s.fidelity(9) == 1.0 and 0 < s.fidelity(1) < s.fidelity(3) < 1


def _searcher(kind: str, random_fraction: float) -> Any:
    space = {"x": uniform(0, 1), "z": uniform(0, 1)}
    common = {"random_seed": 3, "points_to_evaluate": [{"x": 0.5, "z": 0.5}],
              "resource_attr": "epoch", "max_resource": 9, "random_fraction": random_fraction}
    if kind == "kde":
        return KernelDensitySearcher(space, "y", **common)
    return MultiFidelityGPSearcher(space, "y", num_init_random=1, **common)


@pytest.mark.parametrize("kind", ["kde", "bayesopt_mf"])
@pytest.mark.parametrize("random_fraction", [0.0, 0.5, 1.0])
def test_searchers_say_which_suggestions_their_model_proposed(
    kind: str, random_fraction: float
) -> None:
    """``last_from_model``: False for points_to_evaluate and random draws, True for model picks."""
    s = _searcher(kind, random_fraction)
    assert s.suggest() == {"x": 0.5, "z": 0.5} and s.last_from_model is False
    for i in range(12):
        t = Trial(trial_id=i, config={"x": i / 12, "z": 1 - i / 12})
        s.on_trial_add(t)
        s.on_result(t, {"y": (i / 12 - 0.3) ** 2, "epoch": 9})
    flags = []
    for _ in range(30):
        assert s.suggest() is not None
        flags.append(s.last_from_model)
    share = sum(flags) / len(flags)
    if random_fraction == 0.0:
        assert share == 1.0
    elif random_fraction == 1.0:
        assert share == 0.0
    else:
        assert 0.25 <= share <= 0.75  # 30 draws of a fair coin (seeded: not flaky)


def test_mf_searcher_refuses_a_bad_random_fraction() -> None:
    with pytest.raises(InvalidArgumentError, match="random_fraction"):
        _searcher("bayesopt_mf", 1.5)


@pytest.mark.parametrize("value", [True, -0.5, 10.5, "1"])
def test_mf_searcher_refuses_a_bad_min_fidelity_lengthscale(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="min_fidelity_lengthscale"):
        MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", max_resource=9,
                                min_fidelity_lengthscale=value)


class _SlowMF(MultiFidelityGPSearcher):
    """The MOBSTER searcher with a 0.4 s model fit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fitting = threading.Event()

    def _suggest(self) -> dict[str, Any] | None:
        self.fitting.set()
        time.sleep(0.4)
        try:
            return super()._suggest()
        finally:
            self.fitting.clear()


@pytest.mark.asyncio
async def test_trials_are_stopped_on_time_while_the_model_thinks() -> None:
    space = {"x": uniform(0, 1), "epochs": 9}
    searcher = _SlowMF(space, "loss", random_seed=0, resource_attr="epoch", max_resource=9,
                       num_init_random=0)
    sched = ASHA(space, "loss", time_attr="epoch", max_t=9, searcher=searcher)
    trials = [Trial(trial_id=i, config={"x": i / 10, "epochs": 9}) for i in range(6)]
    for t in trials:
        await sched.on_trial_add(t)
    for t in trials[:3]:  # fill rung 1 with good values
        await sched.on_result(t, {"loss": 0.1 * t.trial_id, "epoch": 1})
    latencies: list[float] = []
    decisions: list[Decision] = []

    async def think() -> None:
        await sched.suggest()

    async with anyio.create_task_group() as tg:
        tg.start_soon(think)
        await anyio.to_thread.run_sync(searcher.fitting.wait)
        for t in trials[3:]:  # bad values reach rung 1 while the GP is being fitted
            t0 = time.perf_counter()
            decisions.append(await sched.on_result(t, {"loss": 5.0 + t.trial_id, "epoch": 1}))
            latencies.append(time.perf_counter() - t0)
            assert searcher.fitting.is_set()
            await anyio.sleep(0.01)
    assert decisions == [Decision.STOP] * 3
    assert max(latencies) < 0.020, latencies
