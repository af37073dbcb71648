"""LocalBackend with real subprocesses and real sockets."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiotune import StoppingCriterion, Tuner
from aiotune.backends.local import LocalBackend
from aiotune.errors import InvalidArgumentError
from aiotune.events import Event, ResultEvent, TrialEndedEvent
from aiotune.schedulers import RandomSearch
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.testing.backend_case import BackendTestCase
from aiotune.trial import Trial, TrialStatus

SCRIPTS = Path(__file__).parent / "scripts"
TIMEOUT = 30.0


class TestLocalBackendConformance(BackendTestCase):
    """The whole BackendTestCase battery against LocalBackend."""

    def make_backend(self, tmp_path: Path) -> LocalBackend:
        return LocalBackend(SCRIPTS / "conformance.py", stop_grace_period=2.0)


async def run_until_ended(
    backend: LocalBackend,
    exp: ExperimentDir,
    trials: list[Trial],
    on_result: Any = None,
) -> list[Event]:
    """Start ``trials``, collect events until each has ended; ``on_result`` may act on results."""
    seen: list[Event] = []
    pending = {t.trial_id for t in trials}
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            for trial in trials:
                await backend.start_trial(trial)
            async for event in events:
                seen.append(event)
                if isinstance(event, ResultEvent) and on_result is not None:
                    await on_result(event)
                if isinstance(event, TrialEndedEvent):
                    pending.discard(event.trial_id)
                    if not pending:
                        break
    return seen


def results(seen: list[Event], trial_id: int = 0, attempt: int = 0) -> list[ResultEvent]:
    return [
        e
        for e in seen
        if isinstance(e, ResultEvent) and e.trial_id == trial_id and e.attempt == attempt
    ]


def ended(seen: list[Event], trial_id: int = 0) -> list[TrialEndedEvent]:
    return [e for e in seen if isinstance(e, TrialEndedEvent) and e.trial_id == trial_id]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(predicate: Any, within: float = 3.0) -> bool:
    """Whether ``predicate()`` becomes true within ``within`` seconds (checked every 20 ms)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def gone_soon(pid: int, within: float = 3.0) -> bool:
    """Whether ``pid`` is gone within ``within`` seconds (SIGKILL delivery is asynchronous)."""
    return eventually(lambda: not alive(pid), within)


@pytest.fixture
def exp(tmp_path: Path) -> ExperimentDir:
    return ExperimentDir(tmp_path / "exp")


@pytest.mark.asyncio
async def test_reporter_script_results_then_one_completed_event(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "report.py")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"n": 20, "lr": 0.5})])
    got = results(seen)
    assert [r.seq for r in got] == list(range(20))
    assert [r.metrics["epoch"] for r in got] == list(range(1, 21))
    assert got[0].metrics["loss"] == 0.5
    assert len(ended(seen)) == 1 and seen[-1] is ended(seen)[0]
    assert seen[-1].status is TrialStatus.COMPLETED and seen[-1].exit_code == 0
    trial_dir = exp.trial_dir(0)
    assert (trial_dir / "stdout").read_text().splitlines() == [f"epoch {i}" for i in range(1, 21)]
    assert "progress 20" in (trial_dir / "stderr").read_text()
    assert backend.stderr_tail(0).splitlines()[-1] == "progress 20"


@pytest.mark.asyncio
async def test_syne_tune_metric_lines_become_results(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "syne_style.py")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"n": 6})])
    got = results(seen)
    assert [r.seq for r in got] == list(range(6))
    assert [r.metrics for r in got] == [{"epoch": i, "acc": i / 10} for i in range(1, 7)]
    assert seen[-1].status is TrialStatus.COMPLETED
    assert "[tune-metric]" in (exp.trial_dir(0) / "stdout").read_text()


NASTY = {
    "spaces": "a value with  spaces ",
    "quotes": 'it\'s "quoted" `tick`',
    "semi": "x; rm -rf /tmp/nothing; echo $(whoami) && $HOME | cat",
    "unicode": "héllo wörld ✓ 日本",
    "dash": "--not-an-option",
    "empty": "",
    "newline": "line1\nline2",
}


