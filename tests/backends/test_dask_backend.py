"""DaskBackend on a real local Dask cluster: a ``dask scheduler`` and ``dask worker`` processes.

Everything listens on 127.0.0.1 only. The workers run without a nanny, so the
process the test starts *is* the worker: SIGKILL and SIGSTOP reach it directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

pytest.importorskip("distributed", reason="DaskBackend needs the 'dask' extra (distributed)")

from aiotune.backends.dask import DaskBackend  # noqa: E402
from aiotune.errors import InvalidArgumentError  # noqa: E402
from aiotune.events import Event, ResultEvent, TrialEndedEvent  # noqa: E402
from aiotune.schedulers.random_search import RandomSearch  # noqa: E402
from aiotune.store.experiment_dir import ExperimentDir  # noqa: E402
from aiotune.testing.backend_case import BackendTestCase  # noqa: E402
from aiotune.trial import Trial, TrialStatus  # noqa: E402

SCRIPTS = Path(__file__).parent / "dask_scripts"
CONFORMANCE = Path(__file__).parent / "scripts" / "conformance.py"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0
START_TIMEOUT = 40.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _eventually(predicate: object, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(predicate())  # type: ignore[operator]


class Cluster:
    """A scheduler and workers as subprocesses of the test, each in its own session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            ),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        file = folder / "scheduler.json"
        self.scheduler = self._spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(file),
            ],
            "scheduler",
        )
        if not _eventually(lambda: file.is_file() and file.stat().st_size > 0, START_TIMEOUT):
            raise RuntimeError("dask scheduler did not start")
        time.sleep(0.1)
        self.address: str = json.loads(file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def ensure_workers(self, n: int) -> None:
        """Start workers until ``n`` run, and wait until the scheduler knows them all."""
        while len(self.live_workers()) < n:
            self.workers.append(
                self._spawn(
                    [
                        "worker",
                        self.address,
                        "--no-nanny",
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--dashboard-address",
                        "127.0.0.1:0",
                        "--name",
                        f"w{len(self.workers)}",
                        "--memory-limit",
                        "0",
                    ],
                    "worker",
                )
            )
        from distributed import Client

        with Client(self.address, timeout=START_TIMEOUT, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=START_TIMEOUT)
            deadline = time.monotonic() + START_TIMEOUT
            while len(client.scheduler_info(n_workers=-1)["workers"]) != n:
                assert time.monotonic() < deadline, "dead workers stay registered"
                time.sleep(0.1)

    def worker_proc(self, pid: int) -> subprocess.Popen[bytes]:
        return next(w for w in self.workers if w.pid == pid)

    def address_of(self, worker: subprocess.Popen[bytes]) -> str:
        """The worker's address (ask before freezing it: a frozen worker does not answer)."""
        from distributed import Client

        with Client(self.address, timeout=START_TIMEOUT, set_as_default=False) as client:
            return next(a for a, pid in client.run(os.getpid).items() if pid == worker.pid)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = time.monotonic()
    cluster = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.ensure_workers(2)
        print(f"cluster up in {time.monotonic() - started:.2f}s")
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def exp(tmp_path: Path) -> ExperimentDir:
    return ExperimentDir(tmp_path / "exp")


def backend_for(
    cluster: Cluster, script: Path = SCRIPTS / "report.py", **kwargs: object
) -> DaskBackend:
    cluster.ensure_workers(2)
    return DaskBackend(script, scheduler_address=cluster.address, stop_grace_period=2.0, **kwargs)  # type: ignore[arg-type]


def of(seen: list[Event], trial_id: int, attempt: int = 0) -> list[Event]:
    return [e for e in seen if e.trial_id == trial_id and e.attempt == attempt]


async def collect(events: object, until: object) -> list[Event]:
    seen: list[Event] = []
    async for event in events:  # type: ignore[attr-defined]
        seen.append(event)
        if until(seen):  # type: ignore[operator]
            break
    return seen


def ended(seen: list[Event], trial_id: int) -> TrialEndedEvent | None:
    ends = [e for e in seen if isinstance(e, TrialEndedEvent) and e.trial_id == trial_id]
    return ends[-1] if ends else None


class TestDaskBackendConformance(BackendTestCase):
    """The whole BackendTestCase battery against DaskBackend on the module's cluster."""

    @pytest.fixture(autouse=True)
    def _cluster(self, cluster: Cluster) -> None:
        self.cluster_ = cluster

    def make_backend(self, tmp_path: Path) -> DaskBackend:
        return backend_for(self.cluster_, CONFORMANCE)


@pytest.mark.asyncio
async def test_results_stderr_and_exit_code_come_back(cluster: Cluster, exp: ExperimentDir) -> None:
    backend = backend_for(cluster)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 4, "fail": True}))
            await backend.start_trial(Trial(trial_id=1, config={"n": 6}))
            seen = await collect(events, lambda s: ended(s, 0) and ended(s, 1))
            assert backend.report_server is not None
            assert backend.report_server.tcp_address.startswith("tcp://127.0.0.1:")
    for trial_id, n in ((0, 4), (1, 6)):
        mine = of(seen, trial_id)
        assert [e.seq for e in mine if isinstance(e, ResultEvent)] == list(range(n))
        assert isinstance(mine[-1], TrialEndedEvent) and len(mine) == n + 1
    end0, end1 = ended(seen, 0), ended(seen, 1)
    assert end0 is not None and end1 is not None
    assert end0.status is TrialStatus.FAILED and end0.reason == "exit code 3"
    assert end0.exit_code == 3
    assert end1.status is TrialStatus.COMPLETED and end1.exit_code == 0
    assert "trial fails on purpose" in backend.stderr_tail(0)
    assert "reported 4" in (exp.trial_dir(0) / "stderr").read_text()


