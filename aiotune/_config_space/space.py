"""Config-space-level helpers: a config space is a plain ``dict[str, Domain | constant]``."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..errors import ConfigSpaceError, ConfigValueError, InvalidArgumentError
from .domains import Domain
from .values import ValueProblem, plain_value, to_python

__all__ = [
    "check_config",
    "config_in_space",
    "config_space_from_json",
    "config_space_to_json",
    "decode_config",
    "encode_config",
    "encoded_dim",
    "grid_configs",
    "hyperparameters",
    "is_domain",
    "normalize_config",
    "sample_config",
    "space_size",
    "validate_config_space",
]

_JSON_VERSION = 1
_MAX_KEY_LEN = 256


def is_domain(v: Any) -> bool:
    """True when ``v`` is a hyperparameter domain (not a constant)."""
    return isinstance(v, Domain)


def hyperparameters(space: dict[str, Any]) -> dict[str, Domain]:
    """The entries of ``space`` that are domains, in the space's order."""
    return {k: v for k, v in space.items() if isinstance(v, Domain)}


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"key {key!r} is a {type(key).__name__}, not a str"
    if not key:
        return "key is the empty string"
    if len(key) > _MAX_KEY_LEN:
        return f"key {key[:40]!r}... is longer than {_MAX_KEY_LEN} characters"
    if key.startswith("-"):
        return f"key {key!r} starts with '-' (it would read as a command-line flag)"
    if "=" in key or any(c.isspace() or not c.isprintable() for c in key):
        return f"key {key!r} contains '=', whitespace or a control character"
    return None


def validate_config_space(space: dict[str, Any]) -> None:
    """Raise ConfigSpaceError naming the key if ``space`` cannot be used or saved."""
    if not isinstance(space, dict):
        raise ConfigSpaceError(f"a config space must be a dict, got {type(space).__name__}")
    for key, value in space.items():
        problem = _key_problem(key)
        if problem:
            raise ConfigSpaceError(f"config space: {problem}")
        if isinstance(value, Domain):
            continue
        try:
            plain_value(value)
        except ValueProblem as exc:
            raise ConfigSpaceError(
                f"config space key {key!r}{exc.where}: constant {exc.reason}"
            ) from None


