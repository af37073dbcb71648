"""``restrict_configurations``: searchers suggest only entries of a given list, each once.

This is how tabulated benchmarks are searched (Syne Tune's option of the same
name): random, model-based and evolutionary searchers all stay on the table's
rows, model-based ones rank the unused rows by their acquisition, and a finished
list ends the search.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.config_space import choice, loguniform, randint, sample_config
from aiotune.errors import ConfigValueError, InvalidArgumentError
from aiotune.schedulers.asha import ASHA
from aiotune.schedulers.grid_search import GridSearch
from aiotune.schedulers.random_search import RandomSearch
from aiotune.schedulers.rea_scheduler import REA
from aiotune.schedulers.searchers.base import resolve_searcher
from aiotune.stopping import StoppingCriterion
from aiotune.trial import Trial
from aiotune.tuner import Tuner

SPACE = {"lr": loguniform(1e-4, 1.0), "layers": randint(1, 8), "act": choice(["relu", "tanh"])}


def _objective(c: dict[str, Any]) -> float:
    return (math.log10(c["lr"]) + 2.0) ** 2 + (c["layers"] - 5) ** 2 / 4.0 + (c["act"] == "tanh")


def _table(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [sample_config(SPACE, rng) for _ in range(n)]


def _searcher(name: str, allowed: list[dict[str, Any]], **kwargs: Any) -> Any:
    extra: dict[str, Any] = {"num_init_random": 4} if name in ("bayesopt", "bayesopt_mf") else {}
    if name == "bayesopt_mf":
        extra.update(resource_attr="epoch", max_resource=1)
    if name == "kde":
        extra.update(random_fraction=0.0, num_min_data_points=3)
    if name == "tpe":
        extra.update(n_startup_trials=4)
    if name == "cqr":
        extra.update(num_init_random=4, model_kwargs={"n_estimators": 20})
    if name == "bore":
        extra.update(num_init_random=4, classifier_kwargs={"n_estimators": 20})
    return resolve_searcher(name)(
        SPACE, "y", random_seed=3, restrict_configurations=allowed, **extra, **kwargs
    )


def _drive(searcher: Any, n: int) -> list[dict[str, Any] | None]:
    """Suggest ``n`` times, reporting the objective (at epoch 1) after each suggestion."""
    out: list[dict[str, Any] | None] = []
    for i in range(n):
        config = searcher.suggest()
        out.append(config)
        if config is None:
            continue
        trial = Trial(trial_id=i, config=config)
        searcher.on_trial_add(trial)
        result = {"y": _objective(config), "epoch": 1}
        searcher.on_result(trial, result)
        searcher.on_trial_complete(trial, result)
    return out


@pytest.mark.parametrize(
    "name", ["random", "bayesopt", "bayesopt_mf", "kde", "tpe", "cqr", "bore", "rea", "grid"]
)
def test_only_listed_configs_each_once_then_none(name: str) -> None:
    allowed = _table(25)
    got = _drive(_searcher(name, allowed), 27)
    keys = [tuple(sorted(c.items())) for c in got if c is not None]
    table = {tuple(sorted(c.items())) for c in allowed}
    assert len(keys) == 25 and set(keys) == table  # every row once, nothing else
    assert got[-2:] == [None, None]  # the list is used up


@pytest.mark.parametrize("name", ["bayesopt", "bayesopt_mf", "kde", "cqr", "bore"])
def test_model_based_searchers_rank_the_unused_rows(name: str) -> None:
    """After a few observations the model picks good rows far more often than chance."""
    allowed = _table(400, seed=1)
    values = np.array([_objective(c) for c in allowed])
    good = values <= np.quantile(values, 0.1)
    picks = [c for c in _drive(_searcher(name, allowed), 30)[10:] if c is not None]
    hits = sum(bool(good[allowed.index(c)]) for c in picks)
    assert hits >= 8, f"{name}: {hits} of {len(picks)} model picks in the best tenth"


def test_points_to_evaluate_still_come_first_and_count_as_used() -> None:
    allowed = _table(5)
    s = _searcher("random", allowed, points_to_evaluate=[allowed[3]])
    got = _drive(s, 6)
    assert got[0] == allowed[3]
    assert sum(c == allowed[3] for c in got) == 1 and got[-1] is None


def test_bad_lists_are_refused_naming_the_entry() -> None:
    with pytest.raises(InvalidArgumentError, match="restrict_configurations"):
        _searcher("random", [])
    bad_value = [{"lr": 0.01, "layers": 2, "act": "relu"}, {"lr": 5.0, "layers": 2, "act": "relu"}]
    with pytest.raises(ConfigValueError, match=r"restrict_configurations\[1\].*lr"):
        _searcher("random", bad_value)
    with pytest.raises(ConfigValueError, match=r"restrict_configurations\[0\] lacks \['act'\]"):
        _searcher("random", [{"lr": 0.01, "layers": 2}])


def test_duplicates_in_the_list_are_suggested_once() -> None:
    row = {"lr": 0.01, "layers": 2, "act": "relu"}
    got = _drive(_searcher("random", [row, dict(row)]), 2)
    assert got == [row, None]


def test_asha_in_simulation_stays_on_the_table_and_saves_its_searcher() -> None:
    """Through the Tuner: a tabular blackbox's rows, none repeated, saved in tuner.json."""
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    bb = SyntheticLearningCurves(max_epochs=9)
    rows = [sample_config(bb.config_space, np.random.default_rng(i)) for i in range(40)]
    sched = ASHA(bb.config_space, "valid_error", max_t=9, random_seed=0,
                 searcher_kwargs={"restrict_configurations": rows})
    tuner = Tuner(SimulatorBackend(bb, seed=0), sched,
                  StoppingCriterion(max_num_trials_started=60), n_workers=4,
                  print_update_interval=1e9, save_tuner=True)
    tuner.run()
    configs = [t.config for t in tuner.trials.values()]
    assert len(configs) == 40  # the list ran out before the criterion
    assert all(c in rows for c in configs)
    assert len({tuple(sorted(c.items())) for c in configs}) == 40
    assert tuner.stop_reason == "search space exhausted"