@pytest.mark.asyncio
async def test_syne_tune_metric_lines_become_results_in_order_before_the_end(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    backend = backend_for(cluster, SCRIPTS / "syne_lines.py")
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 400}))
            await backend.start_trial(Trial(trial_id=1, config={"n": 3, "exit": 2}))
            seen = await collect(events, lambda s: ended(s, 0) and ended(s, 1))
    for trial_id, n in ((0, 400), (1, 3)):
        mine = of(seen, trial_id)
        got = [e for e in mine if isinstance(e, ResultEvent)]
        assert [e.metrics for e in got[:-1]] == [
            {"epoch": i, "acc": i / 1000} for i in range(1, n + 1)
        ]
        assert got[-1].metrics["epoch"] == 0 and math.isnan(got[-1].metrics["acc"])  # as locally
        assert [e.seq for e in got] == list(range(n + 1))
        assert mine[-1] is ended(seen, trial_id) and len(mine) == n + 2
        stdout = (exp.trial_dir(trial_id) / "stdout").read_text()
        assert stdout.count("log line") == n and stdout.endswith("no newline at the end")
    assert ended(seen, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]
    end1 = ended(seen, 1)
    assert end1 is not None and end1.status is TrialStatus.FAILED and end1.exit_code == 2


@pytest.mark.asyncio
async def test_a_syne_tune_pass_args_as_json_script_trains_on_the_config(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    """The JSON config reaches a script through Syne Tune's ``--st_config_json_filename``."""
    script = Path(__file__).parent / "scripts" / "syne_json.py"
    backend = backend_for(cluster, script, pass_args_as_json=True)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"lr": 0.375, "layers": [5, 6]}))
            seen = await collect(events, lambda s: ended(s, 0))
    end = ended(seen, 0)
    assert end is not None and end.status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    (got,) = [e for e in of(seen, 0) if isinstance(e, ResultEvent)]
    assert got.metrics == {"epoch": 1, "lr_seen": 0.375, "n_layers": 2, "width_sum": 11}


