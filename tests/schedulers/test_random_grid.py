"""RandomSearcher / GridSearcher and the RandomSearch / GridSearch schedulers."""

from __future__ import annotations

import itertools
import math

import msgspec
import numpy as np
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.config_space import (
    check_config,
    choice,
    finrange,
    grid_configs,
    loguniform,
    ordinal,
    randint,
    uniform,
)
from aiotune.errors import ConfigSpaceError, ConfigValueError, InvalidArgumentError
from aiotune.schedulers.grid_search import GridSearch
from aiotune.schedulers.random_search import RandomSearch
from aiotune.schedulers.searchers.base import (
    SEARCHERS,
    SearcherState,
    register_searcher,
    resolve_searcher,
)
from aiotune.schedulers.searchers.grid import GridSearcher, GridSearcherState
from aiotune.schedulers.searchers.random import RandomSearcher

SPACE = {
    "x": uniform(0.0, 10.0),
    "lr": loguniform(1e-4, 1e-2),
    "n": randint(1, 9),
    "act": choice(["a", "b", "c"]),
    "w": ordinal([1, 2, 4]),
    "c": 5,
}


def _json(state: msgspec.Struct) -> msgspec.Struct:
    return msgspec.json.decode(msgspec.json.encode(state), type=type(state))


def _take(searcher: RandomSearcher | GridSearcher, n: int) -> list[dict]:
    return [searcher.suggest() for _ in range(n)]  # type: ignore[misc]


# -- RandomSearcher --------------------------------------------------------------------


def test_random_same_seed_same_configs_other_seed_other_configs() -> None:
    a = _take(RandomSearcher(SPACE, "loss", random_seed=42), 20)
    b = _take(RandomSearcher(SPACE, "loss", random_seed=42), 20)
    c = _take(RandomSearcher(SPACE, "loss", random_seed=43), 20)
    assert a == b
    assert a != c
    for config in a:
        check_config(SPACE, config)
        assert list(config) == list(SPACE)  # space order, constant included
        assert config["c"] == 5


def test_points_to_evaluate_first_and_completed_with_midpoints() -> None:
    s = RandomSearcher(
        SPACE, "loss", random_seed=0, points_to_evaluate=[{"x": 1.0}, {"act": "c", "n": 2}, {}]
    )
    first, second, third = _take(s, 3)
    assert first["x"] == 1.0
    assert first["lr"] == pytest.approx(1e-3)  # midpoint in log space
    assert first["n"] == 5  # midpoint of 1..9
    assert first["act"] == "a"  # choice: the first value, as Syne Tune
    assert first["w"] == 2  # ordinal: the middle value
    assert first["c"] == 5
    assert second["act"] == "c" and second["n"] == 2 and second["x"] == 5.0
    assert third == {**first, "x": 5.0}
    fourth = s.suggest()
    assert fourth is not None and fourth not in (first, second, third)


def test_points_to_evaluate_normalized() -> None:
    s = RandomSearcher(SPACE, "loss", points_to_evaluate=[{"x": np.float64(2.5), "n": 3.0}])
    config = s.suggest()
    assert config is not None
    assert type(config["x"]) is float and type(config["n"]) is int and config["n"] == 3


@pytest.mark.parametrize(
    ("point", "key"),
    [
        ({"nope": 1}, "nope"),
        ({"x": 11.0}, "x"),
        ({"act": "d"}, "act"),
        ({"n": 2.5}, "n"),
        ({"x": math.nan}, "x"),
        ({"c": 6}, "c"),
        ({"x": {1, 2}}, "x"),
    ],
)
def test_bad_points_to_evaluate_name_the_key(point: dict, key: str) -> None:
    with pytest.raises(ConfigValueError, match=repr(key)):
        RandomSearcher(SPACE, "loss", points_to_evaluate=[point])


def test_bad_arguments_rejected() -> None:
    with pytest.raises(ConfigSpaceError):
        RandomSearcher({"x": uniform(0, 1), "bad": {1, 2}}, "loss")
    with pytest.raises(ConfigSpaceError):
        RandomSearcher(["x"], "loss")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="mode"):
        RandomSearcher(SPACE, "loss", mode="minimize")
    with pytest.raises(InvalidArgumentError, match="metric"):
        RandomSearcher(SPACE, "")
    with pytest.raises(InvalidArgumentError, match="random_seed"):
        RandomSearcher(SPACE, "loss", random_seed=-1)
    with pytest.raises(InvalidArgumentError, match="points_to_evaluate"):
        RandomSearcher(SPACE, "loss", points_to_evaluate={"x": 1.0})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="num_samples"):
        GridSearcher(SPACE, "loss", num_samples=0)


