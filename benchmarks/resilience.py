"""Resilience at full size: floods, faults, kills, hostile frames, stops; the figures.

Runs the scenarios of RELIABILITY.md's test table (``tests/reliability/``) at
their full sizes with real subprocesses and sockets, and prints:

* flood: reports sent / logged / duplicated / missing, reports per second,
  the tuner's RSS growth (64 trials x 2,000 reports; 16 x 5,000);
* short trials: 1,000 trials of 2 reports through 2 workers (trials/s, leaks);
* fuzz: frames and connections rejected while a healthy trial reports 1,000;
* kills: trials SIGKILLed from outside while the tuner runs (kills survived);
* detection delays: ``trial_timeout`` and ``heartbeat_timeout`` (how long
  after the deadline the trial's FAILED end reaches the tuner);
* stops under load: results that arrived after a stop decision (logged).

The runtime of a run killed 5 times and resumed vs an uninterrupted one needs
``Tuner.load`` (see ``benchmarks/resume`` figures of the resume work).

Run: ``python benchmarks/resilience.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the trial scripts and helpers of tests/reliability

from aiotune.backends.local import LocalBackend  # noqa: E402
from aiotune.events import ResultEvent, TrialEndedEvent  # noqa: E402
from aiotune.store.event_log import read_log  # noqa: E402
from aiotune.store.experiment_dir import ExperimentDir  # noqa: E402
from aiotune.trial import Trial, TrialStatus  # noqa: E402
from aiotune.tuner import Tuner  # noqa: E402
from tests.reliability.conftest import (  # noqa: E402
    ListScheduler,
    open_fds,
    report_dirs,
    zombie_children,
)
from tests.reliability.test_bad_input import _hostile_clients  # noqa: E402

FAULTY = ROOT / "tests" / "reliability" / "scripts" / "faulty.py"


def rss_mib() -> float:
    """This process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tuner_for(configs: list[dict[str, Any]], n_workers: int, name: str, **kw: Any) -> Tuner:
    """A Tuner over ``FAULTY`` suggesting ``configs`` in order (or ``kw['scheduler']``)."""
    scheduler = kw.pop("scheduler", None) or ListScheduler(configs)
    backend = kw.pop("backend", None) or LocalBackend(FAULTY, stop_grace_period=2.0)
    return Tuner(backend, scheduler, lambda s: False, n_workers=n_workers, tuner_name=name,
                 suffix_tuner_name=False, print_update_interval=1e6,
                 results_update_interval=10.0, max_failures=10**6, **kw)


def log_counts(tuner: Tuner) -> dict[str, int]:
    """Results logged, distinct (trial, attempt, seq) keys, and gaps in the seq runs."""
    keys = [(r.trial_id, r.attempt, r.seq) for r in read_log(tuner.tuner_path / "events.log")
            .records if isinstance(r, ResultEvent)]
    per: dict[tuple[int, int], list[int]] = {}
    for tid, att, seq in keys:
        per.setdefault((tid, att), []).append(seq)
    gaps = sum(1 for seqs in per.values() if sorted(seqs) != list(range(len(seqs))))
    return {"logged": len(keys), "duplicated": len(keys) - len(set(keys)), "gaps": gaps}


def flood(trials: int, reports: int, workers: int) -> dict[str, Any]:
    """``trials`` x ``reports`` flat out; counts, rate, RSS growth, leaks."""
    tuner_for([{"mode": "ok", "n": 1}], 1, f"warm{trials}").run()
    fds, dirs, rss0 = open_fds(), report_dirs(), rss_mib()
    tuner = tuner_for([{"mode": "ok", "n": reports}] * trials, workers, f"flood{trials}")
    t0 = time.perf_counter()
    tuner.run()
    wall = time.perf_counter() - t0
    counts = log_counts(tuner)
    sent = trials * reports
    return {
        "scenario": f"flood {trials}x{reports} ({workers} workers)", "sent": sent, **counts,
        "missing": sent - counts["logged"] + counts["duplicated"], "wall_s": round(wall, 2),
        "reports_per_s": round(sent / wall), "rss_growth_mib": round(rss_mib() - rss0, 1),
        "fd_leak": open_fds() - fds, "zombies": len(zombie_children()),
        "socket_dirs_left": len(report_dirs() - dirs),
    }


def short_trials(trials: int) -> dict[str, Any]:
    """``trials`` trials of 2 reports through 2 workers."""
    fds, dirs = open_fds(), report_dirs()
    tuner = tuner_for([{"mode": "ok", "n": 2}] * trials, 2, f"short{trials}")
    t0 = time.perf_counter()
    tuner.run()
    wall = time.perf_counter() - t0
    counts = log_counts(tuner)
    return {
        "scenario": f"{trials} short trials, 2 workers", "sent": 2 * trials, **counts,
        "completed": tuner.status.num_trials_completed, "wall_s": round(wall, 2),
        "trials_per_s": round(trials / wall, 1), "fd_leak": open_fds() - fds,
        "zombies": len(zombie_children()), "socket_dirs_left": len(report_dirs() - dirs),
    }


