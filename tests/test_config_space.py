"""Tests for aiotune.config_space: domains, encoding, JSON, grids, config normalization."""

from __future__ import annotations

import datetime
import json
import math
import timeit
from collections import Counter

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiotune.config_space import (
    Domain,
    check_config,
    choice,
    config_in_space,
    config_space_from_json,
    config_space_to_json,
    decode_config,
    encode_config,
    encoded_dim,
    finrange,
    grid_configs,
    hyperparameters,
    is_domain,
    logfinrange,
    lograndint,
    loguniform,
    normalize_config,
    ordinal,
    randint,
    sample_config,
    space_size,
    uniform,
    validate_config_space,
)
from aiotune.errors import ConfigSpaceError, ConfigValueError, InvalidArgumentError

ALL_DOMAINS: list[Domain] = [
    uniform(-2.5, 3.0),
    loguniform(1e-4, 1.0),
    randint(1, 10),
    randint(3, 3),
    randint(-5, 5),
    lograndint(1, 1000),
    lograndint(7, 7),
    choice(["relu", "tanh", "gelu"]),
    choice([1, 2, 3]),
    choice([0.5, 1.5]),
    choice([True, False]),
    choice(["only"]),
    ordinal(["s", "m", "l", "xl"]),
    ordinal([1, 2, 4, 8], kind="nn"),
    ordinal([1e-3, 1e-2, 0.5], kind="nn-log"),
    ordinal([5], kind="nn"),
    finrange(0.1, 1.0, 10),
    finrange(0, 100, 5, cast_int=True),
    finrange(2.0, 2.0, 1),
    logfinrange(1e-4, 1.0, 5),
    logfinrange(1, 1000, 10, cast_int=True),
]
IDS = [repr(d) for d in ALL_DOMAINS]


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("dom", ALL_DOMAINS, ids=IDS)
def test_sampling_in_bounds_and_reproducible(dom: Domain) -> None:
    one = [dom.sample(np.random.default_rng(7)) for _ in range(3)]
    assert len(set(map(repr, one))) == 1  # same seed -> same first value
    rng_a, rng_b = np.random.default_rng(123), np.random.default_rng(123)
    seq_a = [dom.sample(rng_a) for _ in range(300)]
    seq_b = [dom.sample(rng_b) for _ in range(300)]
    assert seq_a == seq_b
    many_a = dom.sample_many(np.random.default_rng(5), 300)
    assert many_a == dom.sample_many(np.random.default_rng(5), 300)
    for v in seq_a + many_a:
        assert dom.contains(v), (dom, v)
        assert type(v) is dom.value_type, (dom, v)


@pytest.mark.parametrize(
    "dom", [d for d in ALL_DOMAINS if d.is_finite and d.num_values() <= 20], ids=repr
)
def test_finite_sampling_reaches_every_value(dom: Domain) -> None:
    seen = set(dom.sample_many(np.random.default_rng(0), 4000))
    seen |= {dom.sample(np.random.default_rng(s)) for s in range(4000)}
    assert seen == set(dom.values())


def test_randint_includes_both_bounds_uniformly() -> None:
    rng = np.random.default_rng(1)
    counts = Counter(randint(1, 4).sample(rng) for _ in range(8000))
    assert set(counts) == {1, 2, 3, 4}
    assert all(1700 < c < 2300 for c in counts.values()), counts


def test_loguniform_is_uniform_in_log_space() -> None:
    vals = np.array(loguniform(1e-4, 1.0).sample_many(np.random.default_rng(2), 20000))
    decade = np.floor(np.log10(vals)).astype(int)
    counts = Counter(decade.tolist())
    assert set(counts) <= {-4, -3, -2, -1, 0}
    for d in (-4, -3, -2, -1):
        assert 4500 < counts[d] < 5500, counts


def test_lograndint_log_uniform_and_inside_bounds() -> None:
    dom = lograndint(1, 1000)
    vals = [dom.sample(np.random.default_rng(s)) for s in range(3000)]
    vals += dom.sample_many(np.random.default_rng(99), 3000)
    assert min(vals) >= 1 and max(vals) <= 1000
    small = sum(v <= 31 for v in vals) / len(vals)  # about half the log range
    assert 0.42 < small < 0.58, small
    assert 1000 in vals and 1 in vals


