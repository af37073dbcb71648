"""Optuna-style TPE: the Parzen estimators by hand, the ``"tpe"`` searcher, the TPE scheduler."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest
from scipy.stats import truncnorm

from aiotune._spec import from_spec, to_spec
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
from aiotune.schedulers.searchers._parzen import Coordinate, ParzenEstimator
from aiotune.schedulers.searchers.base import resolve_searcher
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.schedulers.searchers.tpe import TPESearcher, default_weights
from aiotune.schedulers.tpe import TPE
from aiotune.testing import drive_searcher as _run
from aiotune.trial import Trial

BRANIN_SPACE = {"x1": uniform(-5, 10), "x2": uniform(0, 15)}


def branin(c: dict[str, Any]) -> float:
    x1, x2 = c["x1"], c["x2"]
    return (
        (x2 - 5.1 / (4 * np.pi**2) * x1**2 + 5 / np.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * np.pi)) * np.cos(x1)
        + 10
    )




# -- the estimators, checked by hand ----------------------------------------------------------


def test_bandwidths_are_the_larger_neighbour_gap_clipped() -> None:
    est = ParzenEstimator([Coordinate()], np.array([[0.2], [0.5], [0.9]]), np.ones(3))
    # Gaps with the ends: 0.2 | 0.3 | 0.4 | 0.1. The outer points take their inner gap
    # (consider_endpoints=False): 0.3, max(0.3, 0.4), 0.4; the clip floor is 1/5.
    assert est.sigmas[0] == pytest.approx([0.3, 0.4, 0.4, 1.0])
    assert est.mus[0] == pytest.approx([0.2, 0.5, 0.9, 0.5])  # the prior kernel last
    tight = ParzenEstimator([Coordinate()], np.array([[0.50], [0.51], [0.52]]), np.ones(3))
    assert tight.sigmas[0][:3] == pytest.approx([0.2, 0.2, 0.2])  # magic clip: 1/min(100, 5)


def test_continuous_log_pdf_is_the_weighted_truncated_normal_mixture() -> None:
    obs = np.array([[0.2], [0.5], [0.9]])
    weights = np.array([1.0, 2.0, 1.0])
    est = ParzenEstimator([Coordinate()], obs, weights, prior_weight=1.0)
    x = np.array([[0.0], [0.33], [0.95]])
    mus, sigmas = [0.2, 0.5, 0.9, 0.5], [0.3, 0.4, 0.4, 1.0]
    w = np.array([1.0, 2.0, 1.0, 1.0]) / 5.0
    expected = [
        math.log(
            sum(
                wi * truncnorm.pdf(u, (0 - m) / s, (1 - m) / s, loc=m, scale=s)
                for wi, m, s in zip(w, mus, sigmas, strict=True)
            )
        )
        for u in x[:, 0]
    ]
    assert est.log_pdf(x) == pytest.approx(expected)  # multivariate: one value per row
    assert ParzenEstimator(
        [Coordinate()], obs, weights, multivariate=False
    ).log_pdf(x)[:, 0] == pytest.approx(expected)


def test_cells_of_a_finite_domain_carry_the_kernel_mass() -> None:
    edges = np.linspace(0.0, 1.0, 6)  # five values, cells of width 0.2
    est = ParzenEstimator([Coordinate(edges=edges)], np.array([[0.3], [0.7]]), np.ones(2))
    middles = np.array([[0.1], [0.3], [0.5], [0.7], [0.9]])
    mass = np.exp(est.log_pdf(middles))
    assert mass.sum() == pytest.approx(1.0)  # a probability per value
    assert est.log_pdf(np.array([[0.21]])) == pytest.approx(est.log_pdf(np.array([[0.39]])))
    draws = est.sample(np.random.default_rng(0), 2000)[:, 0]
    assert set(np.round(draws, 9)) <= set(np.round(middles[:, 0], 9))
    freq = np.array([np.isclose(draws, m).mean() for m in middles[:, 0]])
    assert np.abs(freq - mass).max() < 0.04


def test_categorical_kernels_as_optuna() -> None:
    est = ParzenEstimator([Coordinate(categories=3)], np.array([[0.0], [0.0], [2.0]]), np.ones(3))
    # Each row: prior_weight / (n + 1) = 0.25 per category, +1 for the observed one.
    probs = np.exp(est.cat_log_probs[0])
    assert probs[0] == pytest.approx(np.array([1.25, 0.25, 0.25]) / 1.75)
    assert probs[2] == pytest.approx(np.array([0.25, 0.25, 1.25]) / 1.75)
    assert probs[3] == pytest.approx(np.full(3, 1 / 3))
    mixture = probs.mean(axis=0)  # equal weights, the prior's included
    assert np.exp(est.log_pdf(np.array([[0.0], [1.0], [2.0]]))) == pytest.approx(mixture)
    draws = est.sample(np.random.default_rng(1), 4000)[:, 0]
    assert np.abs(np.bincount(draws.astype(int), minlength=3) / 4000 - mixture).max() < 0.03


def test_multivariate_components_span_all_coordinates() -> None:
    """Observations in two opposite corners: joint draws stay near a corner, independent
    ones mix the corners' coordinates."""
    obs = np.array([[0.05, 0.05], [0.1, 0.08], [0.07, 0.1], [0.9, 0.9], [0.95, 0.92]])
    coords = [Coordinate(), Coordinate()]
    rng = np.random.default_rng(2)
    joint = ParzenEstimator(coords, obs, np.ones(5), prior_weight=1e-6).sample(rng, 4000)
    apart = ParzenEstimator(
        coords, obs, np.ones(5), prior_weight=1e-6, multivariate=False
    ).sample(rng, 4000)

    def mixed(d: np.ndarray) -> float:
        return float(((d[:, 0] < 0.5) != (d[:, 1] < 0.5)).mean())

    assert mixed(joint) < 0.35 < 0.45 < mixed(apart)