def test_random_exhausts_finite_space_exactly_once_each() -> None:
    space = {"n": randint(1, 50), "act": choice(["a", "b", "c", "d"]), "k": 1}
    s = RandomSearcher(space, "loss", random_seed=1, points_to_evaluate=[{"n": 7, "act": "b"}])
    seen = []
    while (config := s.suggest()) is not None:
        seen.append((config["n"], config["act"]))
        assert config["k"] == 1
        assert len(seen) <= 200
    assert seen[0] == (7, "b")
    assert sorted(seen) == sorted(itertools.product(range(1, 51), "abcd"))
    assert s.suggest() is None


def test_random_duplicate_points_to_evaluate_skipped_on_finite_space() -> None:
    space = {"a": choice([1, 2])}
    s = RandomSearcher(space, "loss", points_to_evaluate=[{"a": 2}, {"a": 2}])
    assert _take(s, 3) == [{"a": 2}, {"a": 1}, None]


def test_random_state_round_trip_continues_and_matters() -> None:
    s = RandomSearcher(SPACE, "loss", random_seed=None, points_to_evaluate=[{}, {"x": 3.0}])
    s.suggest()
    state = _json(s.state())
    assert isinstance(state, SearcherState)
    expected = _take(s, 10)
    fresh = RandomSearcher(SPACE, "loss", random_seed=None, points_to_evaluate=[{}, {"x": 3.0}])
    restored = RandomSearcher(SPACE, "loss", random_seed=None, points_to_evaluate=[{}, {"x": 3.0}])
    restored.restore(state)
    assert _take(restored, 10) == expected
    assert _take(fresh, 10) != expected
    # The builtins form (what a FIFOState carries) works too.
    again = RandomSearcher(SPACE, "loss")
    again.restore(msgspec.to_builtins(state))
    assert _take(again, 10) == expected


def test_finite_state_round_trip_keeps_seen_set() -> None:
    space = {"a": choice([1, 2, 3]), "b": choice([True, False])}
    s = RandomSearcher(space, "loss", random_seed=3)
    first = _take(s, 3)
    restored = RandomSearcher(space, "loss", random_seed=3)
    restored.restore(_json(s.state()))
    rest = _take(restored, 4)
    assert rest[-1] is None
    combos = [(c["a"], c["b"]) for c in first + rest[:-1]]
    assert sorted(combos) == sorted(itertools.product([1, 2, 3], [True, False]))


def test_bad_state_rejected() -> None:
    s = RandomSearcher(SPACE, "loss")
    with pytest.raises(msgspec.ValidationError):
        s.restore({"type": "searcher", "rng": "nope"})
    with pytest.raises(InvalidArgumentError, match="random generator state"):
        s.restore(SearcherState(rng={"bit_generator": "PCG64", "state": {}}))


def test_metric_value() -> None:
    lo = RandomSearcher(SPACE, "loss", mode="min")
    hi = RandomSearcher(SPACE, "acc", mode="max")
    assert lo.metric_value({"loss": 2}) == 2.0
    assert lo.metric_value({"loss": np.float32(0.5)}) == 0.5
    assert hi.metric_value({"acc": 0.9}) == -0.9
    for bad in ({}, {"loss": math.nan}, {"loss": True}, {"loss": "1"}, {"loss": None}):
        assert lo.metric_value(bad) is None
    assert lo.metric_value({"loss": math.inf}) == math.inf


def test_searcher_registry() -> None:
    assert resolve_searcher("random") is RandomSearcher
    assert resolve_searcher("grid") is GridSearcher
    register_searcher("random", RandomSearcher)  # same class again: fine
    with pytest.raises(InvalidArgumentError, match="already registered"):
        register_searcher("random", GridSearcher)
    with pytest.raises(InvalidArgumentError, match="unknown searcher 'nope'"):
        resolve_searcher("nope")
    assert SEARCHERS["random"] is RandomSearcher


# -- GridSearcher ----------------------------------------------------------------------


def test_grid_order_matches_grid_configs_then_none() -> None:
    space = {"x": uniform(0.0, 1.0), "act": choice(["a", "b"]), "c": "k", "n": randint(1, 2)}
    s = GridSearcher(space, "loss", num_samples=3)
    got = []
    while (config := s.suggest()) is not None:
        got.append(config)
    assert got == grid_configs(space, 3)
    assert len(got) == 3 * 2 * 2
    assert [c["x"] for c in got[::4]] == [0.0, 0.5, 1.0]
    assert s.suggest() is None