@pytest.mark.asyncio
async def test_config_values_arrive_byte_exact_as_single_argv_entries(
    exp: ExperimentDir,
) -> None:
    backend = LocalBackend(SCRIPTS / "echo_args.py")
    config: dict[str, Any] = {**NASTY, "flag": True, "count": 7, "rate": 0.1 + 0.2}
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config=config)])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    out = json.loads((exp.checkpoint_dir(0) / "argv.json").read_text("utf-8"))
    expected: list[str] = []
    for key, value in config.items():
        expected += [f"--{key}", str(value)]
    expected += ["--st_checkpoint_dir", str(exp.checkpoint_dir(0))]
    assert out["argv"] == expected
    assert out["cwd"] == str(SCRIPTS.resolve())
    assert out["env_dir"] == str(exp.checkpoint_dir(0))


@pytest.mark.asyncio
async def test_pass_args_as_json(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "echo_args.py", pass_args_as_json=True)
    config: dict[str, Any] = {**NASTY, "nul": "a\0b", "n": 3, "x": 1.5, "on": False}
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config=config)])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    out = json.loads((exp.checkpoint_dir(0) / "argv.json").read_text("utf-8"))
    config_path = str(exp.trial_dir(0) / "config.json")
    assert out["argv"] == [
        "--st_config_json_filename",
        config_path,
        "--st_checkpoint_dir",
        str(exp.checkpoint_dir(0)),
    ]
    assert out["config"] == config


@pytest.mark.asyncio
async def test_a_syne_tune_pass_args_as_json_script_trains_on_the_config(
    exp: ExperimentDir,
) -> None:
    """A script that reads Syne Tune's ``--st_config_json_filename`` sees the trial's values."""
    backend = LocalBackend(SCRIPTS / "syne_json.py", pass_args_as_json=True)
    trials = [
        Trial(trial_id=0, config={"lr": 0.125, "layers": [32, 64, 128]}),
        Trial(trial_id=1, config={"lr": 3.5, "layers": [7]}),
    ]
    seen = await run_until_ended(backend, exp, trials)
    for trial_id, lr, layers in ((0, 0.125, [32, 64, 128]), (1, 3.5, [7])):
        end = ended(seen, trial_id)
        assert [e.status for e in end] == [TrialStatus.COMPLETED], backend.stderr_tail(trial_id)
        (got,) = results(seen, trial_id)
        assert got.metrics == {
            "epoch": 1,
            "lr_seen": lr,
            "n_layers": len(layers),
            "width_sum": sum(layers),
        }


@pytest.mark.asyncio
async def test_nul_in_argv_value_fails_the_trial_without_spawning(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "echo_args.py")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"bad": "a\0b"})])
    assert len(seen) == 1 and seen[0].status is TrialStatus.FAILED
    assert "'bad'" in seen[0].reason and "NUL" in seen[0].reason
    assert not (exp.checkpoint_dir(0) / "argv.json").exists()


@pytest.mark.asyncio
async def test_exit_code_fails_keeps_results_and_stderr_tail(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "crash.py")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"code": 3})])
    assert [r.metrics["epoch"] for r in results(seen)] == [1, 2]
    (end,) = ended(seen)
    assert seen[-1] is end
    assert end.status is TrialStatus.FAILED
    assert end.reason == "exit code 3" and end.exit_code == 3
    tail = backend.stderr_tail(0).splitlines()
    assert tail[-1] == "something went wrong: boom"
    assert 40 <= len(tail) <= 50  # only the last lines are kept
    assert "stderr line 0" in (exp.trial_dir(0) / "stderr").read_text()


@pytest.mark.asyncio
async def test_killed_by_signal_names_the_signal(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "crash.py")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"signal": "SIGKILL"})])
    assert len(results(seen)) == 2
    (end,) = ended(seen)
    assert end.status is TrialStatus.FAILED
    assert "SIGKILL" in end.reason and end.exit_code == -signal.SIGKILL


async def _stop_after_first_result(
    backend: LocalBackend, exp: ExperimentDir, config: dict[str, Any]
) -> tuple[list[Event], dict[str, int], float]:
    pids: dict[str, int] = {}
    stopped_at = 0.0

    async def on_result(event: ResultEvent) -> None:
        nonlocal stopped_at
        pids.update(json.loads((exp.checkpoint_dir(0) / "pids.json").read_text()))
        assert alive(pids["child"]) and alive(pids["grandchild"])
        stopped_at = time.monotonic()
        await backend.stop_trial(0)

    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config=config)], on_result)
    return seen, pids, time.monotonic() - stopped_at


