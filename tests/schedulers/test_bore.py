"""BORE: the labels and the classifier's ranking, the ``"bore"`` searcher's data rules, and
BORE / ASHABORE through the tuner on the simulator."""

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
from aiotune.schedulers import ASHABORE, BORE
from aiotune.schedulers.searchers.base import resolve_searcher
from aiotune.schedulers.searchers.bore import CLASSIFIERS, BORESearcher, make_classifier
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.stopping import StoppingCriterion
from aiotune.testing import drive_searcher as _run
from aiotune.trial import Trial
from aiotune.tuner import Tuner

SPACE = {"x1": uniform(-5, 10), "x2": uniform(0, 15)}
FAST = {"classifier_kwargs": {"n_estimators": 20}}


def branin(c: dict[str, Any]) -> float:
    bb = Branin()
    return float(bb.evaluate(c)[bb.metric])


def _complete(s: BORESearcher, trial_id: int, config: dict[str, Any], result: dict[str, Any]
              ) -> None:
    trial = Trial(trial_id=trial_id, config=config)
    s.on_trial_add(trial)
    s.on_trial_complete(trial, result)


def test_the_best_gamma_fraction_is_labelled_good_and_ranked_first() -> None:
    """Eight points on a line, the two lowest values at x = 0.9 and 1.0: the classifier
    (logistic regression, weakly regularized) must rate the right end good and the left
    end not."""
    logreg = {"classifier": "logreg", "classifier_kwargs": {"C": 1000.0}, "num_init_random": 8}
    s = BORESearcher({"x": uniform(0, 1)}, "y", random_seed=0, **logreg)
    for i in range(8):
        x = (i + 3) / 10
        _complete(s, i, {"x": x}, {"y": 1.0 - x})
    assert s._fit(s._data.highest(8))
    p = s.probability_good(np.array([[0.0], [0.5], [1.0]]))
    assert p[0] < 0.1 < 0.5 < p[2] and p[0] < p[1] < p[2], p
    config = s.suggest()
    assert config is not None and config["x"] > 0.8 and s.last_from_model
    # Mode max labels the highest values good instead.
    m = BORESearcher({"x": uniform(0, 1)}, "y", mode="max", random_seed=0, **logreg)
    for i in range(8):
        x = (i + 3) / 10
        _complete(m, i, {"x": x}, {"y": 1.0 - x})
    assert m._fit(m._data.highest(8))
    p = m.probability_good(np.array([[0.0], [1.0]]))
    assert p[0] > p[1]


def test_bore_beats_random_search_on_branin() -> None:
    def regret(make: Any) -> float:
        return float(np.mean([min(map(branin, _run(make(s), branin, 30))) for s in range(4)]))

    bore = regret(lambda s: BORESearcher(SPACE, "y", random_seed=s, **FAST))
    rnd = regret(lambda s: RandomSearcher(SPACE, "y", random_seed=s))
    assert bore - 0.397887 < 0.5 * (rnd - 0.397887), (bore, rnd)


def test_degenerate_data_falls_back_to_random_without_stalling() -> None:
    """All-equal values put every point in one class; NaN values are not data."""
    s = BORESearcher(SPACE, "y", random_seed=0, **FAST)
    configs = _run(s, lambda c: 1.0, 10)
    assert len(configs) == 10 and not s.last_from_model
    s = BORESearcher(SPACE, "y", random_seed=0, **FAST)
    configs = _run(s, lambda c: math.nan, 8)
    assert all(config_in_space(SPACE, c) for c in configs) and s._data.rows() == []
    # A single observation: still random, no fit attempted.
    s = BORESearcher(SPACE, "y", random_seed=0, **FAST)
    _run(s, branin, 1)
    assert s.suggest() is not None and s._model is None


def test_parallel_suggestions_without_new_data_differ_and_reuse_the_fit() -> None:
    s = BORESearcher(SPACE, "y", random_seed=0, **FAST)
    _run(s, branin, 10)
    batch = [s.suggest() for _ in range(4)]  # no results in between
    assert len({tuple(c.values()) for c in batch}) == 4 and s.last_from_model
    model = s._model
    s.suggest()
    assert s._model is model  # the same data: no refit
    _complete(s, 99, batch[0], {"y": branin(batch[0])})
    s.suggest()
    assert s._model is not model


