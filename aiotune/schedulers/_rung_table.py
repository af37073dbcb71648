"""Rung bookkeeping for successive halving: pure, synchronous, O(log n) per query.

A *rung* holds the metric values trials recorded when they reached one resource
level (an epoch count, say). Values are stored as floats to *minimize* (the
scheduler negates ``mode="max"`` metrics first) in a list kept sorted with
``bisect``, so a quantile is two index reads and a rank is one binary search.
Promotion candidates (recorded, not yet promoted, still alive) sit in a heap
with lazy deletion, so "the best paused trial" is an amortised O(log n) pop.
NaN never enters a rung: callers drop unusable values before :meth:`Rung.add`.

A rung also keeps its *reference field* apart: the values of trials that no
searcher model proposed (random draws and ``points_to_evaluate``). ASHA's
``1/eta`` quantile rule assumes a field drawn from the prior; when a model
proposes most trials the whole field is stronger, and a cutoff from it stops
slow starters that the rule was meant to keep (see :meth:`Rung.cutoff`).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from ..errors import InvalidArgumentError

__all__ = ["Rung", "RungState", "RungTable", "SortedItems", "quantile_sorted", "rung_levels"]


def rung_levels(grace_period: float, reduction_factor: float, max_t: float) -> list[int]:
    """The rung levels ``round(grace_period * reduction_factor**k) < max_t`` (ASHA paper)."""
    levels: list[int] = []
    k = 0
    while True:
        level = int(round(grace_period * reduction_factor**k))
        if level >= max_t:
            return levels
        if not levels or level > levels[-1]:
            levels.append(level)
        k += 1


def quantile_sorted(values: Sequence[float], q: float) -> float | None:
    """``numpy.quantile(values, q)`` (linear) of an ascending sequence; None below 2 values."""
    return _linear_quantile(len(values), q, values.__getitem__)


def _quantile_of_entries(entries: SortedItems, q: float) -> float | None:
    """:func:`quantile_sorted` of the values of sorted ``(value, trial_id)`` entries."""
    return _linear_quantile(len(entries), q, lambda k: entries[k][0])


def _linear_quantile(n: int, q: float, value_at: Callable[[int], float]) -> float | None:
    """numpy's linear ``q``-quantile of ``n`` ascending values read by ``value_at(k)``."""
    if n < 2:
        return None
    pos = (n - 1) * q
    i = int(pos)
    if i >= n - 1:
        return value_at(n - 1)
    g = pos - i
    return g * value_at(i + 1) + (1.0 - g) * value_at(i)


class SortedItems:
    """A sorted multiset in buckets: insert O(log n + B), k-th item and rank O(log n + B).

    A plain list with ``bisect.insort`` moves half the list on every insert, which
    shows at tens of thousands of entries; here each insert moves at most one
    bucket (``B = 2 * LOAD`` items) and a Fenwick tree over the bucket sizes finds
    the bucket holding the k-th item. Buckets split when they double.
    """

    LOAD = 256
    __slots__ = ("_buckets", "_maxes", "_tree", "_len")

    def __init__(self) -> None:
        self._buckets: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._tree: list[int] = [0]
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        for bucket in self._buckets:
            yield from bucket

    def _rebuild(self) -> None:
        n = len(self._buckets)
        tree = [0] * (n + 1)
        for i, bucket in enumerate(self._buckets, 1):
            tree[i] += len(bucket)
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self._tree = tree

    def _prefix(self, i: int) -> int:
        """Number of items in buckets ``0 .. i-1``."""
        total, tree = 0, self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def add(self, item: Any) -> None:
        """Insert ``item`` keeping the order."""
        self._len += 1
        if not self._buckets:
            self._buckets.append([item])
            self._maxes.append(item)
            self._rebuild()
            return
        i = bisect.bisect_left(self._maxes, item)
        if i == len(self._buckets):
            i -= 1
        bucket = self._buckets[i]
        bisect.insort(bucket, item)
        self._maxes[i] = bucket[-1]
        if len(bucket) > 2 * self.LOAD:
            half = len(bucket) // 2
            self._buckets[i : i + 1] = [bucket[:half], bucket[half:]]
            self._maxes[i : i + 1] = [bucket[half - 1], bucket[-1]]
            self._rebuild()
        else:
            j, tree, n = i + 1, self._tree, len(self._buckets)
            while j <= n:
                tree[j] += 1
                j += j & -j

    def __getitem__(self, k: int) -> Any:
        """The ``k``-th smallest item (``0 <= k < len``)."""
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        # Fenwick descent: the bucket whose prefix count first exceeds k
        pos, rem, tree = 0, k, self._tree
        step = 1 << (len(self._buckets).bit_length())
        while step:
            nxt = pos + step
            if nxt < len(tree) and tree[nxt] <= rem:
                pos = nxt
                rem -= tree[nxt]
            step >>= 1
        return self._buckets[pos][rem]

    def bisect_left(self, item: Any) -> int:
        """How many items are smaller than ``item``."""
        i = bisect.bisect_left(self._maxes, item)
        if i == len(self._buckets):
            return self._len
        return self._prefix(i) + bisect.bisect_left(self._buckets[i], item)


