"""The GP core: hand-checked posterior, gradients, block Cholesky updates, fit, EI search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from aiotune.schedulers.searchers.gp.acquisition import (
    ExpectedImprovement,
    expected_improvement,
    expected_improvement_with_grad,
    maximize_acquisition,
)
from aiotune.schedulers.searchers.gp.kernel import Matern52
from aiotune.schedulers.searchers.gp.model import (
    GPHyperparameters,
    GPPosterior,
    fit_hyperparameters,
    neg_log_marginal_likelihood,
    standardize,
)


def _matern(r: float) -> float:
    """Matern-5/2 with unit variance, written out by hand."""
    return (1.0 + math.sqrt(5.0) * r + 5.0 * r * r / 3.0) * math.exp(-math.sqrt(5.0) * r)


def test_kernel_values_by_hand() -> None:
    k = Matern52(np.array([2.0, 0.5]), variance=3.0)
    a = np.array([[0.0, 0.0]])
    b = np.array([[1.0, 0.25]])
    r = math.sqrt((1.0 / 2.0) ** 2 + (0.25 / 0.5) ** 2)
    assert k(a, b)[0, 0] == pytest.approx(3.0 * _matern(r), rel=1e-12)
    assert k(a)[0, 0] == pytest.approx(3.0)


def test_two_point_posterior_matches_hand_formula() -> None:
    # X = {0, 1}, lengthscale 1, variance 1, noise s: K = [[1+s, c], [c, 1+s]], c = m(1).
    noise = 0.01
    hyp = GPHyperparameters(np.array([1.0]), 1.0, noise)
    X = np.array([[0.0], [1.0]])
    c = _matern(1.0)
    # Symmetric targets: K^-1 [1, 1] = [1, 1] / (1 + s + c).
    post = GPPosterior(X, np.array([1.0, 1.0]), hyp)
    a = _matern(0.5)
    mean, var = post.predict(np.array([[0.5]]))
    assert mean[0] == pytest.approx(2.0 * a / (1.0 + noise + c), rel=1e-6)
    assert var[0] == pytest.approx(1.0 - 2.0 * a * a / (1.0 + noise + c), rel=1e-6)
    # Antisymmetric targets at a training input: K^-1 [1, -1] = [1, -1] / (1 + s - c).
    post = GPPosterior(X, np.array([1.0, -1.0]), hyp)
    mean, var = post.predict(np.array([[0.0]]))
    det = (1.0 + noise) ** 2 - c * c
    assert mean[0] == pytest.approx((1.0 - c) / (1.0 + noise - c), rel=1e-6)
    assert var[0] == pytest.approx(1.0 - (1.0 + noise - c * c + c * c * noise) / det, rel=1e-6)
    # The midpoint of antisymmetric data has mean 0 by symmetry.
    assert post.predict(np.array([[0.5]]))[0][0] == pytest.approx(0.0, abs=1e-12)


def test_empty_posterior_is_the_prior() -> None:
    post = GPPosterior(np.zeros((0, 2)), np.zeros(0), GPHyperparameters.default(2))
    mean, var = post.predict(np.array([[0.1, 0.2], [0.5, 0.5]]))
    assert np.all(mean == 0.0) and np.allclose(var, 1.0)


def test_marginal_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((25, 3))
    y, _, _ = standardize(np.sin(5 * X[:, 0]) + X[:, 1] ** 2)
    sq = (X.T[:, :, None] - X.T[:, None, :]) ** 2
    theta = np.array([-1.0, -0.5, 0.3, 0.2, -4.0])
    value, grad = neg_log_marginal_likelihood(theta, sq, y)
    numeric = approx_fprime(theta, lambda t: neg_log_marginal_likelihood(t, sq, y)[0], 1e-6)
    assert np.isfinite(value)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_posterior_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((15, 3))
    post = GPPosterior(
        X, np.cos(4 * X).sum(1), GPHyperparameters(np.array([0.3, 0.5, 1.0]), 1.5, 1e-3)
    )
    x = rng.random(3)
    mean, var, dmean, dvar = post.predict_with_grad(x)
    eps = 1e-6
    for j, e in enumerate(np.eye(3)):
        mp, vp = post.predict((x + eps * e)[None])
        mm, vm = post.predict((x - eps * e)[None])
        assert dmean[j] == pytest.approx((mp[0] - mm[0]) / (2 * eps), rel=1e-4, abs=1e-6)
        assert dvar[j] == pytest.approx((vp[0] - vm[0]) / (2 * eps), rel=1e-4, abs=1e-6)
    ei, grad = expected_improvement_with_grad(post, x, best=-1.0)
    numeric = approx_fprime(x, lambda z: expected_improvement_with_grad(post, z, -1.0)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-6)
    assert ei == pytest.approx(
        float(expected_improvement(np.array([mean]), np.array([math.sqrt(var)]), -1.0)[0])
    )


def test_block_cholesky_extension_equals_refactorization() -> None:
    rng = np.random.default_rng(2)
    X = rng.random((30, 4))
    y = rng.standard_normal(30)
    hyp = GPHyperparameters(np.full(4, 0.4), 1.0, 1e-4)
    full = GPPosterior(X, y, hyp)
    grown = GPPosterior(X[:18], y[:18], hyp).extend(X[18:], y)
    Z = rng.random((7, 4))
    for a, b in zip(full.predict(Z), grown.predict(Z), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_fit_finds_the_irrelevant_dimension() -> None:
    rng = np.random.default_rng(3)
    X = rng.random((40, 2))
    y, _, _ = standardize(np.sin(6.0 * X[:, 0]))  # x1 does not matter
    hyp = fit_hyperparameters(X, y, rng)
    assert hyp.lengthscales[1] > 3.0 * hyp.lengthscales[0]
    assert hyp.noise < 0.05


def test_standardize_handles_constant_and_empty_data() -> None:
    z, mean, std = standardize(np.array([3.0, 3.0, 3.0]))
    assert std == 1.0 and mean == 3.0 and np.all(z == 0.0)
    z, _, _ = standardize(np.zeros(0))
    assert z.size == 0


def test_fit_on_constant_targets_is_finite() -> None:
    rng = np.random.default_rng(4)
    X = rng.random((8, 2))
    hyp = fit_hyperparameters(X, np.zeros(8), rng)
    assert np.all(np.isfinite(hyp.to_theta()))
    mean, var = GPPosterior(X, np.zeros(8), hyp).predict(rng.random((5, 2)))
    assert np.all(np.isfinite(mean)) and np.all(var > 0)


def test_ei_maximizer_matches_brute_force_on_a_fine_grid() -> None:
    rng = np.random.default_rng(5)
    X = np.array([[0.05], [0.3], [0.5], [0.8], [0.95]])
    y, _, _ = standardize((X[:, 0] - 0.62) ** 2)
    post = GPPosterior(X, y, GPHyperparameters(np.array([0.2]), 1.0, 1e-6))
    best = float(y.min())
    grid = np.linspace(0.0, 1.0, 20001)[:, None]
    m, v = post.predict(grid)
    ei = expected_improvement(m, np.sqrt(v), best)
    x = maximize_acquisition(ExpectedImprovement(post, best), rng.random((50, 1)),
                             project=lambda z: z)
    assert x is not None
    assert abs(x[0] - grid[np.argmax(ei), 0]) < 1e-3
    mx, vx = post.predict(x[None])
    assert expected_improvement(mx, np.sqrt(vx), best)[0] >= ei.max() * (1 - 1e-6)


def test_ei_maximizer_respects_exclusions() -> None:
    X = np.array([[0.0], [1.0]])
    post = GPPosterior(X, np.array([0.0, 1.0]), GPHyperparameters(np.array([0.3]), 1.0, 1e-6))
    cands = np.array([[0.25], [0.5], [0.75]])
    ei = ExpectedImprovement(post, 0.0)
    x = maximize_acquisition(
        ei, cands, project=lambda z: np.round(z * 4) / 4, is_excluded=lambda z: z[0] < 0.6
    )
    assert x is not None and x[0] == 0.75
    assert (
        maximize_acquisition(ei, cands, project=lambda z: z, is_excluded=lambda z: True)
        is None
    )


def test_select_subset_keeps_preferred_and_best_rows() -> None:
    from aiotune.schedulers.searchers.gp.incremental import select_subset

    rng = np.random.default_rng(6)
    y = rng.standard_normal(100)
    prefer = np.zeros(100, dtype=bool)
    prefer[90:] = True
    idx = select_subset(y, 40, rng, prefer)
    assert idx.size == 40 and np.all(np.diff(idx) > 0)
    assert set(range(90, 100)) <= set(idx.tolist())
    assert set(np.argsort(y)[:10].tolist()) <= set(idx.tolist())
    assert select_subset(y[:30], 40, rng).tolist() == list(range(30))


def test_incremental_gp_subsamples_and_restores_exactly() -> None:
    from aiotune.schedulers.searchers.gp.incremental import IncrementalGP

    rng = np.random.default_rng(7)
    X = rng.random((60, 2))
    y, _, _ = standardize(np.sin(4 * X).sum(1))
    gp = IncrementalGP(refit_fraction=0.5, max_data_points=25)
    post = gp.posterior(X[:50], y[:50], rng)
    assert post.num_points == 25 and gp.num_fits == 1
    post = gp.posterior(X[:55], y[:55], rng)  # no refit yet: 5 rows appended
    assert post.num_points == 30 and gp.num_fits == 1
    again = IncrementalGP(refit_fraction=0.5, max_data_points=25)
    again.set_fit(*gp.get_fit())
    Z = rng.random((5, 2))
    a = gp.posterior(X, y, rng).predict(Z)
    b = again.posterior(X, y, rng).predict(Z)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_select_subset_chooses_among_eligible_rows_only() -> None:
    from aiotune.schedulers.searchers.gp.incremental import select_subset

    rng = np.random.default_rng(0)
    y = rng.standard_normal(50)
    eligible = np.zeros(50, dtype=bool)
    eligible[::2] = True
    assert np.array_equal(select_subset(y, 30, rng, eligible=eligible), np.arange(0, 50, 2))
    chosen = select_subset(y, 10, rng, prefer=np.arange(50) < 10, eligible=eligible)
    assert chosen.size == 10 and eligible[chosen].all()