@pytest.mark.asyncio
async def test_stop_kills_the_whole_process_group(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "hang.py", stop_grace_period=5.0)
    seen, pids, took = await _stop_after_first_result(backend, exp, {})
    (end,) = ended(seen)
    assert end.status is TrialStatus.STOPPED and end.exit_code == -signal.SIGTERM
    assert took < 2.0
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])


@pytest.mark.asyncio
async def test_child_ignoring_sigterm_is_killed_after_grace_period(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "hang.py", stop_grace_period=0.3)
    seen, pids, took = await _stop_after_first_result(backend, exp, {"ignore_term": True})
    (end,) = ended(seen)
    assert end.status is TrialStatus.STOPPED and end.exit_code == -signal.SIGKILL
    assert 0.3 <= took < 3.0
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])


@pytest.mark.asyncio
async def test_grandchild_left_behind_is_killed_when_the_script_exits(exp: ExperimentDir) -> None:
    """The grandchild holds the stdout pipe open: the trial still ends at once, and it dies."""
    backend = LocalBackend(SCRIPTS / "hang.py")
    start = time.monotonic()
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"exit_now": True})])
    assert time.monotonic() - start < 5.0
    (end,) = ended(seen)
    assert end.status is TrialStatus.COMPLETED and end.exit_code == 0
    pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
    assert gone_soon(pids["grandchild"])


@pytest.mark.asyncio
async def test_pause_then_resume_continues_from_checkpoint(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "checkpointed.py", stop_grace_period=2.0)
    trial = Trial(trial_id=0, config={"epochs": 6, "block_at": 3})
    seen: list[Event] = []
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(trial)
            async for event in events:
                seen.append(event)
                if isinstance(event, ResultEvent) and event.metrics["epoch"] == 3:
                    await backend.pause_trial(0)
                if isinstance(event, TrialEndedEvent):
                    if event.attempt == 1:
                        break
                    assert await backend.busy_trial_ids() == set()
                    trial.attempt = 1
                    await backend.resume_trial(trial)
                    assert await backend.busy_trial_ids() == {0}
    assert [r.metrics["epoch"] for r in results(seen, 0, 0)] == [1, 2, 3]
    assert [r.metrics["epoch"] for r in results(seen, 0, 1)] == [4, 5, 6]
    assert [r.seq for r in results(seen, 0, 1)] == [0, 1, 2]
    ends = ended(seen)
    assert [(e.attempt, e.status) for e in ends] == [
        (0, TrialStatus.PAUSED),
        (1, TrialStatus.COMPLETED),
    ]
    assert (exp.trial_dir(0) / "stdout").exists()


@pytest.mark.asyncio
async def test_checkpoint_from_copies_the_checkpoint(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "checkpointed.py")
    seen: list[Event] = []
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"epochs": 3}))
            async for event in events:
                seen.append(event)
                if isinstance(event, TrialEndedEvent):
                    break
            await backend.start_trial(Trial(trial_id=1, config={"epochs": 5}), checkpoint_from=0)
            async for event in events:
                seen.append(event)
                if isinstance(event, TrialEndedEvent):
                    break
    assert [r.metrics["epoch"] for r in results(seen, 1)] == [4, 5]
    assert (exp.checkpoint_dir(0) / "epoch.txt").read_text() == "3"
    assert (exp.checkpoint_dir(1) / "epoch.txt").read_text() == "5"


@pytest.mark.asyncio
async def test_delete_checkpoints_on_completion(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "checkpointed.py", delete_checkpoints=True)
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"epochs": 2})])
    assert seen[-1].status is TrialStatus.COMPLETED
    assert not (exp.trial_dir(0) / "checkpoints").exists()


@pytest.mark.asyncio
async def test_missing_interpreter_fails_the_trial(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "report.py", python="/nonexistent/python3")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={})])
    assert len(seen) == 1 and seen[0].status is TrialStatus.FAILED
    assert "could not start" in seen[0].reason


def test_constructor_validates() -> None:
    with pytest.raises(InvalidArgumentError, match="not a file"):
        LocalBackend(SCRIPTS / "missing.py")
    with pytest.raises(InvalidArgumentError, match="stop_grace_period"):
        LocalBackend(SCRIPTS / "report.py", stop_grace_period=-1)
    backend = LocalBackend(SCRIPTS / "report.py", env={"A": 1})
    assert backend.env == {"A": "1"}
    assert "report.py" in repr(backend)


