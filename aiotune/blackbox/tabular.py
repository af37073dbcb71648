"""A blackbox backed by a table of recorded learning curves, with nearest-neighbour lookup.

The table holds, for each configuration, seed and fidelity, every objective
(one of them the cumulative runtime). Internally it is one dense array of shape
``(n_configs, n_seeds, n_fidelities, n_objectives)``, so a whole learning curve
is a slice, not a search. A configuration that is not a row of the table but is
in the config space is answered by its nearest row in the unit-cube encoding of
the space (``aiotune.config_space.encode_config``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config_space import (
    Domain,
    check_config,
    choice,
    encode_config,
    lograndint,
    loguniform,
    randint,
    uniform,
    validate_config_space,
)
from ..errors import ConfigSpaceError, ConfigValueError, InvalidArgumentError
from .base import BlackboxBase, Fidelity, check_finite

__all__ = ["TabularBlackbox"]


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


class TabularBlackbox(BlackboxBase):
    """Learning curves looked up in a table; ``seed`` picks a recorded seed (or they are averaged).

    ``values[c, s, f, j]`` is objective ``objectives[j]`` of configuration ``c``
    under seed ``s`` at fidelity ``fidelity.values[f]``; ``runtime_name`` must be
    one of the objectives and hold the cumulative runtime in seconds.
    ``average_seeds=True`` answers every query with the mean over seeds;
    otherwise ``seed`` selects recorded seed ``seed % n_seeds``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        configs: Mapping[str, Sequence[Any]],
        values: np.ndarray,
        objectives: Sequence[str],
        fidelity_space: Fidelity | None,
        runtime_name: str,
        metric: str | None = None,
        mode: str = "min",
        average_seeds: bool = False,
        seeds: Sequence[Any] | None = None,
    ) -> None:
        owner = type(self).__name__
        validate_config_space(config_space)
        self.config_space = dict(config_space)
        self.objectives = list(objectives)
        if runtime_name not in self.objectives:
            raise InvalidArgumentError(
                f"{owner}: runtime {runtime_name!r} is not among the objectives {self.objectives}"
            )
        if metric is None:
            metric = next((o for o in self.objectives if o != runtime_name), runtime_name)
        if metric not in self.objectives:
            raise InvalidArgumentError(f"{owner}: metric {metric!r} is not an objective")
        if mode not in ("min", "max"):
            raise InvalidArgumentError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        self.runtime_name, self.metric, self.mode = runtime_name, metric, mode
        self.fidelity_space = fidelity_space
        self.average_seeds = bool(average_seeds)
        self.registry_name: str | None = None  # set by ``load`` for shipped tables
        hps = [k for k, v in self.config_space.items() if isinstance(v, Domain)]
        missing = [k for k in hps if k not in configs]
        if missing:
            raise InvalidArgumentError(f"{owner}: no config column for hyperparameter(s) {missing}")
        extra = [k for k in configs if k not in self.config_space]
        if extra:
            raise InvalidArgumentError(f"{owner}: config column(s) {extra} not in the config space")
        self._hps = hps
        columns = [[_plain(v) for v in configs[k]] for k in hps]
        n = len(columns[0]) if columns else 1
        if any(len(c) != n for c in columns):
            raise InvalidArgumentError(f"{owner}: config columns differ in length")
        arr = np.asarray(values, dtype=np.float64)
        n_fid = len(fidelity_space.values) if fidelity_space is not None else 1
        expected = (n, arr.shape[1] if arr.ndim == 4 else -1, n_fid, len(self.objectives))
        if arr.ndim != 4 or arr.shape[0] != n or arr.shape[2:] != expected[2:] or arr.shape[1] < 1:
            raise InvalidArgumentError(
                f"{owner}: values must have shape (n_configs={n}, n_seeds, n_fidelities={n_fid}, "
                f"n_objectives={len(self.objectives)}), got {arr.shape}"
            )
        for j, name in enumerate(self.objectives):
            check_finite(owner, name, arr[..., j])
        rt = arr[..., self.objectives.index(runtime_name)]
        if (rt < 0).any() or (np.diff(rt, axis=-1) < 0).any():
            raise InvalidArgumentError(
                f"{owner}: runtime {runtime_name!r} must be cumulative (>= 0, non-decreasing "
                "along the fidelity)"
            )
        self.seeds = list(seeds) if seeds is not None else list(range(arr.shape[1]))
        self.configs: list[dict[str, Any]] = []
        consts = {k: v for k, v in self.config_space.items() if not isinstance(v, Domain)}
        self._index: dict[tuple[Any, ...], int] = {}
        for i in range(n):
            row = {k: col[i] for k, col in zip(hps, columns, strict=True)}
            try:
                check_config(self.config_space, {**row, **consts})
            except ConfigValueError as exc:
                raise ConfigValueError(f"{owner}: table row {i}: {exc}") from None
            self.configs.append(row)
            self._index.setdefault(tuple(row[k] for k in hps), i)
        self._x = (
            np.stack([encode_config(self.config_space, {**c, **consts}) for c in self.configs])
            if n
            else np.zeros((0, 0))
        )
        arr.setflags(write=False)
        self.values = arr
        mean = arr.mean(axis=1)
        mean.setflags(write=False)
        self._mean = mean

    # ------------------------------------------------------------------ lookup

    @property
    def n_configs(self) -> int:
        """Number of configurations (rows of the table)."""
        return len(self.configs)

    def index_of(self, config: dict[str, Any]) -> int:
        """Row of ``config``: exact match, else the nearest row (ConfigValueError if outside)."""
        try:
            i = self._index.get(tuple(config[k] for k in self._hps))
        except KeyError as exc:
            raise ConfigValueError(
                f"{type(self).__name__}: config has no value for hyperparameter {exc.args[0]!r}"
            ) from None
        except TypeError:  # unhashable value: let check_config name it
            i = None
        if i is not None:
            return i
        self.check_config(config)
        x = encode_config(self.config_space, config)
        return int(np.argmin(((self._x - x) ** 2).sum(axis=1)))

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        """Read-only views of every objective over all fidelities for ``config`` (nearest row)."""
        i = self.index_of(config)
        block = self._mean[i] if self.average_seeds else self.values[i, seed % self.values.shape[1]]
        return {name: block[:, j] for j, name in enumerate(self.objectives)}

    # ------------------------------------------------------------ constructors

    @classmethod
    def from_dataframe(
        cls,
        df: Any,
        config_columns: Sequence[str],
        fidelity_column: str | None,
        objective_columns: Sequence[str],
        runtime_column: str,
        seed_column: str | None = None,
        config_space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str = "min",
        average_seeds: bool = False,
        runtime_is_cumulative: bool = True,
    ) -> TabularBlackbox:
        """Build from a long table: one row per (config, seed, fidelity).

        ``runtime_column`` holds the cumulative runtime in seconds up to that
        fidelity (``runtime_is_cumulative=False``: the runtime of that fidelity
        step alone, summed here). Without ``config_space`` one is inferred from
        the columns (numbers: uniform/randint, log-scaled when they span two
        decades; anything else: choice). Every (config, seed, fidelity) must be
        present exactly once, and no objective may be NaN.
        """
        import pandas as pd

        owner = cls.__name__
        if not isinstance(df, pd.DataFrame):
            raise InvalidArgumentError(
                f"{owner}: expected a pandas DataFrame, got {type(df).__name__}"
            )
        objectives = list(dict.fromkeys([*objective_columns, runtime_column]))
        wanted = [*config_columns, *objectives]
        wanted += [c for c in (fidelity_column, seed_column) if c is not None]
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise InvalidArgumentError(
                f"{owner}: column(s) {missing} not in the table; it has {list(df.columns)}"
            )
        if not config_columns:
            raise InvalidArgumentError(f"{owner}: config_columns is empty")
        for c in [*config_columns, *(x for x in (fidelity_column, seed_column) if x)]:
            if df[c].isna().any():
                raise InvalidArgumentError(f"{owner}: column {c!r} has missing values")
        for c in objectives:
            vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(vals)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InvalidArgumentError(
                    f"{owner}: objective column {c!r} has {int(bad.sum())} NaN/non-numeric/"
                    f"infinite value(s) (first at row {row})"
                )
        cfg_codes, cfg_uniques = pd.MultiIndex.from_frame(df[list(config_columns)]).factorize()
        if fidelity_column is not None:
            fid_codes, fid_values = pd.factorize(df[fidelity_column], sort=True)
            fidelity = Fidelity(fidelity_column, [_plain(v) for v in fid_values])
        else:
            fid_codes, fidelity = np.zeros(len(df), dtype=np.int64), None
        if seed_column is not None:
            seed_codes, seed_values = pd.factorize(df[seed_column], sort=True)
            seeds = [_plain(v) for v in seed_values]
        else:
            seed_codes, seeds = np.zeros(len(df), dtype=np.int64), [0]
        n_fid = len(fidelity.values) if fidelity else 1
        shape = (len(cfg_uniques), len(seeds), n_fid, len(objectives))
        flat = (cfg_codes * len(seeds) + seed_codes) * n_fid + fid_codes
        counts = np.bincount(flat, minlength=shape[0] * shape[1] * shape[2])
        if (counts != 1).any():
            cell = int(np.flatnonzero(counts != 1)[0])
            ci, rest = divmod(cell, shape[1] * shape[2])
            si, fi = divmod(rest, shape[2])
            what = "has no row" if counts[cell] == 0 else f"has {counts[cell]} rows"
            fid_s = f", {fidelity_column}={fidelity.values[fi]!r}" if fidelity else ""
            seed_s = f", {seed_column}={seeds[si]!r}" if seed_column else ""
            bad_config = dict(zip(config_columns, map(_plain, cfg_uniques[ci]), strict=True))
            raise InvalidArgumentError(
                f"{owner}: config {bad_config}"
                f"{seed_s}{fid_s} {what} (each must have exactly one)"
            )
        values = np.empty((shape[0] * shape[1] * shape[2], len(objectives)))
        values[flat] = df[objectives].to_numpy(dtype=float)
        values = values.reshape(shape)
        if not runtime_is_cumulative:
            j = objectives.index(runtime_column)
            values[..., j] = np.cumsum(values[..., j], axis=-1)
        columns = {
            name: [_plain(t[k]) for t in cfg_uniques] for k, name in enumerate(config_columns)
        }
        if config_space is None:
            config_space = infer_config_space(columns)
        return cls(
            config_space,
            columns,
            values,
            objectives,
            fidelity,
            runtime_column,
            metric=metric,
            mode=mode,
            average_seeds=average_seeds,
            seeds=seeds,
        )

    @classmethod
    def from_csv(cls, path: str | Path, **kwargs: Any) -> TabularBlackbox:
        """Read a CSV file (pandas) and call :meth:`from_dataframe` with ``kwargs``."""
        import pandas as pd

        return cls.from_dataframe(pd.read_csv(path), **kwargs)

    @classmethod
    def from_parquet(cls, path: str | Path, **kwargs: Any) -> TabularBlackbox:
        """Read a Parquet file (pandas + pyarrow, the ``analysis`` extra) and build the blackbox."""
        import pandas as pd

        try:
            df = pd.read_parquet(path)
        except ImportError as exc:
            raise InvalidArgumentError(
                f"reading {path} needs pyarrow: pip install 'aiotune[analysis]' ({exc})"
            ) from exc
        return cls.from_dataframe(df, **kwargs)

    def to_dataframe(self) -> Any:
        """The long table back: one row per (config, seed, fidelity) (needs pandas)."""
        import pandas as pd

        n, n_seeds, n_fid, _ = self.values.shape
        fid_name = self.fidelity_space.name if self.fidelity_space else None
        idx = np.indices((n, n_seeds, n_fid)).reshape(3, -1)
        data: dict[str, Any] = {k: [self.configs[i][k] for i in idx[0]] for k in self._hps}
        data["seed"] = [self.seeds[s] for s in idx[1]]
        if fid_name is not None:
            data[fid_name] = [self.fidelity_space.values[f] for f in idx[2]]  # type: ignore[union-attr]
        flat = self.values.reshape(-1, len(self.objectives))
        for j, name in enumerate(self.objectives):
            data[name] = flat[:, j]
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        return (
            f"TabularBlackbox(configs={self.n_configs}, seeds={len(self.seeds)}, "
            + super().__repr__().split("(", 1)[1]
        )


def infer_config_space(columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """A config space covering the given columns (see :meth:`TabularBlackbox.from_dataframe`)."""
    space: dict[str, Any] = {}
    for name, col in columns.items():
        vals = list(col)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
        if not numeric or len(set(vals)) == 1:
            try:
                space[name] = choice(sorted(set(vals)))
            except (ConfigSpaceError, TypeError) as exc:
                raise ConfigSpaceError(
                    f"cannot infer a domain for column {name!r}: {exc}"
                ) from None
            continue
        lo, hi = min(vals), max(vals)
        log = lo > 0 and hi / lo >= 100
        if all(isinstance(v, int) for v in vals):
            space[name] = lograndint(int(lo), int(hi)) if log else randint(int(lo), int(hi))
        else:
            if not all(math.isfinite(v) for v in vals):
                raise ConfigSpaceError(f"column {name!r} has non-finite values")
            space[name] = loguniform(lo, hi) if log else uniform(lo, hi)
    return space
