"""Finite domains: ``Categorical`` (one-hot), ``Ordinal`` (one ordered dim), ``FiniteRange``."""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from ..errors import ConfigSpaceError, ConfigValueError
from .domains import Domain, _fields, check_bound, unit_scalar
from .values import INT_MAX, INT_MIN, is_number, to_python

__all__ = ["Categorical", "FiniteRange", "Ordinal", "ORDINAL_KINDS"]

ORDINAL_KINDS = ("equal", "nn", "nn-log")
_CATEGORY_TYPES = (str, bool, int, float)


def _check_categories(kind: str, categories: Any) -> list[Any]:
    """Validate a category list: non-empty, one type of str/int/float/bool, no duplicates."""
    if isinstance(categories, np.ndarray):
        categories = categories.tolist()
    if not isinstance(categories, list | tuple):
        raise ConfigSpaceError(
            f"{kind}: categories must be a list, got {type(categories).__name__}"
        )
    cats = [to_python(c) for c in categories]
    if not cats:
        raise ConfigSpaceError(f"{kind}: categories must not be empty")
    for c in cats:
        if type(c) not in _CATEGORY_TYPES:
            raise ConfigSpaceError(
                f"{kind}: category {c!r} has type {type(c).__name__}; "
                "categories must be str, int, float or bool"
            )
        if isinstance(c, float) and not math.isfinite(c):
            raise ConfigSpaceError(f"{kind}: category {c!r} is not finite")
        if type(c) is int and not INT_MIN <= c <= INT_MAX:
            raise ConfigSpaceError(f"{kind}: category {c!r} is outside the 64-bit range")
        if isinstance(c, str):
            try:
                c.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ConfigSpaceError(f"{kind}: category {c!r} is not valid UTF-8") from exc
    first = type(cats[0])
    for c in cats:
        if type(c) is not first:
            raise ConfigSpaceError(
                f"{kind}: categories {cats!r} mix types {first.__name__} and "
                f"{type(c).__name__}; use one type"
            )
    seen: set[Any] = set()
    for c in cats:
        if c in seen:
            raise ConfigSpaceError(f"{kind}: duplicate category {c!r} in {cats!r}")
        seen.add(c)
    return cats


class _Listed(Domain):
    """Shared behaviour of domains given by an explicit, ordered list of values."""

    _cats: list[Any]
    _index: dict[Any, int]

    def _set_values(self, cats: list[Any]) -> None:
        self._cats = cats
        self._n = len(cats)
        self._index = {c: i for i, c in enumerate(cats)}
        self.value_type = type(cats[0])

    def _lookup(self, value: Any) -> int | None:
        """Index of ``value`` when it is one of the values with the right type."""
        value = to_python(value)
        i = self._index.get(value) if isinstance(value, _CATEGORY_TYPES) else None
        if i is None:
            return None
        vt = self.value_type
        if type(value) is vt or (vt is float and type(value) is int):
            return i
        return None

    def _index_of(self, value: Any) -> int:
        i = self._lookup(value)
        if i is None:
            raise ConfigValueError(f"{value!r} is not a value of {self!r}")
        return i

    def sample(self, rng: np.random.Generator) -> Any:
        return self._cats[min(int(rng.random() * self._n), self._n - 1)]

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Any]:
        cats = self._cats
        return [cats[i] for i in rng.integers(0, self._n, size=n).tolist()]

    def contains(self, value: Any) -> bool:
        return self._lookup(value) is not None

    @property
    def is_finite(self) -> bool:
        return True

    def values(self) -> list[Any]:
        return list(self._cats)

    def num_values(self) -> int:
        return self._n

    def cast(self, value: Any) -> Any:
        """Return the listed value equal to ``value`` (ints for float lists, 1e-9 float slack)."""
        value = to_python(value)
        i = self._lookup(value)
        if i is not None:
            return self._cats[i]
        vt = self.value_type
        if vt in (int, float) and is_number(value) and math.isfinite(value):
            if vt is int and value == int(value) and self._lookup(int(value)) is not None:
                return self._cats[self._index[int(value)]]
            if vt is float:
                j = self._nearest_index(float(value))
                if math.isclose(self._cats[j], value, rel_tol=1e-9, abs_tol=1e-12):
                    return self._cats[j]
        raise ConfigValueError(f"{value!r} is not a value of {self!r}")

    def _nearest_index(self, value: float) -> int:
        return min(range(self._n), key=lambda j: abs(self._cats[j] - value))

    def _unit_index(self, x: Any) -> int:
        return min(int(unit_scalar(x) * self._n), self._n - 1)


