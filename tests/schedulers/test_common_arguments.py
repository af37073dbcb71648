"""Arguments every scheduler shares (metric, random_seed) are checked alike and named."""

from __future__ import annotations

from typing import Any

import pytest

from aiotune import schedulers as S
from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError

SPACE = {"x": uniform(0.0, 1.0), "c": choice(["a", "b"]), "epochs": 9}
SINGLE = ["RandomSearch", "GridSearch", "BayesianOptimization", "TPE", "REA", "FIFOScheduler",
          "ASHA", "Hyperband", "MedianStoppingRule", "PopulationBasedTraining", "BOHB",
          "MOBSTER", "SyncHyperband", "DEHB", "PASHA", "SyncBOHB", "SyncMOBSTER", "HyperTune",
          "DyHPO", "ASHABORE", "BORE"]
MULTI = ["MOASHA", "MOREA", "NSGA2", "EHVI"]


def make(name: str, **kwargs: Any) -> Any:
    return getattr(S, name)(SPACE, **kwargs)


@pytest.mark.parametrize("name", SINGLE)
@pytest.mark.parametrize("metric", [None, 3, ""])
def test_a_bad_metric_is_named(name: str, metric: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="metric"):
        make(name, metric=metric)


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("metric", [None, 3, "loss", ["a", "a"]])
def test_a_bad_objective_list_is_named(name: str, metric: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="metric"):
        make(name, metric=metric)


@pytest.mark.parametrize("name", ["RandomSearch", "BayesianOptimization", "FIFOScheduler"])
def test_repeated_metric_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="repeat"):
        make(name, metric=["f1", "f1"], mode=["min", "max"])


@pytest.mark.parametrize("name", SINGLE)
@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_a_bad_random_seed_is_named(name: str, seed: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="random_seed"):
        make(name, metric="loss", random_seed=seed)


@pytest.mark.parametrize("name", [*SINGLE, "MOASHA"])
def test_every_scheduler_exposes_its_config_space(name: str) -> None:
    """``metadata.json`` records it (``load_experiment(...).importance()`` needs it)."""
    metric: Any = ["a", "b"] if name == "MOASHA" else "loss"
    assert make(name, metric=metric, random_seed=0).config_space is SPACE
