"""Named blackboxes: ``load("sklearn-digits-mlp")``, ``load("branin")``, ...

Tabular benchmarks ship as compressed ``.npz`` files in ``aiotune/blackbox/data``
and need numpy only. The format (written by ``benchmarks/make_tabular.py``):
``meta`` (a JSON string: ``config_space`` in ``aiotune.config_space`` JSON form,
``fidelity`` name and values, ``objectives``, ``runtime``, ``metric``, ``mode``,
``seeds``), ``config/<name>`` (one array per hyperparameter, one entry per
configuration) and ``objective/<name>`` (shape ``(n_configs, n_seeds,
n_fidelities)``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config_space import config_space_from_json
from ..errors import InvalidArgumentError
from .base import Blackbox, Fidelity
from .learning_curves import SyntheticLearningCurves
from .synthetic import Branin, Hartmann3, Hartmann6
from .tabular import TabularBlackbox

__all__ = ["blackbox_names", "load", "load_npz"]

DATA_DIR = Path(__file__).resolve().parent / "data"

_TABULAR_FILES = {"sklearn-digits-mlp": "sklearn-digits-mlp.npz"}

_FACTORIES: dict[str, Callable[..., Blackbox]] = {
    "branin": Branin,
    "hartmann3": Hartmann3,
    "hartmann6": Hartmann6,
    "synthetic-lc": SyntheticLearningCurves,
}


def blackbox_names() -> list[str]:
    """Every name :func:`load` knows."""
    return sorted([*_FACTORIES, *_TABULAR_FILES])


def load(name: str, **kwargs: Any) -> Blackbox:
    """The blackbox called ``name``; ``kwargs`` go to its constructor.

    Raises InvalidArgumentError listing the known names for an unknown one.
    """
    if name in _FACTORIES:
        return _FACTORIES[name](**kwargs)
    if name in _TABULAR_FILES:
        table = load_npz(DATA_DIR / _TABULAR_FILES[name], **kwargs)
        if not kwargs:
            table.registry_name = name  # lets SimulatorBackend save it as its name
        return table
    raise InvalidArgumentError(
        f"unknown blackbox {name!r}; known names: {', '.join(blackbox_names())}"
    )


@functools.lru_cache(maxsize=8)
def _read_npz(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise InvalidArgumentError(f"tabular blackbox file {path} does not exist") from None
    except (ValueError, OSError) as exc:
        raise InvalidArgumentError(f"cannot read tabular blackbox file {path}: {exc}") from exc
    if "meta" not in arrays:
        raise InvalidArgumentError(f"{path}: no 'meta' entry; not a blackbox table")
    return json.loads(str(arrays.pop("meta"))), arrays


def load_npz(path: str | Path, average_seeds: bool = False) -> TabularBlackbox:
    """Read a tabular blackbox written in the ``.npz`` format above (numpy only)."""
    meta, arrays = _read_npz(str(Path(path).resolve()))
    try:
        space = config_space_from_json({"version": 1, "space": meta["config_space"]})
        objectives = list(meta["objectives"])
        fid = meta.get("fidelity")
        fidelity = Fidelity(fid["name"], list(fid["values"])) if fid else None
        configs = {k: arrays[f"config/{k}"].tolist() for k in space}
        values = np.stack([arrays[f"objective/{o}"] for o in objectives], axis=-1)
        return TabularBlackbox(
            space,
            configs,
            values.astype(np.float64),
            objectives,
            fidelity,
            meta["runtime"],
            metric=meta.get("metric"),
            mode=meta.get("mode", "min"),
            average_seeds=average_seeds,
            seeds=meta.get("seeds"),
        )
    except KeyError as exc:
        raise InvalidArgumentError(f"{path}: missing entry {exc.args[0]!r}") from None
