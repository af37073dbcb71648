"""Hyper-Tune: ranking losses, joint posterior draws, the ensemble acquisition and its
gradient, level weights on planted data, bracket weights, and whole simulated runs."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import uniform
from aiotune.schedulers import HyperTune
from aiotune.schedulers.searchers import HyperTuneSearcher
from aiotune.schedulers.searchers.gp.acquisition import ExpectedImprovement
from aiotune.schedulers.searchers.gp.model import GPHyperparameters, GPPosterior
from aiotune.schedulers.searchers.hypertune import EnsembleEI, ranking_losses
from aiotune.schedulers.searchers.mf_gp import MultiFidelityGPSearcher
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0), "epochs": 9}
LEVELS = [1.0, 3.0, 9.0]


def test_ranking_loss_is_the_fraction_of_pairs_ordered_differently() -> None:
    observed = np.array([1.0, 2.0, 3.0])
    draws = np.array([[10.0, 3.0, 1.0], [20.0, 2.0, 3.0], [30.0, 1.0, 2.0]])
    # same order: 0; reversed: all 3 pairs; one swap (of 2 and 3): 1 of 3
    assert ranking_losses(draws, observed).tolist() == pytest.approx([0.0, 1.0, 1 / 3])


def _posterior(seed: int = 0) -> GPPosterior:
    rng = np.random.default_rng(seed)
    X = rng.random((12, 3))
    y = np.sin(4 * X[:, 0]) + X[:, 1]
    return GPPosterior(X, (y - y.mean()) / y.std(), GPHyperparameters.default(3))


def test_joint_draws_have_the_posterior_mean_and_variance() -> None:
    post = _posterior()
    Xs = np.random.default_rng(1).random((4, 3))
    draws = post.sample_joint(Xs, 20000, np.random.default_rng(2))
    mean, var = post.predict(Xs)
    assert draws.shape == (4, 20000)
    assert draws.mean(axis=1) == pytest.approx(mean, abs=0.03)
    assert draws.var(axis=1) == pytest.approx(var, rel=0.08, abs=1e-3)
    # two nearly equal inputs are almost perfectly correlated: a *joint* draw
    near = np.vstack([Xs[0], Xs[0] + 1e-4])
    pair = post.sample_joint(near, 2000, np.random.default_rng(3))
    assert np.corrcoef(pair)[0, 1] > 0.99


def test_ensemble_ei_of_one_level_is_ei_there_and_its_gradient_is_right() -> None:
    post = _posterior()
    X = np.random.default_rng(4).random((6, 2))
    one = EnsembleEI(post, np.array([0.7]), np.array([1.0]), best=-0.5)
    plain = ExpectedImprovement(post, -0.5)
    assert one(X) == pytest.approx(plain(np.hstack([X, np.full((6, 1), 0.7)])))
    mix = EnsembleEI(post, np.array([0.2, 0.7, 1.0]), np.array([0.2, 0.5, 0.3]), best=-0.4)
    # the ensemble's moments: sum theta_r mean_r and sum theta_r^2 var_r
    parts = [post.predict(np.hstack([X, np.full((6, 1), u)])) for u in (0.2, 0.7, 1.0)]
    weights = (0.2, 0.5, 0.3)
    mean, var = mix.moments(X)
    assert mean == pytest.approx(sum(w * m for w, (m, _) in zip(weights, parts, strict=True)))
    assert var == pytest.approx(sum(w * w * v for w, (_, v) in zip(weights, parts, strict=True)))
    x = np.array([0.3, 0.6])
    value, grad = mix.with_grad(x)
    assert value == pytest.approx(mix(x[None, :])[0])
    eps = 1e-6
    numeric = [(mix((x + eps * e)[None, :])[0] - mix((x - eps * e)[None, :])[0]) / (2 * eps)
               for e in np.eye(2)]
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def _feed(searcher: HyperTuneSearcher, value: Any, n: int = 40, seed: int = 0) -> None:
    """``n`` configs reported at epoch 1 and 3, the best 12 of them at 9 as well."""
    rng = np.random.default_rng(seed)
    trials = [Trial(trial_id=i, config={"x": float(a), "y": float(b), "epochs": 9})
              for i, (a, b) in enumerate(rng.random((n, 2)))]
    for t in trials:
        for level in (1, 3):
            searcher.on_result(t, {"epoch": level, "loss": value(t.config, level)})
    for t in sorted(trials, key=lambda t: value(t.config, 3))[:12]:
        searcher.on_result(t, {"epoch": 9, "loss": value(t.config, 9)})


def _searcher(seed: int = 0) -> HyperTuneSearcher:
    return HyperTuneSearcher(SPACE, "loss", random_seed=seed, max_resource=9,
                             fidelity_levels=LEVELS, num_init_random=0, random_fraction=0.0)


def test_levels_that_rank_the_top_level_well_get_the_weight() -> None:
    # the low levels rank configs *against* what epoch 9 says: they should lose
    def flips(c: dict[str, Any], level: int) -> float:
        signal = (c["x"] - 0.3) ** 2 + (c["y"] - 0.6) ** 2
        return signal if level == 9 else 1.0 - signal

    searcher = _searcher()
    _feed(searcher, flips)
    searcher.suggest()
    assert searcher._ensemble.get(9.0, 0.0) > 0.8, searcher._ensemble
    assert searcher._ensemble.get(1.0, 0.0) < 0.1
    # every level agreeing: the weight is spread, and the cheap levels count
    def agree(c: dict[str, Any], level: int) -> float:
        return (c["x"] - 0.3) ** 2 + (c["y"] - 0.6) ** 2 + 1.0 / level

    searcher = _searcher()
    _feed(searcher, agree)
    searcher.suggest()
    assert sum(searcher._ensemble.get(r, 0.0) for r in (1.0, 3.0)) > 0.3, searcher._ensemble
    assert sum(searcher._ensemble.values()) == pytest.approx(1.0)


def test_bracket_weights_are_theta_over_level() -> None:
    searcher = _searcher()
    assert searcher.bracket_distribution(3) is None  # no ensemble yet
    searcher._ensemble, searcher._signature = {1.0: 0.2, 3.0: 0.3, 9.0: 0.5}, (2, 12)
    w = np.array([0.2 / 1, 0.3 / 3, 0.5 / 9])
    assert searcher.bracket_distribution(3) == pytest.approx(w / w.sum())
    assert searcher.bracket_distribution(2) == pytest.approx(w[:2] / w[:2].sum())


def test_before_two_levels_are_supported_it_is_mobsters_searcher() -> None:
    searcher = _searcher()
    mobster = MultiFidelityGPSearcher(SPACE, "loss", random_seed=0, max_resource=9,
                                      fidelity_levels=LEVELS, num_init_random=0,
                                      random_fraction=0.0)
    t = [Trial(trial_id=i, config={"x": i / 10, "y": 0.5, "epochs": 9}) for i in range(8)]
    for trial in t:
        for s in (searcher, mobster):
            s.on_result(trial, {"epoch": 1, "loss": trial.config["x"]})
            if trial.trial_id < 5:  # 8 values at epoch 1, 5 at epoch 3: one level supported
                s.on_result(trial, {"epoch": 3, "loss": trial.config["x"] / 2})
    for _ in range(3):
        assert searcher.suggest() == mobster.suggest()
    assert not searcher._ensemble
    searcher.on_result(t[5], {"epoch": 3, "loss": t[5].config["x"] / 2})
    searcher.suggest()
    assert searcher._ensemble  # epoch 3 now has 6 values: the ensemble takes over


def test_state_round_trip_keeps_the_ensemble() -> None:
    searcher = _searcher(5)
    _feed(searcher, lambda c, level: c["x"] + 1.0 / level)
    searcher.suggest()
    blob = msgspec.json.encode(searcher.state())
    other = _searcher(9)
    other.restore(msgspec.json.decode(blob))
    assert msgspec.json.encode(other.state()) == blob
    assert other._ensemble == searcher._ensemble and other._ensemble
    assert other.suggest() == searcher.suggest()


@pytest.mark.parametrize("brackets", [1, None])
def test_a_simulated_run_learns_levels_and_brackets_and_resumes(
    brackets: int | None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    s = HyperTune(bb.config_space, "valid_error", max_t=9, random_seed=0, brackets=brackets)
    default = list(s._probs)
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), s, StoppingCriterion(max_num_trials_started=40),
        n_workers=4, tuner_name="ht", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_started >= 40 and tuner.status.num_trials_failed == 0
    assert s.searcher._ensemble  # the level weights exist
    if brackets is None:
        assert list(s._probs) != default  # and steer the brackets
    again = Tuner.load(tmp_path / "ht", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=48))
    assert isinstance(again.scheduler, HyperTune)
    assert again.scheduler.searcher._ensemble == s.searcher._ensemble
    again.run()
    assert again.status.num_trials_started >= 48


class TestHyperTuneConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return HyperTune(config_space, metric, mode=mode, max_t=9, random_seed=seed,
                         brackets=None)
