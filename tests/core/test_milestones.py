"""Pause-and-resume schedulers with ``max_resource_attr`` tell each attempt where to stop.

As Syne Tune: a promotion-type trial is started or resumed with
``config[max_resource_attr]`` set to the level it will pause at, so the training
script ends there by itself instead of training on until the pause signal lands.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aiotune import StoppingCriterion, TrialStatus, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import uniform
from aiotune.events import Decision
from aiotune.schedulers import ASHA, SyncHyperband
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "epochs": 9}

# Trains up to `--epochs` from its checkpoint; each epoch is saved, then reported.
RESUMING = """\
import argparse, json, os
from aiotune import Reporter
from aiotune.reporter import checkpoint_dir
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--epochs", type=int)
args, _ = p.parse_known_args()
state = checkpoint_dir() / "state.json"
start = json.loads(state.read_text())["epoch"] if state.exists() else 0
report = Reporter()
for epoch in range(start + 1, args.epochs + 1):
    tmp = state.with_suffix(".tmp")  # saved first, atomically: a pause signal may follow
    tmp.write_text(json.dumps({"epoch": epoch}))
    os.replace(tmp, state)
    report(epoch=epoch, loss=(args.x - 0.3) ** 2 + 1.0 / epoch, attempt_epochs=args.epochs)
"""


@pytest.mark.asyncio
async def test_asha_promotion_starts_and_resumes_with_the_next_milestone() -> None:
    s = ASHA(SPACE, "loss", type="promotion", max_resource_attr="epochs", random_seed=0)
    assert s.levels == [1, 3]
    trials = []
    for tid in range(3):
        sug = await s.suggest()
        assert sug is not None and sug.config["epochs"] == 1  # the first rung
        trials.append(Trial(trial_id=tid, config=sug.config))
        await s.on_trial_add(trials[-1])
    for t, loss in zip(trials, (0.3, 0.1, 0.2), strict=True):
        assert await s.on_result(t, {"epoch": 1, "loss": loss}) is Decision.PAUSE
        t.status = TrialStatus.PAUSED
    sug = await s.suggest()
    assert sug is not None and (sug.resume_trial_id, sug.config) == (1, {"epochs": 3})
    plain = ASHA(SPACE, "loss", type="promotion", random_seed=0)
    assert (await plain.suggest()).config["epochs"] == 9  # no attribute named: unchanged
    stopping = ASHA(SPACE, "loss", max_resource_attr="epochs", random_seed=0)
    assert (await stopping.suggest()).config["epochs"] == 9  # never paused: runs to max_t


@pytest.mark.asyncio
async def test_sync_hyperband_jobs_carry_their_level() -> None:
    s = SyncHyperband(SPACE, "loss", brackets=1, max_resource_attr="epochs", random_seed=0)
    trials = []
    for tid in range(9):  # the first rung of the only bracket: 9 trials to level 1
        sug = await s.suggest()
        assert sug is not None and sug.config["epochs"] == 1
        trials.append(Trial(trial_id=tid, config=sug.config))
        await s.on_trial_add(trials[-1])
    for t in trials:
        await s.on_result(t, {"epoch": 1, "loss": t.config["x"]})
        t.status = TrialStatus.PAUSED
        await s.on_trial_complete(t, {"epoch": 1, "loss": t.config["x"]})
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id is not None and sug.config == {"epochs": 3}


def test_each_attempt_stops_itself_at_its_milestone(tmp_path: Path) -> None:
    """Real trials: every attempt trains exactly up to its milestone (no epoch past a
    rung, none skipped on resume), ends by itself, and the run's trials are paused or
    completed, never failed."""
    script = tmp_path / "resuming.py"
    script.write_text(textwrap.dedent(RESUMING))
    scheduler = ASHA({"x": uniform(0.0, 1.0), "epochs": 9}, "loss", type="promotion",
                     max_resource_attr="epochs", random_seed=1)
    tuner = Tuner(trial_backend=LocalBackend(entry_point=script), scheduler=scheduler,
                  stop_criterion=StoppingCriterion(max_num_trials_completed=2), n_workers=2,
                  print_update_interval=1e9, tuner_name="milestones", suffix_tuner_name=False)
    tuner.run()
    df = _results(tuner)
    assert not df.empty
    for tid, group in df.groupby("trial_id"):
        epochs = list(group["epoch"])
        assert epochs == list(range(1, len(epochs) + 1)), (tid, epochs)  # none skipped
        for epoch, told in zip(epochs, group["attempt_epochs"], strict=True):
            assert epoch <= told, (tid, epochs)  # never past the attempt's milestone
            assert told in (1, 3, 9)
    assert {1, 3, 9} <= set(df["attempt_epochs"])  # first rung, promoted, run to max_t
    paused = [t for t in tuner.trials.values() if t.status is TrialStatus.PAUSED]
    assert paused and all(
        tuner.status.trials[t.trial_id].last_result["epoch"] in (1, 3) for t in paused
    )  # each stopped exactly at its rung, not past it
    statuses = {t.status for t in tuner.trials.values()}
    assert TrialStatus.FAILED not in statuses and TrialStatus.COMPLETED in statuses
    completed = [t for t in tuner.trials.values() if t.status is TrialStatus.COMPLETED]
    assert all(tuner.status.trials[t.trial_id].last_result["epoch"] == 9 for t in completed)
    assert all(tuner.status.trials[t.trial_id].last_result["attempt_epochs"] == 9
               for t in completed)  # the last attempt was told max_t
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    done = {str(t.trial_id) for t in completed}
    assert {r["config_epochs"] for r in rows if r["trial_id"] in done} == {"9"}  # its config now


def _results(tuner: Tuner) -> Any:
    from aiotune.experiments import load_experiment

    return load_experiment(tuner.tuner_path).results
