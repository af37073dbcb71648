"""The kernel-density searcher (``"kde"``, BOHB's model) and a FIFO scheduler over it."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.config_space import choice, config_in_space, loguniform, randint, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers.fifo import FIFOScheduler
from aiotune.schedulers.searchers.base import resolve_searcher
from aiotune.schedulers.searchers.kde import KernelDensitySearcher
from aiotune.schedulers.searchers.random import RandomSearcher
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




def test_kde_beats_random_search_on_branin() -> None:
    def regret(cls: type) -> float:
        return float(
            np.mean(
                [
                    min(map(branin, _run(cls(BRANIN_SPACE, "y", random_seed=s), branin, 50)))
                    - 0.397887
                    for s in range(8)
                ]
            )
        )

    tpe, rnd = regret(KernelDensitySearcher), regret(RandomSearcher)
    assert tpe < 0.5 * rnd, (tpe, rnd)


def test_mixed_space_prefers_the_good_category() -> None:
    space = {"c": choice(["a", "b", "c", "d"]), "n": randint(1, 20), "lr": loguniform(1e-3, 1)}

    def f(c: dict[str, Any]) -> float:
        return (c["c"] != "b") + abs(c["n"] - 7) / 20 + abs(math.log10(c["lr"]) + 2) / 3

    s = KernelDensitySearcher(space, "y", random_seed=0, random_fraction=0.0)
    configs = _run(s, f, 60)
    assert all(config_in_space(space, c) for c in configs)
    late = [c["c"] for c in configs[30:]]
    assert late.count("b") > 0.6 * len(late)


def test_multi_fidelity_fits_the_highest_level_with_enough_data() -> None:
    s = KernelDensitySearcher(
        {"x": uniform(0, 1)}, "y", random_seed=0, resource_attr="epoch", num_min_data_points=2
    )
    for i in range(6):
        trial = Trial(trial_id=i, config={"x": i / 10})
        s.on_trial_add(trial)
        s.on_result(trial, {"y": 1.0, "epoch": 1})
        if i < 4:
            s.on_result(trial, {"y": 2.0 + i, "epoch": 3})
        if i < 2:
            s.on_result(trial, {"y": 9.0, "epoch": 9})
        s.on_result(trial, {"y": float("nan"), "epoch": 27})  # NaN: ignored
        s.on_result(trial, {"y": 0.0})  # no resource: ignored
    data = s._training_data()
    assert data is not None
    X, y = data
    assert sorted(y.tolist()) == [2.0, 3.0, 4.0, 5.0]  # level 3: 4 >= 2 + 2 points
    assert resolve_searcher("kde") is KernelDensitySearcher


def test_seeds_reproduce_and_state_round_trips() -> None:
    runs = [
        _run(KernelDensitySearcher(BRANIN_SPACE, "y", random_seed=3), branin, 20) for _ in range(2)
    ]
    assert runs[0] == runs[1]
    a = KernelDensitySearcher(BRANIN_SPACE, "y", random_seed=3)
    _run(a, branin, 12)
    b = KernelDensitySearcher(BRANIN_SPACE, "y", random_seed=5)
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    assert _run(a, branin, 5, start=12) == _run(b, branin, 5, start=12)


def test_degenerate_data_and_finite_spaces() -> None:
    space = {"a": choice([1, 2, 3]), "b": randint(0, 3)}
    s = KernelDensitySearcher(space, "y", random_seed=0)
    configs = _run(s, lambda c: 1.0, 12)  # all equal
    assert len({(c["a"], c["b"]) for c in configs}) == 12
    assert s.suggest() is None
    s = KernelDensitySearcher(BRANIN_SPACE, "y", random_seed=0)
    assert all(config_in_space(BRANIN_SPACE, c) for c in _run(s, lambda c: math.nan, 10))
    with pytest.raises(InvalidArgumentError, match="top_n_percent"):
        KernelDensitySearcher(BRANIN_SPACE, "y", top_n_percent=0)


@pytest.mark.asyncio
async def test_fifo_over_kde_spec_and_suggest() -> None:
    sched = FIFOScheduler(
        BRANIN_SPACE, "y", mode="max", random_seed=1, searcher="kde",
        searcher_kwargs={"random_fraction": 0.1},
    )
    again = from_spec(to_spec(sched))
    assert isinstance(again.searcher, KernelDensitySearcher)
    assert again.searcher.random_fraction == 0.1
    for i in range(12):
        s = await sched.suggest()
        trial = Trial(trial_id=i, config=s.config)
        await sched.on_trial_add(trial)
        await sched.on_trial_complete(trial, {"y": -branin(s.config)})
    assert config_in_space(BRANIN_SPACE, (await sched.suggest()).config)