def test_tpe_ranks_the_unused_rows() -> None:
    """TPE's good density rests on a tenth of the data (1-3 trials here), so single runs
    vary: over five seeds it must pick rows of the best tenth three times as often as
    chance (random search: 2 of 20 on average)."""
    allowed = _table(400, seed=1)
    values = np.array([_objective(c) for c in allowed])
    good = values <= np.quantile(values, 0.1)
    hits = []
    for seed in range(5):
        s = resolve_searcher("tpe")(
            SPACE, "y", random_seed=seed, restrict_configurations=allowed, n_startup_trials=4
        )
        picks = [c for c in _drive(s, 30)[10:] if c is not None]
        hits.append(sum(bool(good[allowed.index(c)]) for c in picks))
    assert np.mean(hits) >= 6, hits


@pytest.mark.parametrize("scheduler", [RandomSearch, GridSearch, REA])
def test_the_fifo_schedulers_take_the_option_directly(scheduler: Any) -> None:
    rows = _table(3)
    sched = scheduler(SPACE, "y", random_seed=0, restrict_configurations=rows)
    assert sched.searcher.restrict_configurations == rows


def test_a_shuffled_grid_over_the_rows_visits_each_once() -> None:
    rows = _table(12)
    got = _drive(_searcher("grid", rows, shuffle=True), 13)
    assert got[-1] is None and sorted(map(str, got[:-1])) == sorted(map(str, rows))
    assert got[:-1] != rows  # shuffled (a 1 in 12! chance to fail by coincidence)


def test_kde_prefers_an_entry_near_the_good_points_to_remote_ones() -> None:
    """Far from all data l(x) / g(x) is the ratio of the prior weights, (n_bad+1)/(n_good+1);
    unused remote entries must not win on that alone."""
    rng = np.random.default_rng(0)
    seen = [
        {"lr": float(10 ** rng.uniform(-3, -1)), "layers": int(rng.integers(1, 9)), "act": "relu"}
        for _ in range(60)
    ]
    near = {"lr": 0.02, "layers": 6, "act": "relu"}  # good, not the best seen
    worse = [
        {"lr": lr, "layers": n, "act": "relu"} for lr, n in [(1e-3, 1), (1.2e-3, 8), (0.09, 1)]
    ]
    remote = [{"lr": float(lr), "layers": 1, "act": "tanh"} for lr in np.linspace(0.3, 1.0, 20)]
    s = _searcher("kde", [*seen, *remote, *worse, near], points_to_evaluate=seen,
                  num_candidates=4)
    for i, config in enumerate(_drive(s, 60)):
        assert config == seen[i]
    assert s.suggest() == near