def test_optuna_weights_ramp_down_the_oldest() -> None:
    assert default_weights(3).tolist() == [1.0, 1.0, 1.0]
    w = default_weights(40)
    assert w.size == 40 and w[-25:].tolist() == [1.0] * 25
    assert w[0] == pytest.approx(1 / 40) and np.all(np.diff(w[:15]) > 0)


# -- the searcher ------------------------------------------------------------------------------


def test_tpe_beats_random_search_on_branin() -> None:
    def regret(make: Any) -> float:
        return float(
            np.mean(
                [
                    min(map(branin, _run(make(s), branin, 50))) - 0.397887
                    for s in range(8)
                ]
            )
        )

    tpe = regret(lambda s: TPESearcher(BRANIN_SPACE, "y", random_seed=s))
    rnd = regret(lambda s: RandomSearcher(BRANIN_SPACE, "y", random_seed=s))
    assert tpe < 0.5 * rnd, (tpe, rnd)


@pytest.mark.parametrize("multivariate", [True, False])
def test_mixed_space_prefers_the_good_values(multivariate: bool) -> None:
    space = {
        "c": choice(["a", "b", "c", "d"]),
        "n": randint(1, 20),
        "lr": loguniform(1e-3, 1),
        "k": ordinal([1, 2, 4, 8]),
        "f": finrange(0.0, 1.0, 5),
        "const": 3,
    }

    def f(c: dict[str, Any]) -> float:
        return (
            (c["c"] != "b")
            + abs(c["n"] - 7) / 20
            + abs(math.log10(c["lr"]) + 2) / 3
            + (c["k"] != 4) / 2
            + abs(c["f"] - 0.75)
        )

    s = TPESearcher(space, "y", random_seed=0, multivariate=multivariate)
    configs = _run(s, f, 80)
    assert all(config_in_space(space, c) and c["const"] == 3 for c in configs)
    late = configs[40:]
    assert sum(c["c"] == "b" for c in late) > 0.6 * len(late)
    assert sum(c["k"] == 4 for c in late) > 0.5 * len(late)
    assert np.median([abs(c["n"] - 7) for c in late]) <= 3


def test_startup_trials_are_random_then_the_model_proposes() -> None:
    s = TPESearcher(BRANIN_SPACE, "y", random_seed=0, n_startup_trials=5)
    flags = []
    for i in range(8):
        config = s.suggest()
        flags.append(s.last_from_model)
        trial = Trial(trial_id=i, config=config)
        s.on_trial_add(trial)
        s.on_trial_complete(trial, {"y": branin(config)})
    assert flags == [False] * 5 + [True] * 3
    assert resolve_searcher("tpe") is TPESearcher


def test_running_trials_count_as_bad_only_under_the_constant_liar() -> None:
    for liar in (True, False):
        s = TPESearcher(BRANIN_SPACE, "y", random_seed=0, constant_liar=liar)
        _run(s, branin, 12)
        for i in (12, 13):
            s.on_trial_add(Trial(trial_id=i, config=s.suggest()))
        good, bad = s._split(s._obs, s._running if liar else {})
        assert len(good) == 2  # ceil(0.1 * 12): running trials do not enlarge it
        assert {12, 13} <= {t for t, _ in bad} if liar else {12, 13}.isdisjoint(
            t for t, _ in bad
        )


