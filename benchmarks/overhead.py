"""Orchestration overhead and report latency, side by side with the floor (no tuner).

(a) 40 runs of a trivial training script (3 reports, no sleep), 4 at a time,
    through aiotune's LocalBackend; (b) the same 40 runs as bare subprocesses
    4 at a time (``xargs -P4``: the floor, no tuner at all). Prints both walls
    and their ratio. Then report -> scheduler latency: 4 trials reporting every
    10 ms; the time from ``st_worker_timestamp`` (set by the trial's Reporter)
    to the scheduler's ``on_result``, p50/p99. Last, the same latency while the
    scheduler thinks: 12 trials of 0.5-1.5 s, 4 at a time, each suggestion after the
    first four taking ``--think`` seconds in a worker thread (a stand-in for a
    large model fit; the loop handles the other trials' reports meanwhile).

Run: ``python benchmarks/overhead.py [--repeats 3]``. Optionally
``--syne-tune-python PATH`` runs the same workload through Syne Tune's
LocalBackend with that interpreter (a venv with ``syne-tune`` installed).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio.to_thread

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import randint, uniform
from aiotune.schedulers import RandomSearch

TRIVIAL = """\
import argparse
from aiotune import Reporter
p = argparse.ArgumentParser(); p.add_argument("--x", type=float, default=0.0)
args, _ = p.parse_known_args()
report = Reporter()
for epoch in range(1, 4):
    report(epoch=epoch, loss=args.x / epoch)
"""

TICKING = """\
import argparse, time
from aiotune import Reporter
p = argparse.ArgumentParser(); p.add_argument("--x", type=float, default=0.0)
p.add_argument("--n", type=int, default=100)
args, _ = p.parse_known_args()
report = Reporter()
for epoch in range(1, args.n + 1):
    time.sleep(0.01)
    report(epoch=epoch, loss=args.x / epoch)
"""

SYNE_TUNE_DRIVER = """\
import sys, time
from syne_tune import Tuner, StoppingCriterion
from syne_tune.backend import LocalBackend
from syne_tune.config_space import uniform
from syne_tune.optimizer.baselines import RandomSearch
script, n, sleep_time = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    sched = RandomSearch({"x": uniform(0, 1)}, metrics=["loss"], do_minimize=True)
except TypeError:
    sched = RandomSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
t0 = time.perf_counter()
Tuner(trial_backend=LocalBackend(entry_point=script), scheduler=sched,
      stop_criterion=StoppingCriterion(max_num_trials_started=n - 1), n_workers=4,
      sleep_time=sleep_time).run()
print(time.perf_counter() - t0)
"""


class LimitedRandomSearch(RandomSearch):
    """Random search that stops suggesting after ``limit`` trials (exactly N trials run)."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit
        self.latencies: list[float] = []

    async def suggest(self):  # type: ignore[override]
        if self.limit <= 0:
            return None
        self.limit -= 1
        return await super().suggest()

    async def on_result(self, trial, result):  # type: ignore[override]
        self.latencies.append(time.time() - result["st_worker_timestamp"])
        return await super().on_result(trial, result)


class ThinkingRandomSearch(LimitedRandomSearch):
    """Limited random search whose suggestions after the first four take ``think``
    seconds in a worker thread; records which reports arrived during a think."""

    def __init__(self, *args: Any, think: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.think = think
        self.asked = 0
        self.thinking = False
        self.latencies_thinking: list[float] = []

    async def suggest(self):  # type: ignore[override]
        self.asked += 1
        if self.asked > 4 and self.limit > 0:
            self.thinking = True
            try:
                await anyio.to_thread.run_sync(time.sleep, self.think)
            finally:
                self.thinking = False
        return await super().suggest()

    async def on_result(self, trial, result):  # type: ignore[override]
        if self.thinking:
            self.latencies_thinking.append(time.time() - result["st_worker_timestamp"])
        return await super().on_result(trial, result)


def run_floor(script: Path, n: int, *, own_session: bool) -> float:
    """n bare runs, 4 at a time: ``seq n | xargs -P4 [setsid -w] python script --x {}``.

    ``own_session`` starts each run in its own session as LocalBackend does; with
    the kernel's autogroup scheduling a loaded machine then treats both alike.
    """
    setsid = "setsid -w " if own_session else ""
    t0 = time.perf_counter()
    subprocess.run(
        f"seq {n} | xargs -P4 -I{{}} {setsid}{sys.executable} {script} --x {{}} > /dev/null",
        shell=True,
        check=True,
    )
    return time.perf_counter() - t0


def run_aiotune(script: Path, n: int, results: Path) -> tuple[float, list[float]]:
    """The same runs through aiotune: Tuner + LocalBackend, 4 workers."""
    os.environ["AIOTUNE_RESULTS"] = str(results)
    scheduler = LimitedRandomSearch({"x": uniform(0.0, 1.0)}, metric="loss", limit=n)
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=script),
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(),
        n_workers=4,
        print_update_interval=3600,
    )
    t0 = time.perf_counter()
    tuner.run()
    wall = time.perf_counter() - t0
    if tuner.status.num_trials_completed != n:
        raise SystemExit(f"expected {n} completed trials, got {tuner.status}")
    return wall, scheduler.latencies