def test_sample_config_constants_and_order() -> None:
    marker = object()
    space = {"b": uniform(0, 1), "const": marker, "a": choice(["x", "y"]), "n": 3}
    cfg = sample_config(space, np.random.default_rng(0))
    assert list(cfg) == ["b", "const", "a", "n"]
    assert cfg["const"] is marker and cfg["n"] == 3
    assert cfg == sample_config(space, np.random.default_rng(0))
    assert cfg != sample_config(space, np.random.default_rng(1))


def test_sample_config_is_fast() -> None:
    space = {"lr": loguniform(1e-4, 1), "n": randint(1, 8), "act": choice(["a", "b", "c"])}
    rng = np.random.default_rng(0)
    per_call = min(timeit.repeat(lambda: sample_config(space, rng), number=2000, repeat=3)) / 2000
    assert per_call < 50e-6, per_call  # measured ~3 us; generous for a loaded machine


# ---------------------------------------------------------------- encoding


@pytest.mark.parametrize("dom", ALL_DOMAINS, ids=IDS)
def test_encode_in_unit_cube_and_round_trip_on_samples(dom: Domain) -> None:
    for v in dom.sample_many(np.random.default_rng(3), 200) + (
        dom.values() if dom.is_finite and dom.num_values() < 2000 else []
    ):
        x = dom.encode(v)
        assert x.shape == (dom.encoded_dim,)
        assert np.all((x >= 0.0) & (x <= 1.0))
        back = dom.decode(x)
        assert type(back) is type(v)
        if isinstance(v, float) and not dom.is_finite:
            assert math.isclose(back, v, rel_tol=1e-9), (dom, v, back)
        else:
            assert back == v, (dom, v, back)


def _domain_and_value():
    lo_f = st.floats(-1e6, 1e6, allow_nan=False)
    width = st.floats(1e-3, 1e6)

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(["u", "lu", "ri", "lri", "ch", "ord", "nn", "fr", "lfr"]))
        if kind == "u":
            lo = draw(lo_f)
            dom = uniform(lo, lo + draw(width))
        elif kind == "lu":
            lo = draw(st.floats(1e-8, 1e4))
            dom = loguniform(lo, lo * draw(st.floats(1.001, 1e6)))
        elif kind == "ri":
            lo = draw(st.integers(-(10**12), 10**12))
            dom = randint(lo, lo + draw(st.integers(0, 10**9)))
        elif kind == "lri":
            lo = draw(st.integers(1, 10**9))
            dom = lograndint(lo, lo + draw(st.integers(0, 10**9)))
        elif kind == "ch":
            cats = draw(
                st.one_of(
                    st.lists(st.text(max_size=5), min_size=1, max_size=6, unique=True),
                    st.lists(st.integers(-100, 100), min_size=1, max_size=6, unique=True),
                    st.lists(
                        st.floats(-1e3, 1e3, allow_nan=False),
                        min_size=1,
                        max_size=6,
                        unique=True,
                    ),
                )
            )
            dom = choice(cats)
        elif kind in ("ord", "nn"):
            cats = sorted(
                draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=8, unique=True))
            )
            dom = ordinal(cats, kind=draw(st.sampled_from(["equal", "nn", "nn-log"])))
        else:
            size = draw(st.integers(1, 50))
            lo = draw(st.floats(1e-3, 1e3))
            hi = lo if size == 1 else lo * draw(st.floats(2.0, 1e4))
            if kind == "fr":
                dom = finrange(lo, hi, size)
            else:
                dom = logfinrange(lo, hi, size)
        if dom.is_finite and dom.num_values() <= 10_000:
            value = draw(st.sampled_from(dom.values()))
        elif isinstance(dom.lower, int):  # type: ignore[attr-defined]
            value = draw(st.integers(dom.lower, dom.upper))  # type: ignore[attr-defined]
        else:
            value = draw(st.floats(dom.lower, dom.upper))  # type: ignore[attr-defined]
        return dom, value

    return build()


@settings(max_examples=400, deadline=None)
@given(_domain_and_value())
def test_decode_encode_round_trip_property(dv) -> None:
    dom, v = dv
    assert dom.contains(v)
    x = dom.encode(v)
    assert x.shape == (dom.encoded_dim,)
    assert np.all((x >= 0.0) & (x <= 1.0))
    back = dom.decode(x)
    if dom.value_type is float and not dom.is_finite:
        assert math.isclose(back, v, rel_tol=1e-9, abs_tol=1e-9), (dom, v, back)
        assert dom.contains(back)
    else:
        assert back == v and type(back) is type(v), (dom, v, back)


