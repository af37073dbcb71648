"""Argument helpers shared by the schedulers: searcher by name, ``max_t``, the resource.

ASHA, Hyperband, PBT, the median stopping rule and synchronous Hyperband all
build a searcher from a name (or take an instance), find ``max_t`` in the
config space, and read the resource attribute of each result; each helper
raises :class:`~aiotune.errors.InvalidArgumentError` naming the bad argument.
"""

from __future__ import annotations

import inspect
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from .._checks import check_number
from ..errors import InvalidArgumentError
from ..trial import Trial
from .searchers import random as _random  # noqa: F401 - registers searcher="random"
from .searchers.base import Searcher, resolve_searcher

__all__ = [
    "build_searcher",
    "check_seed",
    "check_positive",
    "check_rung_args",
    "infer_max_t",
    "max_t_in_space",
    "objective_names",
    "read_resource",
    "resource_name",
]

MAX_T_NAMES = ("epochs", "max_t", "max_epochs")


def build_searcher(
    searcher: str | Searcher,
    config_space: dict[str, Any],
    metric: str,
    mode: str,
    random_seed: int | None,
    points_to_evaluate: list[dict[str, Any]] | None,
    searcher_kwargs: Mapping[str, Any] | None = None,
    resource_attr: str | None = None,
    max_resource: int | None = None,
) -> Searcher:
    """A searcher from its registered name (or the instance given), told about the resource.

    ``resource_attr`` and ``max_resource`` are passed only to searchers whose
    constructor accepts them (multi-fidelity ones such as BOHB's KDE).
    """
    if isinstance(searcher, Searcher):
        if points_to_evaluate:
            raise InvalidArgumentError(
                "points_to_evaluate cannot be combined with a searcher instance; "
                "give it to the searcher"
            )
        return searcher
    if not isinstance(searcher, str):
        raise InvalidArgumentError(
            f"searcher must be a registered name or a Searcher, got {type(searcher).__name__}"
        )
    if searcher_kwargs is not None and not isinstance(searcher_kwargs, Mapping):
        raise InvalidArgumentError("searcher_kwargs must be a dict")
    factory = resolve_searcher(searcher)
    kwargs = dict(searcher_kwargs or {})
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}
    for name, value in (("resource_attr", resource_attr), ("max_resource", max_resource)):
        if name in params and name not in kwargs and value is not None:
            kwargs[name] = value
    return factory(
        config_space,
        metric=metric,
        mode=mode,
        random_seed=random_seed,
        points_to_evaluate=points_to_evaluate,
        **kwargs,
    )


