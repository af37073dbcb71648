"""The regularized-evolution ("rea") searcher and the REA scheduler."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import choice, config_in_space, randint, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers.rea_scheduler import REA
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.schedulers.searchers.rea import REASearcher
from aiotune.trial import Trial

SPACE = {"a": randint(0, 9), "b": randint(0, 9), "c": choice(list("pqrst")), "x": uniform(0, 1)}


def f(c: dict[str, Any]) -> float:
    return abs(c["a"] - 3) + abs(c["b"] - 8) + (c["c"] != "s") * 2 + abs(c["x"] - 0.5)


def _run(searcher: Any, n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        config = searcher.suggest()
        trial = Trial(trial_id=i, config=config)
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, {"y": f(config)})
        out.append(config)
    return out


def test_children_differ_from_a_member_in_one_hyperparameter() -> None:
    s = REASearcher(SPACE, "y", random_seed=0, population_size=10, sample_size=3)
    configs = _run(s, 40)
    assert all(config_in_space(SPACE, c) for c in configs)
    for i, child in enumerate(configs[10:], start=10):
        window = configs[max(0, i - 10) : i]
        assert any(sum(child[k] != p[k] for k in SPACE) == 1 for p in window), child


def test_population_keeps_the_most_recent_members() -> None:
    s = REASearcher(SPACE, "y", random_seed=0, population_size=5, sample_size=2)
    _run(s, 12)
    assert list(s.state().population[i][0] for i in range(5)) == [7, 8, 9, 10, 11]


def test_rea_beats_random_search() -> None:
    def best(cls: type, **kw: Any) -> float:
        return float(
            np.mean(
                [min(map(f, _run(cls(SPACE, "y", random_seed=s, **kw), 150))) for s in range(5)]
            )
        )

    assert best(REASearcher, population_size=20, sample_size=5) < best(RandomSearcher)


def test_nan_results_and_state_round_trip() -> None:
    s = REASearcher(SPACE, "y", random_seed=1, population_size=4, sample_size=2)
    trial = Trial(trial_id=100, config=s.suggest())
    s.on_result(trial, {"y": math.nan})
    assert s.state().population == []
    _run(s, 9)
    other = REASearcher(SPACE, "y", random_seed=9, population_size=4, sample_size=2)
    other.restore(msgspec.json.decode(msgspec.json.encode(s.state())))
    assert _run(s, 6, start=9) == _run(other, 6, start=9)


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="sample_size"):
        REASearcher(SPACE, "y", population_size=3, sample_size=4)
    with pytest.raises(InvalidArgumentError, match="population_size"):
        REA(SPACE, "y", population_size=0)


@pytest.mark.asyncio
async def test_rea_scheduler_finite_space_ends() -> None:
    space = {"a": randint(0, 2), "b": choice(["u", "v"])}
    sched = REA(space, "y", random_seed=0, population_size=2, sample_size=2)
    seen = set()
    for i in range(6):
        s = await sched.suggest()
        assert s is not None
        seen.add((s.config["a"], s.config["b"]))
        trial = Trial(trial_id=i, config=s.config)
        await sched.on_trial_add(trial)
        await sched.on_trial_complete(trial, {"y": s.config["a"]})
    assert len(seen) == 6 and await sched.suggest() is None
