"""The ``Domain`` base class and the numeric domains ``Float`` and ``Integer``."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigSpaceError, ConfigValueError, InvalidArgumentError
from .values import is_number, to_python

__all__ = ["Domain", "Float", "Integer", "check_bound", "unit_scalar"]

# Integer bounds must stay exactly representable as floats (the encoding is float).
_INT_LIMIT = 2**53

_JSON_TYPES: dict[str, type[Domain]] = {}


def check_bound(kind: str, name: str, value: Any) -> float:
    """Return a bound as a finite float, or raise ConfigSpaceError naming it."""
    value = to_python(value)
    if not is_number(value):
        raise ConfigSpaceError(f"{kind}: {name}={value!r} is not a number")
    f = float(value)
    if not math.isfinite(f):
        raise ConfigSpaceError(f"{kind}: {name}={value!r} is not finite")
    return f


def unit_scalar(x: Any) -> float:
    """The single coordinate of a 1-dim encoding, clipped into [0, 1]."""
    if isinstance(x, float | int):
        u = float(x)
    else:
        arr = np.asarray(x, dtype=float).reshape(-1)
        if arr.size != 1:
            raise InvalidArgumentError(f"expected 1 encoded coordinate, got {arr.size}")
        u = float(arr[0])
    if u != u:
        raise InvalidArgumentError("encoded coordinate is NaN")
    return 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)


class Domain(ABC):
    """A hyperparameter's value range: sampling, unit-cube encoding, JSON form."""

    json_type: ClassVar[tuple[str, ...]] = ()
    value_type: type

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.json_type:
            _JSON_TYPES[name] = cls

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value (deterministic given the generator's state)."""

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Any]:
        """Draw ``n`` values; subclasses vectorize where numpy makes it cheap."""
        return [self.sample(rng) for _ in range(n)]

    @property
    def encoded_dim(self) -> int:
        """Number of unit-cube coordinates this domain occupies."""
        return 1

    @abstractmethod
    def encode(self, value: Any) -> np.ndarray:
        """Map a value into ``[0, 1] ** encoded_dim``."""

    @abstractmethod
    def decode(self, x: Any) -> Any:
        """Inverse of :meth:`encode`; out-of-cube input is clipped first."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """True when ``value`` is a valid value of this domain."""

    @property
    def is_finite(self) -> bool:
        """True when the domain has finitely many values."""
        return False

    def values(self) -> list[Any]:
        """All values of a finite domain, in order (ValueError for continuous ones)."""
        raise ConfigSpaceError(f"{self!r} is continuous: it has no finite list of values")

    def num_values(self) -> int | None:
        """Number of distinct values, or None for a continuous domain."""
        return None

    def grid(self, num_samples: int) -> list[Any]:
        """Grid points: all values of a finite domain, else ``num_samples`` spaced ones."""
        return self.values()

    def cast(self, value: Any) -> Any:
        """Return ``value`` with this domain's Python type (raises ConfigValueError)."""
        return to_python(value)

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_json` turns back into an equal domain."""

    @staticmethod
    def from_json(d: dict[str, Any]) -> Domain:
        """Rebuild a domain from :meth:`to_json` output (ConfigSpaceError if malformed)."""
        if not isinstance(d, dict):
            raise ConfigSpaceError(f"domain JSON must be a dict, got {type(d).__name__}")
        kind = d.get("type")
        cls = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ConfigSpaceError(f"unknown domain type {kind!r} in {d!r}")
        return cls._from_json(kind, d)

    @classmethod
    @abstractmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> Domain:
        """Build from a dict whose ``type`` is one of ``cls.json_type``."""

    @abstractmethod
    def _key(self) -> tuple[Any, ...]:
        """Identity for equality and hashing."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))


def _fields(
    kind: str, d: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[Any]:
    """Check a domain JSON dict has exactly the expected keys; return the required values."""
    allowed = {"type", *required, *optional}
    extra = set(d) - allowed
    if extra:
        raise ConfigSpaceError(f"{kind}: unexpected keys {sorted(extra)} in {d!r}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ConfigSpaceError(f"{kind}: missing keys {missing} in {d!r}")
    return [d[k] for k in required]


class Float(Domain):
    """Real values in ``[lower, upper]``, uniform in linear or log space."""

    json_type = ("uniform", "loguniform")
    value_type = float

    def __init__(self, lower: float, upper: float, log: bool = False) -> None:
        kind = "loguniform" if log else "uniform"
        lo = check_bound(kind, "lower", lower)
        hi = check_bound(kind, "upper", upper)
        if not lo < hi:
            raise ConfigSpaceError(f"{kind}: lower={lower!r} must be < upper={upper!r}")
        if log and lo <= 0.0:
            raise ConfigSpaceError(f"{kind}: lower={lower!r} must be > 0 for a log domain")
        self.lower, self.upper, self.log = lo, hi, bool(log)
        self._a = math.log(lo) if log else lo
        self._w = (math.log(hi) if log else hi) - self._a

    def _from_unit(self, u: float) -> float:
        if u <= 0.0:
            return self.lower
        if u >= 1.0:
            return self.upper
        y = self._a + u * self._w
        v = math.exp(y) if self.log else y
        return self.lower if v < self.lower else (self.upper if v > self.upper else v)

    def sample(self, rng: np.random.Generator) -> float:
        return self._from_unit(rng.random())

    def sample_many(self, rng: np.random.Generator, n: int) -> list[float]:
        y = self._a + self._w * rng.random(n)
        if self.log:
            y = np.exp(y)
        return np.clip(y, self.lower, self.upper).tolist()

    def encode(self, value: Any) -> np.ndarray:
        v = float(value)
        if self.log:
            v = math.log(v) if v > 0 else -math.inf
        u = (v - self._a) / self._w
        return np.array([0.0 if u < 0.0 else (1.0 if u > 1.0 else u)])

    def decode(self, x: Any) -> float:
        return self._from_unit(unit_scalar(x))

    def contains(self, value: Any) -> bool:
        value = to_python(value)
        return is_number(value) and self.lower <= value <= self.upper

    def grid(self, num_samples: int) -> list[float]:
        if num_samples < 1:
            raise InvalidArgumentError(f"num_samples={num_samples} must be >= 1")
        if num_samples == 1:
            return [self._from_unit(0.5)]
        return [self._from_unit(i / (num_samples - 1)) for i in range(num_samples)]

    def cast(self, value: Any) -> float:
        value = to_python(value)
        if not is_number(value):
            raise ConfigValueError(f"{value!r} is not a number for {self!r}")
        return float(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.json_type[self.log], "lower": self.lower, "upper": self.upper}

    @classmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> Float:
        lower, upper = _fields(kind, d, ("lower", "upper"))
        return cls(lower, upper, log=kind == "loguniform")

    def _key(self) -> tuple[Any, ...]:
        return (self.lower, self.upper, self.log)

    def __repr__(self) -> str:
        return f"{self.json_type[self.log]}({self.lower!r}, {self.upper!r})"


def check_int_bound(kind: str, name: str, value: Any) -> int:
    """Return an integer bound, or raise ConfigSpaceError naming it."""
    f = check_bound(kind, name, value)
    if f != int(f):
        raise ConfigSpaceError(f"{kind}: {name}={value!r} is not an integer")
    if abs(f) > _INT_LIMIT:
        raise ConfigSpaceError(f"{kind}: {name}={value!r} is beyond +-2**53")
    return int(f)


class Integer(Domain):
    """Integers ``lower..upper`` (both inclusive), uniform in linear or log space."""

    json_type = ("randint", "lograndint")
    value_type = int

    def __init__(self, lower: int, upper: int, log: bool = False) -> None:
        kind = "lograndint" if log else "randint"
        lo = check_int_bound(kind, "lower", lower)
        hi = check_int_bound(kind, "upper", upper)
        if lo > hi:
            raise ConfigSpaceError(f"{kind}: lower={lower!r} must be <= upper={upper!r}")
        if log and lo <= 0:
            raise ConfigSpaceError(f"{kind}: lower={lower!r} must be >= 1 for a log domain")
        self.lower, self.upper, self.log = lo, hi, bool(log)
        self._n = hi - lo + 1
        # Each integer owns an equal share of [0, 1]: the range (lower-0.5, upper+0.5).
        if log:
            self._a = math.log(lo - 0.5)
            self._w = math.log(hi + 0.5) - self._a
        else:
            self._a = lo - 0.5
            self._w = float(self._n)

    def _from_unit(self, u: float) -> int:
        if self.log:
            v = round(math.exp(self._a + u * self._w))
        else:
            v = self.lower + math.floor(u * self._n)
        return self.lower if v < self.lower else (self.upper if v > self.upper else v)

    def sample(self, rng: np.random.Generator) -> int:
        return self._from_unit(rng.random())

    def sample_many(self, rng: np.random.Generator, n: int) -> list[int]:
        if not self.log:
            return rng.integers(self.lower, self.upper + 1, size=n).tolist()
        v = np.rint(np.exp(self._a + self._w * rng.random(n)))
        return np.clip(v, self.lower, self.upper).astype(np.int64).tolist()

    def encode(self, value: Any) -> np.ndarray:
        v = float(value)
        if self.log:
            v = math.log(v) if v > 0 else -math.inf
        u = (v - self._a) / self._w
        return np.array([0.0 if u < 0.0 else (1.0 if u > 1.0 else u)])

    def decode(self, x: Any) -> int:
        return self._from_unit(unit_scalar(x))

    def contains(self, value: Any) -> bool:
        value = to_python(value)
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.lower <= value <= self.upper
        )

    @property
    def is_finite(self) -> bool:
        return True

    def values(self) -> list[int]:
        return list(range(self.lower, self.upper + 1))

    def num_values(self) -> int:
        return self._n

    def grid(self, num_samples: int) -> list[int]:
        """All integers if there are at most ``num_samples``, else that many spread evenly."""
        if num_samples < 1:
            raise InvalidArgumentError(f"num_samples={num_samples} must be >= 1")
        if self._n <= num_samples:
            return self.values()
        if num_samples == 1:
            return [self._from_unit(0.5)]
        if self.log:
            pts = np.exp(np.linspace(math.log(self.lower), math.log(self.upper), num_samples))
        else:
            pts = np.linspace(self.lower, self.upper, num_samples)
        return sorted({min(max(int(round(p)), self.lower), self.upper) for p in pts})

    def cast(self, value: Any) -> int:
        value = to_python(value)
        if not is_number(value) or not math.isfinite(value) or value != int(value):
            raise ConfigValueError(f"{value!r} is not an integer for {self!r}")
        return int(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.json_type[self.log], "lower": self.lower, "upper": self.upper}

    @classmethod
    def _from_json(cls, kind: str, d: dict[str, Any]) -> Integer:
        lower, upper = _fields(kind, d, ("lower", "upper"))
        return cls(lower, upper, log=kind == "lograndint")

    def _key(self) -> tuple[Any, ...]:
        return (self.lower, self.upper, self.log)

    def __repr__(self) -> str:
        return f"{self.json_type[self.log]}({self.lower}, {self.upper})"
