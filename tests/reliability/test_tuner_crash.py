"""RELIABILITY.md, row "tuner crash": SIGKILL a real tuner subprocess, resume it, check G1/G4/G7/G8.

Every test drives ``crash_scripts/driver.py`` in subprocesses: a fresh tuner,
then ``Tuner.load(path).run()`` after each kill, until the run ends. The
invariants checked after every kill and at the end (:class:`Experiment`):

* no half-written file: ``events.log`` reads (at most a torn tail dropped),
  ``tuner.json``, ``metadata.json`` and ``results.csv`` parse;
* no logged result lost: the log of every killed run is a prefix of the final
  log (appended to, never rewritten);
* no duplicate: each ``(trial_id, attempt, seq)`` is logged once, and the
  scheduler (``RecordingSearch``, whose saved state lists every hook call of
  every run) was fed each logged result the loop acts on exactly once, added
  and completed each trial exactly once;
* no orphan trial process (LocalBackend): no process whose environment names
  the experiment's trial folders survives, and (read from the trials'
  heartbeat files) none of the killed run's trials ran on once the resumed
  run started its own.

SIGTERM/SIGINT are tested in tests/core/test_signals.py.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aiotune._replay import LogReplay, retried_ends, time_origin
from aiotune._tuner_state import TunerState
from aiotune.errors import ExperimentLockedError
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.status import TuningStatus
from aiotune.store.atomic import read_json
from aiotune.store.event_log import read_log
from aiotune.store.records import TrialAdded, TuningEnded
from aiotune.store.results_table import ResultsTable
from aiotune.trial import TrialStatus

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "crash_scripts" / "driver.py"
ROOT = HERE.parents[1]
SEED = 20261128
KILLED = -signal.SIGKILL
EPOCHS = 10  # of a local trial (driver.py --epochs default)


# ---- running the driver ------------------------------------------------------------------


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AIOTUNE_RESULTS"] = str(root)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _popen(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _run(root: Path, *args: str, timeout: float = 120.0) -> tuple[int, str]:
    """Run the driver to its end (or its self-inflicted SIGKILL); return code and stderr."""
    proc = _popen(root, *args)
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode(errors="replace")


def _logged_results(log: Path) -> int:
    try:
        return sum(isinstance(r, ResultEvent) for r in read_log(log).records)
    except Exception:  # not created yet, or only part of a header so far
        return 0


def _kill_when(
    proc: subprocess.Popen[bytes], log: Path, results: int, timeout: float = 60.0
) -> None:
    """SIGKILL ``proc`` once ``log`` holds ``results`` results (a test watching another process)."""
    deadline = time.monotonic() + timeout
    while _logged_results(log) < results:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the tuner ended before it was killed: {err[-2000:]}")
        assert time.monotonic() < deadline, "the tuner logged too few results in time"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stderr:
        proc.stderr.close()
    assert proc.returncode == KILLED


def _trial_processes(exp: Path) -> set[int]:
    """Pids of live processes whose environment names a trial folder of ``exp`` (own /proc scan)."""
    needle = f"AIOTUNE_CHECKPOINT_DIR={exp.resolve()}{os.sep}trials{os.sep}".encode()
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if needle in Path(f"/proc/{name}/environ").read_bytes():
                state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
                if state != b"Z":
                    found.add(int(name))
        except OSError:
            continue
    return found


def _beats(exp: Path) -> list[tuple[int, int, int, int]]:
    """Every trial's heartbeats ``(pid, trial_id, epoch, monotonic_ns)``."""
    out = []
    for path in (exp / "trials").glob("*/beats.txt"):
        tid = int(path.parent.name)
        for line in path.read_text().splitlines():
            pid, _attempt, epoch, t = (int(x) for x in line.split())
            out.append((pid, tid, epoch, t))
    return out


# ---- the invariants ----------------------------------------------------------------------