@settings(max_examples=200, deadline=None)
@given(_domain_and_value(), st.lists(st.floats(-0.5, 1.5), min_size=1, max_size=8))
def test_decode_any_point_gives_valid_value(dv, coords) -> None:
    dom, _ = dv
    x = np.resize(np.array(coords), dom.encoded_dim)
    assert dom.contains(dom.decode(x))


def test_integer_encoding_gives_each_value_an_equal_share() -> None:
    dom = randint(0, 3)
    assert dom.encode(0)[0] == pytest.approx(0.125)
    assert dom.encode(3)[0] == pytest.approx(0.875)
    xs = np.linspace(0, 1, 4001)
    counts = Counter(dom.decode(x) for x in xs)
    assert all(990 <= c <= 1010 for c in counts.values()), counts
    assert randint(3, 3).encode(3)[0] == pytest.approx(0.5)


def test_choice_one_hot_and_argmax() -> None:
    dom = choice(["a", "b", "c"])
    assert dom.encoded_dim == 3
    assert dom.encode("b").tolist() == [0.0, 1.0, 0.0]
    assert dom.decode(np.array([0.2, 0.1, 0.7])) == "c"
    with pytest.raises(ConfigValueError, match="'z'"):
        dom.encode("z")


def test_ordinal_nn_nearest_neighbour() -> None:
    dom = ordinal([1, 2, 4, 8], kind="nn")
    assert dom.decode(dom.encode(2)[0] + 0.01) == 2
    assert dom.encode(4)[0] == pytest.approx((4 - 0.5) / 9.5)  # range (0.5, 10) by value
    assert dom.decode(np.array([(5.9 - 0.5) / 9.5])) == 4
    assert dom.decode(np.array([(6.1 - 0.5) / 9.5])) == 8
    dlog = ordinal([1, 10, 100], kind="nn-log")
    assert dlog.encode(10)[0] == pytest.approx(0.5)


def test_space_encode_decode_with_constants() -> None:
    space = {"c": "const", "lr": loguniform(1e-3, 1), "act": choice(["a", "b"]), "n": randint(1, 4)}
    assert encoded_dim(space) == 4
    cfg = {"c": "const", "lr": 0.01, "act": "b", "n": 3}
    x = encode_config(space, cfg)
    assert x.shape == (4,)
    out = decode_config(space, x)
    assert list(out) == ["c", "lr", "act", "n"]
    assert out["c"] == "const" and out["act"] == "b" and out["n"] == 3
    assert out["lr"] == pytest.approx(0.01)
    with pytest.raises(InvalidArgumentError):
        decode_config(space, np.zeros(3))
    with pytest.raises(ConfigValueError, match="'n'"):
        encode_config(space, {"lr": 0.01, "act": "b"})


# ---------------------------------------------------------------- JSON


def test_domain_json_round_trip_and_repr() -> None:
    for dom in ALL_DOMAINS:
        d = dom.to_json()
        again = Domain.from_json(json.loads(json.dumps(d)))
        assert again == dom and hash(again) == hash(dom)
        assert repr(again) == repr(dom)
    assert repr(loguniform(1e-4, 1.0)) == "loguniform(0.0001, 1.0)"
    assert repr(randint(1, 5)) == "randint(1, 5)"
    assert repr(choice(["a", "b"])) == "choice(['a', 'b'])"
    assert uniform(0, 1) == uniform(0.0, 1.0) and uniform(0, 1) != loguniform(0.5, 1)
    assert choice([1, 2]) != choice([1.0, 2.0])


def test_whole_space_json_round_trip_with_constants() -> None:
    space = {f"p{i}": dom for i, dom in enumerate(ALL_DOMAINS)}
    space.update(
        {
            "epochs": 27,
            "name": "run",
            "flag": True,
            "none": None,
            "rate": 0.5,
            "layers": [64, 32],
            "opts": {"beta": [0.9, 0.99], "eps": 1e-8},
        }
    )
    text = msgspec.json.encode(config_space_to_json(space))
    back = config_space_from_json(msgspec.json.decode(text))
    assert back == space
    assert list(back) == list(space)
    back2 = config_space_from_json(json.loads(json.dumps(config_space_to_json(space))))
    assert back2 == space


