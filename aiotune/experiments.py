"""Reading finished (or running, or crashed) experiments: results, best config, plots.

Everything is read from the experiment folder's event log (the authoritative
record; ``results.csv`` is only a convenience export) and ``metadata.json``.
Reading never executes anything found in the folder. pandas and matplotlib
(the ``analysis`` extra) are imported only when a table or a plot is asked for.
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._replay import LogReplay, retried_ends, time_origin
from .errors import AiotuneError, InvalidArgumentError, LogCorruptError, StorageError
from .events import ResultEvent
from .status import TuningStatus
from .store.atomic import read_json
from .store.event_log import read_log
from .store.names import default_results_root, experiment_path
from .store.records import TuningEnded
from .store.results_table import ResultsTable
from .trial import TrialStatus

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

__all__ = [
    "ExperimentError",
    "ExperimentInfo",
    "ExperimentResult",
    "find_experiment",
    "list_experiments",
    "load_experiment",
]

PLOT_KINDS = ("best_over_time", "trials_over_time", "parallel_coordinates")


class ExperimentError(AiotuneError):
    """Raised when an experiment folder is missing, unreadable or corrupt (one clear line)."""


@dataclass
class _Row:
    trial_id: int
    attempt: int
    seq: int
    time: float
    metrics: dict[str, Any]


@dataclass
class ExperimentResult:
    """One experiment as read from its folder: metadata, every report, every trial."""

    path: Path
    metadata: dict[str, Any]
    status: TuningStatus
    trial_records: dict[int, Any]
    rows: list[_Row] = field(repr=False)
    end_reason: str | None = None

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(name={self.name!r}, trials={len(self.trial_records)}, "
            f"reports={len(self.rows)}, metrics={self.metric_names})"
        )

    @property
    def name(self) -> str:
        """The tuner name (the folder's name)."""
        return str(self.metadata.get("tuner_name") or self.path.name)

    @property
    def metric_names(self) -> list[str]:
        """The scheduler's metrics, as recorded in ``metadata.json``."""
        return list(self.status.metric_names)

    def _metric(self, metric: int | str | None, mode: str | None = None) -> tuple[str, str]:
        """``(name, mode)``: see :meth:`TuningStatus.resolve_metric` (None is the first metric)."""
        return self.status.resolve_metric(0 if metric is None else metric, mode)

    # ---- tables ------------------------------------------------------------------------
    @property
    def results(self) -> pandas.DataFrame:
        """One row per report: trial_id, attempt, seq, status, time, config_*, metrics."""
        import pandas as pd

        records = []
        for row in self.rows:
            trial = self.trial_records[row.trial_id]
            rec: dict[str, Any] = {
                "trial_id": row.trial_id,
                "attempt": row.attempt,
                "seq": row.seq,
                "status": trial.status.value,
                "time": row.time,
            }
            rec.update({f"config_{k}": v for k, v in trial.config.items()})
            rec.update(row.metrics)
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def trials(self) -> pandas.DataFrame:
        """One row per trial: id, status, reason, attempts, reports, config_*, best metrics."""
        import pandas as pd

        records = []
        for tid, trial in sorted(self.trial_records.items()):
            summary = self.status.trials[tid]
            rec: dict[str, Any] = {
                "trial_id": tid,
                "status": trial.status.value,
                "reason": trial.reason,
                "attempts": trial.attempt + 1,
                "num_results": summary.num_results,
            }
            rec.update({f"config_{k}": v for k, v in trial.config.items()})
            rec.update({f"best_{k}": v for k, v in summary.best.items()})
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def best_config(
        self, metric: int | str | None = None, mode: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """``(trial_id, config)`` of the best trial for ``metric`` (default: the first one).

        Same answer as ``Tuner.best_config`` on the run that wrote the folder:
        each trial counts with its best report (not its latest, as
        :meth:`pareto_front`), NaN and infinities never count, ``mode`` defaults
        to the scheduler's ("min" for a metric it does not optimize). Raises
        InvalidArgumentError for a metric neither the scheduler's nor reported
        by any trial, ExperimentError when no trial reported a usable value.
        """
        name, mode = self._metric(metric, mode)
        best = self.status.best_trial(name, mode)
        if best is None:
            raise ExperimentError(f"{self.name}: no trial reported a usable {name!r}")
        return best.trial_id, dict(self.trial_records[best.trial_id].config)

    def pareto_front(
        self, metrics: list[str] | None = None, mode: str | list[str] | None = None
    ) -> pandas.DataFrame:
        """One row per trial on the Pareto front of ``metrics`` (default: the scheduler's):
        trial_id, status, config_*, and the metrics of its latest report.

        Same trials as ``Tuner.pareto_front`` on the run that wrote the folder:
        judged by each trial's latest report (not each metric's best over its
        reports, as :meth:`best_config`), NaN and infinities left out. Raises
        InvalidArgumentError for a metric neither the scheduler's nor reported.
        """
        import pandas as pd

        names = list(self.status.metric_names if metrics is None else metrics)
        front = self.status.pareto_front(names, mode)
        records = []
        for summary in front:
            trial = self.trial_records[summary.trial_id]
            rec: dict[str, Any] = {"trial_id": summary.trial_id, "status": trial.status.value}
            rec.update({f"config_{k}": v for k, v in trial.config.items()})
            rec.update({n: summary.last_result[n] for n in names})
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def best_value(self, metric: int | str | None = None, mode: str | None = None) -> float | None:
        """The best finite value of ``metric`` over all reports (the best trial's), or None."""
        name, mode = self._metric(metric, mode)
        best = self.status.best_trial(name, mode)
        return None if best is None else best.best_of(name, mode)

    def importance(
        self,
        metric: int | str | None = None,
        only_completed: bool = True,
        n_trees: int = 64,
        seed: int = 0,
    ) -> dict[str, float]:
        """How much of ``metric``'s variation each hyperparameter explains, summing to 1,
        largest first: functional ANOVA over a random forest, as Optuna's default
        ``get_param_importances`` (needs scikit-learn, the ``surrogate`` extra).

        Each trial counts with its best value of ``metric``; ``only_completed``
        (Optuna's choice) leaves out trials a scheduler stopped early, whose best
        values come from fewer epochs. Raises ExperimentError without a recorded
        config space or with fewer than 2 usable trials.
        """
        import numpy as np

        from ._fanova import fanova_importances, importance_columns
        from .config_space import Domain, config_space_from_json

        name, mode = self._metric(metric)
        if "config_space" not in self.metadata:
            raise ExperimentError(f"{self.name}: metadata.json records no config space")
        space = config_space_from_json(self.metadata["config_space"])
        names = [k for k, v in space.items() if isinstance(v, Domain)]
        best = {tid: t.best_of(name, mode) for tid, t in self.status.trials.items()}
        configs, values = [], []
        for tid, trial in sorted(self.trial_records.items()):
            if only_completed and trial.status is not TrialStatus.COMPLETED:
                continue
            value = best.get(tid)
            if value is None or not math.isfinite(value):
                continue
            configs.append(trial.config)
            values.append(value)
        if len(values) < 2:
            which = "completed trials" if only_completed else "trials"
            raise ExperimentError(
                f"{self.name}: importance needs 2 {which} with a usable {name!r}, "
                f"found {len(values)}"
                + (" (only_completed=False counts stopped ones too)" if only_completed else "")
            )
        if not names:
            return {}
        shares = fanova_importances(
            importance_columns(space, configs), np.asarray(values), n_trees=n_trees, seed=seed
        )
        order = sorted(range(len(names)), key=lambda j: -shares[j])
        return {names[j]: float(shares[j]) for j in order}

    # ---- plots -------------------------------------------------------------------------
    def plot(
        self,
        metric: int | str | None = None,
        kind: str = "best_over_time",
        path: str | Path | None = None,
    ) -> Figure:
        """A matplotlib Figure of ``metric``; saved as PNG at ``path`` when given.

        ``kind``: ``"best_over_time"`` (one line: the best so far against tuner
        time), ``"trials_over_time"`` (one line per trial) or
        ``"parallel_coordinates"`` (one line per trial across its numeric config
        values and its best metric, each axis scaled to [0, 1]).
        """
        if kind not in PLOT_KINDS:
            raise InvalidArgumentError(f"kind must be one of {PLOT_KINDS}, got {kind!r}")
        from . import _plots

        name, mode = self._metric(metric)
        fig = getattr(_plots, kind)(self, name, mode)
        if path is not None:
            fig.savefig(Path(path), format="png", dpi=100)
        return fig

    def iter_metric(self, name: str) -> Iterator[tuple[int, float, float]]:
        """``(trial_id, time, value)`` of every report with a finite value of ``name``."""
        for row in self.rows:
            v = _num(row.metrics.get(name))
            if v is not None:
                yield row.trial_id, row.time, v


def _num(value: Any) -> float | None:
    """A report's value as a float; None for non-numbers, NaN and infinities (unplottable)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        return None
    return v if math.isfinite(v) else None


def find_experiment(name_or_path: str | Path) -> Path:
    """The folder of the experiment named ``name_or_path`` (under the results root) or at it.

    Raises ExperimentError when there is no such folder.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if isinstance(name_or_path, str) and "/" not in name_or_path:
        try:
            candidate = experiment_path(default_results_root(), name_or_path)
        except InvalidArgumentError as exc:
            raise ExperimentError(str(exc)) from None
        if candidate.is_dir():
            return candidate
    runs = _suffixed_runs(default_results_root(), str(name_or_path))
    hint = ""
    if runs:
        more = f" (newest of {len(runs)})" if len(runs) > 1 else ""
        hint = f"; did you mean {runs[0]}{more}? Tuner names get a time suffix"
    raise ExperimentError(
        f"no experiment {str(name_or_path)!r} (looked for a folder of that name, and under "
        f"{default_results_root()}){hint}"
    )


_SUFFIX = re.compile(r"-\d{4}(-\d{2}){5}-\d{3}")  # what suffix_tuner_name appends


def _suffixed_runs(root: Path, name: str) -> list[str]:
    """Experiments under ``root`` named ``name`` plus a tuner-name time suffix, newest first."""
    if not name or "/" in name or not root.is_dir():
        return []
    runs = [
        p.name
        for p in root.glob(f"{glob.escape(name)}-*")
        if p.is_dir() and _SUFFIX.fullmatch(p.name[len(name):])
    ]
    return sorted(runs, key=lambda n: n[len(name):], reverse=True)


def load_experiment(name_or_path: str | Path) -> ExperimentResult:
    """Read the experiment named ``name_or_path`` (under the results root) or at that path.

    Raises ExperimentError (one line naming the folder and the problem) when it
    is missing, its event log is missing or corrupt, or its metadata unreadable.
    """
    path = find_experiment(name_or_path)
    try:
        contents = read_log(path / "events.log")
    except StorageError as exc:
        raise ExperimentError(f"{path}: no readable event log ({exc.strerror})") from None
    except LogCorruptError as exc:
        raise ExperimentError(f"{path}: corrupt experiment: {exc}") from None
    metadata: dict[str, Any] = {}
    if (path / "metadata.json").exists():
        try:
            metadata = read_json(path / "metadata.json", dict[str, Any])
        except AiotuneError as exc:
            raise ExperimentError(f"{path}: unreadable metadata.json: {exc}") from None
    metadata.setdefault("tuner_name", contents.header.tuner_name)
    metadata.setdefault("start_time", contents.header.created)
    names = [n for n in metadata.get("metric_names", []) if isinstance(n, str)]
    modes = [m for m in metadata.get("metric_modes", []) if m in ("min", "max")]
    if len(modes) != len(names):
        modes = ["min"] * len(names)
    status = TuningStatus(names, modes)
    records = contents.records
    rep = LogReplay(status, ResultsTable(), time_origin(contents.header.created, records))
    retried = retried_ends(records)
    rows: list[_Row] = []
    end_reason = None
    for i, record in enumerate(records):
        before = len(rep.seen)
        rep.apply(record, i in retried)
        if isinstance(record, ResultEvent) and len(rep.seen) > before:
            rows.append(
                _Row(
                    record.trial_id,
                    record.attempt,
                    record.seq,
                    record.time - rep.origin,
                    dict(record.metrics),
                )
            )
        elif isinstance(record, TuningEnded):
            end_reason = record.reason
    return ExperimentResult(
        path=path,
        metadata=metadata,
        status=status,
        trial_records=rep.trials,
        rows=rows,
        end_reason=end_reason,
    )


@dataclass
class ExperimentInfo:
    """One line of :func:`list_experiments`: what ``aiotune ls`` shows."""

    name: str
    path: Path
    start_time: float | None = None
    scheduler: str = ""
    num_trials: int = 0
    metric: str | None = None
    best: float | None = None
    running: bool = False
    error: str | None = None


def list_experiments(root: str | Path | None = None) -> list[ExperimentInfo]:
    """Every experiment folder under ``root`` (default: the results root), oldest first.

    A corrupt folder is listed with ``error`` set instead of failing the listing.
    """
    base = Path(root).expanduser() if root is not None else default_results_root()
    infos: list[ExperimentInfo] = []
    if not base.is_dir():
        return infos
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        if not (folder / "events.log").exists() and not (folder / "metadata.json").exists():
            continue
        info = ExperimentInfo(name=folder.name, path=folder)
        try:
            result = load_experiment(folder)
        except ExperimentError as exc:
            info.error = str(exc)
            infos.append(info)
            continue
        meta = result.metadata
        start = meta.get("start_time")
        info.start_time = float(start) if isinstance(start, int | float) else None
        info.scheduler = str(meta.get("scheduler", ""))
        info.num_trials = len(result.trial_records)
        info.running = result.end_reason is None and any(
            t.status is TrialStatus.RUNNING for t in result.trial_records.values()
        )
        if result.metric_names:
            info.metric = result.metric_names[0]
            info.best = result.best_value(0)
        infos.append(info)
    infos.sort(key=lambda i: (i.start_time is None, i.start_time or 0.0, i.name))
    return infos