def test_fifo_counts_a_trial_when_it_completes_with_its_last_usable_value() -> None:
    s = TPESearcher({"x": uniform(0, 1)}, "y", random_seed=0)
    trial = Trial(trial_id=0, config={"x": 0.5})
    s.on_trial_add(trial)
    s.on_result(trial, {"y": 3.0})
    s.on_result(trial, {"y": 2.0})
    assert s._obs == {} and 0 in s._running  # still running: not evidence yet
    s.on_trial_complete(trial, {"y": float("nan")})
    assert s._obs == {0: ({"x": 0.5}, 0.0, 2.0)} and s._running == {}
    failed = Trial(trial_id=1, config={"x": 0.1})
    s.on_trial_add(failed)
    s.on_trial_error(failed)
    assert 1 not in s._obs and 1 not in s._running


def test_with_a_resource_trials_rank_by_level_reached_then_value() -> None:
    """As Optuna ranks pruned trials: a trial stopped early ranks behind those that went
    further, however good its early value."""
    s = TPESearcher({"x": uniform(0, 1)}, "y", random_seed=0, resource_attr="epoch", gamma=0.25)
    for i, (level, value) in enumerate([(1, 0.1), (3, 0.9), (3, 0.5), (9, 2.0)]):
        trial = Trial(trial_id=i, config={"x": i / 4})
        s.on_trial_add(trial)
        s.on_result(trial, {"y": 5.0, "epoch": 0.5})
        s.on_result(trial, {"y": value, "epoch": level})
        s.on_result(trial, {"y": value, "epoch": float("nan")})  # ignored
    good, bad = s._split(s._obs, {})
    assert [t for t, _ in good] == [3]
    assert [t for t, _ in bad] == [0, 1, 2]
    assert s._split(s._obs, {})[0] == good


def test_seeds_reproduce_and_state_round_trips_with_running_trials() -> None:
    runs = [_run(TPESearcher(BRANIN_SPACE, "y", random_seed=3), branin, 20) for _ in range(2)]
    assert runs[0] == runs[1]
    a = TPESearcher(BRANIN_SPACE, "y", random_seed=3)
    _run(a, branin, 14)
    pending = Trial(trial_id=99, config=a.suggest())
    a.on_trial_add(pending)
    a.on_result(pending, {"y": 1.5})
    b = TPESearcher(BRANIN_SPACE, "y", random_seed=5)
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    assert b._running == a._running and b._latest == a._latest
    assert _run(a, branin, 5, start=14) == _run(b, branin, 5, start=14)
    for s in (a, b):
        s.on_trial_complete(pending, {})
    assert a._obs[99] == b._obs[99] and a._obs[99][2] == 1.5


def test_degenerate_data_and_finite_spaces() -> None:
    space = {"a": choice([1, 2, 3]), "b": randint(0, 3)}
    s = TPESearcher(space, "y", random_seed=0, n_startup_trials=2)
    configs = _run(s, lambda c: 1.0, 12)  # all equal
    assert len({(c["a"], c["b"]) for c in configs}) == 12
    assert s.suggest() is None
    s = TPESearcher(BRANIN_SPACE, "y", random_seed=0)
    assert all(config_in_space(BRANIN_SPACE, c) for c in _run(s, lambda c: math.nan, 15))
    assert s._obs == {}
    single = TPESearcher(BRANIN_SPACE, "y", random_seed=0, n_startup_trials=0)
    _run(single, branin, 1)
    assert single.last_from_model is False
    assert config_in_space(BRANIN_SPACE, single.suggest()) and single.last_from_model


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gamma": 0.0}, "gamma"),
        ({"n_ei_candidates": 0}, "n_ei_candidates"),
        ({"gamma_cap": 0}, "gamma_cap"),
        ({"prior_weight": 0.0}, "prior_weight"),
        ({"multivariate": "yes"}, "multivariate"),
        ({"constant_liar": 1}, "constant_liar"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        TPESearcher(BRANIN_SPACE, "y", **kwargs)


@pytest.mark.asyncio
async def test_tpe_scheduler_defaults_spec_and_suggest() -> None:
    sched = TPE(BRANIN_SPACE, "y", mode="max", random_seed=1, n_startup_trials=4)
    searcher = sched.searcher
    assert isinstance(searcher, TPESearcher)
    assert searcher.multivariate and searcher.constant_liar  # Optuna 5's defaults
    again = from_spec(to_spec(TPE(BRANIN_SPACE, "y", multivariate=False)))
    assert isinstance(again, TPE) and again.searcher.multivariate is False
    for i in range(12):
        s = await sched.suggest()
        trial = Trial(trial_id=i, config=s.config)
        await sched.on_trial_add(trial)
        await sched.on_trial_complete(trial, {"y": -branin(s.config)})
    assert config_in_space(BRANIN_SPACE, (await sched.suggest()).config)