def run_syne_tune(python: str, script: Path, n: int, sleep_time: float) -> float:
    """Syne Tune's Tuner on the same script, in its own interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(SYNE_TUNE_DRIVER)
    # Outside an aiotune tuner the script's Reporter prints Syne Tune's metric lines.
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [python, f.name, str(script), str(n), str(sleep_time)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--syne-tune-python", default=None)
    parser.add_argument("--think", type=float, default=0.5)
    args = parser.parse_args()
    print(
        f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        trivial = tmpdir / "trivial.py"
        trivial.write_text(TRIVIAL)
        ticking = tmpdir / "ticking.py"
        ticking.write_text(TICKING)
        floors, session_floors, walls = [], [], []
        for r in range(args.repeats):  # interleaved so drift hits all alike
            floors.append(run_floor(trivial, args.trials, own_session=False))
            session_floors.append(run_floor(trivial, args.trials, own_session=True))
            walls.append(run_aiotune(trivial, args.trials, tmpdir / f"r{r}")[0])
        floor, session_floor = statistics.median(floors), statistics.median(session_floors)
        wall = statistics.median(walls)
        print(f"floor xargs -P4 ({args.trials} runs):     median {floor:.3f}s  {_fmt(floors)}")
        print(
            f"floor xargs -P4 setsid -w:        median {session_floor:.3f}s  {_fmt(session_floors)}"
        )
        print(f"aiotune LocalBackend, 4 workers:  median {wall:.3f}s  {_fmt(walls)}")
        print(
            f"ratio aiotune / floor: {wall / floor:.2f}x "
            f"(setsid floor: {wall / session_floor:.2f}x)"
        )
        if args.syne_tune_python:
            for sleep_time in (0.05, 5.0):
                st = run_syne_tune(args.syne_tune_python, trivial, args.trials, sleep_time)
                print(f"Syne Tune sleep_time={sleep_time}: {st:.3f}s = {st / wall:.1f}x aiotune")
        os.environ["AIOTUNE_RESULTS"] = str(tmpdir / "lat")
        sched = LimitedRandomSearch({"x": uniform(0.0, 1.0)}, metric="loss", limit=4)
        tuner = Tuner(
            LocalBackend(entry_point=ticking),
            sched,
            StoppingCriterion(),
            n_workers=4,
            print_update_interval=3600,
        )
        tuner.run()
        lat = [x * 1000 for x in sched.latencies]
        print(
            f"report -> scheduler latency over {len(lat)} reports (every 10 ms, 4 trials): "
            f"p50 {percentile(lat, 0.5):.2f} ms, p99 {percentile(lat, 0.99):.2f} ms, "
            f"max {max(lat):.2f} ms"
        )
        os.environ["AIOTUNE_RESULTS"] = str(tmpdir / "think")
        space = {"x": uniform(0.0, 1.0), "n": randint(50, 150)}
        thinker = ThinkingRandomSearch(space, metric="loss", limit=12, think=args.think)
        Tuner(
            LocalBackend(entry_point=ticking),
            thinker,
            StoppingCriterion(),
            n_workers=4,
            print_update_interval=3600,
        ).run()
        for label, values in (
            ("all reports", thinker.latencies),
            ("reports during a think", thinker.latencies_thinking),
        ):
            lat = [x * 1000 for x in values] or [float("nan")]
            print(
                f"while suggestions take {args.think} s in a thread, {label} "
                f"({len(values)}): p50 {percentile(lat, 0.5):.2f} ms, "
                f"p99 {percentile(lat, 0.99):.2f} ms, max {max(lat):.2f} ms"
            )


if __name__ == "__main__":
    main()