class Experiment:
    """One experiment folder, checked after each kill and at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.killed_logs: list[list[Any]] = []
        self.torn: list[int] = []

    def after_kill(self) -> list[Any]:
        """No half-written file; remember the log the killed run left."""
        contents = read_log(self.path / "events.log")  # a bad record before the tail raises
        self.torn.append(contents.torn_tail_bytes)
        records = list(contents.records)
        logged = sum(isinstance(r, ResultEvent) for r in records)
        tuner_json = self.path / "tuner.json"
        if tuner_json.exists():
            read_json(tuner_json, TunerState)  # raises LogCorruptError if half-written
        meta = self.path / "metadata.json"
        if meta.exists():
            assert json.loads(meta.read_text())["tuner_name"] == self.path.name
        csv_path = self.path / "results.csv"
        if csv_path.exists():
            rows = list(csv.reader(csv_path.read_text().splitlines()))
            assert rows and all(len(row) == len(rows[0]) for row in rows), "results.csv is torn"
            assert len(rows) - 1 <= logged, "results.csv shows a result the log does not hold"
        self.killed_logs.append(records)
        return records

    def final(self, min_completed: int) -> list[Any]:
        """Nothing lost, nothing duplicated, files whole, the run ended by its criterion."""
        contents = read_log(self.path / "events.log")
        assert contents.torn_tail_bytes == 0
        after = list(contents.records)
        for before in self.killed_logs:
            assert after[: len(before)] == before, "a killed run's log was lost or rewritten"
        keys = [(r.trial_id, r.attempt, r.seq) for r in after if isinstance(r, ResultEvent)]
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        assert not dupes, f"results logged twice: {dupes[:5]}"
        firsts = [r.trial_id for r in after if isinstance(r, TrialAdded) and r.attempt == 0]
        assert len(firsts) == len(set(firsts)), "a trial id was used twice"
        ends = [r for r in after if isinstance(r, TuningEnded)]
        assert len(ends) == 1 and ends[0].reason.startswith("stopping criterion"), ends
        assert after[-1] == ends[0]
        completed = {
            r.trial_id
            for r in after
            if isinstance(r, TrialEndedEvent) and r.status is TrialStatus.COMPLETED
        }
        assert len(completed) >= min_completed
        self._check_scheduler(after, completed)
        rows = (self.path / "results.csv").read_text().splitlines()
        assert len(rows) - 1 == len(keys)
        json.loads((self.path / "metadata.json").read_text())
        leftovers = [p.name for p in self.path.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, f"temp files left behind: {leftovers}"
        return after

    def _check_scheduler(self, records: list[Any], completed: set[int]) -> None:
        """G4: the scheduler of the final run saw each logged result once, as the loop fed it."""
        state = read_json(self.path / "tuner.json", TunerState).scheduler_state
        assert isinstance(state, dict)
        fed = [tuple(x) for x in state["fed"]]
        dupes = [k for k, n in Counter(fed).items() if n > 1]
        assert not dupes, f"results fed to the scheduler twice: {dupes[:5]}"
        # What the loop acted on, from a replay of the whole log (each key once).
        rep = LogReplay(TuningStatus(), ResultsTable(), time_origin(0.0, records))
        retried = retried_ends(records)
        expected = []
        for i, record in enumerate(records):
            if rep.apply(record, i in retried) == "result":
                expected.append((record.trial_id, record.attempt, float(record.metrics["epoch"])))
        assert len(expected) == len(set(expected))
        assert set(fed) <= set(expected), (
            f"fed but never logged: {sorted(set(fed) - set(expected))[:5]}"
        )
        missing = set(expected) - set(fed)
        assert not missing, f"logged, never fed to the scheduler: {sorted(missing)[:5]}"
        added = state["added"]
        assert sorted(added) == sorted(set(added)) == sorted(rep.trials), "a trial added twice"
        assert sorted(state["completed"]) == sorted(completed), "a completion fed twice or lost"


# ---- 1. SIGKILL at seeded random moments -------------------------------------------------


def _random_kills_sim(root: Path, name: str, seed: int, trials: int, kills: int) -> Experiment:
    """Kill a simulated run ``kills`` times at seeded random moments, resuming each time."""
    rng = random.Random(seed)
    exp = Experiment(root / name)
    plan: list[str] = []
    exp.plan = plan
    for _ in range(kills):
        if rng.random() < 0.7:
            plan.append(f"record:{rng.randint(20, 2500)}")  # right after a random append
        else:
            plan.append(f"timer:{rng.uniform(0.02, 0.3):.3f}")  # anywhere in the loop
    done = False
    for i, crash in enumerate(plan):
        args = ["sim", name, "--trials", str(trials)] if i == 0 else ["resume", str(exp.path)]
        code, err = _run(root, *args, "--crash", crash)
        if code == 0:
            done = True  # the run ended before its crash point
            break
        assert code == KILLED, f"{crash}: exit {code}\n{err[-3000:]}"
        exp.after_kill()
    if not done:
        code, err = _run(root, "resume", str(exp.path))
        assert code == 0, err[-3000:]
    exp.final(min_completed=trials)
    return exp


def test_sigkill_at_random_moments_simulator(results_root: Path) -> None:
    exp = _random_kills_sim(results_root, "rand", SEED, trials=500, kills=4)
    # Kills after the N-th append always land (the run has far more records than the
    # plan asks for); a timer kill may come after a fast machine finished the run.
    planned_records = sum(p.startswith("record:") for p in exp.plan)
    assert planned_records >= 2 and len(exp.killed_logs) >= planned_records, exp.plan


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_sigkill_at_random_moments_simulator_scaled(results_root: Path, seed: int) -> None:
    exp = _random_kills_sim(results_root, f"rand{seed}", SEED + seed, trials=1500, kills=8)
    assert len(exp.killed_logs) >= 5


def _random_kills_local(root: Path, name: str, seed: int, trials: int, kills: int) -> Experiment:
    """LocalBackend: kill after a seeded random number of new results, resume at once."""
    rng = random.Random(seed)
    exp = Experiment(root / name)
    log = exp.path / "events.log"
    killed_at: list[tuple[int, set[int]]] = []
    for i in range(kills):
        args = ["resume", str(exp.path)]
        if i == 0:
            args = ["local", name, "--trials", str(trials), "--sleep", "0.2"]
        proc = _popen(root, *args)
        _kill_when(proc, log, _logged_results(log) + rng.randint(3, 12))
        t_kill = time.monotonic_ns()
        exp.after_kill()
        killed_at.append((t_kill, _trial_processes(exp.path)))
    code, err = _run(root, "resume", str(exp.path))
    assert code == 0, err[-3000:]
    exp.final(min_completed=trials)
    assert not _trial_processes(exp.path), "an orphan trial process survived"
    _check_orphans_killed_first(exp.path, killed_at)
    return exp


def _check_orphans_killed_first(exp: Path, killed_at: list[tuple[int, set[int]]]) -> None:
    """No trial of a killed run beat after a trial of the run resumed from it started.

    At least one orphan must have been cut short after its tuner died (it beat
    after the kill but never reached its last epoch), or the test proves nothing.
    """
    beats = _beats(exp)
    bounds = [t for t, _ in killed_at[1:]] + [2**63]
    cut_short = 0
    for (t_kill, orphans), t_next in zip(killed_at, bounds, strict=True):
        last_orphan = max((t for pid, _, _, t in beats if pid in orphans), default=0)
        new = [t for pid, _, _, t in beats if pid not in orphans and t_kill < t < t_next]
        assert new, "the resumed run started no trial"
        assert last_orphan < min(new), "an orphan of the killed run ran on after new trials began"
        for pid in orphans:
            mine = [(epoch, t) for p, _, epoch, t in beats if p == pid]
            if mine and max(mine)[0] < EPOCHS and max(t for _, t in mine) > t_kill:
                cut_short += 1
    assert cut_short, "no orphan outlived its tuner until the resume: the test proves nothing"


def test_sigkill_at_random_moments_local_backend(results_root: Path, private_tmp: Path) -> None:
    _random_kills_local(results_root, "randlocal", SEED, trials=4, kills=3)


@pytest.mark.slow
def test_sigkill_at_random_moments_local_backend_scaled(
    results_root: Path, private_tmp: Path
) -> None:
    _random_kills_local(results_root, "randlocal5", SEED + 1, trials=12, kills=6)


# ---- 2. SIGKILL at each persistence point ------------------------------------------------

# (mode, crashes of the successive runs). A simulated run never yields to the tuner's
# periodic housekeeping, so the snapshots it rewrites mid-run are tested on LocalBackend.
POINTS = {
    "result appended": ("sim", ["result:700"]),
    "torn log append": ("sim", ["torn:700"]),
    "metadata.json written (resumed run)": ("sim", ["record:900", "metadata:1"]),
    "end of the run logged": ("sim", ["ended:1"]),
    "tuner.json written": ("local", ["tuner_json:12"]),
    "results.csv written": ("local", ["results_csv:12"]),
    "tuner.json temp file written, not renamed": ("local", ["tmp:12"]),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_at_each_persistence_point(
    results_root: Path, private_tmp: Path, point: str
) -> None:
    mode, crashes = POINTS[point]
    trials = 300 if mode == "sim" else 3
    exp = Experiment(results_root / "point")
    for i, crash in enumerate(crashes):
        args = [mode, "point", "--trials", str(trials)] if i == 0 else ["resume", str(exp.path)]
        code, err = _run(results_root, *args, "--crash", crash)
        assert code == KILLED, f"{crash}: exit {code}\n{err[-3000:]}"
        records = exp.after_kill()
        ended = any(isinstance(r, TuningEnded) for r in records)
        assert ended == crash.startswith("ended"), "killed too late" if ended else "too early"
    if point == "torn log append":
        assert exp.torn[-1] > 0, "the half-written frame should be on disk"
    if point.startswith("tuner.json temp"):
        assert any(p.name.endswith(".tmp") for p in exp.path.iterdir())
    code, err = _run(results_root, "resume", str(exp.path))
    assert code == 0, err[-3000:]
    if point == "torn log append":
        assert "torn tail" in err
    exp.final(min_completed=trials)
    if mode == "local":
        assert not _trial_processes(exp.path), "an orphan trial process survived"


def test_sigkill_right_after_the_first_metadata_write_is_a_clear_error(
    results_root: Path,
) -> None:
    """Killed before its first tuner.json: nothing ran, and resuming says why it cannot."""
    code, _ = _run(results_root, "sim", "early", "--crash", "metadata:1")
    assert code == KILLED
    exp = Experiment(results_root / "early")
    records = exp.after_kill()
    assert records == []  # nothing was started before tuner.json
    code, err = _run(results_root, "resume", str(exp.path))
    assert code != 0 and "tuner.json" in err


# ---- 3. a second tuner on a running experiment -------------------------------------------


def test_second_tuner_gets_locked_by_pid(results_root: Path, private_tmp: Path) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    first = _popen(results_root, "local", "busy", "--trials", "50", "--epochs", "10000")
    exp = results_root / "busy"
    try:
        deadline = time.monotonic() + 60
        while _logged_results(exp / "events.log") < 2:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        trials = _trial_processes(exp)
        assert trials
        meta = (exp / "metadata.json").read_bytes()
        backend = SimulatorBackend("synthetic-lc")
        second = Tuner(
            trial_backend=backend,
            scheduler=RandomSearch(backend.blackbox.config_space, "valid_error", random_seed=0),
            stop_criterion=StoppingCriterion(max_num_trials_completed=2),
            n_workers=1,
            tuner_name="busy",
            suffix_tuner_name=False,
            print_update_interval=3600.0,
        )
        with pytest.raises(ExperimentLockedError, match=f"locked by pid {first.pid}$"):
            second.run()
        with pytest.raises(ExperimentLockedError, match=f"locked by pid {first.pid}$"):
            Tuner.load(exp)
        cli = subprocess.run(
            [sys.executable, "-m", "aiotune.cli", "resume", str(exp)],
            env=_env(results_root),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode != 0 and f"locked by pid {first.pid}" in cli.stderr + cli.stdout
        # Nothing of the first run was touched: its trials live, its files are its own.
        assert trials <= _trial_processes(exp), "the second tuner killed the first's trials"
        assert (exp / "metadata.json").read_bytes() == meta
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 143
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stderr:
            first.stderr.close()
    records = read_log(exp / "events.log").records
    ended = [r for r in records if isinstance(r, TuningEnded)]
    assert len(ended) == 1 and ended[0].reason == "interrupted by SIGTERM"
    assert not _trial_processes(exp)


# ---- 4. kill, then resume at once (LocalBackend) -----------------------------------------


def test_kill_then_resume_at_once_kills_orphans_first(
    results_root: Path, private_tmp: Path
) -> None:
    exp = Experiment(results_root / "atonce")
    log = exp.path / "events.log"
    proc = _popen(results_root, "local", "atonce", "--trials", "2", "--sleep", "0.3")
    _kill_when(proc, log, 4)
    t_kill = time.monotonic_ns()
    before = exp.after_kill()  # a few ms of reading: the resume starts at once
    orphans = _trial_processes(exp.path)
    resumed = _popen(results_root, "resume", str(exp.path))
    try:
        _, err = resumed.communicate(timeout=120)
    finally:
        if resumed.poll() is None:
            resumed.kill()
            resumed.wait()
    assert resumed.returncode == 0, err.decode()[-3000:]
    assert orphans, "the killed tuner's trials should have outlived it"
    after = exp.final(min_completed=2)
    assert not _trial_processes(exp.path)
    _check_orphans_killed_first(exp.path, [(t_kill, orphans)])
    running = {r.trial_id for r in before if isinstance(r, TrialAdded)} - {
        r.trial_id for r in before if isinstance(r, TrialEndedEvent)
    }
    assert running
    for tid in running:  # interrupted, then restarted from its checkpoint as attempt 1
        ended = [r for r in after if isinstance(r, TrialEndedEvent) and r.trial_id == tid]
        assert ended[0].status is TrialStatus.FAILED and "interrupted" in ended[0].reason
        again = [
            r for r in after if isinstance(r, ResultEvent) and r.trial_id == tid and r.attempt == 1
        ]
        assert again and again[0].metrics["resumed_from"] > 1
