"""Runs a tuner that hits RLIMIT_FSIZE on its event log after a few results (G5 fail-stop).

argv: the faulty.py path. Prints the pids of started trials to stdout as they start.
"""

from __future__ import annotations

import resource
import signal
import sys

from aiotune.backends.local import LocalBackend
from aiotune.events import Suggestion
from aiotune.schedulers.base import BaseScheduler
from aiotune.tuner import Tuner


class Forever(BaseScheduler):
    """Suggests the same slow config again and again."""

    async def suggest(self) -> Suggestion:
        return Suggestion.start({"mode": "ok", "n": 200, "period": 0.01})


class Limit:
    """After 10 results, caps file sizes just above the event log's current size."""

    def __init__(self) -> None:
        self.results = 0
        self.tuner: Tuner | None = None

    def on_tuning_start(self, tuner: Tuner) -> None:
        self.tuner = tuner

    def on_trial_start(self, trial: object) -> None:
        print("started", trial.trial_id, flush=True)  # type: ignore[attr-defined]

    def on_trial_result(self, *args: object) -> None:
        self.results += 1
        if self.results == 10:
            assert self.tuner is not None and self.tuner._run is not None
            size = self.tuner._run.log.size + 300
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            print("limited", flush=True)


signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by SIGXFSZ
tuner = Tuner(
    LocalBackend(sys.argv[1], stop_grace_period=1.0),
    Forever("loss"),
    lambda s: False,
    n_workers=2,
    tuner_name="fsize",
    suffix_tuner_name=False,
    results_update_interval=1000.0,
    print_update_interval=1000.0,
    callbacks=[Limit()],
)
tuner.run()