class Categorical(_Listed):
    """Unordered choice among listed values, one-hot encoded (``choice``)."""

    json_type = ("choice",)

    def __init__(self, categories: list[Any]) -> None:
        self._set_values(_check_categories("choice", categories))
        self.categories = self._cats

    @property
    def encoded_dim(self) -> int:
        return self._n

    def encode(self, value: Any) -> np.ndarray:
        out = np.zeros(self._n)
        out[self._index_of(value)] = 1.0
        return out

    def decode(self, x: Any) -> Any:
        arr = np.asarray(x, dtype=float).reshape(-1)
        if arr.size != self._n:
            raise ConfigValueError(f"expected {self._n} coordinates for {self!r}, got {arr.size}")
        return self._cats[int(np.argmax(arr))]

    def to_json(self) -> dict[str, Any]:
        return {"type": "choice", "categories": list(self._cats)}

    @classmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> Categorical:
        (cats,) = _fields(kind, d, ("categories",))
        return cls(cats)

    def _key(self) -> tuple[Any, ...]:
        return tuple((type(c).__name__, c) for c in self._cats)

    def __repr__(self) -> str:
        return f"choice({self._cats!r})"


class Ordinal(_Listed):
    """Ordered choice, one encoded dim.

    ``kind="equal"``: every category gets an equal share of [0, 1] (by position).
    ``kind="nn"`` / ``"nn-log"``: categories are strictly increasing numbers placed at
    their value (or log value); decoding and sampling pick the nearest category.
    """

    json_type = ("ordinal",)

    def __init__(self, categories: list[Any], kind: str = "equal") -> None:
        if kind not in ORDINAL_KINDS:
            raise ConfigSpaceError(f"ordinal: kind={kind!r} must be one of {ORDINAL_KINDS}")
        cats = _check_categories("ordinal", categories)
        self.kind = kind
        self._set_values(cats)
        self.categories = self._cats
        if kind == "equal":
            return
        if not all(is_number(c) for c in cats):
            raise ConfigSpaceError(f"ordinal kind={kind!r}: categories {cats!r} must be numbers")
        if kind == "nn-log" and cats[0] <= 0:
            raise ConfigSpaceError(
                f"ordinal kind='nn-log': category {cats[0]!r} must be > 0 for a log scale"
            )
        pos = [math.log(c) for c in cats] if kind == "nn-log" else [float(c) for c in cats]
        for a, b, ca, cb in zip(pos, pos[1:], cats, cats[1:], strict=False):
            if not a < b:
                raise ConfigSpaceError(
                    f"ordinal kind={kind!r}: categories must be strictly increasing, "
                    f"but {ca!r} is followed by {cb!r}"
                )
        self._mid = [(a + b) / 2 for a, b in zip(pos, pos[1:], strict=False)]
        if len(pos) == 1:
            lo, hi = pos[0] - 0.5, pos[0] + 0.5
        else:
            lo = pos[0] - (pos[1] - pos[0]) / 2
            hi = pos[-1] + (pos[-1] - pos[-2]) / 2
        self._pos, self._a, self._w = pos, lo, hi - lo

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "equal":
            return super().sample(rng)
        return self.decode(rng.random())

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Any]:
        if self.kind == "equal":
            return super().sample_many(rng, n)
        idx = np.searchsorted(self._mid, self._a + self._w * rng.random(n))
        return [self._cats[i] for i in idx.tolist()]

    def encode(self, value: Any) -> np.ndarray:
        i = self._index_of(value)
        if self.kind == "equal":
            return np.array([(i + 0.5) / self._n])
        return np.array([(self._pos[i] - self._a) / self._w])

    def decode(self, x: Any) -> Any:
        if self.kind == "equal":
            return self._cats[self._unit_index(x)]
        y = self._a + unit_scalar(x) * self._w
        return self._cats[bisect.bisect_left(self._mid, y)]

    def to_json(self) -> dict[str, Any]:
        return {"type": "ordinal", "categories": list(self._cats), "kind": self.kind}

    @classmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> Ordinal:
        (cats,) = _fields(kind, d, ("categories",), ("kind",))
        return cls(cats, d.get("kind", "equal"))

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, *((type(c).__name__, c) for c in self._cats))

    def __repr__(self) -> str:
        return f"ordinal({self._cats!r}, kind={self.kind!r})"


