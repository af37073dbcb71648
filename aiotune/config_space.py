"""Configuration spaces with Syne Tune's semantics.

A config space is a plain ``dict``: each value is either a hyperparameter
domain built by one of the factories below, or a constant passed to every
trial unchanged::

    space = {
        "lr": loguniform(1e-4, 1.0),
        "layers": randint(1, 8),          # both bounds inclusive, as in Syne Tune
        "act": choice(["relu", "tanh"]),
        "epochs": 27,                     # a constant
    }

Every domain samples from a ``numpy.random.Generator`` (deterministic given
its state), encodes values into the unit cube for model-based searchers
(integers and finite ranges give each value an equal share of ``[0, 1]``;
``choice`` is one-hot), and round-trips through JSON.
"""

from __future__ import annotations

from typing import Any

from ._config_space.domains import Domain, Float, Integer
from ._config_space.finite import Categorical, FiniteRange, Ordinal
from ._config_space.space import (
    check_config,
    config_in_space,
    config_space_from_json,
    config_space_to_json,
    decode_config,
    encode_config,
    encoded_dim,
    grid_configs,
    hyperparameters,
    is_domain,
    normalize_config,
    sample_config,
    space_size,
    validate_config_space,
)

__all__ = [
    "Categorical",
    "Domain",
    "FiniteRange",
    "Float",
    "Integer",
    "Ordinal",
    "check_config",
    "choice",
    "config_in_space",
    "config_space_from_json",
    "config_space_to_json",
    "decode_config",
    "encode_config",
    "encoded_dim",
    "finrange",
    "grid_configs",
    "hyperparameters",
    "is_domain",
    "logfinrange",
    "lograndint",
    "loguniform",
    "normalize_config",
    "ordinal",
    "randint",
    "sample_config",
    "space_size",
    "uniform",
    "validate_config_space",
]


def uniform(lower: float, upper: float) -> Float:
    """Real value uniform in ``[lower, upper]`` (needs ``lower < upper``)."""
    return Float(lower, upper)


def loguniform(lower: float, upper: float) -> Float:
    """Real value uniform in log space between ``0 < lower < upper``, for scale parameters."""
    return Float(lower, upper, log=True)


def randint(lower: int, upper: int) -> Integer:
    """Integer uniform in ``lower..upper``, BOTH bounds inclusive (``randint(3, 3)`` is 3)."""
    return Integer(lower, upper)


def lograndint(lower: int, upper: int) -> Integer:
    """Integer in ``lower..upper`` (inclusive, ``lower >= 1``), log-uniform then rounded."""
    return Integer(lower, upper, log=True)


def choice(categories: list[Any]) -> Categorical:
    """Unordered choice among str/int/float/bool values of one type; one-hot encoded."""
    return Categorical(categories)


def ordinal(categories: list[Any], kind: str = "equal") -> Ordinal:
    """Ordered choice in one encoded dim: ``"equal"`` spacing, or ``"nn"``/``"nn-log"``.

    ``"nn"`` and ``"nn-log"`` need strictly increasing numbers: each sits at its
    value (or log value) and decoding/sampling picks the nearest one.
    """
    return Ordinal(categories, kind=kind)


def finrange(lower: float, upper: float, size: int, cast_int: bool = False) -> FiniteRange:
    """``size`` evenly spaced values from ``lower`` to ``upper`` inclusive; ints if ``cast_int``."""
    return FiniteRange(lower, upper, size, log=False, cast_int=cast_int)


def logfinrange(lower: float, upper: float, size: int, cast_int: bool = False) -> FiniteRange:
    """``size`` values evenly spaced in log space from ``lower > 0`` to ``upper`` inclusive."""
    return FiniteRange(lower, upper, size, log=True, cast_int=cast_int)