def test_spec_round_trip() -> None:
    from aiotune._spec import from_spec, to_spec

    backend = LocalBackend(SCRIPTS / "report.py", pass_args_as_json=True, stop_grace_period=1.0)
    again = from_spec(to_spec(backend))
    assert isinstance(again, LocalBackend)
    assert again.entry_point == backend.entry_point and again.pass_args_as_json
    assert again.stop_grace_period == 1.0


@pytest.mark.asyncio
async def test_many_short_trials_through_few_slots(exp: ExperimentDir) -> None:
    """20 trials, 4 at a time: every result once, in order; no process or fd left behind."""
    backend = LocalBackend(SCRIPTS / "syne_style.py")
    fds_before = len(os.listdir("/proc/self/fd"))
    seen: list[Event] = []
    next_id = 0
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            for _ in range(4):
                await backend.start_trial(Trial(trial_id=next_id, config={"n": 3}))
                next_id += 1
            done = 0
            async for event in events:
                seen.append(event)
                if isinstance(event, TrialEndedEvent):
                    done += 1
                    if next_id < 20:
                        await backend.start_trial(Trial(trial_id=next_id, config={"n": 3}))
                        next_id += 1
                    elif done == 20:
                        break
    for trial_id in range(20):
        assert [r.seq for r in results(seen, trial_id)] == [0, 1, 2]
        (end,) = ended(seen, trial_id)
        assert end.status is TrialStatus.COMPLETED
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2


@pytest.mark.asyncio
async def test_cancelled_session_still_kills_its_trials(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "hang.py", stop_grace_period=1.0)
    pids: dict[str, int] = {}
    with anyio.fail_after(TIMEOUT):
        with anyio.CancelScope() as scope:
            async with backend.session(exp) as events:
                await backend.start_trial(Trial(trial_id=0, config={"ignore_term": True}))
                async for _ in events:
                    break
                pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
                scope.cancel()
                await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])
    assert await backend.busy_trial_ids() == set()


@pytest.mark.asyncio
async def test_error_in_session_body_propagates_unwrapped(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "hang.py", stop_grace_period=1.0)
    pids: dict[str, int] = {}
    with anyio.fail_after(TIMEOUT), pytest.raises(KeyError, match="boom"):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={}))
            async for _ in events:
                break
            pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
            raise KeyError("boom")
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])


@pytest.mark.asyncio
async def test_second_session_and_calls_outside_a_session(exp: ExperimentDir) -> None:
    backend = LocalBackend(SCRIPTS / "report.py")
    with pytest.raises(InvalidArgumentError, match="session"):
        await backend.start_trial(Trial(trial_id=0, config={}))
    await backend.stop_trial(0)  # no-op outside a session
    async with backend.session(exp):
        with pytest.raises(InvalidArgumentError, match="already has an open session"):
            async with backend.session(exp):
                pass
    async with backend.session(exp):  # reusable after the first one closed
        pass


