"""Rebuild aiotune's own components (schedulers, backends) from data, never from pickle.

A class decorated with :func:`component` records the arguments it was built
with. ``to_spec`` turns such an object into plain JSON-able data; ``from_spec``
builds it again, but only for classes that registered themselves, so a state
file can name nothing outside that list (loading it imports and runs nothing
it names). Arguments that cannot be written as data (a user's function, say)
make ``to_spec`` raise :class:`NotSerializableError`; ``Tuner.load`` then asks
the caller to pass that component again.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from .errors import AiotuneError

__all__ = ["ComponentSpec", "NotSerializableError", "component", "from_spec", "to_spec"]

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}


class NotSerializableError(AiotuneError):
    """Raised when a component's constructor arguments cannot be written as data."""


class ComponentSpec(msgspec.Struct, kw_only=True):
    """A registered class name and the data its constructor was called with."""

    kind: str
    kwargs: dict[str, Any]


def component(cls: T) -> T:
    """Register ``cls`` and make its instances remember their constructor arguments."""
    name = cls.__qualname__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"component name {name!r} registered twice")
    _REGISTRY[name] = cls
    original = cls.__init__
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not hasattr(self, "_spec_kwargs"):
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:  # name the class, as Python's own message would
                raise TypeError(f"{name}(): {exc}") from None
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))
            for pname, param in signature.parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD and pname in arguments:
                    arguments.update(arguments.pop(pname))
            self._spec_kwargs = arguments
        original(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


def to_spec(obj: Any) -> ComponentSpec:
    """Describe ``obj`` (an instance of a registered class) as data."""
    kwargs = getattr(obj, "_spec_kwargs", None)
    name = type(obj).__qualname__
    if kwargs is None or _REGISTRY.get(name) is not type(obj):
        raise NotSerializableError(f"{name} is not a registered aiotune component")
    return ComponentSpec(
        kind=name, kwargs={k: _encode(v, f"{name}.{k}") for k, v in kwargs.items()}
    )


def from_spec(spec: ComponentSpec) -> Any:
    """Build the object ``spec`` describes; only registered classes can be named."""
    cls = _REGISTRY.get(spec.kind)
    if cls is None:
        raise NotSerializableError(f"unknown component kind {spec.kind!r} in saved state")
    return cls(**{k: _decode(v) for k, v in spec.kwargs.items()})


def _encode(value: Any, where: str) -> Any:
    from .config_space import Domain  # late: config_space imports nothing of ours

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return {"$path": str(value)}
    if isinstance(value, Domain):
        return {"$domain": value.to_json()}
    if isinstance(value, list | tuple):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotSerializableError(f"{where}: dict keys must be strings")
        return {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
    if type(value).__qualname__ in _REGISTRY and hasattr(value, "_spec_kwargs"):
        return {"$component": msgspec.to_builtins(to_spec(value))}
    raise NotSerializableError(f"{where}: cannot save a {type(value).__name__} as data")


def _decode(value: Any) -> Any:
    from .config_space import Domain

    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "$path":
                return Path(inner)
            if key == "$domain":
                return Domain.from_json(inner)
            if key == "$component":
                return from_spec(msgspec.convert(inner, ComponentSpec))
        return {k: _decode(v) for k, v in value.items()}
    return value