def max_t_in_space(config_space: Mapping[str, Any], max_resource_attr: str | None) -> int | None:
    """The int constant ``config_space[max_resource_attr]`` (or "epochs", ...), else None."""
    names = (max_resource_attr,) if max_resource_attr is not None else MAX_T_NAMES
    for name in names:
        value = config_space.get(name) if isinstance(config_space, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def infer_max_t(
    config_space: Mapping[str, Any], max_t: Any, max_resource_attr: str | None, who: str
) -> int:
    """``max_t`` as given, else the constant ``config_space[max_resource_attr]`` (or "epochs")."""
    if max_t is None:
        max_t = max_t_in_space(config_space, max_resource_attr)
        if max_t is None:
            where = (
                f"config_space[{max_resource_attr!r}] is not an int constant"
                if max_resource_attr is not None
                else f"the config space has no int constant named one of {list(MAX_T_NAMES)}"
            )
            raise InvalidArgumentError(f"{who}: max_t is not given and {where}")
    if isinstance(max_t, bool) or not isinstance(max_t, int | float) or not max_t >= 1:
        raise InvalidArgumentError(f"{who}: max_t must be a number >= 1, got {max_t!r}")
    if isinstance(max_t, float):
        if not max_t.is_integer():
            raise InvalidArgumentError(f"{who}: max_t must be a whole number, got {max_t!r}")
        max_t = int(max_t)
    return max_t


def check_seed(who: str, random_seed: Any) -> int:
    """The scheduler's seed: ``random_seed`` if given (a non-negative int), else a random one."""
    if random_seed is None:
        return secrets.randbits(31)
    if isinstance(random_seed, bool) or not isinstance(random_seed, int) or random_seed < 0:
        raise InvalidArgumentError(
            f"{who}: random_seed must be a non-negative int, got {random_seed!r}"
        )
    return random_seed


def check_rung_args(
    who: str,
    config_space: Mapping[str, Any],
    max_t: Any,
    max_resource_attr: str | None,
    grace_period: Any,
    reduction_factor: Any,
) -> int:
    """``max_t`` (see :func:`infer_max_t`) once ``grace_period`` (>= 1, <= max_t) and
    ``reduction_factor`` (>= 2) are checked: the arguments every successive-halving
    scheduler takes."""
    max_t = infer_max_t(config_space, max_t, max_resource_attr, who)
    check_positive(who, "grace_period", grace_period, 1)
    if grace_period > max_t:
        raise InvalidArgumentError(
            f"{who}: grace_period={grace_period} is larger than max_t={max_t}"
        )
    check_positive(who, "reduction_factor", reduction_factor, 2)
    return max_t


def resource_name(who: str, time_attr: str | None, resource_attr: str | None) -> str:
    """The result key that counts the resource: ``time_attr`` (Ray Tune's name) or
    ``resource_attr`` (Syne Tune's), whichever is given; "epoch" if neither."""
    if resource_attr is not None and time_attr is not None and resource_attr != time_attr:
        raise InvalidArgumentError(
            f"{who}: time_attr={time_attr!r} and resource_attr={resource_attr!r} are two names "
            "for the same setting (Ray Tune's and Syne Tune's); give one"
        )
    name = resource_attr if resource_attr is not None else time_attr
    if name is None:
        return "epoch"
    if not isinstance(name, str) or not name:
        which = "resource_attr" if resource_attr is not None else "time_attr"
        raise InvalidArgumentError(f"{who}: {which} must be a non-empty name, got {name!r}")
    return name


def objective_names(
    who: str, metric: Sequence[str] | None, metrics: Sequence[str] | None, single: str
) -> list[str]:
    """The objectives of a multi-objective scheduler, given as ``metric`` or Syne Tune's
    ``metrics``; at least two, none repeated (``single`` names the one-objective method)."""
    if metrics is not None:
        if metric is not None and metric != metrics and (
            not isinstance(metric, Sequence) or list(metric) != list(metrics)
        ):
            raise InvalidArgumentError(
                f"{who}: metric={metric!r} and metrics={metrics!r} are two names for the "
                "same setting; give one"
            )
        metric = metrics
    if not isinstance(metric, Sequence) or isinstance(metric, str) or len(metric) < 2:
        raise InvalidArgumentError(
            f"{who}: metric must list at least two objectives, got {metric!r} "
            f"(for one objective use {single})"
        )
    names = list(metric)
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"{who}: metric names repeat: {names}")
    return names


def read_resource(
    who: str, time_attr: str, trial: Trial, result: Mapping[str, Any]
) -> float:
    """``result[time_attr]`` as a float; InvalidArgumentError naming it and the keys reported."""
    value = result.get(time_attr)
    if value is None:
        raise InvalidArgumentError(
            f"{who}: trial {trial.trial_id} reported no {time_attr!r} (time_attr, or Syne Tune's "
            f"resource_attr); it reported "
            f"the keys {sorted(result)}. Report the resource (e.g. the epoch) with every result, "
            "or set time_attr to the name your script uses."
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(
            f"{who}: trial {trial.trial_id} reported {time_attr}={value!r} (time_attr); "
            "it must be a finite number"
        )
    return float(value)


def check_positive(who: str, name: str, value: Any, minimum: float) -> None:
    """Raise InvalidArgumentError naming ``name`` unless ``value`` is a number >= ``minimum``."""
    check_number(f"{who}: {name}", value, minimum)