def _tidy(y: float) -> float:
    """Round away float noise (``0.30000000000000004`` -> ``0.3``): 12 significant digits."""
    return float(f"{y:.12g}")


class FiniteRange(_Listed):
    """``size`` values evenly spaced from ``lower`` to ``upper`` (both included), linear or log."""

    json_type = ("finrange", "logfinrange")

    def __init__(
        self, lower: float, upper: float, size: int, log: bool = False, cast_int: bool = False
    ) -> None:
        kind = "logfinrange" if log else "finrange"
        lo = check_bound(kind, "lower", lower)
        hi = check_bound(kind, "upper", upper)
        size = to_python(size)
        if not isinstance(size, int) or isinstance(size, bool):
            raise ConfigSpaceError(f"{kind}: size={size!r} must be an int")
        if size < 1:
            raise ConfigSpaceError(f"{kind}: size={size} must be >= 1")
        if lo > hi or (size > 1 and lo == hi):
            raise ConfigSpaceError(
                f"{kind}: lower={lower!r} must be < upper={upper!r} (or equal with size=1)"
            )
        if log and lo <= 0:
            raise ConfigSpaceError(f"{kind}: lower={lower!r} must be > 0 for a log domain")
        if size > 1_000_000:
            raise ConfigSpaceError(f"{kind}: size={size} is too large (max 1,000,000)")
        self.lower, self.upper, self.size = lo, hi, size
        self.log, self.cast_int = bool(log), bool(cast_int)
        a = math.log(lo) if log else lo
        b = math.log(hi) if log else hi
        self._ia = a
        self._step = (b - a) / (size - 1) if size > 1 else 0.0
        vals: list[float] = []
        for i in range(size):
            if i == 0 or i == size - 1:
                v = lo if i == 0 else hi
            else:
                y = a + i * self._step
                v = _tidy(math.exp(y) if log else y)
            vals.append(v)
        cats: list[Any] = [int(round(v)) for v in vals] if cast_int else vals
        for p, q in zip(cats, cats[1:], strict=False):
            if not p < q:
                raise ConfigSpaceError(
                    f"{kind}: size={size} gives repeated values ({p!r}) between "
                    f"lower={lower!r} and upper={upper!r}"
                    + (" after rounding to int (cast_int=True)" if cast_int else "")
                )
        self._set_values(cats)

    def _nearest_index(self, value: float) -> int:
        if self._step == 0.0:
            return 0
        if self.log:
            y = math.log(value) if value > 0 else -math.inf
        else:
            y = value
        j = round((y - self._ia) / self._step) if math.isfinite(y) else 0
        j = min(max(j, 0), self._n - 1)
        # Rounding (cast_int, _tidy) can move a value: settle among the neighbours.
        cand = [k for k in (j - 1, j, j + 1) if 0 <= k < self._n]
        return min(cand, key=lambda k: abs(self._cats[k] - value))

    def encode(self, value: Any) -> np.ndarray:
        i = self._lookup(value)
        if i is None:
            value = to_python(value)
            if not is_number(value):
                raise ConfigValueError(f"{value!r} is not a value of {self!r}")
            i = self._nearest_index(float(value))
        return np.array([(i + 0.5) / self._n])

    def decode(self, x: Any) -> Any:
        return self._cats[self._unit_index(x)]

    def contains(self, value: Any) -> bool:
        if self._lookup(value) is not None:
            return True
        value = to_python(value)
        if self.cast_int or not is_number(value) or not math.isfinite(value):
            return False
        near = self._cats[self._nearest_index(float(value))]
        return math.isclose(near, value, rel_tol=1e-9, abs_tol=1e-12)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.json_type[self.log],
            "lower": self.lower,
            "upper": self.upper,
            "size": self.size,
            "cast_int": self.cast_int,
        }

    @classmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> FiniteRange:
        lower, upper, size = _fields(kind, d, ("lower", "upper", "size"), ("cast_int",))
        cast_int = d.get("cast_int", False)
        if not isinstance(cast_int, bool):
            raise ConfigSpaceError(f"{kind}: cast_int={cast_int!r} must be a bool")
        return cls(lower, upper, size, log=kind == "logfinrange", cast_int=cast_int)

    def _key(self) -> tuple[Any, ...]:
        return (self.lower, self.upper, self.size, self.log, self.cast_int)

    def __repr__(self) -> str:
        extra = ", cast_int=True" if self.cast_int else ""
        return f"{self.json_type[self.log]}({self.lower!r}, {self.upper!r}, {self.size}{extra})"
