"""The median stopping rule: hand-checked decisions, NaN, grace, replay and state."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers.median_stopping import MedianStoppingRule, MedianStoppingState
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

C, S = Decision.CONTINUE, Decision.STOP
SPACE = {"x": uniform(0.0, 1.0)}


async def add(s: MedianStoppingRule, tid: int) -> Trial:
    sug = await s.suggest()
    assert sug is not None
    t = Trial(trial_id=tid, config=sug.config)
    await s.on_trial_add(t)
    return t


@pytest.mark.asyncio
async def test_median_rule_by_hand() -> None:
    s = MedianStoppingRule(SPACE, "loss", min_samples=3, random_seed=0)
    t = [await add(s, i) for i in range(6)]
    for tid, v in zip(range(3), (0.5, 0.6, 0.7), strict=True):
        assert await s.on_result(t[tid], {"epoch": 1, "loss": v}) is C  # < 3 others
    assert await s.on_result(t[3], {"epoch": 1, "loss": 0.65}) is S  # median .6
    assert await s.on_result(t[4], {"epoch": 1, "loss": 0.55}) is C  # median .625
    # running average: trial 0 at epoch 2 has (0.5 + 0.9) / 2 = 0.7
    for tid, v in ((1, 0.2), (2, 0.2), (4, 0.1)):
        assert await s.on_result(t[tid], {"epoch": 2, "loss": v}) is C
    # others at epoch 2: averages [.325, .4, .45] -> median .4 < .7
    assert await s.on_result(t[0], {"epoch": 2, "loss": 0.9}) is S


@pytest.mark.asyncio
async def test_grace_time_mode_max_and_no_running_average() -> None:
    s = MedianStoppingRule(
        SPACE, "acc", mode="max", grace_time=2, min_samples=1, running_average=False,
        random_seed=0,
    )
    a, b = await add(s, 0), await add(s, 1)
    assert await s.on_result(a, {"epoch": 1, "acc": 0.9}) is C
    assert await s.on_result(b, {"epoch": 1, "acc": 0.1}) is C  # within grace time
    assert await s.on_result(a, {"epoch": 2, "acc": 0.9}) is C
    assert await s.on_result(b, {"epoch": 2, "acc": 0.95}) is C  # better (max)
    assert await s.on_result(b, {"epoch": 3, "acc": 0.5}) is C  # nobody else at 3
    assert await s.on_result(a, {"epoch": 3, "acc": 0.4}) is S


@pytest.mark.asyncio
async def test_nan_stops_and_never_moves_the_median() -> None:
    s = MedianStoppingRule(SPACE, "loss", min_samples=2, random_seed=0)
    t = [await add(s, i) for i in range(4)]
    assert await s.on_result(t[0], {"epoch": 1, "loss": math.nan}) is S
    assert await s.on_result(t[1], {"epoch": 1, "loss": 0.5}) is C
    assert await s.on_result(t[2], {"epoch": 1, "loss": 0.6}) is C
    assert await s.on_result(t[3], {"epoch": 1, "loss": 0.56}) is S  # median of [.5,.6]
    assert await s.on_result(t[1], {"epoch": 1.5, "other": 1}) is C  # no metric: no decision
    with pytest.raises(InvalidArgumentError, match=r"'epoch'.*\['loss'\]"):
        await s.on_result(t[1], {"loss": 0.5})


async def drive(s: MedianStoppingRule, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    log = []
    for tid in range(n):
        t = await add(s, tid)
        x = float(t.config["x"])
        for epoch in range(1, 11):
            d = await s.on_result(t, {"epoch": epoch, "loss": x + 1 / epoch + 0.05 * rng.normal()})
            log.append((tid, epoch, d.value))
            if d is S:
                break
    return log


@pytest.mark.asyncio
async def test_replay_and_state_round_trip() -> None:
    a = await drive(MedianStoppingRule(SPACE, "loss", random_seed=3), 40, seed=1)
    b = await drive(MedianStoppingRule(SPACE, "loss", random_seed=3), 40, seed=1)
    assert a == b and any(e[2] == "stop" for e in a)
    s = MedianStoppingRule(SPACE, "loss", random_seed=3)
    await drive(s, 20, seed=1)
    blob = msgspec.json.encode(s.state())
    r = MedianStoppingRule(SPACE, "loss", random_seed=4)
    r.restore(msgspec.json.decode(blob, type=MedianStoppingState))
    assert msgspec.json.encode(r.state()) == blob
    assert await drive(s, 10, seed=2) == await drive(r, 10, seed=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_samples": 0}, "min_samples"),
        ({"rank_cutoff": 1.0}, "rank_cutoff"),
        ({"grace_time": -1}, "grace_time"),
        ({"time_attr": ""}, "time_attr"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        MedianStoppingRule(SPACE, "loss", **kwargs)


class TestMedianStoppingConformance(SchedulerTestCase):
    max_epochs = 5

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return MedianStoppingRule(config_space, metric, mode=mode, random_seed=seed)
