"""Run, or resume, a tuner that may SIGKILL itself at a chosen moment (tuner-crash tests).

``driver.py MODE TARGET [--trials N] [--epochs E] [--sleep S] [--crash WHAT:N]``

MODE ``sim`` (SimulatorBackend, 4 workers), ``local`` (LocalBackend over
``stubborn_train.py``, 2 workers) or ``resume`` (``Tuner.load(TARGET).run()``);
TARGET is the tuner name (sim, local) or the experiment folder (resume).

``--crash`` is the test seam: this process SIGKILLs itself

* ``record:N``  right after the N-th event-log append of any record,
* ``result:N``  right after the N-th append of a ResultEvent,
* ``ended:N``   right after the N-th append of a TuningEnded (the run's end logged),
* ``torn:N``    in the middle of the N-th ResultEvent append (half a frame written),
* ``tuner_json:N`` / ``results_csv:N`` right after the N-th write of that snapshot,
* ``metadata:N`` right after the N-th metadata.json write,
* ``tmp:N``     between the temp-file write and the rename of the N-th tuner.json,
* ``timer:S``   S seconds (a float) after the run started, wherever it is.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from recording import RecordingSearch  # this folder is sys.path[0]

import aiotune.tuner as tuner_mod
from aiotune.events import ResultEvent
from aiotune.store import atomic
from aiotune.store.event_log import EventLog, encode_frames
from aiotune.store.records import TuningEnded

HERE = Path(__file__).resolve().parent


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install(what: str, arg: str) -> None:
    """Arm the crash ``what`` (see the module doc)."""
    if what == "timer":
        timer = threading.Timer(float(arg), _die)
        timer.daemon = True
        timer.start()
        return
    n = int(arg)
    count = [0]

    def hit() -> bool:
        count[0] += 1
        return count[0] == n

    if what in ("record", "result", "torn", "ended"):
        original = EventLog.append

        def append(self: EventLog, record: Any) -> None:
            kind = TuningEnded if what == "ended" else ResultEvent
            counted = what == "record" or isinstance(record, kind)
            if what == "torn" and counted and hit():
                frame = bytes(encode_frames([record]))
                os.write(self._fd, frame[: len(frame) // 2])
                _die()
            original(self, record)
            if what != "torn" and counted and hit():
                _die()

        EventLog.append = append  # type: ignore[method-assign]
    elif what in ("tuner_json", "results_csv"):
        name = "write_json_atomic_async" if what == "tuner_json" else "write_atomic_async"
        original_async = getattr(tuner_mod, name)

        async def write(path: Path, *args: Any, **kwargs: Any) -> None:
            await original_async(path, *args, **kwargs)
            if hit():
                _die()

        setattr(tuner_mod, name, write)
    elif what == "metadata":
        original_sync = tuner_mod.write_json_atomic

        def write_meta(path: Path, *args: Any, **kwargs: Any) -> None:
            original_sync(path, *args, **kwargs)
            if Path(path).name == "metadata.json" and hit():
                _die()

        tuner_mod.write_json_atomic = write_meta  # type: ignore[assignment]
    elif what == "tmp":
        real_replace = os.replace

        class _Os:
            """``os`` for aiotune.store.atomic, dying before the N-th tuner.json rename."""

            def __getattr__(self, attr: str) -> Any:
                return getattr(os, attr)

            @staticmethod
            def replace(src: Any, dst: Any) -> None:
                if Path(dst).name == "tuner.json" and hit():
                    _die()
                real_replace(src, dst)

        atomic.os = _Os()  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown crash {what!r}")


def build(mode: str, name: str, trials: int, epochs: int, sleep: float) -> Any:
    """A fresh tuner for MODE."""
    from aiotune.backends.local import LocalBackend
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.config_space import loguniform
    from aiotune.stopping import StoppingCriterion

    if mode == "sim":
        backend: Any = SimulatorBackend("synthetic-lc", seed=0)
        space = SyntheticLearningCurves().config_space
        scheduler = RecordingSearch(space, metric="valid_error", random_seed=1)
        n_workers = 4
    else:
        space = {"lr": loguniform(1e-4, 1.0), "epochs": epochs, "sleep": sleep}
        backend = LocalBackend(entry_point=HERE / "stubborn_train.py", stop_grace_period=1.0)
        scheduler = RecordingSearch(space, metric="loss", mode="min", random_seed=3)
        n_workers = 2
    return tuner_mod.Tuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_completed=trials),
        n_workers=n_workers,
        tuner_name=name,
        suffix_tuner_name=False,
        results_update_interval=0.05,
        print_update_interval=3600.0,
    )


def main() -> None:
    """Parse argv, arm the crash, run the tuner."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["sim", "local", "resume"])
    parser.add_argument("target")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10, help="of a local trial")
    parser.add_argument("--sleep", type=float, default=0.1, help="per epoch of a local trial")
    parser.add_argument("--crash", default="")
    args = parser.parse_args()
    if args.mode == "resume":
        tuner = tuner_mod.Tuner.load(args.target)
    else:
        tuner = build(args.mode, args.target, args.trials, args.epochs, args.sleep)
    if args.crash:
        what, _, arg = args.crash.partition(":")
        _install(what, arg)
    tuner.run()


if __name__ == "__main__":
    main()
