"""Conformal quantile regression: the corrections by hand, coverage, the ``"cqr"`` searcher,
and CQR / ASHACQR through the tuner on the simulator."""

from __future__ import annotations

import math
import sys
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.blackbox.synthetic import Branin
from aiotune.config_space import choice, config_in_space, randint, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import ASHACQR, CQR
from aiotune.schedulers.searchers.base import resolve_searcher
from aiotune.schedulers.searchers.cqr import (
    CQRSearcher,
    QuantileModel,
    conformal_corrections,
    default_quantile_levels,
)
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.stopping import StoppingCriterion
from aiotune.testing import drive_searcher as _run
from aiotune.trial import Trial
from aiotune.tuner import Tuner

SPACE = {"x1": uniform(-5, 10), "x2": uniform(0, 15)}
FAST = {"model_kwargs": {"n_estimators": 20}}


def branin(c: dict[str, Any]) -> float:
    bb = Branin()
    return float(bb.evaluate(c)[bb.metric])




def test_levels_as_syne_tune() -> None:
    assert default_quantile_levels(5).tolist() == [0.17, 0.33, 0.5, 0.67, 0.83]
    assert default_quantile_levels(3).tolist() == [0.25, 0.5, 0.75]


def test_conformal_corrections_by_hand() -> None:
    """Band [0.5, 1.5] for four held-out values 0, 1, 2, 3: scores max(lo - y, y - hi) are
    0.5, -0.5, 0.5, 1.5; coverage 1/2 asks for the ceil(5 * 0.5) = 3rd smallest, 0.5."""
    levels = np.array([0.25, 0.5, 0.75])
    preds = np.tile([0.5, 1.0, 1.5], (4, 1))
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert conformal_corrections(levels, preds, y).tolist() == [-0.5, 0.0, 0.5]
    # A band already too wide is narrowed (negative scores); rank capped at m.
    wide = np.tile([-10.0, 1.0, 10.0], (4, 1))
    assert conformal_corrections(levels, wide, y).tolist() == [8.0, 0.0, -8.0]
    narrow_levels = np.array([0.01, 0.5, 0.99])
    assert conformal_corrections(narrow_levels, preds, y)[2] == 1.5  # the largest score


def test_conformalized_bands_cover_new_data_at_their_rate() -> None:
    """Heteroscedastic data, 100 points: the trees' own 0.17-0.83 band covers about half of
    fresh points (0.52 here); conformalized, the nominal two thirds."""
    rng = np.random.default_rng(0)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.random((n, 2))
        return X, X[:, 0] + (0.1 + X[:, 1]) * rng.standard_normal(n)

    X, y = draw(100)
    model = QuantileModel(default_quantile_levels(5), 0.3, 32, np.random.default_rng(1)).fit(X, y)
    Xt, yt = draw(4000)
    pred = model.predict(Xt)
    assert np.all(np.diff(pred.mean(axis=0)) > 0)  # levels in order
    outer = np.mean((pred[:, 0] <= yt) & (yt <= pred[:, 4]))
    inner = np.mean((pred[:, 1] <= yt) & (yt <= pred[:, 3]))
    assert 0.60 <= outer <= 0.78, outer  # nominal 0.66
    assert 0.28 <= inner <= 0.45, inner  # nominal 0.34
    assert model.corrections[2] == 0.0 and model.corrections[0] == -model.corrections[4]


def test_each_candidate_is_scored_by_one_random_level() -> None:
    s = CQRSearcher(SPACE, "y", random_seed=0)
    pred = np.tile(np.arange(5.0), (2000, 1))  # level k predicts k
    scores = -s._sampled_score(np.zeros((2000, 2)), pred)
    counts = np.bincount(scores.astype(int), minlength=5)
    assert counts.min() > 300  # every level drawn, about 400 times each


def test_cqr_beats_random_search_on_branin() -> None:
    def regret(make: Any) -> float:
        return float(np.mean([min(map(branin, _run(make(s), branin, 30))) for s in range(4)]))

    cqr = regret(lambda s: CQRSearcher(SPACE, "y", random_seed=s, update_frequency=3, **FAST))
    rnd = regret(lambda s: RandomSearcher(SPACE, "y", random_seed=s))
    assert cqr - 0.397887 < 0.5 * (rnd - 0.397887), (cqr, rnd)