@pytest.mark.asyncio
async def test_slow_consumer_still_gets_every_result_before_the_ended_event(
    exp: ExperimentDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny buffer and a slow tuner: backpressure, nothing lost, the ended event last."""
    from aiotune.backends import _process

    monkeypatch.setattr(_process, "EVENT_BUFFER", 4)
    monkeypatch.setattr(_process, "DRAIN_TIMEOUT", 0.05)
    backend = LocalBackend(SCRIPTS / "flood.py")
    seen: list[Event] = []
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 150}))
            async for event in events:
                seen.append(event)
                await anyio.sleep(0.002)
                if isinstance(event, TrialEndedEvent):
                    break
    got = results(seen)
    assert [r.seq for r in got] == list(range(300))
    for via_socket in (True, False):
        mine = [r.metrics["i"] for r in got if r.metrics["via_socket"] is via_socket]
        assert mine == list(range(150))
    assert seen[-1].status is TrialStatus.COMPLETED


@pytest.mark.asyncio
async def test_process_is_recorded_for_orphan_killing(exp: ExperimentDir) -> None:
    from aiotune.backends._orphans import find_orphans

    backend = LocalBackend(SCRIPTS / "hang.py", stop_grace_period=1.0)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={}))
            async for _ in events:
                break
            pids = json.loads((exp.checkpoint_dir(0) / "pids.json").read_text())
            path = exp.trial_dir(0) / "process.json"
            assert eventually(path.exists)  # written by a worker thread right after the spawn
            record = json.loads(path.read_text())
            assert record["pid"] == record["pgid"] == pids["child"]
            assert find_orphans(exp.path) == {pids["child"]}
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])
    # a killed grandchild may linger as a zombie for a moment
    assert eventually(lambda: find_orphans(exp.path) == set())


def test_is_a_trial_backend() -> None:
    from aiotune.backends.base import TrialBackend

    assert isinstance(LocalBackend(SCRIPTS / "report.py"), TrialBackend)


@pytest.mark.asyncio
async def test_non_python_entry_point_runs_directly(tmp_path: Path, exp: ExperimentDir) -> None:
    script = tmp_path / "train.sh"
    script.write_text('#!/bin/sh\necho "[tune-metric]: {\\"args\\": $#}"\n')
    script.chmod(0o755)
    backend = LocalBackend(script)
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"a": "x y"})])
    assert [r.metrics for r in results(seen)] == [{"args": 4}]  # --a, "x y", --st_..., dir
    assert seen[-1].status is TrialStatus.COMPLETED


def test_checkpoint_copy_skips_a_file_the_running_donor_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PBT copies a donor's checkpoint folder while the donor may still be writing it: a
    temporary file listed and then renamed away is skipped, the rest copied (the copy
    raised shutil.Error for the vanished file before)."""
    import shutil

    from aiotune.backends import _process

    source, target = tmp_path / "donor", tmp_path / "new"
    source.mkdir()
    (source / "checkpoint.json").write_text("{}")
    (source / "checkpoint.json.tmp").write_text("{...")
    copy2 = shutil.copy2

    def rename_first(src: str, dst: str) -> Any:
        if src.endswith(".tmp"):  # the donor finishes its write between listing and copy
            os.replace(src, src[: -len(".tmp")])
        return copy2(src, dst)

    monkeypatch.setattr(_process.shutil, "copy2", rename_first)
    _process._copy_tree(source, target)
    assert sorted(p.name for p in target.iterdir()) == ["checkpoint.json"]
    with pytest.raises(FileNotFoundError):  # a missing target folder is still an error
        _process._copy_if_present(str(source / "checkpoint.json"), str(tmp_path / "x" / "y"))


@pytest.mark.asyncio
async def test_a_relative_experiment_folder_reaches_the_trial_as_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Tuner.load("rel/path")`` gives the backend a relative folder; the trial runs elsewhere."""
    monkeypatch.chdir(tmp_path)
    exp = ExperimentDir(Path("rel") / "exp")
    backend = LocalBackend(SCRIPTS / "echo_args.py", pass_args_as_json=True)
    config = {"lr": 0.5}
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config=config)])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    checkpoints = tmp_path / "rel" / "exp" / "trials" / "0" / "checkpoints"
    out = json.loads((checkpoints / "argv.json").read_text("utf-8"))
    assert out["cwd"] == str(SCRIPTS.resolve())  # not the tuner's folder
    assert out["argv"] == [
        "--st_config_json_filename",
        str(checkpoints.parent / "config.json"),
        "--st_checkpoint_dir",
        str(checkpoints),
    ]
    assert out["env_dir"] == str(checkpoints)
    assert out["config"] == config


def test_a_relative_results_root_keeps_checkpoints_in_the_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AIOTUNE_RESULTS=rel/path``: the trial's checkpoint lands in ``trials/<id>/checkpoints``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIOTUNE_RESULTS", "rel/results")
    tuner = Tuner(
        trial_backend=LocalBackend(SCRIPTS / "checkpointed.py"),
        scheduler=RandomSearch({"epochs": 3}, metric="epoch", mode="max", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=1),
        n_workers=1,
        tuner_name="rel",
        suffix_tuner_name=False,
        print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_completed >= 1
    assert tuner.tuner_path == tmp_path / "rel" / "results" / "rel"
    checkpoint = tuner.tuner_path / "trials" / "0" / "checkpoints" / "epoch.txt"
    assert checkpoint.read_text() == "3"
    assert not (SCRIPTS / "rel").exists()  # nothing written relative to the trial's folder
