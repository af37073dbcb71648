"""Every multi-fidelity scheduler takes the resource's name as ``time_attr`` (Ray Tune) or
``resource_attr`` (Syne Tune), reads results by that name, and refuses two different names."""

from __future__ import annotations

from typing import Any

import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import (
    ASHA,
    BOHB,
    MOBSTER,
    PASHA,
    Hyperband,
    MedianStoppingRule,
    PopulationBasedTraining,
    SyncHyperband,
)
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "epochs": 9}
SCHEDULERS = [ASHA, Hyperband, BOHB, MOBSTER, PASHA, PopulationBasedTraining,
              MedianStoppingRule, SyncHyperband]


def make(cls: type, **kw: Any) -> Any:
    return cls(SPACE, metric="loss", random_seed=0, **kw)


async def first_trial(s: Any) -> Trial:
    sug = await s.suggest()
    assert sug is not None
    trial = Trial(trial_id=0, config=sug.config)
    await s.on_trial_add(trial)
    return trial


@pytest.mark.asyncio
@pytest.mark.parametrize("cls", SCHEDULERS, ids=lambda c: c.__name__)
async def test_resource_attr_is_the_key_results_are_read_by(cls: type) -> None:
    s = make(cls, resource_attr="step")
    assert s.time_attr == "step"
    trial = await first_trial(s)
    await s.on_result(trial, {"step": 1, "loss": 0.5})  # read by its name: no error
    with pytest.raises(InvalidArgumentError, match=r"no 'step'.*\['epoch', 'loss'\]"):
        await s.on_result(trial, {"epoch": 2, "loss": 0.4})
    rebuilt = from_spec(to_spec(s))  # what Tuner.load does
    assert rebuilt.time_attr == "step"


@pytest.mark.parametrize("cls", SCHEDULERS, ids=lambda c: c.__name__)
def test_time_attr_and_resource_attr_name_one_setting(cls: type) -> None:
    assert make(cls).time_attr == "epoch"
    assert make(cls, time_attr="it").time_attr == "it"
    assert make(cls, time_attr="it", resource_attr="it").time_attr == "it"
    with pytest.raises(InvalidArgumentError, match=rf"{cls.__name__}: time_attr='a' and "
                       r"resource_attr='b'.*give one"):
        make(cls, time_attr="a", resource_attr="b")
    with pytest.raises(InvalidArgumentError, match="resource_attr must be a non-empty name"):
        make(cls, resource_attr="")
