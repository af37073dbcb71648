"""The exponential-decay resource kernels ("exp-decay-sum", "freeze-thaw") and the
multi-fidelity GP schedulers (MOBSTER, DyHPO, HyperTune) on them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers.dyhpo import DyHPO
from aiotune.schedulers.hypertune import HyperTune
from aiotune.schedulers.mobster import MOBSTER
from aiotune.schedulers.searchers.gp.expdecay import (
    ExpDecayHyperparameters,
    FreezeThawHyperparameters,
    fit_expdecay_hyperparameters,
    neg_log_marginal_likelihood_expdecay,
)
from aiotune.schedulers.searchers.gp.incremental import IncrementalGP
from aiotune.schedulers.searchers.gp.model import GPPosterior, standardize
from aiotune.schedulers.searchers.mf_gp import MultiFidelityGPSearcher
from aiotune.stopping import StoppingCriterion
from aiotune.trial import Trial
from aiotune.tuner import Tuner


def _data(n: int = 30, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    C = rng.random((n, d))
    r = rng.choice([1 / 27, 3 / 27, 9 / 27, 1.0], n)
    return np.hstack([C, r[:, None]]), rng.standard_normal(n)


def test_kernel_and_mean_by_hand() -> None:
    h = ExpDecayHyperparameters(np.array([0.5]), variance=0.8, noise=1e-3, alpha=2.0,
                                mean_lam=0.5, gamma=1.5, mu=-0.2)
    k = h.kernel()
    a, b = np.array([[0.1, 0.2]]), np.array([[0.4, 0.5]])
    beta = 2.0 / 0.5

    def kappa(u: float) -> float:
        return (beta / (u + beta)) ** 2.0

    dist = 0.3 / 0.5
    matern = 0.8 * (1 + math.sqrt(5) * dist + 5 * dist**2 / 3) * math.exp(-math.sqrt(5) * dist)
    expected = matern + 1.5**2 * (kappa(0.7) - kappa(0.2) * kappa(0.5))
    assert k(a, b)[0, 0] == pytest.approx(expected, rel=1e-12)
    assert k.mean(a)[0] == pytest.approx(-0.2 + 1.5 * kappa(0.2), rel=1e-12)
    assert k.diag(b)[0] == pytest.approx(k(b)[0, 0], rel=1e-12)
    # The curve has no variance at r = 0 (kappa(0) = 1): there only k_x remains.
    assert k(np.array([[0.1, 0.0]]), np.array([[0.1, 1.0]]))[0, 0] == pytest.approx(0.8)


def test_freeze_thaw_gives_each_config_its_own_curve() -> None:
    theta = ExpDecayHyperparameters.default(1).to_theta()
    shared = ExpDecayHyperparameters.from_theta(theta).kernel()
    own = FreezeThawHyperparameters.from_theta(theta).kernel()
    a = np.array([[0.2, 0.1], [0.2, 0.5], [0.7, 0.5]])
    K_shared, K_own = shared(a), own(a)
    np.testing.assert_allclose(K_own[:2, :2], K_shared[:2, :2])  # same config: same terms
    assert K_own[0, 2] == pytest.approx(shared.kernel_x(a[:1, :1], a[2:, :1])[0, 0])
    assert K_own[0, 2] < K_shared[0, 2]  # other config: no curve term
    np.testing.assert_allclose(own.diag(a), np.diag(K_own))
    k, dk = own.grad_x(a[0], a)
    np.testing.assert_allclose(k, K_own[0])
    # A trial's own curve: its low-resource values speak for its higher-resource value
    # more than for another config's at equal distance in the shared model's terms.
    post = GPPosterior(a[:1], np.array([1.0]), FreezeThawHyperparameters.from_theta(theta))
    m_same, _ = post.predict(np.array([[0.2, 0.9]]))
    m_other, _ = post.predict(np.array([[0.2 + 1e-9, 0.9]]))
    assert m_same[0] > m_other[0]


def test_theta_round_trips_and_defaults_are_the_prior_modes() -> None:
    h = ExpDecayHyperparameters.default(3)
    assert h.lengthscales.shape == (3,) and h.alpha == pytest.approx(1.0)
    assert h.mean_lam == pytest.approx(0.5) and h.mu == 0.0
    again = ExpDecayHyperparameters.from_theta(h.to_theta())
    assert np.array_equal(again.to_theta(), h.to_theta())
    assert (again.variance, again.noise, again.gamma) == (h.variance, h.noise, h.gamma)


@pytest.mark.parametrize("per_config", [False, True])
def test_marginal_likelihood_gradient_matches_finite_differences(per_config: bool) -> None:
    X, y = _data()
    X[10:20, :-1] = X[:10, :-1]  # configs seen at two resources (freeze-thaw's curves)
    C, r = X[:, :-1], X[:, -1]
    sqdiff = (C.T[:, :, None] - C.T[:, None, :]) ** 2
    same = (sqdiff.sum(0) == 0).astype(float) if per_config else None
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = ExpDecayHyperparameters.default(3).to_theta() + 0.3 * rng.standard_normal(9)
        _, grad = neg_log_marginal_likelihood_expdecay(theta, sqdiff, r, y, same)
        numeric = approx_fprime(
            theta, lambda t: neg_log_marginal_likelihood_expdecay(t, sqdiff, r, y, same)[0],
            1e-6,
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-3)


def test_posterior_gradients_match_finite_differences() -> None:
    X, y = _data()
    post = GPPosterior(X, y, ExpDecayHyperparameters.default(3))
    x = np.array([0.3, 0.6, 0.2, 0.4])
    mean, var, dmean, dvar = post.predict_with_grad(x)
    m, v = post.predict(x[None, :])
    assert mean == pytest.approx(m[0]) and var == pytest.approx(v[0])
    eps = 1e-6
    for j in range(4):
        e = np.eye(4)[j] * eps
        mp, vp = post.predict((x + e)[None, :])
        mm, vm = post.predict((x - e)[None, :])
        assert dmean[j] == pytest.approx((mp[0] - mm[0]) / (2 * eps), abs=1e-6)
        assert dvar[j] == pytest.approx((vp[0] - vm[0]) / (2 * eps), abs=1e-6)
    # No data: the prior, whose mean follows the decay curve.
    prior = GPPosterior(np.zeros((0, 4)), np.zeros(0), ExpDecayHyperparameters.default(3))
    m0, v0 = prior.predict(np.array([[0.5, 0.5, 0.5, 0.0], [0.5, 0.5, 0.5, 1.0]]))
    assert m0[0] > m0[1] and np.all(v0 > 0)


def test_a_config_seen_at_low_resource_is_predicted_at_full_resource() -> None:
    # Curves f(x, r) = g(x) + 2 exp(-3 r): one shape for every config, the offsets
    # differ. Configs are seen at full resource, and one only at r = 1/9.
    rng = np.random.default_rng(3)

    def f(x: float, r: float) -> float:
        return math.sin(6 * x) + 2 * math.exp(-3 * r)

    rows, ys = [], []
    for x in np.linspace(0, 1, 9):
        for r in (1 / 9, 1 / 3, 1.0):
            rows.append([x, r])
            ys.append(f(x, r))
    probe = 0.5 / 9  # between two grid configs, seen at r = 1/9 only
    rows.append([probe, 1 / 9])
    ys.append(f(probe, 1 / 9))
    X, y = np.array(rows), np.array(ys)
    y_std, mean, std = standardize(y)
    hypers = fit_expdecay_hyperparameters(X, y_std, rng)
    post = GPPosterior(X, y_std, hypers)
    pred = post.predict(np.array([[probe, 1.0]]))[0][0] * std + mean
    assert pred == pytest.approx(f(probe, 1.0), abs=0.1)


def test_incremental_gp_with_the_decay_kernel_restores_exactly() -> None:
    X, _ = _data(n=60, d=2, seed=4)
    y, _, _ = standardize(np.sin(4 * X[:, :-1]).sum(1) + np.exp(-3 * X[:, -1]))
    rng = np.random.default_rng(5)
    gp = IncrementalGP(refit_fraction=0.5, max_data_points=40, kernel="exp-decay-sum")
    gp.posterior(X[:50], y[:50], rng)
    again = IncrementalGP(refit_fraction=0.5, max_data_points=40, kernel="exp-decay-sum")
    again.set_fit(*gp.get_fit())
    Z = np.hstack([rng.random((5, 2)), np.full((5, 1), 1.0)])
    a = gp.posterior(X[:55], y[:55], rng).predict(Z)
    b = again.posterior(X[:55], y[:55], rng).predict(Z)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("name", ["exp-decay", "exp-decay-combined", "", 3])
def test_a_bad_resource_kernel_is_named(name: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="resource_kernel"):
        MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", max_resource=9, resource_kernel=name)


def test_the_fidelity_coordinate_is_linear_for_the_decay_kernel() -> None:
    s = MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", max_resource=9,
                                resource_kernel="exp-decay-sum")
    assert s.fidelity(3) == pytest.approx(1 / 3) and s.fidelity(9) == 1.0
    default = MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", max_resource=9)
    assert default.fidelity(3) == pytest.approx(math.log(4) / math.log(10))


@pytest.mark.parametrize(("cls", "kernel"), [
    (MOBSTER, "exp-decay-sum"), (DyHPO, "exp-decay-sum"), (HyperTune, "exp-decay-sum"),
    (MOBSTER, "freeze-thaw"), (DyHPO, "freeze-thaw"),
])
def test_schedulers_run_on_the_decay_kernel_and_reload(
    cls: type, kernel: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=2)
    sched = cls(bb.config_space, "valid_error", max_t=9, random_seed=2,
                searcher_kwargs={"resource_kernel": kernel})

    def run(tuner_sched: Any, n: int) -> Tuner:
        tuner = Tuner(SimulatorBackend(bb, time_attr="epoch"), tuner_sched,
                      StoppingCriterion(max_num_trials_started=n), n_workers=4,
                      tuner_name="ed", suffix_tuner_name=False, print_update_interval=1e9)
        tuner.run()
        return tuner

    tuner = run(sched, 20)
    assert tuner.status.num_trials_started >= 20 and tuner.status.num_trials_failed == 0
    searcher = sched.searcher
    assert searcher.resource_kernel == kernel and searcher.gp.num_fits > 0
    theta, _, _ = searcher.gp.get_fit()
    assert len(theta) == searcher.encoder.dim + 6  # lengthscales, s2, noise, alpha, lam, gamma, mu
    again = Tuner.load(tmp_path / "ed", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=26))
    loaded = again.scheduler.searcher
    assert loaded.resource_kernel == kernel
    assert loaded.gp.get_fit() == searcher.gp.get_fit()
    again.run()
    assert again.status.num_trials_started >= 26 and again.status.num_trials_failed == 0


def test_the_searcher_tolerates_degenerate_data_on_the_decay_kernel() -> None:
    s = MultiFidelityGPSearcher({"x": uniform(0, 1)}, "y", random_seed=0, max_resource=9,
                                fidelity_levels=[1, 3, 9], num_init_random=2,
                                num_min_data_points=2, resource_kernel="exp-decay-sum",
                                random_fraction=0.0)
    for i in range(4):
        t = Trial(trial_id=i, config={"x": i / 4})
        s.on_trial_add(t)
        s.on_result(t, {"epoch": 1, "y": 0.5})  # all equal
        s.on_result(t, {"epoch": 3, "y": float("nan")})  # ignored
    for _ in range(6):  # two for the initial design, then the model's
        config = s.suggest()
        assert config is not None and 0.0 <= config["x"] <= 1.0
    assert s.last_from_model
    t = Trial(trial_id=9, config={"x": 0.9})
    s.on_result(t, {"epoch": 9, "y": 0.1})  # a single observation at the top level
    assert s.suggest() is not None


def test_a_fit_saved_for_the_other_kernel_is_refit_not_misread() -> None:
    space = {"x": uniform(0, 1), "z": uniform(0, 1)}
    matern = MultiFidelityGPSearcher(space, "y", random_seed=0, max_resource=9,
                                     num_init_random=1, random_fraction=0.0)
    for i in range(8):
        t = Trial(trial_id=i, config={"x": i / 8, "z": 1 - i / 8})
        matern.on_trial_add(t)
        matern.on_result(t, {"epoch": 1, "y": (i / 8 - 0.3) ** 2 + 0.2})
    matern.suggest()
    matern.suggest()
    state = matern.state()
    assert len(state.theta) == 2 + 3
    decay = MultiFidelityGPSearcher(space, "y", random_seed=0, max_resource=9,
                                    num_init_random=1, random_fraction=0.0,
                                    resource_kernel="exp-decay-sum")
    decay.restore(state)
    assert decay.num_observations == 8 and decay.gp.get_fit()[0] == []
    assert decay.suggest() is not None
    assert len(decay.gp.get_fit()[0]) == 2 + 6  # refit with its own kernel
