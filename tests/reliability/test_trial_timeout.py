"""trial_timeout and heartbeat_timeout on LocalBackend: hung trials end FAILED, groups die."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiotune.backends.local import LocalBackend
from aiotune.errors import InvalidArgumentError
from aiotune.events import Event, ResultEvent, TrialEndedEvent
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.trial import Trial, TrialStatus

from .conftest import FAULTY, gone_soon

LIMIT = 40.0


async def run_trials(
    backend: LocalBackend, exp: ExperimentDir, configs: list[dict[str, Any]], on_result: Any = None
) -> list[Event]:
    """Run one trial per config through ``backend`` until each has ended; all events."""
    seen: list[Event] = []
    pending = set(range(len(configs)))
    with anyio.fail_after(LIMIT):
        async with backend.session(exp) as events:
            for tid, config in enumerate(configs):
                await backend.start_trial(Trial(trial_id=tid, config=config))
            async for event in events:
                seen.append(event)
                if isinstance(event, ResultEvent) and on_result is not None:
                    await on_result(backend, event)
                if isinstance(event, TrialEndedEvent):
                    pending.discard(event.trial_id)
                    if not pending:
                        break
    return seen


def ended(seen: list[Event], tid: int) -> TrialEndedEvent:
    (event,) = [e for e in seen if isinstance(e, TrialEndedEvent) and e.trial_id == tid]
    return event


def n_results(seen: list[Event], tid: int) -> int:
    return sum(1 for e in seen if isinstance(e, ResultEvent) and e.trial_id == tid)


@pytest.fixture
def exp(tmp_path: Path) -> ExperimentDir:
    return ExperimentDir(tmp_path / "exp")


@pytest.mark.asyncio
async def test_trial_timeout_kills_a_hung_trial_that_ignores_sigterm(exp: ExperimentDir) -> None:
    backend = LocalBackend(FAULTY, trial_timeout=3.0, stop_grace_period=0.3)
    seen = await run_trials(
        backend, exp, [{"mode": "hang", "k": 2, "ignore_term": 1}, {"mode": "ok", "n": 4}]
    )
    hung = ended(seen, 0)
    assert hung.status is TrialStatus.FAILED
    assert hung.reason.startswith("timeout") and "trial_timeout=3" in hung.reason
    assert hung.exit_code == -9  # SIGTERM was ignored: the SIGKILL after the grace period did it
    assert n_results(seen, 0) == 2  # its earlier results are kept
    pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])  # no grandchild survives
    other = ended(seen, 1)  # the healthy trial is untouched
    assert other.status is TrialStatus.COMPLETED and n_results(seen, 1) == 4


@pytest.mark.asyncio
async def test_trial_timeout_sigterm_suffices_for_a_cooperative_trial(exp: ExperimentDir) -> None:
    backend = LocalBackend(FAULTY, trial_timeout=2.5, stop_grace_period=20.0)
    seen = await run_trials(backend, exp, [{"mode": "hang", "k": 1}])
    event = ended(seen, 0)
    assert event.status is TrialStatus.FAILED and event.reason.startswith("timeout")
    assert event.exit_code == -15  # ended by SIGTERM, long before the 20 s grace period
    pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
    assert gone_soon(pids["grandchild"])


@pytest.mark.asyncio
async def test_heartbeat_fails_a_trial_that_stops_reporting(exp: ExperimentDir) -> None:
    backend = LocalBackend(FAULTY, heartbeat_timeout=2.0, stop_grace_period=0.3)
    seen = await run_trials(
        backend,
        exp,
        [
            {"mode": "stall", "k": 5, "period": 0.5, "ignore_term": 1},  # 2.5 s of reports
            {"mode": "noreport"},  # exits before the heartbeat: not a heartbeat failure
        ],
    )
    stalled = ended(seen, 0)
    assert stalled.status is TrialStatus.FAILED
    assert stalled.reason.startswith("no report for 2 s")
    assert n_results(seen, 0) == 5  # reports 0.5 s apart kept it alive; all kept
    pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])
    quiet = ended(seen, 1)
    assert quiet.status is TrialStatus.COMPLETED and quiet.reason == ""


@pytest.mark.asyncio
async def test_heartbeat_counts_stdout_metric_lines(exp: ExperimentDir, tmp_path: Path) -> None:
    script = tmp_path / "lines.py"
    script.write_text(
        "import json, time\n"
        "for i in range(6):\n"
        "    print('[tune-metric]: ' + json.dumps({'i': i}), flush=True)\n"
        "    time.sleep(0.5)\n"
    )
    backend = LocalBackend(script, heartbeat_timeout=2.0)
    seen = await run_trials(backend, exp, [{}])
    assert ended(seen, 0).status is TrialStatus.COMPLETED  # 3 s in all, never 2 s silent
    assert n_results(seen, 0) == 6


@pytest.mark.asyncio
async def test_a_stop_request_is_not_turned_into_a_timeout(exp: ExperimentDir) -> None:
    # stopped at its first report; the timeout passes while it ignores SIGTERM in its grace
    backend = LocalBackend(FAULTY, trial_timeout=3.0, stop_grace_period=5.0)

    async def stop(b: LocalBackend, event: ResultEvent) -> None:
        await b.stop_trial(event.trial_id)

    seen = await run_trials(backend, exp, [{"mode": "hang", "k": 1, "ignore_term": 1}], stop)
    event = ended(seen, 0)
    assert event.status is TrialStatus.STOPPED  # the stop came first; the grace period applies
    assert event.exit_code == -9  # SIGTERM ignored through the timeout, SIGKILL after the grace
    pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"trial_timeout": 0}, "trial_timeout"),
        ({"trial_timeout": -1.0}, "trial_timeout"),
        ({"trial_timeout": float("nan")}, "trial_timeout"),
        ({"heartbeat_timeout": float("inf")}, "heartbeat_timeout"),
        ({"heartbeat_timeout": True}, "heartbeat_timeout"),
        ({"trial_timeout": "5"}, "trial_timeout"),
    ],
)
def test_bad_timeouts_are_rejected(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        LocalBackend(FAULTY, **kwargs)


def test_timeouts_survive_the_component_spec() -> None:
    from aiotune._spec import from_spec, to_spec

    backend = LocalBackend(FAULTY, trial_timeout=7.5, heartbeat_timeout=2.0)
    rebuilt = from_spec(to_spec(backend))
    assert rebuilt.trial_timeout == 7.5 and rebuilt.heartbeat_timeout == 2.0
    assert "trial_timeout=7.5" in repr(rebuilt)