@pytest.mark.asyncio
async def test_a_relative_experiment_folder_reaches_the_worker_as_absolute_paths(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker runs in its own folder: config file, checkpoints and logs go by absolute path."""
    monkeypatch.chdir(tmp_path)
    exp = ExperimentDir(Path("rel") / "exp")
    script = Path(__file__).parent / "scripts" / "syne_json.py"
    backend = backend_for(cluster, script, pass_args_as_json=True)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"lr": 0.25, "layers": [1]}))
            seen = await collect(events, lambda s: ended(s, 0))
    end = ended(seen, 0)
    assert end is not None and end.status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    (got,) = [e for e in of(seen, 0) if isinstance(e, ResultEvent)]
    assert got.metrics["lr_seen"] == 0.25
    assert "[tune-metric]" in (tmp_path / "rel" / "exp" / "trials" / "0" / "stdout").read_text()


@pytest.mark.asyncio
async def test_metric_lines_out_of_order_or_late_are_delivered_in_order_before_the_end() -> None:
    """Dask keeps a worker's events in order in practice; the backend does not rely on it."""
    from types import SimpleNamespace

    from aiotune.backends._report_server import ReportServer
    from aiotune.backends.dask import _Attempt
    from aiotune.clock import RealClock

    backend = DaskBackend(SCRIPTS / "report.py")
    send, receive = anyio.create_memory_object_stream[Event](100)
    with anyio.fail_after(TIMEOUT), receive:
        async with anyio.create_task_group() as tg:
            server = ReportServer(send, RealClock())
            await tg.start(server.serve)
            server.register(5, 0)
            state = SimpleNamespace(server=server)
            att = _Attempt(trial_id=5, attempt=0, key="k", future=None)
            line = '[tune-metric]: {{"epoch": {}}}'.format
            backend._on_metric_line(state, att, 1, line(2))  # type: ignore[arg-type]
            backend._on_metric_line(state, att, 2, "no json [tune-metric]: {")  # type: ignore[arg-type]
            assert att.lines_delivered == 0  # waits for line 0
            backend._on_metric_line(state, att, 0, line(1))  # type: ignore[arg-type]
            backend._on_metric_line(state, att, 0, line(99))  # type: ignore[arg-type]  (a replay)
            assert att.lines_delivered == 3
            drained = anyio.Event()

            async def drain() -> None:
                await backend._drain_lines(att, 5)
                drained.set()

            tg.start_soon(drain)
            await anyio.sleep(0.05)
            backend._on_metric_line(state, att, 3, line(3))  # type: ignore[arg-type]
            await anyio.sleep(0.05)
            assert not drained.is_set()  # line 4 is still on its way
            backend._on_metric_line(state, att, 4, line(4))  # type: ignore[arg-type]
            await drained.wait()
            got = [receive.receive_nowait() for _ in range(4)]
            tg.cancel_scope.cancel()
    assert [e.metrics["epoch"] for e in got] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert [e.seq for e in got] == [0, 1, 2, 3]  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_stop_reaches_the_process_on_its_worker(cluster: Cluster, exp: ExperimentDir) -> None:
    backend = backend_for(cluster)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 2, "block": True}))
            seen = await collect(events, lambda s: len(s) == 2)
            pid = int((exp.checkpoint_dir(0) / "pid").read_text())
            assert _alive(pid)
            placed = backend.worker_of(0)
            assert placed is not None and placed[1] in {w.pid for w in cluster.workers}
            started = time.monotonic()
            await backend.stop_trial(0)
            seen += await collect(events, lambda s: ended(s, 0) is not None)
            took = time.monotonic() - started
            assert await backend.busy_trial_ids() == set()
    end = ended(seen, 0)
    assert end is not None and end.status is TrialStatus.STOPPED
    assert not _alive(pid)
    print(f"stop -> ended event: {took * 1000:.0f} ms")


@contextlib.contextmanager
def tuner_holding_a_trial(cluster: Cluster, folder: Path, heartbeat: float) -> Iterator[
    tuple[subprocess.Popen[bytes], int]
]:
    """A tuner process whose one trial runs on the cluster: ``(tuner, trial pid)``.

    The trial is killed on the way out whatever happened, so no test leaves one behind.
    """
    cluster.ensure_workers(2)
    tuner = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "hold_a_trial.py"), cluster.address, str(folder),
         str(heartbeat)],
        env=cluster.env,
        stdout=subprocess.PIPE,
    )
    pid = 0
    try:
        assert tuner.stdout is not None
        assert tuner.stdout.readline().strip() == b"ResultEvent"
        pid = int((folder / "trials" / "0" / "checkpoints" / "pid").read_text())
        assert _alive(pid)
        yield tuner, pid
    finally:
        tuner.kill()
        tuner.wait(timeout=10)
        tuner.stdout.close()  # type: ignore[union-attr]
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_a_trial_whose_tuner_was_sigkilled_is_killed_on_its_worker(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The tuner's client vanishes, Dask cancels its task, and the worker ends the trial."""
    with tuner_holding_a_trial(cluster, tmp_path / "exp", heartbeat=0.5) as (tuner, pid):
        tuner.kill()
        tuner.wait(timeout=10)
        assert _eventually(lambda: not _alive(pid), 10.0), "the orphaned trial still runs"


@pytest.mark.asyncio
async def test_a_resumed_tuner_first_ends_the_attempt_its_crashed_predecessor_left(
    cluster: Cluster, tmp_path: Path
) -> None:
    """With a 30 s heartbeat the worker would notice the dead tuner only 6 s later."""
    folder = tmp_path / "exp"
    marker = folder / "trials" / "0" / "dask_attempt.json"
    with tuner_holding_a_trial(cluster, folder, heartbeat=30.0) as (tuner, pid):
        assert marker.is_file()
        tuner.kill()
        tuner.wait(timeout=10)
        assert _alive(pid)
        backend = backend_for(cluster)
        with anyio.fail_after(TIMEOUT):
            async with backend.session(ExperimentDir(folder)) as events:
                await backend.start_trial(Trial(trial_id=0, config={"n": 2}, attempt=1))
                assert not _alive(pid), "the new attempt started beside the old one"
                seen = await collect(events, lambda s: ended(s, 0) is not None)
        assert ended(seen, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]
        assert [e.attempt for e in seen] == [1, 1, 1]
        assert not marker.exists()


def test_tuner_load_after_a_crash_restarts_the_interrupted_trials_from_checkpoints(
    cluster: Cluster, tmp_path: Path
) -> None:
    from aiotune.experiments import load_experiment
    from aiotune.tuner import Tuner

    cluster.ensure_workers(2)
    env = {**cluster.env, "AIOTUNE_RESULTS": str(tmp_path)}
    folder = tmp_path / "crash"
    tuner = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "crash_me_tuner.py"), cluster.address], env=env
    )
    try:  # kill it once both first trials checkpointed an epoch, mid-way through both
        checkpoints = [folder / "trials" / str(i) / "checkpoints" / "checkpoint.json"
                       for i in (0, 1)]
        assert _eventually(lambda: all(c.is_file() for c in checkpoints), 30.0)
    finally:
        tuner.kill()
        tuner.wait(timeout=10)
    resumed = Tuner.load(folder)
    resumed.run()
    status = resumed.status
    assert status.num_trials_failed == 0 and status.num_trials_completed >= 4
    results = load_experiment(folder).results
    for trial_id in (0, 1):
        rows = results[results.trial_id == trial_id]
        assert rows.epoch.max() == 6 and rows.epoch.is_unique, rows  # no epoch twice
        assert rows.resumed_from.max() > 0  # the new attempt went on from the checkpoint
    assert not list(folder.glob("trials/*/dask_attempt.json"))