@pytest.mark.parametrize(
    "bad, named",
    [
        ({"type": "weird", "lower": 0}, "weird"),
        ({"type": "uniform", "lower": 0}, "upper"),
        ({"type": "uniform", "lower": 0, "upper": 1, "extra": 2}, "extra"),
        ({"type": "uniform", "lower": 1, "upper": 0}, "lower"),
        ({"type": "choice", "categories": []}, "empty"),
        ({"type": "finrange", "lower": 0, "upper": 1, "size": 3, "cast_int": "yes"}, "cast_int"),
        ("uniform", "dict"),
    ],
)
def test_domain_from_json_rejects_bad_input(bad, named) -> None:
    with pytest.raises(ConfigSpaceError, match=named):
        Domain.from_json(bad)


def test_space_from_json_rejects_bad_input_naming_key() -> None:
    with pytest.raises(ConfigSpaceError, match="'lr'"):
        config_space_from_json({"version": 1, "space": {"lr": {"type": "nope"}}})
    with pytest.raises(ConfigSpaceError, match="version"):
        config_space_from_json({"version": 99, "space": {}})
    with pytest.raises(ConfigSpaceError):
        config_space_from_json({"space": []})


# ---------------------------------------------------------------- bad bounds


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda: uniform(1.0, 1.0), "lower"),
        (lambda: uniform(2.0, 1.0), "lower"),
        (lambda: uniform(float("nan"), 1.0), "nan"),
        (lambda: uniform(0.0, float("inf")), "inf"),
        (lambda: uniform("0", 1.0), "'0'"),
        (lambda: uniform(True, 2.0), "True"),
        (lambda: loguniform(0.0, 1.0), "lower=0.0"),
        (lambda: loguniform(-1.0, 1.0), "lower=-1.0"),
        (lambda: loguniform(1.0, 1.0), "lower"),
        (lambda: randint(5, 4), "lower=5"),
        (lambda: randint(1.5, 4), "1.5"),
        (lambda: randint(None, 4), "None"),
        (lambda: randint(0, 2**60), "upper"),
        (lambda: lograndint(0, 10), "lower=0"),
        (lambda: lograndint(-3, 10), "lower=-3"),
        (lambda: choice([]), "empty"),
        (lambda: choice(["a", "b", "a"]), "'a'"),
        (lambda: choice(["a", 1]), "mix"),
        (lambda: choice([1, None]), "None"),
        (lambda: choice([[1], [2]]), "list"),
        (lambda: choice([1.0, float("nan")]), "nan"),
        (lambda: choice({"a", "b"}), "set"),
        (lambda: ordinal([], kind="equal"), "empty"),
        (lambda: ordinal([1, 2], kind="fancy"), "fancy"),
        (lambda: ordinal([3, 2, 5], kind="nn"), "increasing"),
        (lambda: ordinal(["a", "b"], kind="nn"), "numbers"),
        (lambda: ordinal([0, 1, 2], kind="nn-log"), "> 0"),
        (lambda: ordinal([1, 1], kind="equal"), "duplicate"),
        (lambda: finrange(0, 1, 0), "size=0"),
        (lambda: finrange(0, 1, -2), "size=-2"),
        (lambda: finrange(0, 1, 2.5), "size=2.5"),
        (lambda: finrange(1, 0, 3), "lower=1"),
        (lambda: finrange(1, 1, 3), "lower=1"),
        (lambda: finrange(0, float("inf"), 3), "inf"),
        (lambda: finrange(0, 2, 10, cast_int=True), "repeated"),
        (lambda: logfinrange(0, 1, 3), "lower=0"),
        (lambda: logfinrange(-1, 1, 3), "lower=-1"),
    ],
)
def test_bad_bounds_raise_config_space_error_naming_it(make, named) -> None:
    with pytest.raises(ConfigSpaceError, match=named.replace("(", r"\(")) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_edge_bounds_that_are_allowed() -> None:
    assert randint(3, 3).values() == [3]
    assert lograndint(1, 1).sample(np.random.default_rng(0)) == 1
    assert finrange(2, 2, 1).values() == [2.0]
    assert finrange(0, 1, 5).values() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert randint(2.0, 4.0).values() == [2, 3, 4]  # integral floats are accepted
    assert uniform(np.float32(0), np.int64(3)) == uniform(0, 3)


# ---------------------------------------------------------------- grid / size


