"""After Tuner.load, run() reopens the event log without decoding it a second time, unless
the file changed in between; then it is read again (and a torn tail is truncated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.schedulers.fifo import FIFOScheduler
from aiotune.stopping import StoppingCriterion
from aiotune.store import event_log
from aiotune.store.records import TuningEnded
from aiotune.tuner import Tuner

BB = SyntheticLearningCurves(max_epochs=3)


def _first_run(results_root: Path) -> Path:
    Tuner(
        trial_backend=SimulatorBackend(BB, seed=0),
        scheduler=FIFOScheduler(BB.config_space, metric="valid_error", random_seed=1),
        stop_criterion=StoppingCriterion(max_num_trials_completed=3),
        n_workers=2,
        tuner_name="once",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    ).run()
    return results_root / "once"


def _resume(path: Path, completed: int) -> Tuner:
    tuner = Tuner.load(
        path,
        trial_backend=SimulatorBackend(BB, seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=completed),
    )
    tuner.run()
    return tuner


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    real = event_log.read_log

    def counting(path: Path) -> event_log.LogContents:
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(event_log, "read_log", counting)
    return reads


def test_run_after_load_does_not_read_the_log_again(
    results_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _first_run(results_root)
    reads = _count_reads(monkeypatch)
    tuner = _resume(path, completed=6)
    assert reads == []
    assert tuner.status.num_trials_completed == 7
    records = event_log.read_log(path / "events.log").records
    assert sum(isinstance(r, TuningEnded) for r in records) == 2


def test_a_log_changed_after_load_is_read_again(
    results_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _first_run(results_root)
    log = path / "events.log"
    tuner = Tuner.load(
        path,
        trial_backend=SimulatorBackend(BB, seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=6),
    )
    with log.open("ab") as file:  # a torn write lands after the load
        file.write(b"\x00\x00\x00\x09torn")
    reads = _count_reads(monkeypatch)
    tuner.run()
    assert reads == [log]
    records = event_log.read_log(log).records  # the torn bytes were cut, not appended after
    assert isinstance(records[-1], TuningEnded)