@pytest.mark.asyncio
async def test_a_cancelled_session_still_kills_its_trials(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    backend = backend_for(cluster)
    pids: list[int] = []
    with anyio.fail_after(TIMEOUT):
        with anyio.CancelScope() as scope:
            async with backend.session(exp) as events:
                for trial_id in (0, 1):
                    await backend.start_trial(Trial(trial_id=trial_id, config={"block": True}))
                await collect(events, lambda s: len(s) == 6)
                pids = [int((exp.checkpoint_dir(i) / "pid").read_text()) for i in (0, 1)]
                scope.cancel()  # as a max_wallclock_time deadline would
                await anyio.sleep_forever()
    assert await backend.busy_trial_ids() == set()
    assert await anyio.to_thread.run_sync(
        _eventually, lambda: not any(_alive(pid) for pid in pids), 5.0
    )


@pytest.mark.asyncio
async def test_invalid_config_fails_without_reaching_the_cluster(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    backend = backend_for(cluster)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"bad\0key": 1}))
            seen = await collect(events, lambda s: ended(s, 0) is not None)
    end = ended(seen, 0)
    assert end is not None and end.status is TrialStatus.FAILED
    assert end.reason.startswith("invalid config")


@pytest.mark.asyncio
async def test_without_an_address_the_session_runs_its_own_local_cluster(
    exp: ExperimentDir,
) -> None:
    backend = DaskBackend(SCRIPTS / "report.py")
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 2}))
            seen = await collect(events, lambda s: ended(s, 0) is not None)
    assert [type(e) for e in seen] == [ResultEvent, ResultEvent, TrialEndedEvent]
    assert ended(seen, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]


def test_an_unguarded_script_on_a_local_cluster_fails_with_the_fix(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "AIOTUNE_RESULTS": str(tmp_path / "results"),
    }
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "unguarded_tuner.py")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "DaskBackend could not start a local Dask cluster" in last
    assert 'if __name__ == "__main__":' in last
    # and each worker process that imported the script said why it stopped
    assert "a Tuner was started while a process spawned by multiprocessing" in proc.stderr


def test_constructor_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="entry_point"):
        DaskBackend(tmp_path / "missing.py")
    with pytest.raises(InvalidArgumentError, match="heartbeat_timeout"):
        DaskBackend(SCRIPTS / "report.py", heartbeat_timeout=float("nan"))
    assert "DaskBackend(" in repr(DaskBackend(SCRIPTS / "report.py"))


@pytest.mark.asyncio
async def test_tuner_runs_trials_on_the_cluster(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.config_space import randint, uniform
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    backend = backend_for(cluster)
    scheduler = RandomSearch(
        {"n": randint(2, 4), "lr": uniform(0.01, 0.1)}, metric="loss", mode="min", random_seed=1
    )
    tuner = Tuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_started=6),
        n_workers=2,
        tuner_name="dask-tuner",
        suffix_tuner_name=False,
    )
    with anyio.fail_after(TIMEOUT):
        await tuner.run_async()
    status = tuner.status
    assert status.num_trials_started > 6  # Syne Tune's "more than N"
    assert status.num_trials_failed == 0 and status.num_trials_running == 0
    assert status.num_trials_completed + status.num_trials_stopped == status.num_trials_started
    assert status.num_trials_completed >= 4
    trial_id, config = tuner.best_config()
    assert 2 <= config["n"] <= 4