def test_domain_grids() -> None:
    assert uniform(0, 1).grid(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert loguniform(1e-3, 1.0).grid(4) == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert loguniform(1e-3, 1.0).grid(4)[0] == 1e-3
    assert uniform(0, 1).grid(1) == [0.5]
    assert randint(1, 3).grid(5) == [1, 2, 3]
    assert randint(0, 100).grid(3) == [0, 50, 100]
    assert lograndint(1, 100).grid(3) == [1, 10, 100]
    assert choice(["a", "b", "c"]).grid(2) == ["a", "b", "c"]
    assert finrange(0.1, 1.0, 10).grid(2) == finrange(0.1, 1.0, 10).values()
    with pytest.raises(InvalidArgumentError):
        uniform(0, 1).grid(0)
    with pytest.raises(ValueError):
        uniform(0, 1).values()


def test_grid_configs_cartesian_first_key_slowest() -> None:
    space = {"a": choice(["x", "y"]), "k": "const", "b": randint(1, 3), "c": uniform(0, 1)}
    grid = grid_configs(space, num_samples=3)
    assert len(grid) == 2 * 3 * 3
    assert grid[0] == {"a": "x", "k": "const", "b": 1, "c": 0.0}
    assert grid[1] == {"a": "x", "k": "const", "b": 1, "c": 0.5}
    assert grid[2] == {"a": "x", "k": "const", "b": 1, "c": 1.0}
    assert grid[3] == {"a": "x", "k": "const", "b": 2, "c": 0.0}
    assert grid[9]["a"] == "y" and all(g["a"] == "x" for g in grid[:9])
    # integer domains with more values than num_samples are thinned evenly
    assert [g["b"] for g in grid_configs(space, num_samples=2)][::2] == [1, 3, 1, 3]
    assert len({tuple(g.values()) for g in grid}) == len(grid)
    assert all(list(g) == list(space) for g in grid)
    assert grid_configs({"k": 1}) == [{"k": 1}]
    assert grid_configs(space) == grid_configs(space)  # deterministic


def test_space_size() -> None:
    assert space_size({"a": choice([1, 2, 3]), "b": randint(0, 9), "c": "x"}) == 30
    assert space_size({"a": ordinal(["s", "m"]), "f": finrange(0, 1, 4)}) == 8
    assert space_size({"a": choice([1, 2]), "u": uniform(0, 1)}) is None
    assert space_size({"c": 1}) == 1
    big = {f"p{i}": randint(0, 10**6) for i in range(4)}
    assert space_size(big) == (10**6 + 1) ** 4
    space = {"a": choice([1, 2, 3]), "b": randint(0, 2), "c": ordinal([True, False])}
    assert space_size(space) == len(grid_configs(space))


# ---------------------------------------------------------------- space checks


def test_helpers_is_domain_hyperparameters() -> None:
    space = {"a": uniform(0, 1), "k": 3, "b": choice(["x"])}
    assert is_domain(space["a"]) and not is_domain(3)
    assert list(hyperparameters(space)) == ["a", "b"]


@pytest.mark.parametrize(
    "space, named",
    [
        ({1: uniform(0, 1)}, "1"),
        ({"": uniform(0, 1)}, "empty"),
        ({"a b": 1}, "'a b'"),
        ({"-x": 1}, "'-x'"),
        ({"k": {1, 2}}, "'k'.*set"),
        ({"when": datetime.datetime(2024, 1, 1)}, "'when'.*datetime"),
        ({"obj": object()}, "'obj'"),
        ({"t": (1, 2)}, "'t'.*tuple"),
        ({"nested": {"x": [1, {2}]}}, "'nested'"),
        ({"nan": float("nan")}, "'nan'"),
        ({"b": b"raw"}, "'b'.*bytes"),
    ],
)
def test_validate_config_space_names_bad_key(space, named) -> None:
    with pytest.raises(ConfigSpaceError, match=named):
        validate_config_space(space)


def test_validate_config_space_accepts_good_space() -> None:
    validate_config_space({"a": uniform(0, 1), "n": 3, "s": "x", "l": [1, "a"], "d": {"k": None}})
    with pytest.raises(ConfigSpaceError):
        validate_config_space([("a", 1)])  # type: ignore[arg-type]


def test_config_in_space_and_check_config() -> None:
    space = {"lr": loguniform(1e-3, 1), "n": randint(1, 4), "act": choice(["a", "b"]), "e": 5}
    good = {"lr": 0.1, "n": 2, "act": "a", "e": 5}
    assert config_in_space(space, good)
    check_config(space, good)
    assert config_in_space(space, {"lr": 0.1, "n": 2, "act": "a"})  # constant may be omitted
    cases = [
        ({**good, "lr": 2.0}, "'lr'"),
        ({**good, "n": 2.0}, "'n'"),
        ({**good, "n": True}, "'n'"),
        ({**good, "act": "c"}, "'act'"),
        ({**good, "e": 6}, "'e'"),
        ({**good, "zzz": 1}, "'zzz'"),
        ({"lr": 0.1, "act": "a"}, "'n'"),
    ]
    for cfg, named in cases:
        assert not config_in_space(space, cfg)
        with pytest.raises(ConfigValueError, match=named):
            check_config(space, cfg)


# ---------------------------------------------------------------- normalize


def test_normalize_config_numpy_scalars_and_casts() -> None:
    space = {
        "lr": loguniform(1e-3, 1),
        "n": randint(1, 4),
        "f": choice([0.5, 1.0]),
        "o": ordinal([1, 2, 4], kind="nn"),
        "r": finrange(0.1, 1.0, 10),
        "k": 3,
    }
    cfg = {
        "lr": np.float32(0.25),
        "n": np.float64(3.0),
        "f": np.int64(1),
        "o": np.int32(4),
        "r": 0.30000000000000004,
        "k": np.int64(3),
        "extra": [np.float64(1.5), "s"],
    }
    out = normalize_config(space, cfg)
    assert out == {"lr": 0.25, "n": 3, "f": 1.0, "o": 4, "r": 0.3, "k": 3, "extra": [1.5, "s"]}
    assert [type(v) for v in out.values()] == [float, int, float, int, float, int, list]
    assert type(out["extra"][0]) is float
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(out)) == out
    assert msgspec.json.decode(msgspec.json.encode(out)) == out