async def _fuzz() -> dict[str, Any]:
    exp = ExperimentDir(Path(tempfile.mkdtemp()) / "fuzz")
    backend = LocalBackend(FAULTY)
    got: list[int] = []
    opened: list[int] = []
    async with backend.session(exp) as events:
        server = backend._session.server  # type: ignore[union-attr]
        server._frame_timeout = 0.5
        await backend.start_trial(Trial(trial_id=1, config={"mode": "stall", "k": 0}))
        env1 = server.register(1, 0)
        await backend.start_trial(Trial(trial_id=0, config={"mode": "ok", "n": 1000,
                                                             "period": 0.001}))
        env0 = server.register(0, 0)

        async def hostile() -> None:
            for seed in range(5):
                opened.append(await anyio.to_thread.run_sync(
                    _hostile_clients, env0["AIOTUNE_REPORT_ADDR"], env0["AIOTUNE_SECRET"],
                    env1["AIOTUNE_SECRET"], random.Random(seed)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(hostile)
            async for event in events:
                if isinstance(event, ResultEvent) and event.trial_id == 0:
                    got.append(event.seq)
                if isinstance(event, TrialEndedEvent) and event.trial_id == 0:
                    break
        await backend.stop_trial(1)
        stats = server.stats
    return {
        "scenario": "fuzz: 5 rounds of hostile connections vs 1 healthy trial",
        "healthy_sent": 1000, "healthy_logged": len(got),
        "healthy_in_order": got == list(range(1000)), "hostile_connections": sum(opened),
        "connections_rejected": stats.connections_rejected,
        "frames_rejected": stats.frames_rejected,
    }


def kills(trials: int, period: float) -> dict[str, Any]:
    """SIGKILL a random running trial's process group every ``period`` s while the run goes on."""
    holder: dict[str, Tuner] = {}
    killed: list[int] = []

    class Grab:
        def on_tuning_start(self, tuner: Tuner) -> None:
            holder["t"] = tuner

    async def main() -> None:
        tuner = tuner_for([{"mode": "ok", "n": 100, "period": 0.01}] * trials, 4, "kills",
                          callbacks=[Grab()])
        rng = random.Random(0)
        async with anyio.create_task_group() as tg:
            async def killer() -> None:
                while True:
                    await anyio.sleep(period)
                    session = tuner.trial_backend._session
                    if session is None or not session.attempts:
                        continue
                    att = rng.choice(list(session.attempts.values()))
                    if not att.exited.is_set():
                        os.killpg(att.pgid, signal.SIGKILL)
                        killed.append(att.trial_id)

            tg.start_soon(killer)
            await tuner.run_async()
            tg.cancel_scope.cancel()

    anyio.run(main)
    tuner = holder["t"]
    reasons = Counter(t.reason for t in tuner.status.trials.values()
                      if t.status is TrialStatus.FAILED)
    return {
        "scenario": f"SIGKILL a trial every {period}s, {trials} trials",
        "kills_sent": len(killed), "failed_by_sigkill": reasons.get("killed by signal SIGKILL", 0),
        "completed": tuner.status.num_trials_completed,
        "all_ended": tuner.status.num_trials_finished == trials, **log_counts(tuner),
        "zombies": len(zombie_children()),
    }


async def _delays(kind: str, limit: float, runs: int) -> dict[str, Any]:
    """Seconds from a trial's deadline to its FAILED end event, over ``runs`` trials."""
    exp = ExperimentDir(Path(tempfile.mkdtemp()) / kind)
    kwargs = {"trial_timeout": limit} if kind == "timeout" else {"heartbeat_timeout": limit}
    backend = LocalBackend(FAULTY, stop_grace_period=0.5, **kwargs)
    delays: list[float] = []
    async with backend.session(exp) as events:
        starts: dict[int, float] = {}
        last: dict[int, float] = {}
        for tid in range(runs):
            starts[tid] = last[tid] = anyio.current_time()
            await backend.start_trial(Trial(trial_id=tid, config={
                "mode": "hang", "k": 3, "period": 0.1, "ignore_term": 1}))
        ended = 0
        async for event in events:
            now = anyio.current_time()
            if isinstance(event, ResultEvent):
                last[event.trial_id] = now
            elif isinstance(event, TrialEndedEvent):
                base = starts if kind == "timeout" else last
                delays.append(now - base[event.trial_id] - limit)
                ended += 1
                if ended == runs:
                    break
    delays.sort()
    return {"scenario": f"{kind} detection ({limit}s, SIGTERM ignored, grace 0.5s)",
            "trials": runs, "delay_p50_s": round(delays[len(delays) // 2], 3),
            "delay_max_s": round(delays[-1], 3)}


def stops(trials: int) -> dict[str, Any]:
    """Each trial reports flat out and is stopped at its 51st result; late results are kept."""
    sched = ListScheduler([{"mode": "count", "n": 10**6}] * trials,
                          stop_if=lambda tid, r: r["i"] >= 50)
    tuner = tuner_for([], 3, "stops", scheduler=sched)
    tuner.run()
    sent = sum(int((tuner.tuner_path / f"trials/{t}/checkpoints/sent.0").read_text())
               for t in range(trials))
    counts = log_counts(tuner)
    run = tuner._run
    return {"scenario": f"stops under load, {trials} trials", "sent": sent, **counts,
            "missing": sent - counts["logged"],
            "late_results_logged": run.late_results if run else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("AIOTUNE_RESULTS", tempfile.mkdtemp(prefix="aiotune-resilience-"))
    # report sockets in a private temp folder, so other programs' folders are not counted
    tempfile.tempdir = tempfile.mkdtemp(prefix="rs-", dir="/tmp")
    q = args.quick
    rows = [
        flood(8, 500, 4) if q else flood(64, 2000, 8),
        flood(4, 1000, 4) if q else flood(16, 5000, 16),
        short_trials(40 if q else 1000),
        anyio.run(_fuzz),
        kills(12 if q else 60, 0.3),
        anyio.run(_delays, "timeout", 2.0, 4 if q else 16),
        anyio.run(_delays, "heartbeat", 1.0, 4 if q else 16),
        stops(6 if q else 48),
    ]
    print(f"# aiotune resilience, {platform.platform()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}")
    for row in rows:
        name = row.pop("scenario")
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in row.items()))
        row["scenario"] = name
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