class ThinkingRandomSearch(RandomSearch):
    """Random search whose suggestions after the first two take 0.5 s in a worker thread
    (a model fit); records the age of each report that reaches it during one."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked = 0
        self.thinking = False
        self.ages_while_thinking: list[float] = []

    async def suggest(self):  # type: ignore[no-untyped-def]
        self.asked += 1
        if self.asked > 2:
            self.thinking = True
            try:
                await anyio.to_thread.run_sync(time.sleep, 0.5)
            finally:
                self.thinking = False
        return await super().suggest()

    async def on_result(self, trial, result):  # type: ignore[no-untyped-def]
        if self.thinking:
            self.ages_while_thinking.append(time.time() - result["st_worker_timestamp"])
        return await super().on_result(trial, result)


@pytest.mark.asyncio
async def test_reports_reach_the_scheduler_while_it_thinks(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop handles the cluster's events while a suggestion is thought about."""
    import statistics

    from aiotune.config_space import randint
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    scheduler = ThinkingRandomSearch(
        {"n": randint(60, 120), "interval": 0.01}, metric="loss", mode="min", random_seed=0
    )
    tuner = Tuner(
        trial_backend=backend_for(cluster),
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_started=5),
        n_workers=2,
        tuner_name="dask-thinking",
        suffix_tuner_name=False,
    )
    with anyio.fail_after(TIMEOUT):
        await tuner.run_async()
    ages = scheduler.ages_while_thinking
    assert len(ages) >= 10, len(ages)
    assert statistics.median(ages) < 0.050, (statistics.median(ages), max(ages))


