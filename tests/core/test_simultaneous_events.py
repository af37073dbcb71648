"""Events that are already waiting reach the scheduler before it is asked to suggest.

When several trials end at once (a simulated batch, or reports queued while
the loop was busy), the tuner handles all of them first and then fills the
free workers, so each suggestion is made knowing every result there is.
"""

from __future__ import annotations

from typing import Any

import anyio
import numpy as np
import pytest

from aiotune.backends.base import event_waiting
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.base import Fidelity
from aiotune.blackbox.synthetic import Branin
from aiotune.blackbox.tabular import TabularBlackbox
from aiotune.config_space import randint
from aiotune.events import ResultEvent
from aiotune.schedulers.random_search import RandomSearch
from aiotune.stopping import StoppingCriterion
from aiotune.trial import Trial
from aiotune.tuner import Tuner


class Recording:
    """A scheduler wrapper noting how many trials had completed at each suggestion."""

    def __init__(self, inner: Any, budget: int) -> None:
        self.inner, self.budget = inner, budget
        self.metric, self.mode = inner.metric, inner.mode
        self.completed = 0
        self.suggested_after: list[int] = []

    async def suggest(self) -> Any:
        if len(self.suggested_after) >= self.budget:
            return None
        self.suggested_after.append(self.completed)
        return await self.inner.suggest()

    async def on_trial_add(self, trial: Any) -> None:
        await self.inner.on_trial_add(trial)

    async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
        return await self.inner.on_result(trial, result)

    async def on_trial_complete(self, trial: Any, result: dict[str, Any]) -> None:
        self.completed += 1
        await self.inner.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Any) -> None:
        await self.inner.on_trial_error(trial)

    async def on_trial_remove(self, trial: Any) -> None:
        await self.inner.on_trial_remove(trial)

    def state(self) -> Any:
        return self.inner.state()

    def restore(self, state: Any) -> None:
        self.inner.restore(state)


def test_a_simulated_batch_is_all_known_before_the_next_suggestions() -> None:
    """Branin evaluations take 1 simulated second each, so 4 workers end together: the
    suggestions after the first four come in fours, each made after a whole batch."""
    bb = Branin()
    sched = Recording(RandomSearch(bb.config_space, bb.metric, random_seed=0), budget=16)
    Tuner(
        SimulatorBackend(bb, seed=0),
        sched,
        StoppingCriterion(),
        n_workers=4,
        print_update_interval=1e9,
        save_tuner=False,
    ).run()
    assert sched.completed == 16
    assert sched.suggested_after == [0] * 4 + [4] * 4 + [8] * 4 + [12] * 4


def _two_speeds() -> TabularBlackbox:
    """x in 1..2; each of 3 epochs costs x simulated seconds."""
    epochs = np.arange(1, 4)
    values = np.stack(
        [
            np.array([[1.0 / (x * epochs)] for x in (1, 2)]),
            np.array([[x * epochs] for x in (1, 2)], dtype=float),
        ],
        axis=-1,
    )
    return TabularBlackbox(
        {"x": randint(1, 2)}, {"x": [1, 2]}, values, ["err", "runtime"],
        Fidelity("epoch", [1, 2, 3]), "runtime",
    )


@pytest.mark.asyncio
async def test_simulator_says_when_the_next_event_is_due_now() -> None:
    backend = SimulatorBackend(_two_speeds())
    async with backend.session(None) as events:
        await backend.start_trial(Trial(trial_id=0, config={"x": 2}))  # t = 2, 4, 6
        await backend.start_trial(Trial(trial_id=1, config={"x": 1}))  # t = 1, 2, 3
        first = await events.__anext__()
        assert (first.trial_id, first.time) == (1, 1.0)
        assert not event_waiting(events)()  # the next ones are at t = 2
        second = await events.__anext__()
        assert second.time == 2.0 and event_waiting(events)()  # the other trial's, also at 2
        third = await events.__anext__()
        assert third.time == 2.0 and not event_waiting(events)()
        await backend.stop_trial(0)  # its ended event is due now; its t=4 result is void
        assert event_waiting(events)()
        ended = await events.__anext__()
        assert ended.trial_id == 0 and not isinstance(ended, ResultEvent)
        assert not event_waiting(events)()


@pytest.mark.asyncio
async def test_a_memory_stream_answers_from_its_buffer() -> None:
    send, receive = anyio.create_memory_object_stream[int](8)
    with send, receive:
        assert not event_waiting(receive)()
        await send.send(1)
        await send.send(2)
        assert event_waiting(receive)()
        await receive.receive()
        assert event_waiting(receive)()
        await receive.receive()
        assert not event_waiting(receive)()

    async def plain() -> Any:
        yield 1

    assert event_waiting(plain()) is None  # a stream that cannot tell never claims one
