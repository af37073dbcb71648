"""BackendTestCase: the conformance battery every trial backend must pass.

Subclass it in a test module as ``class TestMyBackend(BackendTestCase)`` and
implement :meth:`BackendTestCase.make_backend`; pytest then runs the whole
battery against the backend (optuna ships its storage tests the same way).
Requires pytest and pytest-asyncio.

Every battery trial runs the *standard trial*, which the backend must make out
of the config ``{"n": int, "fail": bool, "block": bool}``: report ``n``
results ``{"epoch": 1..n, "loss": 1/epoch}``; then, if ``fail``, end with an
error (exit code 2); else, if ``block``, wait until stopped or paused; else
end normally. ``LocalBackend`` runs ``tests/backends/scripts/conformance.py``,
``PythonBackend`` the ``conformance`` function next to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ..backends.base import ExperimentPaths, TrialBackend
from ..events import Event, ResultEvent, TrialEndedEvent
from ..trial import Trial, TrialStatus

__all__ = ["BackendTestCase"]


class BackendTestCase:
    """The battery: ordering, ended events, stop, pause/resume, failure, busy ids, teardown."""

    timeout: float = 30.0
    """Seconds any one battery test may take before it fails (a hang is a failure)."""

    def make_backend(self, tmp_path: Path) -> TrialBackend:
        """A fresh backend whose trials run the standard trial (see the module doc)."""
        raise NotImplementedError

    def make_experiment(self, tmp_path: Path) -> ExperimentPaths:
        """The experiment folder the battery's sessions write to."""
        from ..store.experiment_dir import ExperimentDir

        return ExperimentDir(tmp_path / "experiment")

    @staticmethod
    def config(n: int = 3, fail: bool = False, block: bool = False) -> dict[str, Any]:
        """A standard trial's config."""
        return {"n": n, "fail": fail, "block": block}

    # -- helpers --

    @staticmethod
    async def collect(
        events: AsyncIterator[Event], until: Callable[[list[Event]], bool]
    ) -> list[Event]:
        """Read events until ``until(events_so_far)`` is true."""
        seen: list[Event] = []
        async for event in events:
            seen.append(event)
            if until(seen):
                break
        return seen

    @staticmethod
    def ended(events: list[Event], trial_id: int, attempt: int | None = None) -> bool:
        """Whether an ended event of ``trial_id`` (and ``attempt``) is among ``events``."""
        return any(
            isinstance(e, TrialEndedEvent)
            and e.trial_id == trial_id
            and (attempt is None or e.attempt == attempt)
            for e in events
        )

    def check_attempt(
        self, events: list[Event], trial_id: int, attempt: int, n: int, status: TrialStatus
    ) -> TrialEndedEvent:
        """Assert n results in seq order, then exactly one ended event with ``status``, last."""
        mine = [e for e in events if e.trial_id == trial_id and e.attempt == attempt]
        results = [e for e in mine if isinstance(e, ResultEvent)]
        ends = [e for e in mine if isinstance(e, TrialEndedEvent)]
        assert [r.seq for r in results] == list(range(n)), mine
        assert [r.metrics["epoch"] for r in results] == list(range(1, n + 1)), results
        assert len(ends) == 1, mine
        assert mine[-1] is ends[0], "the ended event must follow the attempt's last result"
        assert ends[0].status is status, ends[0]
        return ends[0]

    # -- the battery --

    @pytest.mark.asyncio
    async def test_results_in_order_then_one_ended_event(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                await backend.start_trial(Trial(trial_id=0, config=self.config(n=5)))
                seen = await self.collect(events, lambda s: self.ended(s, 0))
                assert await backend.busy_trial_ids() == set()
        end = self.check_attempt(seen, 0, 0, 5, TrialStatus.COMPLETED)
        assert end.exit_code in (0, None)

    @pytest.mark.asyncio
    async def test_concurrent_trials_keep_their_own_order(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                for trial_id in range(3):
                    config = self.config(n=4 + trial_id)
                    await backend.start_trial(Trial(trial_id=trial_id, config=config))
                seen = await self.collect(
                    events, lambda s: all(self.ended(s, i) for i in range(3))
                )
        for trial_id in range(3):
            self.check_attempt(seen, trial_id, 0, 4 + trial_id, TrialStatus.COMPLETED)

    @pytest.mark.asyncio
    async def test_stop_ends_stopped(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                await backend.start_trial(Trial(trial_id=0, config=self.config(n=2, block=True)))
                seen = await self.collect(events, lambda s: len(s) == 2)
                assert await backend.busy_trial_ids() == {0}
                await backend.stop_trial(0)
                seen += await self.collect(events, lambda s: self.ended(s, 0))
                assert 0 not in await backend.busy_trial_ids()
        self.check_attempt(seen, 0, 0, 2, TrialStatus.STOPPED)

    @pytest.mark.asyncio
    async def test_pause_then_resume_is_a_new_attempt(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        trial = Trial(trial_id=0, config=self.config(n=2, block=True))
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                await backend.start_trial(trial)
                seen = await self.collect(events, lambda s: len(s) == 2)
                await backend.pause_trial(0)
                seen += await self.collect(events, lambda s: self.ended(s, 0, 0))
                trial.attempt = 1
                trial.config = self.config(n=3)
                await backend.resume_trial(trial)
                seen += await self.collect(events, lambda s: self.ended(s, 0, 1))
        self.check_attempt(seen, 0, 0, 2, TrialStatus.PAUSED)
        self.check_attempt(seen, 0, 1, 3, TrialStatus.COMPLETED)

    @pytest.mark.asyncio
    async def test_failing_trial_ends_failed_with_reason(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                await backend.start_trial(Trial(trial_id=0, config=self.config(n=2, fail=True)))
                await backend.start_trial(Trial(trial_id=1, config=self.config(n=1)))
                seen = await self.collect(events, lambda s: self.ended(s, 0) and self.ended(s, 1))
        end = self.check_attempt(seen, 0, 0, 2, TrialStatus.FAILED)
        assert end.reason, "a failed trial needs a reason"
        self.check_attempt(seen, 1, 0, 1, TrialStatus.COMPLETED)

    @pytest.mark.asyncio
    async def test_stop_and_pause_of_unknown_trials_are_noops(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                await backend.stop_trial(12345)
                await backend.pause_trial(12345)
                await backend.start_trial(Trial(trial_id=0, config=self.config(n=1)))
                seen = await self.collect(events, lambda s: self.ended(s, 0))
                await backend.stop_trial(0)  # finished: no-op, no second ended event
                await backend.pause_trial(0)
                assert await backend.busy_trial_ids() == set()
        self.check_attempt(seen, 0, 0, 1, TrialStatus.COMPLETED)

    @pytest.mark.asyncio
    async def test_leaving_the_session_stops_running_trials(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        with anyio.fail_after(self.timeout):
            async with backend.session(self.make_experiment(tmp_path)) as events:
                for trial_id in range(2):
                    config = self.config(n=1, block=True)
                    await backend.start_trial(Trial(trial_id=trial_id, config=config))
                await self.collect(events, lambda s: len(s) == 2)
                assert await backend.busy_trial_ids() == {0, 1}
            assert await backend.busy_trial_ids() == set()