def sample_config(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One random config: each domain sampled in space order, constants passed through."""
    return {k: (v.sample(rng) if isinstance(v, Domain) else v) for k, v in space.items()}


def encoded_dim(space: dict[str, Any]) -> int:
    """Length of the unit-cube vector of a config of ``space``."""
    return sum(v.encoded_dim for v in space.values() if isinstance(v, Domain))


def encode_config(space: dict[str, Any], config: dict[str, Any]) -> np.ndarray:
    """The config's hyperparameters as one vector in ``[0, 1] ** encoded_dim(space)``."""
    parts = []
    for key, dom in space.items():
        if isinstance(dom, Domain):
            if key not in config:
                raise ConfigValueError(f"config has no value for hyperparameter {key!r}")
            try:
                parts.append(dom.encode(config[key]))
            except (ValueError, TypeError) as exc:
                raise ConfigValueError(f"config key {key!r}: {exc}") from exc
    return np.concatenate(parts) if parts else np.zeros(0)


def decode_config(space: dict[str, Any], x: Any) -> dict[str, Any]:
    """Inverse of :func:`encode_config`, with the constants filled in, in space order."""
    arr = np.asarray(x, dtype=float).reshape(-1)
    dim = encoded_dim(space)
    if arr.size != dim:
        raise InvalidArgumentError(f"encoded vector has {arr.size} entries, space needs {dim}")
    out: dict[str, Any] = {}
    pos = 0
    for key, dom in space.items():
        if isinstance(dom, Domain):
            d = dom.encoded_dim
            out[key] = dom.decode(arr[pos] if d == 1 else arr[pos : pos + d])
            pos += d
        else:
            out[key] = dom
    return out


def config_space_to_json(space: dict[str, Any]) -> dict[str, Any]:
    """JSON-able form of a whole space, constants included (see config_space_from_json)."""
    validate_config_space(space)
    entries: dict[str, Any] = {}
    for key, value in space.items():
        if isinstance(value, Domain):
            entries[key] = value.to_json()
        else:
            entries[key] = {"type": "constant", "value": plain_value(value)}
    return {"version": _JSON_VERSION, "space": entries}


def config_space_from_json(d: dict[str, Any]) -> dict[str, Any]:
    """Rebuild a space from :func:`config_space_to_json` output; errors name the key."""
    if not isinstance(d, dict) or not isinstance(d.get("space"), dict):
        raise ConfigSpaceError("config space JSON must be a dict with a 'space' dict")
    version = d.get("version")
    if version != _JSON_VERSION:
        raise ConfigSpaceError(f"config space JSON version {version!r} is not supported")
    space: dict[str, Any] = {}
    for key, entry in d["space"].items():
        if not isinstance(entry, dict):
            raise ConfigSpaceError(f"config space key {key!r}: entry must be a dict")
        if entry.get("type") == "constant":
            if set(entry) != {"type", "value"}:
                raise ConfigSpaceError(f"config space key {key!r}: bad constant {entry!r}")
            space[key] = entry["value"]
            continue
        try:
            space[key] = Domain.from_json(entry)
        except ConfigSpaceError as exc:
            raise ConfigSpaceError(f"config space key {key!r}: {exc}") from None
    validate_config_space(space)
    return space


def _problem(space: dict[str, Any], config: Any) -> str | None:
    if not isinstance(config, dict):
        return f"config must be a dict, got {type(config).__name__}"
    for key in config:
        if key not in space:
            return f"config key {key!r} is not in the config space"
    for key, dom in space.items():
        if isinstance(dom, Domain):
            if key not in config:
                return f"config has no value for hyperparameter {key!r}"
            if not dom.contains(config[key]):
                return f"config key {key!r}: {config[key]!r} is not a value of {dom!r}"
        elif key in config and not _same_constant(config[key], dom):
            return f"config key {key!r}: {config[key]!r} differs from the constant {dom!r}"
    return None


def _same_constant(a: Any, b: Any) -> bool:
    try:
        return bool(to_python(a) == to_python(b))
    except Exception:  # noqa: BLE001 - exotic __eq__ (arrays): treat as different
        return False


def config_in_space(space: dict[str, Any], config: dict[str, Any]) -> bool:
    """True when every hyperparameter has a valid value and no key is unknown."""
    return _problem(space, config) is None


def check_config(space: dict[str, Any], config: dict[str, Any]) -> None:
    """Raise ConfigValueError naming the key unless ``config_in_space(space, config)``."""
    problem = _problem(space, config)
    if problem is not None:
        raise ConfigValueError(problem)


def space_size(space: dict[str, Any]) -> int | None:
    """Number of distinct configs when every domain is finite, else None."""
    total = 1
    for dom in space.values():
        if isinstance(dom, Domain):
            n = dom.num_values()
            if n is None:
                return None
            total *= n
    return total


def grid_configs(space: dict[str, Any], num_samples: int = 3) -> list[dict[str, Any]]:
    """Cartesian product of every domain's grid, first key varying slowest, constants kept."""
    if not isinstance(num_samples, int) or num_samples < 1:
        raise InvalidArgumentError(f"num_samples={num_samples!r} must be an int >= 1")
    keys = list(space)
    axes = [
        space[k].grid(num_samples) if isinstance(space[k], Domain) else [space[k]] for k in keys
    ]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]


def normalize_config(space: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Return ``config`` as plain Python values that survive JSON/msgpack unchanged.

    numpy scalars become Python scalars; values of int domains become ``int`` (3.0 -> 3),
    of float domains ``float``; listed domains snap to their listed value. Raises
    ConfigValueError naming the key for anything that would not round-trip (sets,
    tuples, bytes, datetimes, arrays, NaN/inf, arbitrary objects) or cannot be cast.
    """
    if not isinstance(config, dict):
        raise ConfigValueError(f"config must be a dict, got {type(config).__name__}")
    out: dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise ConfigValueError(f"config key {key!r} is not a str")
        dom = space.get(key)
        try:
            value = plain_value(value)
        except ValueProblem as exc:
            raise ConfigValueError(f"config key {key!r}{exc.where}: {exc.reason}") from None
        if isinstance(dom, Domain):
            try:
                value = dom.cast(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise ConfigValueError(f"config key {key!r}: {exc}") from None
        out[key] = value
    return out