@pytest.mark.asyncio
async def test_sigkill_of_a_worker_fails_its_trial_and_the_run_goes_on(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    backend = backend_for(cluster, heartbeat_timeout=10.0)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            # Two blocking trials occupy both workers, so Dask's re-run of the killed
            # worker's task must wait: only the scheduler's remove-worker event is fast.
            for trial_id in (0, 1):
                await backend.start_trial(Trial(trial_id=trial_id, config={"n": 1, "block": True}))
            seen = await collect(events, lambda s: len(s) == 2)
            placed = backend.worker_of(0)
            assert placed is not None and placed[1] is not None
            assert backend.worker_of(1) not in (None, placed)
            trial_pid = int((exp.checkpoint_dir(0) / "pid").read_text())
            killed_at = time.monotonic()
            os.kill(placed[1], signal.SIGKILL)
            seen += await collect(events, lambda s: ended(s, 0) is not None)
            lost_after = time.monotonic() - killed_at
            end = ended(seen, 0)
            assert end is not None and end.status is TrialStatus.FAILED, end
            assert end.reason.startswith("worker lost"), end.reason
            assert lost_after < 5.0  # the scheduler's remove-worker, not the 10 s heartbeat
            # The trial's leader dies with its worker (PR_SET_PDEATHSIG).
            assert await anyio.to_thread.run_sync(_eventually, lambda: not _alive(trial_pid), 5.0)
            # The other trial is untouched; the run goes on with a new attempt of trial 0.
            assert await backend.busy_trial_ids() == {1}
            await backend.stop_trial(1)
            await backend.start_trial(Trial(trial_id=0, config={"n": 2}, attempt=1))
            more = await collect(
                events,
                lambda s: (
                    any(isinstance(e, TrialEndedEvent) for e in of(s, 0, 1))
                    and ended(s, 1) is not None
                ),
            )
    assert [e.seq for e in of(more, 0, 1) if isinstance(e, ResultEvent)] == [0, 1]
    assert ended(more, 1).status is TrialStatus.STOPPED  # type: ignore[union-attr]
    assert ended(more, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]
    print(f"SIGKILL of the worker -> 'worker lost' event: {lost_after * 1000:.0f} ms")


@pytest.mark.asyncio
async def test_frozen_worker_fails_its_trial_after_the_heartbeat_and_late_frames_are_rejected(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    heartbeat = 2.0
    backend = backend_for(cluster, heartbeat_timeout=heartbeat)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            config = {"n": 200, "interval": 0.05}
            await backend.start_trial(Trial(trial_id=0, config=config))
            seen = await collect(events, lambda s: len(s) == 3)
            placed = backend.worker_of(0)
            assert placed is not None and placed[1] is not None
            trial_pid = int((exp.checkpoint_dir(0) / "pid").read_text())
            worker = cluster.worker_proc(placed[1])
            server = backend.report_server
            assert server is not None
            os.kill(worker.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                seen += await collect(events, lambda s: ended(s, 0) is not None)
                lost_after = time.monotonic() - frozen_at
                end = ended(seen, 0)
                assert end is not None and end.status is TrialStatus.FAILED, end
                assert end.reason.startswith("worker lost: no heartbeat"), end.reason
                # The last beat came up to one interval (heartbeat / 5) before the freeze.
                assert heartbeat * 0.8 - 0.1 <= lost_after < heartbeat + 3.0
                assert await backend.busy_trial_ids() == set()
                rejected = server.stats.frames_rejected + server.stats.connections_rejected
                # The trial outlives its frozen worker; its frames now bounce.
                assert _alive(trial_pid)
                await anyio.sleep(0.5)
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            later = server.stats.frames_rejected + server.stats.connections_rejected
            assert later > 0 and later >= rejected
            # Resumed, the worker sees the attempt's stop event and kills the trial.
            assert await anyio.to_thread.run_sync(_eventually, lambda: not _alive(trial_pid), 10.0)
            # The run goes on, on whatever worker: a retry as a new attempt completes.
            await backend.start_trial(Trial(trial_id=0, config={"n": 2}, attempt=1))
            more = await collect(
                events, lambda s: any(isinstance(e, TrialEndedEvent) for e in of(s, 0, 1))
            )
    results = [e for e in seen if isinstance(e, ResultEvent)]
    assert [e.seq for e in results] == list(range(len(results)))  # no late frame got through
    assert ended(more, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]
    assert worker.poll() is None  # the worker itself lives on
    print(
        f"SIGSTOP of the worker -> 'worker lost' event: {lost_after:.2f} s "
        f"(heartbeat_timeout {heartbeat} s); frames/connections rejected: {later}"
    )


@contextlib.contextmanager
def frozen(worker: subprocess.Popen[bytes]) -> Iterator[float]:
    """SIGSTOP the worker for the block (yields when); SIGCONT whatever happens."""
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        os.kill(worker.pid, signal.SIGCONT)


@pytest.mark.asyncio
async def test_an_attempt_sent_to_a_frozen_worker_fails_as_worker_lost_and_later_ones_avoid_it(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    """The worker froze before it claimed the task: no trial heartbeat ever comes, but the
    scheduler's own heartbeats show the worker silent. Queued on a live worker is no loss."""
    heartbeat = 2.0
    backend = backend_for(cluster, heartbeat_timeout=heartbeat)
    worker = cluster.live_workers()[0]
    address = cluster.address_of(worker)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            with frozen(worker) as frozen_at:
                for trial_id in (0, 1):  # one to each idle worker
                    await backend.start_trial(Trial(trial_id=trial_id, config={"n": 2}))
                seen = await collect(events, lambda s: ended(s, 0) and ended(s, 1))
                lost_after = time.monotonic() - frozen_at
                ends = [ended(seen, 0), ended(seen, 1)]
                lost = [e for e in ends if e.status is TrialStatus.FAILED]  # type: ignore[union-attr]
                assert len(lost) == 1, ends
                assert lost[0].reason.startswith(f"worker lost: no heartbeat from {address}")
                assert [e.status for e in ends if e not in lost] == [TrialStatus.COMPLETED]  # type: ignore[union-attr]
                assert heartbeat - 0.1 <= lost_after < 2 * heartbeat + 1.5
                # The frozen worker is left out of placement: trial 3 waits behind trial 2
                # (longer than the heartbeat timeout) on the live worker, and neither fails.
                await backend.start_trial(Trial(trial_id=2, config={"n": 6, "interval": 0.5}))
                await backend.start_trial(Trial(trial_id=3, config={"n": 2}))
                seen += await collect(events, lambda s: ended(s, 2) and ended(s, 3))
    for trial_id in (2, 3):
        end = ended(seen, trial_id)
        assert end is not None and end.status is TrialStatus.COMPLETED, end
    print(f"frozen worker -> 'worker lost' for an attempt it never started: {lost_after:.2f} s")


@pytest.mark.asyncio
async def test_the_next_attempt_waits_until_the_frozen_workers_attempt_is_gone(
    cluster: Cluster, exp: ExperimentDir
) -> None:
    """A frozen worker cannot kill its trial, which runs on and writes the checkpoint
    folder: the trial's next attempt starts only once the worker ran again and killed it."""
    heartbeat = 2.0
    backend = backend_for(cluster, heartbeat_timeout=heartbeat)
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            await backend.start_trial(Trial(trial_id=0, config={"n": 400, "interval": 0.05}))
            seen = await collect(events, lambda s: len(s) == 2)
            placed = backend.worker_of(0)
            assert placed is not None and placed[1] is not None
            pid_file = exp.checkpoint_dir(0) / "pid"
            old_pid = int(pid_file.read_text())
            with frozen(cluster.worker_proc(placed[1])):
                seen += await collect(events, lambda s: ended(s, 0) is not None)
                assert ended(seen, 0).reason.startswith("worker lost: no heartbeat")  # type: ignore[union-attr]
                await backend.start_trial(Trial(trial_id=0, config={"n": 2}, attempt=1))
                await anyio.sleep(heartbeat)
                assert _alive(old_pid) and backend.worker_of(0) is None
                assert await backend.busy_trial_ids() == {0}  # it holds its slot, waiting
                asked = time.monotonic()
                await backend.stop_trial(0)  # it ends at once, never started
                seen += await collect(events, lambda s: bool(of(s, 0, 1)))
                assert time.monotonic() - asked < 1.0
                await backend.start_trial(Trial(trial_id=0, config={"n": 2}, attempt=2))
                await anyio.sleep(0.5)
                assert backend.worker_of(0) is None and int(pid_file.read_text()) == old_pid
            old_alive_at_first_report: list[bool] = []

            def done(s: list[Event]) -> bool:
                mine = of(s, 0, 2)
                if len(mine) == 1 and not old_alive_at_first_report:
                    old_alive_at_first_report.append(_alive(old_pid))
                return any(isinstance(e, TrialEndedEvent) for e in mine)

            more = await collect(events, done)
    (stopped,) = of(seen, 0, 1)
    assert isinstance(stopped, TrialEndedEvent) and stopped.status is TrialStatus.STOPPED
    assert stopped.reason == "" and stopped.exit_code is None
    assert old_alive_at_first_report == [False]
    assert [type(e) for e in of(more, 0, 2)] == [ResultEvent, ResultEvent, TrialEndedEvent]
    assert ended(more, 0).status is TrialStatus.COMPLETED  # type: ignore[union-attr]
    assert int(pid_file.read_text()) != old_pid


@pytest.mark.asyncio
async def test_a_run_with_a_frozen_worker_fails_one_trial_and_ends_promptly(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's case: a worker frozen before the run; only the trial sent to it fails
    (max_failures=1 holds), the others run on the live worker, and the run ends."""
    from aiotune.config_space import uniform
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    backend = backend_for(cluster, heartbeat_timeout=2.0)
    worker = cluster.live_workers()[0]
    address = cluster.address_of(worker)
    space = {"n": 3, "interval": 0.4, "lr": uniform(0.0, 1.0)}  # outlasts the detection
    tuner = Tuner(
        trial_backend=backend,
        scheduler=RandomSearch(space, metric="loss", mode="min", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=3),
        n_workers=2,
        tuner_name="dask-frozen",
        suffix_tuner_name=False,
    )
    with frozen(worker) as frozen_at, anyio.fail_after(TIMEOUT):
        await tuner.run_async()
        took = time.monotonic() - frozen_at
    failed = [t for t in tuner.trials.values() if t.status is TrialStatus.FAILED]
    assert len(failed) == 1, [(t.trial_id, t.status, t.reason) for t in tuner.trials.values()]
    assert failed[0].reason.startswith(f"worker lost: no heartbeat from {address}")
    assert tuner.status.num_trials_completed == 4 and tuner.status.num_trials_running == 0
    assert took < 15.0
    print(f"run with a frozen worker: {took:.1f} s")


def test_ctrl_c_at_the_terminal_stops_the_trials_of_a_local_cluster_gracefully(
    tmp_path: Path,
) -> None:
    """SIGINT to the tuner's whole process group, as a terminal sends it: the workers of
    the LocalCluster the backend started are not in that group, so they stop the trials
    when the tuner asks instead of dying under them."""
    from aiotune.store.event_log import read_log

    script = Path(__file__).parent / "scripts" / "dask_local_tuner.py"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "AIOTUNE_RESULTS": str(tmp_path),
    }
    tuner = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    pids: list[int] = []
    try:
        assert tuner.stdout is not None
        assert tuner.stdout.readline().strip() == b"running"
        trials = tmp_path / "local" / "trials"
        pids = [int((trials / str(i) / "checkpoints" / "pid").read_text()) for i in (0, 1)]
        os.killpg(tuner.pid, signal.SIGINT)
        _, stderr = tuner.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(tuner.pid, signal.SIGKILL)
        tuner.wait(timeout=10)
    assert tuner.returncode == -signal.SIGINT
    assert b"Dask Worker process" not in stderr, stderr.decode()[-2000:]
    records = read_log(tmp_path / "local" / "events.log").records
    ends = {r.trial_id: r for r in records if isinstance(r, TrialEndedEvent)}
    assert sorted(ends) == [0, 1]
    assert all(e.status is TrialStatus.STOPPED and e.reason == "" for e in ends.values()), ends
    assert _eventually(lambda: not any(_alive(pid) for pid in pids), 5.0)


def test_worker_silence_is_measured_without_trusting_the_schedulers_clock() -> None:
    from aiotune.backends.dask import _silences

    seen: dict[str, tuple[float, float]] = {}
    skew = 1000.0  # the scheduler's clock runs far ahead of the tuner's
    got = _silences({"a": skew + 9.5, "b": skew + 6.0, "c": skew + 9.9}, seen, now=10.0)
    assert got == pytest.approx({"a": 0.4, "b": 3.9, "c": 0.0})
    # All silent (every worker frozen): the tuner's clock shows how long it lasts.
    got = _silences({"a": skew + 9.5, "b": skew + 6.0}, seen, now=15.0)
    assert got == pytest.approx({"a": 5.0, "b": 5.0})
    assert set(seen) == {"a", "b"}  # c left the cluster
    got = _silences({"a": skew + 15.2, "b": skew + 6.0}, seen, now=15.5)
    assert got == pytest.approx({"a": 0.0, "b": 9.2})


@pytest.mark.asyncio
async def test_tuner_retries_a_trial_whose_worker_was_killed(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.callbacks import TunerCallback
    from aiotune.config_space import choice
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    backend = backend_for(cluster, heartbeat_timeout=10.0)
    killed: list[int] = []
    reported: set[tuple[int, int]] = set()

    class KillWorkerOfFirstResult(TunerCallback):
        def on_trial_result(
            self, trial: Trial, status: object, result: dict, decision: object
        ) -> None:
            reported.add((trial.trial_id, trial.attempt))
            placed = backend.worker_of(trial.trial_id)
            if not killed and trial.attempt == 0 and placed is not None and placed[1]:
                killed.append(trial.trial_id)
                os.kill(placed[1], signal.SIGKILL)

    tuner = Tuner(
        trial_backend=backend,
        scheduler=RandomSearch(
            {"n": choice([3, 4]), "interval": 0.1}, metric="loss", mode="min", random_seed=0
        ),
        stop_criterion=StoppingCriterion(max_num_trials_started=10),
        n_workers=2,
        max_retries_per_trial=1,
        max_failures=0,
        callbacks=[KillWorkerOfFirstResult()],
        tuner_name="dask-retry",
        suffix_tuner_name=False,
    )
    with anyio.fail_after(TIMEOUT):
        await tuner.run_async()
    assert len(killed) == 1
    assert (killed[0], 1) in reported  # retried as a new attempt after "worker lost"
    assert tuner.status.num_trials_completed == 2 and tuner.status.num_trials_failed == 0


@pytest.mark.asyncio
async def test_report_server_tcp_listener_authenticates_by_secret_only() -> None:
    import socket

    from aiotune.backends._report_server import ReportServer
    from aiotune.clock import RealClock
    from aiotune.wire import ENV_SECRET, Hello, Report, encode_frame

    send, receive = anyio.create_memory_object_stream[Event](100)
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg, receive:
            server = ReportServer(send, RealClock(), tcp_host="127.0.0.1", frame_timeout=1.0)
            path = await tg.start(server.serve)
            assert await anyio.Path(path).exists()  # the Unix socket is still there
            host, port = server.tcp_address.removeprefix("tcp://").rsplit(":", 1)
            assert host == "127.0.0.1"
            secret = server.register(0, 0)[ENV_SECRET]
            server.register(1, 0)

            def speak(trial_id: int, secret: str) -> None:
                with socket.create_connection((host, int(port))) as sock:
                    sock.sendall(encode_frame(Hello(trial_id, 0, secret)))
                    sock.sendall(encode_frame(Report(trial_id, 0, 0, {"loss": 0.5})))
                    # A rejected connection may already be reset by the server (our unread
                    # report in its buffer): ENOTCONN/ECONNRESET here is that, not a failure.
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                        sock.recv(1)  # until the server closes

            await anyio.to_thread.run_sync(speak, 1, secret)  # another trial's secret
            await anyio.to_thread.run_sync(speak, 0, "0" * 64)  # a wrong secret
            await anyio.to_thread.run_sync(speak, 0, secret)
            event = await receive.receive()
            assert isinstance(event, ResultEvent) and event.trial_id == 0
            assert event.metrics == {"loss": 0.5}
            assert server.stats.connections_rejected == 2
            assert server.stats.frames_accepted == 1
            tg.cancel_scope.cancel()
    assert server.tcp_address == ""
