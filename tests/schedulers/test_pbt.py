"""Population based training: explore rule, exploit decisions, checkpoints through backends."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import (
    choice,
    config_in_space,
    finrange,
    loguniform,
    ordinal,
    randint,
    uniform,
)
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers.pbt import PBTState, PopulationBasedTraining, perturb_config
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

C, S = Decision.CONTINUE, Decision.STOP
SPACE = {
    "lr": loguniform(1e-4, 1.0),
    "mom": uniform(0.0, 0.9),
    "layers": randint(1, 8),
    "width": ordinal([16, 32, 64, 128]),
    "drop": finrange(0.0, 0.5, 6),
    "act": choice(["relu", "tanh", "gelu"]),
    "epochs": 20,
}


def test_perturb_rule() -> None:
    rng = np.random.default_rng(0)
    base = {"lr": 0.01, "mom": 0.5, "layers": 4, "width": 32, "drop": 0.2, "act": "relu",
            "epochs": 20}
    for _ in range(300):
        new = perturb_config(SPACE, base, rng, resample_probability=0.0)
        assert config_in_space(SPACE, new)
        assert new["lr"] in (pytest.approx(0.008), pytest.approx(0.012))
        assert new["mom"] in (pytest.approx(0.4), pytest.approx(0.6))
        assert new["layers"] in (3, 5)
        assert new["width"] in (16, 64)
        assert new["drop"] in (pytest.approx(0.1), pytest.approx(0.3))
        assert new["epochs"] == 20
    edge = dict(base, mom=0.9, layers=8, width=128, lr=1.0)
    for _ in range(50):
        new = perturb_config(SPACE, edge, rng, resample_probability=0.0)
        assert config_in_space(SPACE, new) and new["mom"] <= 0.9 and new["layers"] <= 8
    resampled = [perturb_config(SPACE, base, rng, 1.0) for _ in range(50)]
    assert all(config_in_space(SPACE, c) for c in resampled)
    assert len({c["lr"] for c in resampled}) == 50


async def add(s: PopulationBasedTraining, tid: int) -> tuple[Trial, Any]:
    sug = await s.suggest()
    assert sug is not None
    t = Trial(trial_id=tid, config=sug.config)
    await s.on_trial_add(t)
    return t, sug


@pytest.mark.asyncio
async def test_exploit_by_hand() -> None:
    s = PopulationBasedTraining(
        SPACE, "loss", population_size=4, perturbation_interval=2, random_seed=0
    )
    t = [(await add(s, i))[0] for i in range(4)]
    for tr in t:
        assert await s.on_result(tr, {"epoch": 1, "loss": 1.0}) is C  # before the interval
    assert await s.on_result(t[0], {"epoch": 2, "loss": 0.1}) is C  # alone: nothing to compare
    assert await s.on_result(t[1], {"epoch": 2, "loss": 0.2}) is S  # bottom of 2 -> exploit
    clone, sug = await add(s, 4)
    assert sug.checkpoint_from == 0  # the top trial's checkpoint
    changed = [k for k in SPACE if sug.config[k] != t[0].config[k]]
    assert changed and "epochs" not in changed
    # the clone starts at its donor's time: next check two epochs after epoch 2
    assert await s.on_result(clone, {"epoch": 3, "loss": 0.0}) is C
    assert await s.on_result(clone, {"epoch": 4, "loss": 0.0}) is C  # best of [0, .1]
    assert await s.on_result(t[2], {"epoch": 2, "loss": 0.05}) is C  # middle of [0, .05, .1]
    assert await s.on_result(t[3], {"epoch": 2, "loss": math.nan}) is S  # NaN: exploited
    _, sug = await add(s, 5)
    assert sug.checkpoint_from == 4  # the top quarter of 3 is the clone alone
    # population is full and nothing is queued: a free worker clones a top trial
    _, sug = await add(s, 6)
    assert sug.checkpoint_from is not None


@pytest.mark.asyncio
async def test_custom_explore_fn_and_max_t() -> None:
    def explore(config: dict[str, Any]) -> dict[str, Any]:
        return dict(config, lr=0.5)

    s = PopulationBasedTraining(
        SPACE, "loss", population_size=2, perturbation_interval=1, custom_explore_fn=explore,
        random_seed=0, max_t=5,
    )
    a, _ = await add(s, 0)
    b, _ = await add(s, 1)
    assert await s.on_result(a, {"epoch": 1, "loss": 0.1}) is C
    assert await s.on_result(b, {"epoch": 1, "loss": 0.9}) is S
    _, sug = await add(s, 2)
    assert sug.config["lr"] == 0.5 and sug.checkpoint_from == 0
    assert await s.on_result(a, {"epoch": 5, "loss": 0.1}) is C
    assert await s.on_result(a, {"epoch": 6, "loss": 0.1}) is S


def test_max_t_from_the_config_space() -> None:
    """As Syne Tune: ``max_t`` defaults to the "epochs" constant (a trial there is no
    donor), or to ``config_space[max_resource_attr]``; not for another time attribute."""
    assert PopulationBasedTraining(SPACE, "loss").max_t == 20
    space = {**SPACE, "budget": 7}
    assert PopulationBasedTraining(space, "loss", max_resource_attr="budget").max_t == 7
    assert PopulationBasedTraining(SPACE, "loss", max_t=9).max_t == 9
    assert PopulationBasedTraining(SPACE, "loss", time_attr="time_total_s").max_t is None
    no_epochs = {k: v for k, v in SPACE.items() if k != "epochs"}
    assert PopulationBasedTraining(no_epochs, "loss").max_t is None
    with pytest.raises(InvalidArgumentError, match="budget"):
        PopulationBasedTraining(SPACE, "loss", max_resource_attr="budget")


@pytest.mark.asyncio
async def test_a_trial_at_max_t_is_no_donor() -> None:
    s = PopulationBasedTraining(SPACE, "loss", population_size=3, perturbation_interval=1,
                                random_seed=0)
    a, _ = await add(s, 0)
    b, _ = await add(s, 1)
    c, _ = await add(s, 2)
    assert await s.on_result(a, {"epoch": 20, "loss": 0.01}) is C  # best, but finished
    assert await s.on_result(b, {"epoch": 1, "loss": 0.5}) is C
    assert await s.on_result(c, {"epoch": 1, "loss": 0.9}) is S
    _, sug = await add(s, 3)
    assert sug.checkpoint_from == 1  # the best member still training


async def drive(s: PopulationBasedTraining, steps: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    running: dict[int, Trial] = {}
    epoch: dict[int, int] = {}
    log: list[Any] = []
    nxt = 0
    for _ in range(steps):
        while len(running) < 4:
            sug = await s.suggest()
            t = Trial(trial_id=nxt, config=sug.config)
            epoch[nxt] = epoch[sug.checkpoint_from] if sug.checkpoint_from is not None else 0
            await s.on_trial_add(t)
            running[nxt] = t
            log.append(("start", nxt, sug.checkpoint_from, msgspec.json.encode(sug.config)))
            nxt += 1
        tid = sorted(running)[int(rng.integers(len(running)))]
        epoch[tid] += 1
        loss = abs(math.log10(running[tid].config["lr"]) + 2) + 1 / epoch[tid]
        d = await s.on_result(running[tid], {"epoch": epoch[tid], "loss": loss})
        log.append((tid, epoch[tid], d.value))
        if d is S or epoch[tid] >= 20:
            del running[tid]
    return log


@pytest.mark.asyncio
async def test_replay_and_state_round_trip() -> None:
    mk = lambda seed: PopulationBasedTraining(  # noqa: E731
        SPACE, "loss", population_size=4, perturbation_interval=2, random_seed=seed
    )
    a, b = await drive(mk(1), 300, 3), await drive(mk(1), 300, 3)
    assert a == b
    assert any(e[0] == "start" and e[2] is not None for e in a)
    s = mk(1)
    await drive(s, 100, 3)
    blob = msgspec.json.encode(s.state())
    r = mk(2)
    r.restore(msgspec.json.decode(blob, type=PBTState))
    assert msgspec.json.encode(r.state()) == blob
    assert (await s.suggest()) == (await r.suggest())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population_size": 1}, "population_size"),
        ({"perturbation_interval": 0}, "perturbation_interval"),
        ({"quantile_fraction": 0.6}, "quantile_fraction"),
        ({"resample_probability": 1.5}, "resample_probability"),
        ({"custom_explore_fn": 3}, "custom_explore_fn"),
        ({"searcher_kwargs": {"restrict_configurations": [{"lr": 0.1}]}},
         "restrict_configurations"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        PopulationBasedTraining(SPACE, "loss", **kwargs)


def test_pbt_through_tuner_on_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    s = PopulationBasedTraining(
        bb.config_space, "valid_error", population_size=8, perturbation_interval=3,
        random_seed=0, max_t=27,
    )
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), s, StoppingCriterion(max_num_trials_started=60),
        n_workers=4, tuner_name="pbt", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    first_epoch: dict[str, int] = {}
    for row in rows:
        first_epoch.setdefault(row["trial_id"], int(float(row["epoch"])))
    clones = [t for t, e in first_epoch.items() if e > 1]
    assert len(clones) >= 10  # started from a donor's checkpoint, not from epoch 1


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pbt_checkpointing.py"


@pytest.mark.timeout(90)
def test_pbt_with_local_backend_copies_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.backends.local import LocalBackend
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    space = {"lr": loguniform(1e-4, 0.05), "momentum": uniform(0.0, 0.9), "epochs": 6,
             "epoch_time": 0.05}
    s = PopulationBasedTraining(
        space, "loss", population_size=3, perturbation_interval=2, random_seed=0, max_t=6
    )
    tuner = Tuner(
        LocalBackend(EXAMPLE), s, StoppingCriterion(max_num_trials_started=6), n_workers=3,
        tuner_name="pbt-local", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    first: dict[str, tuple[int, int]] = {}
    for row in rows:
        first.setdefault(
            row["trial_id"], (int(float(row["epoch"])), int(float(row["resumed_from"])))
        )
    # a clone loads its donor's copied checkpoint and continues from the donor's epoch
    clones = {t: v for t, v in first.items() if v[1] > 0}
    assert clones and all(int(t) >= 3 for t in clones), first
    for epoch, resumed_from in first.values():
        assert epoch == resumed_from + 1
    assert all(r >= 2 for _, r in clones.values())


class TestPBTConformance(SchedulerTestCase):
    max_epochs = 6

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return PopulationBasedTraining(
            config_space, metric, mode=mode, population_size=3, perturbation_interval=2,
            max_t=6, random_seed=seed,
        )