def test_grid_points_to_evaluate_first_without_repeats() -> None:
    space = {"a": choice([1, 2]), "b": finrange(0.0, 1.0, 3)}
    s = GridSearcher(space, "loss", points_to_evaluate=[{"a": 2, "b": 0.5}, {"b": 1.0}])
    got = []
    while (config := s.suggest()) is not None:
        got.append((config["a"], config["b"]))
    assert got[:3] == [(2, 0.5), (1, 1.0), (1, 0.0)]  # then the grid, skipping those two
    assert len(got) == 6 and len(set(got)) == 6
    assert sorted(got) == sorted(itertools.product([1, 2], [0.0, 0.5, 1.0]))


def test_grid_integers_get_num_samples_points_like_syne_tune() -> None:
    s = GridSearcher({"n": randint(1, 9), "m": randint(1, 2)}, "loss", num_samples=3)
    assert [(c["n"], c["m"]) for c in iter(s.suggest, None)] == [
        (1, 1),
        (1, 2),
        (5, 1),
        (5, 2),
        (9, 1),
        (9, 2),
    ]


def test_grid_shuffle_is_a_seeded_permutation() -> None:
    space = {"a": randint(0, 9), "b": choice(["x", "y", "z"])}
    plain = [c for c in iter(GridSearcher(space, "loss").suggest, None)]
    s1 = [c for c in iter(GridSearcher(space, "loss", shuffle=True, random_seed=1).suggest, None)]
    s2 = [c for c in iter(GridSearcher(space, "loss", shuffle=True, random_seed=1).suggest, None)]
    s3 = [c for c in iter(GridSearcher(space, "loss", shuffle=True, random_seed=2).suggest, None)]
    assert s1 == s2 != s3
    assert s1 != plain
    key = lambda c: (c["a"], c["b"])  # noqa: E731
    assert sorted(s1, key=key) == sorted(plain, key=key) == sorted(s3, key=key)


def test_grid_shuffle_state_without_seed() -> None:
    space = {"a": finrange(0, 19, 20, cast_int=True)}
    g = GridSearcher(space, "loss", shuffle=True)
    first = _take(g, 5)
    state = _json(g.state())
    assert isinstance(state, GridSearcherState) and state.position == 5
    rest = [c for c in iter(g.suggest, None)]
    restored = GridSearcher(space, "loss", shuffle=True)  # another random permutation
    restored.restore(state)
    assert [c for c in iter(restored.suggest, None)] == rest
    assert sorted(c["a"] for c in first + rest) == list(range(20))
    with pytest.raises(InvalidArgumentError, match="position"):
        restored.restore(msgspec.structs.replace(state, position=99))


def test_grid_too_large_to_shuffle() -> None:
    space = {f"k{i}": finrange(0, 99, 100, cast_int=True) for i in range(4)}
    assert GridSearcher(space, "loss").grid_size == 10**8  # lazy: fine unshuffled
    with pytest.raises(InvalidArgumentError, match="too large"):
        GridSearcher(space, "loss", shuffle=True)


# -- the schedulers --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_random_search_scheduler_same_seed() -> None:
    a = [await RandomSearch(SPACE, "loss", random_seed=9).suggest() for _ in range(1)]
    s1, s2 = RandomSearch(SPACE, "loss", random_seed=9), RandomSearch(SPACE, "loss", random_seed=9)
    one = [(await s1.suggest()) for _ in range(20)]
    two = [(await s2.suggest()) for _ in range(20)]
    assert one == two and one[0] == a[0]
    assert all(s is not None and s.config is not None and s.resume_trial_id is None for s in one)


@pytest.mark.asyncio
async def test_grid_search_scheduler_exhausts() -> None:
    g = GridSearch({"x": uniform(0, 1), "y": uniform(0, 1)}, "acc", mode="max", num_samples=4)
    got = []
    while (s := await g.suggest()) is not None:
        got.append(s.config)
    assert len(got) == 16 and g.mode == ["max"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomSearch(SPACE, "loss", random_seed=4, points_to_evaluate=[{"x": 2.0}]),
        lambda: GridSearch(SPACE, ["loss", "cost"], num_samples=2, shuffle=True, random_seed=4),
    ],
)
async def test_spec_round_trip_rebuilds_same_scheduler(make) -> None:  # type: ignore[no-untyped-def]
    original = make()
    spec = msgspec.json.decode(msgspec.json.encode(to_spec(original)))
    rebuilt = from_spec(msgspec.convert(spec, type(to_spec(original))))
    assert type(rebuilt) is type(original)
    expected = [await original.suggest() for _ in range(5)]
    assert [await rebuilt.suggest() for _ in range(5)] == expected