def test_fifo_counts_completed_trials_and_asha_every_latest_value() -> None:
    fifo = CQRSearcher({"x": uniform(0, 1)}, "y", random_seed=0)
    trial = Trial(trial_id=0, config={"x": 0.5})
    fifo.on_trial_add(trial)
    fifo.on_result(trial, {"y": 3.0})
    assert fifo._obs == {}
    fifo.on_trial_complete(trial, {"y": float("nan")})
    assert fifo._obs == {0: ({"x": 0.5}, 3.0)}  # the last usable value
    mf = CQRSearcher({"x": uniform(0, 1)}, "y", random_seed=0, resource_attr="epoch")
    mf.on_result(trial, {"y": 3.0, "epoch": 1})
    mf.on_result(trial, {"y": 2.0, "epoch": 3})
    assert mf._obs == {0: ({"x": 0.5}, 2.0)}  # the latest, whatever its level
    assert resolve_searcher("cqr") is CQRSearcher


def test_parallel_suggestions_without_new_data_differ() -> None:
    """One level (the median), so no random draw separates them: the pool must."""
    s = CQRSearcher(SPACE, "y", random_seed=0, quantiles=1, **FAST)
    _run(s, branin, 8)
    batch = [s.suggest() for _ in range(4)]  # no results in between: one fit, one pool
    assert len({tuple(c.values()) for c in batch}) == 4
    assert s.last_from_model


def test_seeds_reproduce_state_round_trips_and_finite_spaces() -> None:
    runs = [_run(CQRSearcher(SPACE, "y", random_seed=2, **FAST), branin, 12) for _ in range(2)]
    assert runs[0] == runs[1]
    a = CQRSearcher(SPACE, "y", random_seed=2, **FAST)
    _run(a, branin, 10)
    b = CQRSearcher(SPACE, "y", random_seed=7, **FAST)
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    assert _run(a, branin, 4, start=10) == _run(b, branin, 4, start=10)
    space = {"a": choice([1, 2, 3]), "b": randint(0, 3)}
    s = CQRSearcher(space, "y", random_seed=0, **FAST)
    configs = _run(s, lambda c: c["a"] + c["b"], 12)
    assert len({(c["a"], c["b"]) for c in configs}) == 12 and s.suggest() is None
    s = CQRSearcher(SPACE, "y", random_seed=0, **FAST)
    assert all(config_in_space(SPACE, c) for c in _run(s, lambda c: math.nan, 8))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"quantiles": 4}, "quantiles"),
        ({"num_candidates": 0}, "num_candidates"),
        ({"valid_fraction": 0.0}, "valid_fraction"),
        ({"update_frequency": 0}, "update_frequency"),
        ({"model_kwargs": {"n_trees": 3}}, "n_trees"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        CQRSearcher(SPACE, "y", **kwargs)


def test_without_scikit_learn_the_error_says_what_to_install(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"aiotune\[surrogate\]"):
        CQRSearcher(SPACE, "y")


def test_cqr_and_ashacqr_run_through_the_tuner_and_keep_their_specs() -> None:
    bb = Branin()
    cqr = CQR(bb.config_space, bb.metric, mode=bb.mode, random_seed=0, searcher_kwargs=FAST)
    assert isinstance(from_spec(to_spec(cqr)), CQR)
    Tuner(
        SimulatorBackend(bb, seed=0), cqr, StoppingCriterion(max_num_trials_completed=12),
        n_workers=2, print_update_interval=1e9, save_tuner=False,
    ).run()
    assert len(cqr.searcher._obs) >= 12
    lc = SyntheticLearningCurves(max_epochs=9)
    asha = ASHACQR(lc.config_space, "valid_error", max_t=9, random_seed=0, searcher_kwargs=FAST)
    again = from_spec(to_spec(asha))
    assert isinstance(again, ASHACQR) and again.rung_reference == "all"
    tuner = Tuner(
        SimulatorBackend(lc, seed=0), asha, StoppingCriterion(max_num_trials_started=24),
        n_workers=4, print_update_interval=1e9, save_tuner=False,
    )
    tuner.run()
    started = tuner.status.num_trials_started
    assert started >= 24 and tuner.status.num_trials_stopped > 0
    # Stopped trials never complete; each still counts with its latest value (all
    # but the few that had not reported when the run ended).
    assert len(asha.searcher._obs) >= started - 4
