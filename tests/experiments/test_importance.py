"""Hyperparameter importance (functional ANOVA over a random forest): exact per tree,
planted functions, categoricals, and ``ExperimentResult.importance`` on real folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from aiotune._fanova import _tree_fractions, fanova_importances, importance_columns
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.config_space import Domain, choice, loguniform, randint
from aiotune.errors import InvalidArgumentError
from aiotune.experiments import ExperimentError, load_experiment
from aiotune.schedulers import ASHA, RandomSearch
from aiotune.stopping import StoppingCriterion
from aiotune.tuner import Tuner


def _grid(n: int) -> np.ndarray:
    g = (np.arange(n) + 0.5) / n
    return np.array([(a, b) for a in g for b in g])


def test_one_tree_is_decomposed_exactly() -> None:
    X = _grid(4)
    # a step in x0 only: all of the variance is x0's
    step = DecisionTreeRegressor().fit(X, (X[:, 0] > 0.5).astype(float)).tree_
    assert _tree_fractions(step, 2) == pytest.approx([1.0, 0.0])
    # a pure interaction corner: each main effect explains 1/3 (0.0625 of 0.1875)
    corner = ((X[:, 0] > 0.5) & (X[:, 1] > 0.5)).astype(float)
    tree = DecisionTreeRegressor().fit(X, corner).tree_
    assert _tree_fractions(tree, 2) == pytest.approx([1 / 3, 1 / 3])
    # an additive function of unequal steps: shares 4 : 1 of the (additive) variance
    additive = 2.0 * (X[:, 0] > 0.5) + 1.0 * (X[:, 1] > 0.5)
    tree = DecisionTreeRegressor().fit(X, additive).tree_
    assert _tree_fractions(tree, 2) == pytest.approx([0.8, 0.2])
    flat = DecisionTreeRegressor().fit(X, np.ones(len(X))).tree_
    assert _tree_fractions(flat, 2) is None


def test_planted_linear_function_shares_its_variance() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((300, 4))
    y = 4.0 * X[:, 0] + 2.0 * X[:, 1]  # variance shares 16 : 4 : 0 : 0
    shares = fanova_importances(X, y, seed=0)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(0.8, abs=0.05) and shares[1] == pytest.approx(0.2, abs=0.05)
    assert shares[2] < 0.01 and shares[3] < 0.01
    assert fanova_importances(X, np.full(300, 3.0)).tolist() == [0.0] * 4


def test_columns_unit_encode_numbers_and_index_categories() -> None:
    space = {"lr": loguniform(1e-4, 1e-1), "n": randint(1, 3), "opt": choice(["a", "b", "c"]),
             "epochs": 9}
    cols = importance_columns(space, [{"lr": 1e-4, "n": 3, "opt": "c"},
                                      {"lr": 1e-1, "n": 1, "opt": "a"}])
    assert cols.shape == (2, 3)
    assert cols[:, 0] == pytest.approx([0.0, 1.0])  # log scale, unit cube
    assert cols[:, 2] == pytest.approx([5 / 6, 1 / 6])
    rng = np.random.default_rng(1)
    configs = [{"lr": float(10 ** rng.uniform(-4, -1)), "n": int(rng.integers(1, 4)),
                "opt": str(rng.choice(["a", "b", "c"])), "epochs": 9} for _ in range(200)]
    y = np.array([{"a": 0.0, "b": 1.0, "c": 5.0}[c["opt"]] for c in configs])
    shares = fanova_importances(importance_columns(space, configs), y)
    assert shares[2] > 0.97  # the categorical explains it all


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(InvalidArgumentError, match="at least 2 trials"):
        fanova_importances(np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(InvalidArgumentError, match="X must be"):
        fanova_importances(np.zeros((3, 2)), np.zeros(4))


# -- on a folder a Tuner wrote ------------------------------------------------------------


def _run(name: str, scheduler: Any, trials: int, bb: Any) -> Tuner:
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0), scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_started=trials), n_workers=2,
        tuner_name=name, suffix_tuner_name=False, print_update_interval=3600.0,
    )
    tuner.run()
    return tuner


def test_importance_of_a_finished_run(results_root: Path) -> None:
    bb = SyntheticLearningCurves(max_epochs=5, seed=0)
    _run("imp", RandomSearch(bb.config_space, metric="valid_error", random_seed=0), 60, bb)
    result = load_experiment("imp")
    imp = result.importance()
    assert set(imp) == {k for k, v in bb.config_space.items() if isinstance(v, Domain)}
    assert sum(imp.values()) == pytest.approx(1.0)
    assert list(imp.values()) == sorted(imp.values(), reverse=True)
    assert result.importance() == imp  # seeded: the same forest
    # a reported value the scheduler did not tune: each trial's best report of it
    other = result.importance("elapsed_time")
    assert sum(other.values()) == pytest.approx(1.0) and other != imp
    # the planted structure of the synthetic curves: learning rate first
    assert next(iter(imp)) == "learning_rate", imp


def test_importance_errors_and_stopped_trials(results_root: Path) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    _run("asha", ASHA(bb.config_space, metric="valid_error", max_t=9, random_seed=0), 30, bb)
    result = load_experiment("asha")
    statuses = [t.status.value for t in result.trial_records.values()]
    assert statuses.count("stopped") > 10 and statuses.count("completed") >= 2
    assert sum(result.importance().values()) == pytest.approx(1.0)
    assert sum(result.importance(only_completed=False).values()) == pytest.approx(1.0)
    _run("one", RandomSearch(bb.config_space, metric="valid_error", random_seed=0), 1, bb)
    with pytest.raises(ExperimentError, match=r"completed trials .* found [01] \(only_completed"):
        load_experiment("one").importance()
    with pytest.raises(InvalidArgumentError, match="unknown metric"):
        result.importance("nope")
    meta_path = result.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["config_space"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ExperimentError, match="no config space"):
        load_experiment("asha").importance()
