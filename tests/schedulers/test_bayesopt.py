"""The "bayesopt" searcher and the BayesianOptimization scheduler."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import anyio
import anyio.to_thread
import msgspec
import numpy as np
import pytest

from aiotune.config_space import (
    choice,
    config_in_space,
    finrange,
    loguniform,
    ordinal,
    randint,
    uniform,
)
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers.bayesian_optimization import BayesianOptimization
from aiotune.schedulers.fifo import FIFOScheduler
from aiotune.schedulers.searchers.bayesopt import BayesOptSearcher
from aiotune.schedulers.searchers.gp.encoding import SpaceEncoder
from aiotune.testing import drive_searcher as _run
from aiotune.trial import Trial

MIXED = {
    "lr": loguniform(1e-4, 1.0),
    "layers": randint(1, 8),
    "act": choice(["relu", "tanh", "gelu"]),
    "width": ordinal([16, 32, 64, 128]),
    "drop": finrange(0.0, 0.5, 6),
    "epochs": 10,
}


def _mixed_objective(c: dict[str, Any]) -> float:
    return (
        (math.log10(c["lr"]) + 2.0) ** 2
        + (c["layers"] - 5) ** 2 / 4.0
        + {"relu": 0.0, "tanh": 1.0, "gelu": 2.0}[c["act"]]
        + c["drop"]
    )




def test_encoding_round_trips_categorical_integer_and_finite_domains() -> None:
    enc = SpaceEncoder(MIXED)
    rng = np.random.default_rng(0)
    X = enc.random(300, rng)
    for x in X:
        config = enc.decode(x)
        assert config_in_space(MIXED, config)
        assert isinstance(config["layers"], int) and config["epochs"] == 10
        np.testing.assert_allclose(enc.encode(config), x, atol=1e-12)
        assert enc.decode(enc.encode(config)) == config
    # Relaxed points (off-grid, non one-hot) round to valid encodings of what they decode to.
    for x in rng.random((100, enc.dim)):
        p = enc.project(x[None])[0]
        assert enc.decode(x) == enc.decode(p)
        np.testing.assert_allclose(enc.encode(enc.decode(p)), p, atol=1e-12)
    assert set(X[:, 2:5].sum(1)) == {1.0}  # the choice is one-hot
    assert {enc.decode(x)["act"] for x in X} == {"relu", "tanh", "gelu"}


def test_mixed_space_suggestions_are_valid_and_improve() -> None:
    s = BayesOptSearcher(MIXED, "y", random_seed=1, num_init_random=6)
    configs = _run(s, _mixed_objective, 25)
    assert all(config_in_space(MIXED, c) for c in configs)
    values = [_mixed_objective(c) for c in configs]
    assert min(values[6:]) < min(values[:6])
    assert min(values) < 1.0


def test_planted_optimum_is_found() -> None:
    space = {"a": uniform(0, 1), "b": uniform(0, 1), "c": uniform(0, 1)}

    def f(c: dict[str, Any]) -> float:
        return (c["a"] - 0.21) ** 2 + (c["b"] - 0.77) ** 2 + (c["c"] - 0.5) ** 2

    s = BayesOptSearcher(space, "y", random_seed=3)
    configs = _run(s, f, 30)
    best = min(configs, key=f)
    assert f(best) < 1e-3, best


def test_mode_max_maximizes() -> None:
    space = {"x": uniform(-1, 1)}
    s = BayesOptSearcher(space, "y", mode="max", random_seed=0)
    configs = _run(s, lambda c: -((c["x"] - 0.4) ** 2), 15)
    assert min(abs(c["x"] - 0.4) for c in configs) < 0.02


def test_same_seed_same_run() -> None:
    runs = [
        _run(BayesOptSearcher(MIXED, "y", random_seed=7), _mixed_objective, 14) for _ in range(2)
    ]
    assert runs[0] == runs[1]
    other = _run(BayesOptSearcher(MIXED, "y", random_seed=8), _mixed_objective, 14)
    assert other != runs[0]


@pytest.mark.parametrize("strategy", ["kriging_believer", "constant_liar"])
def test_pending_trials_get_distinct_points(strategy: str) -> None:
    space = {"x": uniform(0, 1), "y2": uniform(0, 1)}
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=5,
                         pending_strategy=strategy)
    _run(s, lambda c: (c["x"] - 0.3) ** 2 + (c["y2"] - 0.6) ** 2, 8)
    batch = []
    for i in range(100, 104):  # 4 workers: nothing completes in between
        config = s.suggest()
        s.on_trial_add(Trial(trial_id=i, config=config))
        batch.append(np.array([config["x"], config["y2"]]))
    dists = [np.linalg.norm(a - b) for i, a in enumerate(batch) for b in batch[i + 1 :]]
    assert min(dists) > 1e-3, batch


def test_finite_space_never_repeats_and_ends() -> None:
    space = {"a": choice(["x", "y", "z"]), "b": randint(0, 2)}
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=2)
    configs = _run(s, lambda c: c["b"] + (c["a"] == "y"), 9)
    assert len({(c["a"], c["b"]) for c in configs}) == 9
    assert s.suggest() is None


def test_degenerate_data_neither_crashes_nor_stalls() -> None:
    space = {"x": uniform(0, 1), "c": choice([1, 2])}
    # All-equal metrics.
    t0 = time.perf_counter()
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=2)
    assert all(config_in_space(space, c) for c in _run(s, lambda c: 1.0, 8))
    # NaN and missing results are ignored: the model only sees the usable values.
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=2)
    configs = _run(s, lambda c: math.nan if c["x"] < 0.5 else c["x"], 10)
    assert s.num_observations == sum(c["x"] >= 0.5 for c in configs)
    trial = Trial(trial_id=99, config=s.suggest())
    s.on_trial_add(trial)
    s.on_result(trial, {"other": 1.0})
    s.on_trial_complete(trial, {"y": float("nan")})
    # A single observation, and only NaN so far.
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=1)
    _run(s, lambda c: 0.5, 1)
    assert config_in_space(space, s.suggest())
    s = BayesOptSearcher(space, "y", random_seed=0, num_init_random=1)
    _run(s, lambda c: math.nan, 3)
    assert config_in_space(space, s.suggest())
    assert time.perf_counter() - t0 < 20.0


def test_failed_trial_stops_being_pending_and_keeps_its_data() -> None:
    s = BayesOptSearcher({"x": uniform(0, 1)}, "y", random_seed=0)
    trial = Trial(trial_id=0, config=s.suggest())
    s.on_trial_add(trial)
    s.on_result(trial, {"y": 0.3})
    s.on_trial_error(trial)
    assert s.num_observations == 1
    assert s.state().pending == []


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="num_candidates"):
        BayesOptSearcher({"x": uniform(0, 1)}, "y", num_candidates=0)
    with pytest.raises(InvalidArgumentError, match="pending_strategy"):
        BayesOptSearcher({"x": uniform(0, 1)}, "y", pending_strategy="fantasy")
    with pytest.raises(InvalidArgumentError, match="refit_fraction"):
        BayesOptSearcher({"x": uniform(0, 1)}, "y", refit_fraction=-1)


def test_state_round_trip_continues_identically() -> None:
    a = BayesOptSearcher(MIXED, "y", random_seed=4, num_init_random=4)
    _run(a, _mixed_objective, 8)
    data = msgspec.json.encode(a.state())
    b = BayesOptSearcher(MIXED, "y", random_seed=99, num_init_random=4)
    b.restore(msgspec.json.decode(data))
    assert _run(a, _mixed_objective, 3, start=8) == _run(b, _mixed_objective, 3, start=8)


class _SlowBO(BayesOptSearcher):
    """BO whose model fit takes 0.4 s (a stand-in for a big GP)."""

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
async def test_slow_fit_does_not_block_results_of_other_trials() -> None:
    space = {"x": uniform(0, 1)}
    searcher = _SlowBO(space, "y", random_seed=0, num_init_random=2)
    sched = FIFOScheduler(space, "y", searcher=searcher)
    running = []
    for i in range(3):
        s = await sched.suggest()
        trial = Trial(trial_id=i, config=s.config)
        await sched.on_trial_add(trial)
        running.append(trial)
    latencies: list[float] = []
    suggested: list[Any] = []

    async def think() -> None:
        suggested.append(await sched.suggest())

    async with anyio.create_task_group() as tg:
        tg.start_soon(think)
        await anyio.to_thread.run_sync(searcher.fitting.wait)
        step = 0
        while searcher.fitting.is_set():
            trial = running[step % 3]
            t0 = time.perf_counter()
            decision = await sched.on_result(trial, {"y": trial.config["x"], "epoch": step})
            latencies.append(time.perf_counter() - t0)
            assert decision is Decision.CONTINUE
            step += 1
            await anyio.sleep(0.01)
    assert len(latencies) >= 10  # reports kept flowing while the model was fitted
    assert max(latencies) < 0.020, max(latencies)
    assert suggested[0] is not None and searcher.num_observations == 3


@pytest.mark.asyncio
async def test_scheduler_runs_branin_sequentially() -> None:
    space = {"x1": uniform(-5, 10), "x2": uniform(0, 15)}

    def branin(c: dict[str, Any]) -> float:
        x1, x2 = c["x1"], c["x2"]
        return (
            (x2 - 5.1 / (4 * np.pi**2) * x1**2 + 5 / np.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * np.pi)) * np.cos(x1)
            + 10
        )

    sched = BayesianOptimization(space, "loss", random_seed=0)
    best = math.inf
    for i in range(25):
        s = await sched.suggest()
        trial = Trial(trial_id=i, config=s.config)
        await sched.on_trial_add(trial)
        value = branin(s.config)
        best = min(best, value)
        assert await sched.on_result(trial, {"loss": value}) is Decision.CONTINUE
        await sched.on_trial_complete(trial, {"loss": value})
    assert best - 0.397887 < 0.05
    restored = BayesianOptimization(space, "loss", random_seed=0)
    restored.restore(msgspec.json.decode(msgspec.json.encode(sched.state())))
    # The restored model rebuilds the Cholesky factor as the original grew it: same floats.
    assert (await restored.suggest()).config == (await sched.suggest()).config


def test_tuner_with_simulator_and_four_workers(tmp_path: Any, monkeypatch: Any) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.synthetic import Branin
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = Branin()
    sched = BayesianOptimization(bb.config_space, bb.metric, random_seed=0)
    tuner = Tuner(SimulatorBackend(bb, seed=0), sched,
                  StoppingCriterion(max_num_trials_started=24), n_workers=4,
                  print_update_interval=1e9, save_tuner=False)
    tuner.run()
    assert tuner.status.num_trials_started == 25  # "more than 24", as in Syne Tune
    _, config = tuner.best_config()
    assert bb.learning_curve(config)["value"][0] - bb.optimum_value < 0.5
    configs = [(c["x1"], c["x2"]) for _, c, _ in sched.searcher.state().observations]
    assert len(set(configs)) == len(configs)  # parallel workers never got the same point
