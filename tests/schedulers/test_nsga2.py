"""NSGA-II: the variation operators, environmental selection, tournaments, convergence
to a known front, asynchronous use, state round trip, the shared battery."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune._pareto import nsga2_order
from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import MOREA, NSGA2
from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.searchers import NSGA2Searcher, RandomSearcher
from aiotune.schedulers.searchers._variation import polynomial_mutation, sbx_crossover
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}


def zdt1(config: dict[str, Any]) -> dict[str, float]:
    """ZDT1 in two variables: Pareto set y = 0, front f2 = 1 - sqrt(f1)."""
    x, y = config["x"], config["y"]
    g = 1.0 + 9.0 * y
    return {"f1": x, "f2": g * (1.0 - np.sqrt(x / g))}


def feed(searcher: Any, n: int, objective: Any, first_id: int = 0) -> list[dict[str, Any]]:
    configs = []
    for trial_id in range(first_id, first_id + n):
        config = searcher.suggest()
        trial = Trial(trial_id=trial_id, config=config)
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, objective(config))
        configs.append(config)
    return configs


# -- operators --------------------------------------------------------------------------


def test_sbx_children_stay_in_the_cube_and_centre_on_the_parents() -> None:
    rng = np.random.default_rng(0)
    kids = np.array([sbx_crossover(rng, 0.3, 0.5, 15.0) for _ in range(4000)])
    assert kids.min() >= 0.0 and kids.max() <= 1.0
    assert kids.mean() == pytest.approx(0.4, abs=0.01)  # symmetric around the parents' mean

    def off_parents(children: np.ndarray) -> float:
        return float(np.mean(np.minimum(np.abs(children - 0.3), np.abs(children - 0.5))))

    assert off_parents(kids) < 0.02  # eta 15: children near the parents
    wide = np.array([sbx_crossover(rng, 0.3, 0.5, 0.5) for _ in range(4000)])
    assert off_parents(wide) > 3 * off_parents(kids)  # smaller eta spreads wider
    assert sbx_crossover(rng, 0.7, 0.7, 15.0) == (0.7, 0.7)
    edge = np.array([sbx_crossover(rng, 0.0, 1.0, 2.0) for _ in range(500)])
    assert edge.min() >= 0.0 and edge.max() <= 1.0


def test_polynomial_mutation_stays_in_the_cube_and_near_the_point() -> None:
    rng = np.random.default_rng(1)
    for x in (0.0, 0.02, 0.5, 0.98, 1.0):
        ys = np.array([polynomial_mutation(rng, x, 20.0) for _ in range(2000)])
        assert ys.min() >= 0.0 and ys.max() <= 1.0
        assert np.median(np.abs(ys - x)) < 0.05
    moved = np.array([polynomial_mutation(rng, 0.5, 20.0) for _ in range(2000)])
    assert np.mean(moved != 0.5) > 0.99


# -- the searcher -----------------------------------------------------------------------


def test_population_keeps_the_best_by_front_then_crowding() -> None:
    searcher = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=4, random_seed=0)
    values = [(0.1, 0.9), (0.5, 0.5), (0.9, 0.1), (0.6, 0.6), (0.45, 0.55), (0.8, 0.8)]
    for i, (a, b) in enumerate(values):
        searcher.on_result(Trial(trial_id=i, config={"x": a, "y": b}), {"f1": a, "f2": b})
    kept = sorted(tid for tid, _, _ in searcher.state().population)
    # front {0, 1, 2, 4}: four members fit, the dominated 3 and 5 go
    assert kept == [0, 1, 2, 4]
    searcher.on_result(Trial(trial_id=6, config={"x": 0.3, "y": 0.3}), {"f1": 0.3, "f2": 0.3})
    # 6 dominates 1 and 4: front {0, 6, 2}, then {1, 4} by crowding: 1 and 4 tie on the
    # second front, whose crowding is infinite for both ends; the first in order stays
    kept = sorted(tid for tid, _, _ in searcher.state().population)
    assert kept == [0, 1, 2, 6]
    order = nsga2_order(np.array([v for _, _, v in searcher.state().population]))
    assert len(order) == 4


def test_first_population_is_random_then_children_of_tournament_winners() -> None:
    searcher = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=6, random_seed=2)
    twin = RandomSearcher(SPACE, "f1", random_seed=2)
    assert feed(searcher, 6, zdt1) == [twin.suggest() for _ in range(6)]
    assert not searcher.last_from_model
    searcher.suggest()
    assert searcher.last_from_model
    place = np.array([3, 0, 2, 1])  # member 1 placed first, member 0 last
    wins = [searcher._tournament(place) for _ in range(300)]
    assert 0 not in wins  # the last placed never wins a pair
    assert wins.count(1) > wins.count(3) > wins.count(2)  # 1 wins every pair it is in


def test_children_converge_to_the_zdt1_front_and_spread_along_it() -> None:
    searcher = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=20, random_seed=0)
    feed(searcher, 400, zdt1)
    pop = searcher.state().population
    ys = np.array([c["y"] for _, c, _ in pop])
    xs = np.array([c["x"] for _, c, _ in pop])
    assert np.median(ys) < 0.01, ys  # on the Pareto set y = 0
    assert xs.max() - xs.min() > 0.8, xs  # crowding spreads it over the front
    # regularized evolution with a 20 population on the same budget is nowhere near
    rea = MOREA(SPACE, ["f1", "f2"], population_size=20, sample_size=5, random_seed=0).searcher
    feed(rea, 400, zdt1)
    rea_ys = np.array([c["y"] for _, c, _ in rea.state().population])
    assert np.median(ys) < np.median(rea_ys)


def test_categoricals_are_inherited_and_mutated_whole() -> None:
    space = {"x": uniform(0.0, 1.0), "kind": choice(["a", "b", "c"])}
    searcher = NSGA2Searcher(space, ["f1", "f2"], population_size=8, random_seed=4)

    def objective(config: dict[str, Any]) -> dict[str, float]:
        penalty = {"a": 0.0, "b": 0.5, "c": 1.0}[config["kind"]]
        return {"f1": config["x"] + penalty, "f2": 1.0 - config["x"] + penalty}

    configs = feed(searcher, 200, objective)
    assert all(c["kind"] in ("a", "b", "c") for c in configs)
    # the dominating category takes the population; mutation (a hyperparameter in two,
    # to a random category) keeps trying the others
    assert {c["kind"] for _, c, _ in searcher.state().population} == {"a"}
    assert 25 < sum(c["kind"] == "a" for c in configs[-50:]) < 50


def test_restricted_children_land_on_unused_rows() -> None:
    rng = np.random.default_rng(3)
    rows = [{"x": float(a), "y": float(b)} for a, b in rng.random((120, 2))]
    searcher = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=10, random_seed=0,
                             restrict_configurations=rows)
    configs = feed(searcher, 120, zdt1)
    keys = [(c["x"], c["y"]) for c in configs]
    assert len(set(keys)) == 120 and set(keys) == {(r["x"], r["y"]) for r in rows}
    assert searcher.suggest() is None  # every row used


def test_modes_unusable_reports_and_arguments() -> None:
    searcher = NSGA2Searcher(SPACE, ["acc", "cost"], mode=["max", "min"], population_size=3)
    t = [Trial(trial_id=i, config={"x": 0.1 * i, "y": 0.0}) for i in range(4)]
    searcher.on_result(t[0], {"acc": 0.9, "cost": 1.0})
    searcher.on_result(t[1], {"acc": float("nan"), "cost": 0.0})
    searcher.on_result(t[2], {"acc": 0.95})
    searcher.on_result(t[3], {"acc": 0.5, "cost": float("inf")})
    assert [(tid, v) for tid, _, v in searcher.state().population] == [(0, [-0.9, 1.0])]
    for kwargs, match in [
        ({"population_size": 1}, "population_size"),
        ({"crossover_probability": 1.5}, "crossover_probability"),
        ({"mutation_eta": -1}, "mutation_eta"),
    ]:
        with pytest.raises(InvalidArgumentError, match=match):
            NSGA2Searcher(SPACE, ["a", "b"], **kwargs)
    with pytest.raises(InvalidArgumentError, match="at least two objectives"):
        NSGA2(SPACE, "f1")
    with pytest.raises(InvalidArgumentError, match="at least one hyperparameter"):
        NSGA2({"epochs": 9}, ["f1", "f2"])
    scheduler = NSGA2(SPACE, metrics=["f1", "f2"], mode="max", population_size=7)
    assert scheduler.searcher.population_size == 7 and scheduler.mode == ["max", "max"]


def test_state_round_trip_continues_the_same_sequence() -> None:
    a = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=5, random_seed=3)
    feed(a, 14, zdt1)
    data = msgspec.json.encode(a.state())
    b = NSGA2Searcher(SPACE, ["f1", "f2"], population_size=5, random_seed=99)
    b.restore(msgspec.json.decode(data))
    assert feed(a, 8, zdt1, 14) == feed(b, 8, zdt1, 14)


class TestNSGA2Conformance(SchedulerTestCase):
    """The shared battery; the epoch is the second objective."""

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return NSGA2(config_space, [metric, "epoch"], mode=[mode, "min"], random_seed=seed,
                     population_size=4)


def test_a_simulated_run_on_four_workers_resumes_and_finds_a_front(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune import StoppingCriterion, Tuner
    from aiotune.backends import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    objectives = ["valid_error", "elapsed_time"]
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=NSGA2(bb.config_space, objectives, population_size=8, random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=30),
        n_workers=4, tuner_name="nsga2", suffix_tuner_name=False, print_update_interval=3600.0,
    )
    tuner.run()
    again = Tuner.load(tmp_path / "nsga2", trial_backend=SimulatorBackend(bb, seed=0),
                       stop_criterion=StoppingCriterion(max_num_trials_started=50))
    before = tuner.scheduler.searcher.state().population  # type: ignore[attr-defined]
    assert again.scheduler.searcher.state().population == before  # restored, not rebuilt
    again.run()
    assert again.status.num_trials_started >= 50 and again.status.num_trials_failed == 0
    front = again.pareto_front()
    assert front and all(len(values) == 2 for _, _, values in front)