class RungState(msgspec.Struct, kw_only=True):
    """A rung as data: its level, ``[trial_id, value]`` pairs, promoted and blocked ids."""

    level: int
    entries: list[tuple[int, float]] = []
    promoted: list[int] = []
    blocked: list[int] = []
    guided: list[int] = []


class Rung:
    """The values recorded at one rung level, sorted ascending (smaller is better)."""

    __slots__ = ("level", "_sorted", "_reference", "_values", "_heap", "_promoted", "_blocked",
                 "_guided")

    def __init__(self, level: int) -> None:
        self.level = level
        self._sorted = SortedItems()  # (value, trial_id)
        self._reference = SortedItems()  # (value, trial_id) of trials no model proposed
        self._guided: set[int] = set()
        self._values: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []
        self._promoted: set[int] = set()
        self._blocked: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._values

    def add(self, trial_id: int, value: float, guided: bool = False) -> None:
        """Record ``value`` (finite, to minimize) for ``trial_id``; a trial records once.

        ``guided``: a searcher's model proposed the trial, so its value is left out
        of the reference field.
        """
        if trial_id in self._values:
            raise InvalidArgumentError(f"trial {trial_id} already recorded at rung {self.level}")
        if not math.isfinite(value):
            raise InvalidArgumentError(f"rung {self.level}: value {value!r} is not finite")
        entry = (value, trial_id)
        self._sorted.add(entry)
        if guided:
            self._guided.add(trial_id)
        else:
            self._reference.add(entry)
        self._values[trial_id] = value
        heapq.heappush(self._heap, entry)

    def value(self, trial_id: int) -> float | None:
        """The value ``trial_id`` recorded here, or None."""
        return self._values.get(trial_id)

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile of the recorded values (numpy's linear rule); None below 2."""
        return _quantile_of_entries(self._sorted, q)

    def cutoff(self, q: float, min_reference: int | None = None) -> float | None:
        """The ``q``-quantile of the reference field once it holds ``min_reference`` values.

        With ``min_reference`` None, or fewer reference values than that, it is
        the quantile of every recorded value (Syne Tune's rule). When no trial
        is guided the two are the same set, so ASHA with random search is unchanged.
        """
        if min_reference is not None and len(self._reference) >= min_reference:
            return _quantile_of_entries(self._reference, q)
        return self.quantile(q)

    @property
    def num_reference(self) -> int:
        """How many recorded values belong to the reference field."""
        return len(self._reference)

    def rank(self, trial_id: int) -> int:
        """How many recorded entries are strictly better than ``trial_id``'s (ties by id)."""
        return self._sorted.bisect_left((self._values[trial_id], trial_id))

    def mark_promoted(self, trial_id: int) -> None:
        """``trial_id`` left this rung for the next one: never promote it from here again."""
        self._promoted.add(trial_id)

    def is_promoted(self, trial_id: int) -> bool:
        """True once ``trial_id`` was promoted from this rung."""
        return trial_id in self._promoted

    def block(self, trial_id: int) -> None:
        """``trial_id`` is gone (failed, stopped): keep its value, never promote it."""
        if trial_id in self._values:
            self._blocked.add(trial_id)

    def best_candidate(self) -> tuple[int, float] | None:
        """The best recorded trial neither promoted nor blocked, or None (amortised O(log n))."""
        heap = self._heap
        while heap:
            value, trial_id = heap[0]
            if trial_id in self._promoted or trial_id in self._blocked:
                heapq.heappop(heap)
                continue
            return trial_id, value
        return None

    def promotable(self, q: float, min_reference: int | None = None) -> int | None:
        """The best candidate within the cutoff (:meth:`cutoff`), else None."""
        candidate = self.best_candidate()
        if candidate is None:
            return None
        cutoff = self.cutoff(q, min_reference)
        if cutoff is None or candidate[1] > cutoff:
            return None
        return candidate[0]

    def sorted_entries(self) -> list[tuple[int, float]]:
        """``(trial_id, value)`` best first (O(n): for reports and PASHA's rankings)."""
        return [(t, v) for v, t in self._sorted]

    def state(self) -> RungState:
        """This rung as data (entries in sorted order)."""
        return RungState(
            level=self.level,
            entries=[(t, v) for v, t in self._sorted],
            promoted=sorted(self._promoted),
            blocked=sorted(self._blocked),
            guided=sorted(self._guided),
        )

    @classmethod
    def from_state(cls, state: RungState) -> Rung:
        """Rebuild a rung from :meth:`state` output."""
        rung = cls(state.level)
        guided = set(state.guided)
        for trial_id, value in state.entries:
            rung.add(trial_id, value, guided=trial_id in guided)
        rung._promoted = set(state.promoted)
        rung._blocked = set(state.blocked)
        return rung

    def __repr__(self) -> str:
        return f"Rung(level={self.level}, n={len(self)}, promoted={len(self._promoted)})"


class RungTable:
    """The rungs of one bracket, lowest level first, with O(1) lookup by level."""

    __slots__ = ("levels", "rungs", "_index")

    def __init__(self, levels: Iterable[int]) -> None:
        self.levels = list(levels)
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise InvalidArgumentError(f"rung levels must increase, got {self.levels}")
        self.rungs = [Rung(level) for level in self.levels]
        self._index = {level: i for i, level in enumerate(self.levels)}

    def __len__(self) -> int:
        return len(self.rungs)

    def index(self, level: int) -> int | None:
        """Position of the rung at ``level``, or None if ``level`` is not a rung level."""
        return self._index.get(level)

    def highest_at_or_below(self, resource: float) -> int:
        """Index of the highest rung with level <= ``resource`` (-1 if none)."""
        return bisect.bisect_right(self.levels, resource) - 1

    def block(self, trial_id: int) -> None:
        """Make ``trial_id`` unpromotable everywhere (O(number of rungs))."""
        for rung in self.rungs:
            rung.block(trial_id)

    def state(self) -> list[RungState]:
        """All rungs as data."""
        return [rung.state() for rung in self.rungs]

    def restore(self, states: Sequence[RungState]) -> None:
        """Replace the rungs with ``states`` (levels must match this table's)."""
        if [s.level for s in states] != self.levels:
            raise InvalidArgumentError(
                f"saved rung levels {[s.level for s in states]} do not match {self.levels}"
            )
        self.rungs = [Rung.from_state(s) for s in states]

    def __repr__(self) -> str:
        return f"RungTable(levels={self.levels}, sizes={[len(r) for r in self.rungs]})"
