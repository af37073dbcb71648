"""The searcher base class: which configuration to try next, as plain synchronous code.

A searcher proposes configurations; a scheduler (FIFO, ASHA, ...) decides what
happens to the trials running them. Searchers are synchronous and free of I/O
(the sans-I/O core); a scheduler runs ``suggest`` of a searcher that sets
``thinks_hard = True`` in a worker thread. Searchers are found by name through
:data:`SEARCHERS`, filled with :func:`register_searcher`.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import msgspec
import numpy as np

from ...config_space import (
    Domain,
    check_config,
    normalize_config,
    sample_config,
    validate_config_space,
)
from ...errors import ConfigValueError, InvalidArgumentError
from ...trial import Trial

__all__ = [
    "SEARCHERS",
    "Searcher",
    "SearcherState",
    "allowed_configs",
    "impute_config",
    "register_searcher",
    "resolve_searcher",
    "resource_level",
    "rng_from_json",
    "rng_to_json",
]

SEARCHERS: dict[str, Callable[..., Searcher]] = {}
"""Searcher name (as schedulers accept it, e.g. ``searcher="random"``) -> factory."""

# After this many rejected random draws on a finite space, enumerate what is left.
_MAX_REJECTIONS = 32


def register_searcher(name: str, cls: Callable[..., Searcher]) -> None:
    """Make ``cls`` available to schedulers as ``searcher=name``.

    The factory is called as ``cls(config_space, metric=..., mode=...,
    random_seed=..., points_to_evaluate=..., **searcher_kwargs)``. Registering
    a different class under a taken name raises InvalidArgumentError.
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"searcher name must be a non-empty string, got {name!r}")
    existing = SEARCHERS.get(name)
    if existing is not None and existing is not cls:
        raise InvalidArgumentError(f"searcher name {name!r} is already registered to {existing!r}")
    SEARCHERS[name] = cls


def resolve_searcher(name: str) -> Callable[..., Searcher]:
    """The factory registered as ``name``, importing the module that registers it if needed.

    Searcher modules register themselves on import; a name not registered yet
    is looked up in ``aiotune.schedulers.searchers.<name>`` and then in the
    package (whose ``__init__`` imports every searcher module).
    """
    if name not in SEARCHERS and isinstance(name, str):
        import importlib

        package = __name__.rpartition(".")[0]
        candidates = [f"{package}.{name}"] if name.isidentifier() else []
        for module in [*candidates, package]:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
            if name in SEARCHERS:
                break
    try:
        return SEARCHERS[name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown searcher {name!r}; known: {sorted(SEARCHERS)}"
        ) from None


def resource_level(result: Mapping[str, Any], resource_attr: str | None) -> float | None:
    """``result[resource_attr]`` as a float; None if there is no such attribute or the
    value is missing, not a number or not finite (searchers skip such results)."""
    level = result.get(resource_attr) if resource_attr is not None else None
    if isinstance(level, bool) or not isinstance(level, int | float):
        return None
    return float(level) if math.isfinite(level) else None