@pytest.mark.parametrize(
    "value, named",
    [
        ({1, 2}, "set"),
        (frozenset([1]), "set"),
        (datetime.datetime(2024, 1, 1), "datetime"),
        (datetime.date(2024, 1, 1), "date"),
        ((1, 2), "tuple"),
        (b"x", "bytes"),
        (np.array([1, 2]), "array"),
        (object(), "object"),
        (float("inf"), "inf"),
        (2**70, "64-bit"),
        ({"a": {1}}, "set"),
        ({1: "a"}, "key"),
        ("\ud800", "UTF-8"),
    ],
)
def test_normalize_config_rejects_unround_trippable_naming_key(value, named) -> None:
    with pytest.raises(ConfigValueError, match=f"'bad'.*{named}"):
        normalize_config({"bad": 1}, {"ok": 1, "bad": value})


def test_normalize_config_rejects_uncastable_values_naming_key() -> None:
    space = {"n": randint(1, 4), "x": uniform(0, 1), "c": choice(["a", "b"])}
    for cfg in ({"n": 2.5}, {"n": "2"}, {"x": "0.5"}, {"x": True}, {"c": "z"}, {"n": None}):
        (key,) = cfg
        with pytest.raises(ConfigValueError, match=f"'{key}'"):
            normalize_config(space, cfg)


def test_sampled_configs_survive_json_and_msgpack_unchanged() -> None:
    space = {f"p{i}": dom for i, dom in enumerate(ALL_DOMAINS)}
    space["const"] = {"a": [1, 2.5, "x"]}
    rng = np.random.default_rng(11)
    for _ in range(50):
        cfg = sample_config(space, rng)
        assert normalize_config(space, cfg) == cfg
        for codec in (msgspec.json, msgspec.msgpack):
            back = codec.decode(codec.encode(cfg))
            assert back == cfg
            assert [type(v) for v in back.values()] == [type(v) for v in cfg.values()]
        assert config_in_space(space, cfg)


@pytest.mark.parametrize(
    ("space", "where"),
    [
        ({"opt": {"name": choice(["sgd", "adam"])}}, r"'opt'\['name'\]"),
        ({"layers": [16, randint(1, 4)]}, r"'layers'\[1\]"),
    ],
)
def test_a_domain_nested_in_a_constant_says_flatten(space: dict, where: str) -> None:
    """Ray Tune searches nested dicts; we do not, and say so instead of "cannot round-trip"."""
    with pytest.raises(ConfigSpaceError, match=rf"key {where}: .*search domain.*flatten"):
        validate_config_space(space)
