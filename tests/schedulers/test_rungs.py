"""Rung bookkeeping: levels, quantiles against numpy, promotion candidates, state."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from aiotune.errors import InvalidArgumentError
from aiotune.schedulers._rung_table import (
    Rung,
    RungState,
    RungTable,
    SortedItems,
    quantile_sorted,
    rung_levels,
)


@pytest.mark.parametrize(
    ("grace", "eta", "max_t", "expected"),
    [
        (1, 3, 27, [1, 3, 9]),
        (1, 3, 81, [1, 3, 9, 27]),
        (1, 3, 28, [1, 3, 9, 27]),
        (2, 2, 16, [2, 4, 8]),
        (1, 4, 100, [1, 4, 16, 64]),
        (5, 3, 5, []),
        (1, 2.5, 20, [1, 2, 6, 16]),
    ],
)
def test_rung_levels(grace: int, eta: float, max_t: int, expected: list[int]) -> None:
    assert rung_levels(grace, eta, max_t) == expected


def test_quantile_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    for n in range(2, 40):
        values = sorted(rng.normal(size=n).tolist())
        for q in (1 / 3, 0.25, 0.5, 1 / 2.5, 0.9):
            assert quantile_sorted(values, q) == pytest.approx(np.quantile(values, q), abs=1e-12)
            rung = Rung(1)
            for i, v in enumerate(rng.permutation(values).tolist()):
                rung.add(i, v)
            assert rung.quantile(q) == pytest.approx(np.quantile(values, q), abs=1e-12)
    assert quantile_sorted([1.0], 0.3) is None
    assert Rung(1).quantile(0.3) is None


def test_rung_add_rank_and_guards() -> None:
    rung = Rung(3)
    for tid, v in [(0, 0.5), (1, 0.1), (2, 0.3), (3, 0.3)]:
        rung.add(tid, v)
    assert len(rung) == 4 and 2 in rung and 9 not in rung
    assert [rung.rank(t) for t in (1, 2, 3, 0)] == [0, 1, 2, 3]
    assert rung.sorted_entries() == [(1, 0.1), (2, 0.3), (3, 0.3), (0, 0.5)]
    with pytest.raises(InvalidArgumentError, match="already recorded"):
        rung.add(2, 0.0)
    with pytest.raises(InvalidArgumentError, match="not finite"):
        rung.add(7, math.nan)
    with pytest.raises(InvalidArgumentError, match="not finite"):
        rung.add(7, math.inf)
    assert len(rung) == 4


def test_promotable_follows_quantile_and_skips_promoted_and_blocked() -> None:
    rung = Rung(1)
    rung.add(0, 0.3)
    assert rung.promotable(1 / 3) is None  # one value: no cutoff yet
    rung.add(1, 0.1)
    # cutoff = 0.1 + (1/3) * 0.2; the best (trial 1) is within it
    assert rung.promotable(1 / 3) == 1
    rung.mark_promoted(1)
    assert rung.promotable(1 / 3) is None  # trial 0 (0.3) is above the cutoff
    rung.add(2, 0.05)
    rung.block(2)  # e.g. it failed while paused
    assert rung.best_candidate() == (0, 0.3)
    assert rung.promotable(1 / 3) is None
    rung.add(3, 0.09)
    assert rung.promotable(1 / 3) == 3


def test_rung_state_round_trip_via_json() -> None:
    table = RungTable([1, 3, 9])
    rng = np.random.default_rng(1)
    for tid in range(30):
        table.rungs[tid % 3].add(tid, float(rng.random()))
    table.rungs[0].mark_promoted(0)
    table.block(4)
    data = msgspec.json.encode(table.state())
    again = RungTable([1, 3, 9])
    again.restore(msgspec.json.decode(data, type=list[RungState]))
    for a, b in zip(table.rungs, again.rungs, strict=True):
        assert a.sorted_entries() == b.sorted_entries()
        assert a.best_candidate() == b.best_candidate()
        assert a.promotable(1 / 3) == b.promotable(1 / 3)
    with pytest.raises(InvalidArgumentError, match="do not match"):
        RungTable([1, 3]).restore(table.state())


def test_table_lookup() -> None:
    table = RungTable([1, 3, 9])
    assert [table.highest_at_or_below(r) for r in (0, 1, 2, 3, 8.5, 9, 100)] == [
        -1,
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    assert table.index(3) == 1 and table.index(4) is None
    with pytest.raises(InvalidArgumentError, match="increase"):
        RungTable([1, 1, 3])


def test_sorted_items_matches_a_sorted_list() -> None:
    rng = np.random.default_rng(7)
    items, ref = SortedItems(), []
    for i in range(5000):
        v = (float(rng.integers(0, 300)), i)  # many ties in the first field
        items.add(v)
        ref.append(v)
        if i % 397 == 0 or i > 4990:
            ref.sort()
            assert len(items) == len(ref) and list(items) == ref
            for k in rng.integers(0, len(ref), size=20).tolist():
                assert items[k] == ref[k]
                assert items.bisect_left(ref[k]) == ref.index(ref[k])
            assert items[-1] == ref[-1]
    assert items.bisect_left((1e9, 0)) == 5000 and items.bisect_left((-1.0, 0)) == 0
    with pytest.raises(IndexError):
        items[5000]


def test_cutoff_takes_the_reference_field_once_it_has_enough_values() -> None:
    """Guided (model-proposed) values count only until the reference field is large enough."""
    rung = Rung(1)
    for tid, value in enumerate([0.5, 0.6, 0.7]):
        rung.add(tid, value)
    for tid, value in enumerate([0.1, 0.15, 0.2, 0.25], start=10):
        rung.add(tid, value, guided=True)
    everything = [0.5, 0.6, 0.7, 0.1, 0.15, 0.2, 0.25]
    assert rung.num_reference == 3
    assert rung.cutoff(1 / 3) == pytest.approx(np.quantile(everything, 1 / 3))
    # too few reference values for min_reference=4: all values decide
    assert rung.cutoff(1 / 3, 4) == pytest.approx(np.quantile(everything, 1 / 3))
    assert rung.cutoff(1 / 3, 3) == pytest.approx(np.quantile([0.5, 0.6, 0.7], 1 / 3))
    rung.add(3, 0.9)
    assert rung.cutoff(1 / 3, 4) == pytest.approx(np.quantile([0.5, 0.6, 0.7, 0.9], 1 / 3))
    # promotion uses the same cutoff: with the guided ones promoted, the best candidate
    # (0.5) is outside the cutoff of all values (0.2333) but within the field's (0.6)
    rung.mark_promoted(10)
    rung.mark_promoted(11)
    rung.mark_promoted(12)
    rung.mark_promoted(13)
    rung.add(14, 0.55, guided=True)
    assert rung.promotable(1 / 3) is None
    assert rung.promotable(1 / 3, 4) == 0


def test_guided_entries_survive_the_state_round_trip() -> None:
    rung = Rung(3)
    rung.add(0, 0.4)
    rung.add(1, 0.2, guided=True)
    rung.add(2, 0.6)
    state = msgspec.json.decode(msgspec.json.encode(rung.state()), type=RungState)
    assert state.guided == [1]
    again = Rung.from_state(state)
    assert again.num_reference == 2
    assert again.cutoff(1 / 3, 2) == rung.cutoff(1 / 3, 2) == pytest.approx(0.4 + 0.2 / 3)
