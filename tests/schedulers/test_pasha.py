"""PASHA: the maximum resource grows only when the top two rungs rank trials differently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers.pasha import PASHA, PASHAState
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

C, S, P = Decision.CONTINUE, Decision.STOP, Decision.PAUSE
SPACE = {"x": uniform(0.0, 1.0), "epochs": 27}


async def add(s: PASHA, tid: int) -> Trial:
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id is None
    t = Trial(trial_id=tid, config=sug.config)
    await s.on_trial_add(t)
    return t


async def rep(s: PASHA, t: Trial, epoch: int, loss: float) -> Decision:
    return await s.on_result(t, {"epoch": epoch, "loss": loss})


async def setup_two_in_top(s: PASHA, t3_at_3: float) -> list[Trial]:
    t = [await add(s, i) for i in range(3)]
    for tr, v in zip(t, (0.1, 0.2, 0.3), strict=True):
        assert await rep(s, tr, 1, v) is P
    assert (await s.suggest()).resume_trial_id == 0  # rung 1 cutoff .1667
    assert await rep(s, t[0], 2, 0.07) is C
    assert await rep(s, t[0], 3, 0.05) is P
    assert s.current_max_t == 3
    # rung 3 is the current top: trial 0 is not promoted out of it
    t.append(await add(s, 3))
    assert await rep(s, t[3], 1, 0.15) is P
    assert (await s.suggest()).resume_trial_id == 3  # rung 1 [.1,.15,.2,.3]: cutoff .15
    assert await rep(s, t[3], 2, 0.06) is C
    await rep(s, t[3], 3, t3_at_3)
    return t


@pytest.mark.asyncio
async def test_stable_ranking_keeps_the_budget() -> None:
    s = PASHA(SPACE, "loss", random_seed=0)
    assert s.levels == [1, 3, 9] and s.current_max_t == 3
    await setup_two_in_top(s, 0.09)  # rung 3 order 0, 3 as at rung 1
    assert s.current_max_t == 3
    sug = await s.suggest()
    assert sug.resume_trial_id is None  # nothing promotable below the top rung


@pytest.mark.asyncio
async def test_unstable_ranking_grows_the_budget() -> None:
    s = PASHA(SPACE, "loss", random_seed=0)
    await setup_two_in_top(s, 0.01)  # trial 3 overtakes trial 0 between rungs 1 and 3
    assert s.current_max_t == 9
    sug = await s.suggest()
    assert sug.resume_trial_id == 3  # rung 3 [.01,.05]: now below the budget, best first


@pytest.mark.asyncio
async def test_replay_and_state() -> None:
    import numpy as np

    async def drive(s: PASHA, n: int, seed: int) -> list[Any]:
        rng = np.random.default_rng(seed)
        running: dict[int, Trial] = {}
        epoch: dict[int, int] = {}
        log: list[Any] = []
        nxt = 0
        while True:
            while len(running) < 4 and nxt < n:
                sug = await s.suggest()
                if sug.resume_trial_id is not None:
                    tid = sug.resume_trial_id
                    running[tid] = trials[tid]
                else:
                    tid, nxt = nxt, nxt + 1
                    trials[tid] = Trial(trial_id=tid, config=sug.config)
                    epoch[tid] = 0
                    await s.on_trial_add(trials[tid])
                    running[tid] = trials[tid]
                log.append(("go", tid))
            if not running:
                return log
            tid = sorted(running)[int(rng.integers(len(running)))]
            epoch[tid] += 1
            x = float(trials[tid].config["x"])
            loss = x + (1 - x) / epoch[tid] + 0.05 * float(rng.normal())
            d = await rep(s, trials[tid], epoch[tid], loss)
            log.append((tid, epoch[tid], d.value, s.current_max_t))
            if d is not C or epoch[tid] >= 27:
                del running[tid]

    trials: dict[int, Trial] = {}
    a = await drive(PASHA(SPACE, "loss", random_seed=1), 60, 2)
    trials = {}
    b = await drive(PASHA(SPACE, "loss", random_seed=1), 60, 2)
    assert a == b
    assert max(e[3] for e in a if len(e) == 4) > 3  # noise makes rankings move: budget grew
    s = PASHA(SPACE, "loss", random_seed=1)
    trials = {}
    await drive(s, 30, 2)
    blob = msgspec.json.encode(s.state())
    r = PASHA(SPACE, "loss", random_seed=5)
    r.restore(msgspec.json.decode(blob, type=PASHAState))
    assert msgspec.json.encode(r.state()) == blob


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="grace_period"):
        PASHA(SPACE, "loss", grace_period=28)
    with pytest.raises(InvalidArgumentError, match="rung level"):
        PASHA(SPACE, "loss", grace_period=27)


def test_pasha_through_tuner_on_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    s = PASHA(bb.config_space, "valid_error", max_t=27, random_seed=0)
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), s, StoppingCriterion(max_num_trials_started=120),
        n_workers=4, tuner_name="pasha", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_started >= 120
    top = max(x.last_result["epoch"] for x in tuner.status.trials.values() if x.last_result)
    assert top <= s.current_max_t or top == 27
    assert s.current_max_t in (3, 9, 27)


class TestPASHAConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return PASHA(config_space, metric, mode=mode, max_t=9, random_seed=seed)