def test_fifo_uses_latest_values_and_asha_the_highest_level_with_enough_data() -> None:
    fifo = BORESearcher({"x": uniform(0, 1)}, "y", random_seed=0)
    trial = Trial(trial_id=0, config={"x": 0.5})
    fifo.on_trial_add(trial)
    fifo.on_result(trial, {"y": 3.0})
    fifo.on_trial_complete(trial, {"y": 2.0})
    assert fifo._data.rows() == [(0.0, 0, {"x": 0.5}, 2.0)]
    mf = BORESearcher({"x": uniform(0, 1)}, "y", random_seed=0, resource_attr="epoch",
                      num_init_random=4)
    for i in range(6):
        t = Trial(trial_id=i, config={"x": i / 10})
        mf.on_trial_add(t)
        mf.on_result(t, {"y": float(i), "epoch": 1})
        if i < 4:
            mf.on_result(t, {"y": float(-i), "epoch": 3})
    mf.on_result(Trial(trial_id=9, config={"x": 0.9}), {"y": 1.0})  # no level: skipped
    rows = mf._data.highest(4)
    assert sorted(v for _, v in rows) == [-3.0, -2.0, -1.0, 0.0]  # epoch 3 has 4 values
    assert len(mf._data.highest(5)) == 6  # only epoch 1 has 5 or more
    assert resolve_searcher("bore") is BORESearcher


def test_seeds_reproduce_state_round_trips_and_finite_spaces() -> None:
    runs = [_run(BORESearcher(SPACE, "y", random_seed=2, **FAST), branin, 12) for _ in range(2)]
    assert runs[0] == runs[1]
    a = BORESearcher(SPACE, "y", random_seed=2, **FAST)
    _run(a, branin, 10)
    b = BORESearcher(SPACE, "y", random_seed=7, **FAST)
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    a._model, a._fitted_on = None, None  # as after a restore: the next suggestion refits
    assert _run(a, branin, 4, start=10) == _run(b, branin, 4, start=10)
    space = {"a": choice([1, 2, 3]), "b": randint(0, 3)}
    s = BORESearcher(space, "y", random_seed=0, **FAST)
    configs = _run(s, lambda c: c["a"] + c["b"], 12)
    assert len({(c["a"], c["b"]) for c in configs}) == 12 and s.suggest() is None


@pytest.mark.parametrize("classifier", [c for c in CLASSIFIERS if c != "xgboost"])
def test_every_scikit_learn_classifier_proposes_in_the_space(classifier: str) -> None:
    s = BORESearcher(SPACE, "y", random_seed=0, classifier=classifier, num_candidates=50)
    configs = _run(s, branin, 10)
    assert all(config_in_space(SPACE, c) for c in configs) and s.last_from_model


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.0}, "gamma"),
        ({"classifier": "svm"}, "classifier"),
        ({"classifier_kwargs": {"n_trees": 3}}, "n_trees"),
        ({"classifier_kwargs": [1]}, "classifier_kwargs"),
        ({"num_candidates": 0}, "num_candidates"),
        ({"num_init_random": 0}, "num_init_random"),
        ({"random_fraction": 1.5}, "random_fraction"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        BORESearcher(SPACE, "y", **kwargs)


def test_missing_packages_say_what_to_install(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(ImportError, match="pip install xgboost"):
        make_classifier("xgboost", 0)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"aiotune\[surrogate\]"):
        BORESearcher(SPACE, "y")


def test_bore_and_ashabore_run_through_the_tuner_and_keep_their_specs() -> None:
    bb = Branin()
    bore = BORE(bb.config_space, bb.metric, mode=bb.mode, random_seed=0, searcher_kwargs=FAST)
    assert isinstance(from_spec(to_spec(bore)), BORE)
    Tuner(
        SimulatorBackend(bb, seed=0), bore, StoppingCriterion(max_num_trials_completed=12),
        n_workers=2, print_update_interval=1e9, save_tuner=False,
    ).run()
    assert len(bore.searcher._data.rows()) >= 12 and bore.searcher._model is not None
    lc = SyntheticLearningCurves(max_epochs=9)
    asha = ASHABORE(lc.config_space, "valid_error", max_t=9, random_seed=0,
                    searcher_kwargs=FAST)
    again = from_spec(to_spec(asha))
    assert isinstance(again, ASHABORE) and again.rung_reference == "all"
    tuner = Tuner(
        SimulatorBackend(lc, seed=0), asha, StoppingCriterion(max_num_trials_started=30),
        n_workers=4, print_update_interval=1e9, save_tuner=False,
    )
    tuner.run()
    assert tuner.status.num_trials_stopped > 0
    levels = {lv for lv, *_ in asha.searcher._data.rows()}
    assert {1.0, 3.0} <= levels  # every rung level's results were recorded
    assert asha.searcher._model is not None  # fitted once a level had enough values
