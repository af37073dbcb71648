"""A run SIGKILLed 5 times and resumed vs the same run uninterrupted: runtime ratio and losses.

Ray Tune's bar for this (a run killed and resumed from its experiment folder)
is 1.5x the uninterrupted runtime. Both workloads use the tuner driver of the
tuner-crash tests (``tests/reliability/crash_scripts/driver.py``), same seed:

* ``local``: LocalBackend, 2 workers, checkpointing trials of 10 epochs x
  ``--sleep`` seconds; the tuner subprocess is SIGKILLed from outside each time
  it logged another 1/(kills+3) of the uninterrupted run's results, and
  ``Tuner.load(path).run()`` is started at once in a new subprocess;
* ``sim``: SimulatorBackend (virtual clock), 4 workers; the tuner kills itself
  right after every sixth of the uninterrupted run's event-log records.

Printed per workload: wall time (first start to final end, every process
start included) of both, their ratio, the tuner's own elapsed time (virtual
for ``sim``), results logged by the killed runs and how many of them the final
log lost, duplicated ``(trial_id, attempt, seq)`` keys, results the scheduler
was fed twice or never (from ``RecordingSearch``'s saved state), orphan trial
processes left, trials restarted, and (local) epochs trained while the tuner
was dead and so never logged.

Usage: ``python benchmarks/resilience_resume.py [--trials 12] [--sim-trials 2000]
[--sleep 0.1] [--kills 5] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "reliability" / "crash_scripts" / "driver.py"
EPOCHS = 10
sys.path.insert(0, str(ROOT))

from aiotune._tuner_state import TunerState  # noqa: E402
from aiotune.events import ResultEvent, TrialEndedEvent  # noqa: E402
from aiotune.store.atomic import read_json  # noqa: E402
from aiotune.store.event_log import read_log  # noqa: E402
from aiotune.store.records import TrialAdded, TuningEnded  # noqa: E402


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


def _finish(proc: subprocess.Popen[bytes]) -> int:
    _, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise SystemExit(f"tuner failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return proc.returncode


def _records(exp: Path) -> list[Any]:
    try:
        return list(read_log(exp / "events.log").records)
    except Exception:  # not created yet
        return []


def _trial_processes(exp: Path) -> int:
    needle = f"AIOTUNE_CHECKPOINT_DIR={exp.resolve()}{os.sep}trials{os.sep}".encode()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += needle in Path(f"/proc/{name}/environ").read_bytes()
            except OSError:
                pass
    return n


def _summary(exp: Path, killed_logs: list[list[Any]], wall: float) -> dict[str, Any]:
    """Counts of the final experiment against the logs the killed runs left."""
    final = _records(exp)
    results = [r for r in final if isinstance(r, ResultEvent)]
    keys = Counter((r.trial_id, r.attempt, r.seq) for r in results)
    final_set = {(r.trial_id, r.attempt, r.seq, r.time) for r in results}
    killed_results = {
        (r.trial_id, r.attempt, r.seq, r.time)
        for log in killed_logs
        for r in log
        if isinstance(r, ResultEvent)
    }
    state = read_json(exp / "tuner.json", TunerState)
    fed = Counter(tuple(x) for x in state.scheduler_state["fed"])
    logged_fed = {(r.trial_id, r.attempt, float(r.metrics["epoch"])) for r in results}
    ends = [r for r in final if isinstance(r, TuningEnded)]
    epochs_seen: dict[int, set[int]] = {}
    for r in results:
        epochs_seen.setdefault(r.trial_id, set()).add(int(r.metrics["epoch"]))
    completed = {
        r.trial_id
        for r in final
        if isinstance(r, TrialEndedEvent) and r.status.value == "completed"
    }
    unlogged = sum(
        len(set(range(1, max(s) + 1)) - s) for tid, s in epochs_seen.items() if tid in completed
    )
    return {
        "wall_s": wall,
        "tuner_elapsed_s": state.elapsed_time,
        "kills": len(killed_logs),
        "results_logged": len(results),
        "logged_by_killed_runs": len(killed_results),
        "lost": len(killed_results - final_set),
        "duplicated_keys": sum(n - 1 for n in keys.values() if n > 1),
        "fed_twice": sum(n - 1 for n in fed.values() if n > 1),
        "fed_never_logged": len(set(fed) - logged_fed),
        "orphans_left": _trial_processes(exp),
        "restarted": sum(isinstance(r, TrialAdded) and r.attempt > 0 for r in final),
        "completed": len(completed),
        "unlogged_epochs": unlogged,
        "ended": ends[-1].reason if ends else "NOT ENDED",
    }


def run_local(
    root: Path, name: str, trials: int, sleep: float, kills: int, step: int = 0
) -> dict[str, Any]:
    """Uninterrupted (kills=0), or killed each time the run logged ``step`` new results.

    Each kill costs the unlogged epochs of the trials it interrupts, so ``step``
    is a fraction of the uninterrupted run's results small enough that every
    kill lands before the run ends.
    """
    exp = root / name
    args = ["local", name, "--trials", str(trials), "--epochs", str(EPOCHS), "--sleep", str(sleep)]
    killed: list[list[Any]] = []
    t0 = time.perf_counter()
    proc = _popen(root, *args)
    for _ in range(kills):
        target = sum(isinstance(r, ResultEvent) for r in _records(exp)) + step
        while sum(isinstance(r, ResultEvent) for r in _records(exp)) < target:
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed.append(_records(exp))
        proc = _popen(root, "resume", str(exp))  # at once
    _finish(proc)
    return _summary(exp, killed, time.perf_counter() - t0)


def run_sim(root: Path, name: str, trials: int, kills: int, total_records: int) -> dict[str, Any]:
    """Uninterrupted (kills=0) or killing itself after every ``total_records/(kills+1)`` records."""
    exp = root / name
    step = max(1, total_records // (kills + 1))
    killed: list[list[Any]] = []
    t0 = time.perf_counter()
    for k in range(kills + 1):
        args = ["sim", name, "--trials", str(trials)] if k == 0 else ["resume", str(exp)]
        if k < kills:
            args += ["--crash", f"record:{step}"]
        if _finish(_popen(root, *args)) == 0:
            break
        killed.append(_records(exp))
    return _summary(exp, killed, time.perf_counter() - t0)


def _show(title: str, base: dict[str, Any], hit: dict[str, Any]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k in base)
    print(f"{'':{width}}  {'uninterrupted':>14}  {'killed+resumed':>14}")
    for key in base:
        a, b = base[key], hit[key]
        fa = f"{a:.2f}" if isinstance(a, float) else str(a)
        fb = f"{b:.2f}" if isinstance(b, float) else str(b)
        print(f"{key:{width}}  {fa:>14}  {fb:>14}")
    print(
        f"ratio wall time (killed {hit['kills']}x / uninterrupted): "
        f"{hit['wall_s'] / base['wall_s']:.2f}x   (Ray Tune's bar: 1.5x)"
    )


def main() -> None:
    """Run both workloads, uninterrupted then killed, and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12, help="local: trials to complete")
    parser.add_argument("--sim-trials", type=int, default=2000)
    parser.add_argument("--sleep", type=float, default=0.1, help="local: seconds per epoch")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=["local", "sim"], default=None)
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.platform()}  "
        f"python {platform.python_version()}  cpus {os.cpu_count()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    try:
        for rep in range(args.repeat):
            if args.only in (None, "local"):
                base = run_local(tmp, f"local-base{rep}", args.trials, args.sleep, 0)
                step = base["results_logged"] // (args.kills + 3)
                hit = run_local(tmp, f"local-kill{rep}", args.trials, args.sleep, args.kills, step)
                _show(
                    f"LocalBackend, {args.trials} trials x {EPOCHS} epochs x {args.sleep}s, "
                    "2 workers",
                    base,
                    hit,
                )
            if args.only in (None, "sim"):
                base = run_sim(tmp, f"sim-base{rep}", args.sim_trials, 0, 0)
                total = len(_records(tmp / f"sim-base{rep}"))
                hit = run_sim(tmp, f"sim-kill{rep}", args.sim_trials, args.kills, total)
                _show(
                    f"SimulatorBackend synthetic-lc, {args.sim_trials} trials, 4 workers, "
                    f"{total} log records",
                    base,
                    hit,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