def rng_to_json(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's bit-generator state as JSON-able data (big ints as ``0x`` strings)."""
    return _ints_to_hex(rng.bit_generator.state)


def rng_from_json(rng: np.random.Generator, data: Mapping[str, Any]) -> None:
    """Set ``rng`` to a state produced by :func:`rng_to_json` (InvalidArgumentError if wrong)."""
    try:
        rng.bit_generator.state = _hex_to_ints(dict(data))
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidArgumentError(f"invalid random generator state: {exc}") from exc


def _ints_to_hex(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ints_to_hex(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_ints_to_hex(v) for v in value.tolist()]
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return value
    return hex(int(value))


def _hex_to_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _hex_to_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hex_to_ints(v) for v in value]
    if isinstance(value, str) and value.startswith(("0x", "-0x")):
        return int(value, 16)
    return value


def impute_config(config_space: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Complete a partial config the way Syne Tune does, then validate and normalize it.

    A missing hyperparameter gets the midpoint of its encoded range (for
    ``choice``: its first value; for ``ordinal``: the middle one); a missing
    constant gets its value. Unknown keys and invalid values raise
    ConfigValueError naming the key.
    """
    if not isinstance(config, Mapping):
        raise ConfigValueError(f"a point to evaluate must be a dict, got {type(config).__name__}")
    unknown = [k for k in config if k not in config_space]
    if unknown:
        raise ConfigValueError(
            f"point to evaluate {dict(config)!r} has keys {unknown} not in the config space"
        )
    full: dict[str, Any] = {}
    for name, domain in config_space.items():
        if name in config:
            full[name] = config[name]
        elif isinstance(domain, Domain):
            full[name] = domain.decode(np.full(domain.encoded_dim, 0.5))
        else:
            full[name] = domain
    full = normalize_config(config_space, full)
    check_config(config_space, full)
    return full


def allowed_configs(
    config_space: Mapping[str, Any], configs: Any
) -> list[dict[str, Any]]:
    """Validate ``restrict_configurations``: complete, valid configs, duplicates dropped.

    Each entry must name every hyperparameter (constants may be left out); a
    missing or unknown key or a value outside its domain raises ConfigValueError
    naming the entry and the key.
    """
    if not isinstance(configs, list | tuple) or not configs:
        raise InvalidArgumentError(
            f"restrict_configurations must be a non-empty list of dicts, got {configs!r:.80}"
        )
    names = [k for k, v in config_space.items() if isinstance(v, Domain)]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i, config in enumerate(configs):
        if not isinstance(config, Mapping):
            raise ConfigValueError(
                f"restrict_configurations[{i}] must be a dict, got {type(config).__name__}"
            )
        missing = [k for k in names if k not in config]
        if missing:
            raise ConfigValueError(f"restrict_configurations[{i}] lacks {missing}")
        try:
            full = impute_config(config_space, config)
        except ConfigValueError as exc:
            raise ConfigValueError(f"restrict_configurations[{i}]: {exc}") from None
        out.setdefault(tuple(full[k] for k in names), full)
    return list(out.values())


class SearcherState(msgspec.Struct, tag="searcher", kw_only=True):
    """What a searcher must keep to continue exactly where it was (JSON-able)."""

    rng: dict[str, Any]
    points_to_evaluate: list[dict[str, Any]] = []
    seen: list[list[Any]] = []
    num_suggested: int = 0


class Searcher(ABC):  # noqa: B024 - subclasses may override suggest() instead of _suggest()
    """Proposes configurations: ``points_to_evaluate`` first, then its own (``_suggest``).

    Subclasses implement :meth:`_suggest` (return a config dict, or None when
    they have nothing left) and may override the ``on_*`` hooks to learn from
    results. On a finite space the base class never suggests a configuration
    twice: a repeated one is replaced by a random unseen one, and ``suggest``
    returns None once all are used. The random generator ``self.rng`` is the
    only source of randomness, and its state is part of :meth:`state`.

    ``restrict_configurations`` (Syne Tune's option, for tabulated benchmarks)
    makes that list the whole space: only its entries are suggested, each at
    most once; model-based searchers score the unused entries instead of
    optimizing over the continuous space.
    """

    thinks_hard: ClassVar[bool] = False
    """True for model-based searchers: schedulers then call ``suggest`` in a worker thread."""

    uses_model: ClassVar[bool] = False
    """True when ``_suggest`` proposes from a model of the results (GP, KDE, evolution).

    After each :meth:`suggest`, ``last_from_model`` says whether the model
    proposed that config (not ``points_to_evaluate``, not a random draw):
    successive halving keeps such trials out of a rung's reference field.
    """

    last_from_model: bool = False

    multi_objective: ClassVar[bool] = False
    """True for searchers of several objectives: their ``metric`` and ``mode`` are lists
    (kept as ``metrics`` and ``modes``; ``metric`` and ``mode`` name the first)."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        validate_config_space(config_space)
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"metric must be a non-empty string, got {metric!r}")
        if mode not in ("min", "max"):
            raise InvalidArgumentError(f"mode must be 'min' or 'max', got {mode!r}")
        if random_seed is not None and (
            isinstance(random_seed, bool) or not isinstance(random_seed, int) or random_seed < 0
        ):
            raise InvalidArgumentError(
                f"random_seed must be a non-negative int, got {random_seed!r}"
            )
        if points_to_evaluate is not None and not isinstance(points_to_evaluate, list | tuple):
            raise InvalidArgumentError(
                "points_to_evaluate must be a list of dicts, "
                f"got {type(points_to_evaluate).__name__}"
            )
        self.config_space = config_space
        self.metric = metric
        self.mode = mode
        self.random_seed = random_seed
        self.rng = np.random.default_rng(random_seed)
        self.hp_names: list[str] = [k for k, v in config_space.items() if isinstance(v, Domain)]
        self.hp_domains: list[Domain] = [config_space[k] for k in self.hp_names]
        self.constants: dict[str, Any] = {
            k: v for k, v in config_space.items() if not isinstance(v, Domain)
        }
        self.is_finite = all(d.is_finite for d in self.hp_domains)
        self.space_size: int | None = (
            math.prod(d.num_values() or 0 for d in self.hp_domains) if self.is_finite else None
        )
        self.restrict_configurations: list[dict[str, Any]] | None = None
        self._allowed_keys: frozenset[tuple[Any, ...]] = frozenset()
        if restrict_configurations is not None:
            allowed = allowed_configs(config_space, restrict_configurations)
            self.restrict_configurations = allowed
            self._allowed_keys = frozenset(self._key(c) for c in allowed)
            self.is_finite = True
            self.space_size = len(allowed)
        self._allowed_encoded: np.ndarray | None = None
        self._drew_random = False  # set by the random draws during one suggest()
        # Remember suggested configs where repeats are possible and must be avoided.
        self._track_seen = self.is_finite
        self._seen: dict[tuple[Any, ...], None] = {}  # insertion-ordered set
        self._points: list[dict[str, Any]] = [
            impute_config(config_space, p) for p in (points_to_evaluate or [])
        ]
        self.num_suggested = 0

    # -- suggesting -------------------------------------------------------------------

    def suggest(self) -> dict[str, Any] | None:
        """The next configuration to evaluate, or None when the searcher is exhausted."""
        self.last_from_model = False
        config = self.next_point_to_evaluate()
        if config is not None:
            self.num_suggested += 1
            return config
        self._drew_random = False
        config = self._suggest()
        if config is None:
            return None
        if self._allowed_keys and self._key(config) not in self._allowed_keys:
            config = self._random_unseen()  # a subclass strayed off the allowed list
            if config is None:
                return None
        # A repeat on an infinite space (a subclass's choice) is allowed; on a finite
        # one it is replaced by a random unseen config.
        if not self._remember(config) and self.is_finite:
            config = self._random_unseen()
            if config is None:
                return None
            self._remember(config)
        self.num_suggested += 1
        self.last_from_model = self.uses_model and not self._drew_random
        return config

    def next_point_to_evaluate(self) -> dict[str, Any] | None:
        """Pop the next not-yet-suggested entry of ``points_to_evaluate`` (None if none left).

        For subclasses that override :meth:`suggest` itself instead of :meth:`_suggest`.
        """
        while self._points:
            config = self._points.pop(0)
            if self._remember(config):
                return config
        return None

    def _suggest(self) -> dict[str, Any] | None:
        """The searcher's own next configuration (after ``points_to_evaluate``); None = done."""
        raise NotImplementedError(f"{type(self).__name__} must implement _suggest()")

    def sample_config(self) -> dict[str, Any]:
        """One uniformly random configuration (constants included), drawn from ``self.rng``."""
        if self.restrict_configurations is not None:
            allowed = self.restrict_configurations
            return dict(allowed[int(self.rng.integers(len(allowed)))])
        return sample_config(self.config_space, self.rng)

    def random_config(self) -> dict[str, Any] | None:
        """A random configuration; on a finite space one not suggested yet (None if all are)."""
        self._drew_random = True
        return self._random_unseen() if self.is_finite else self.sample_config()

    def unseen_allowed(self) -> list[int]:
        """Indices into ``restrict_configurations`` of the entries not suggested yet."""
        allowed = self.restrict_configurations or []
        return [i for i, c in enumerate(allowed) if self._key(c) not in self._seen]

    def _key(self, config: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple([config[name] for name in self.hp_names])

    def is_seen(self, config: Mapping[str, Any]) -> bool:
        """True when ``config`` was suggested before (tracked on finite spaces only)."""
        return self._track_seen and self._key(config) in self._seen

    def best_unseen_allowed(
        self,
        encode: Callable[[dict[str, Any]], np.ndarray],
        score: Callable[[np.ndarray], np.ndarray],
    ) -> dict[str, Any] | None:
        """The unused ``restrict_configurations`` entry of highest ``score`` (None: all used).

        ``score`` maps the encodings of the unused entries (one row each) to their
        values; the encodings of the whole list are computed once, with ``encode``.
        """
        allowed = self.restrict_configurations or []
        encoded = self.allowed_encodings(encode)
        idx = np.array(self.unseen_allowed(), dtype=int)
        if not len(idx):
            return None
        return dict(allowed[idx[int(np.argmax(score(encoded[idx])))]])

    def allowed_encodings(self, encode: Callable[[dict[str, Any]], np.ndarray]) -> np.ndarray:
        """The encodings of every ``restrict_configurations`` entry, one row each, in list
        order (computed once, with ``encode``)."""
        if self._allowed_encoded is None:
            allowed = self.restrict_configurations or []
            self._allowed_encoded = np.array([encode(c) for c in allowed])
        return self._allowed_encoded

    def best_unseen_candidate(
        self,
        candidates: np.ndarray,
        score: np.ndarray,
        decode: Callable[[np.ndarray], dict[str, Any]],
    ) -> dict[str, Any] | None:
        """The decoded candidate of highest ``score`` not suggested yet (ties: the first);
        a random config if every one was (on a finite space)."""
        for i in np.argsort(-score, kind="stable"):
            config = decode(candidates[i])
            if not self.is_seen(config):
                return config
        return self.random_config()

    def nearest_unseen_allowed(
        self, encode: Callable[[dict[str, Any]], np.ndarray], x: np.ndarray
    ) -> dict[str, Any] | None:
        """The unused ``restrict_configurations`` entry whose encoding is nearest ``x``
        (None: all used): where a config bred in the unit cube lands on a tabulated list."""
        return self.best_unseen_allowed(encode, lambda rows: -np.square(rows - x).sum(axis=1))

    def remember(self, config: Mapping[str, Any]) -> bool:
        """Record a config proposed elsewhere (a scheduler's own operator) as suggested.

        False if it already was; on a finite space it is then never suggested again.
        """
        return self._remember(config)

    def _remember(self, config: Mapping[str, Any]) -> bool:
        """Record ``config`` as suggested; False if it already was (repeats are tracked)."""
        if not self._track_seen:
            return True
        key = self._key(config)
        if key in self._seen:
            return False
        self._seen[key] = None
        return True

    def _random_unseen(self) -> dict[str, Any] | None:
        """A random configuration not suggested yet (finite space), or None if all are."""
        self._drew_random = True
        for _ in range(_MAX_REJECTIONS):
            config = self.sample_config()
            if not self.is_seen(config):
                return config
        assert self.space_size is not None  # only called on finite spaces
        left = self.space_size - len(self._seen)
        if left <= 0:
            return None
        pick = int(self.rng.integers(left))
        for config in self._unseen_configs():
            if pick == 0:
                return config
            pick -= 1
        return None

    def _unseen_configs(self) -> Iterator[dict[str, Any]]:
        """All configurations of a finite space not suggested yet, in grid order."""
        if self.restrict_configurations is not None:
            allowed = self.restrict_configurations
            yield from (dict(allowed[i]) for i in self.unseen_allowed())
            return
        for values in itertools.product(*(d.values() for d in self.hp_domains)):
            if values not in self._seen:
                it = iter(values)
                yield {
                    k: (next(it) if isinstance(v, Domain) else v)
                    for k, v in self.config_space.items()
                }

    # -- learning hooks (no-ops by default) ---------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        """A trial with a suggested config was created (ids are assigned by the tuner)."""
        return None

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial reported an intermediate result."""
        return None

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial finished; ``result`` is its last report."""
        return None

    def on_trial_error(self, trial: Trial) -> None:
        """A trial failed; its config should not count as evaluated."""
        return None

    def metric_value(self, result: Mapping[str, Any]) -> float | None:
        """The metric as a float to *minimize*; None if missing, NaN or not a number."""
        value = result.get(self.metric)
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            return None
        value = float(value)
        if math.isnan(value):
            return None
        return value if self.mode == "min" else -value

    # -- state ------------------------------------------------------------------------

    def state(self) -> SearcherState:
        """Everything needed to continue the exact same sequence after :meth:`restore`."""
        # list() of a dict or list is one C call: safe while a worker thread suggests.
        points, seen = list(self._points), list(self._seen)
        return SearcherState(
            rng=rng_to_json(self.rng),
            points_to_evaluate=[dict(p) for p in points],
            seen=[list(k) for k in seen],
            num_suggested=self.num_suggested,
        )

    def restore(self, state: SearcherState | Mapping[str, Any]) -> None:
        """Continue from ``state`` (a :class:`SearcherState`, or its builtins form)."""
        if not isinstance(state, SearcherState):
            state = msgspec.convert(state, SearcherState)
        self._restore_base(state)

    def _restore_base(self, state: SearcherState) -> None:
        """Restore the fields of the base state (for subclasses extending :meth:`restore`)."""
        rng_from_json(self.rng, state.rng)
        self._points = [dict(p) for p in state.points_to_evaluate]
        self._seen = dict.fromkeys(tuple(k) for k in state.seen)
        self.num_suggested = state.num_suggested

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metric!r}, mode={self.mode!r}, "
            f"random_seed={self.random_seed!r}, hyperparameters={self.hp_names!r})"
        )
