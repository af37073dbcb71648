"""A tuning script whose tune function lives in ``__main__`` (loaded by path in the worker)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiotune.reporter import Reporter


def objective(n: int) -> None:
    """Reports n epochs."""
    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch)


async def _main(folder: str) -> None:
    from aiotune.backends.python import PythonBackend
    from aiotune.events import TrialEndedEvent
    from aiotune.store.experiment_dir import ExperimentDir
    from aiotune.trial import Trial

    backend = PythonBackend(objective, {"n": 3})
    seen = []
    async with backend.session(ExperimentDir(Path(folder))) as events:
        await backend.start_trial(Trial(trial_id=0, config={"n": 3}))
        async for event in events:
            seen.append(event)
            if isinstance(event, TrialEndedEvent):
                break
    print(json.dumps({"kinds": [type(e).__name__ for e in seen],
                      "status": str(seen[-1].status), "stderr": backend.stderr_tail(0)}))


if __name__ == "__main__":
    import anyio

    anyio.run(_main, sys.argv[1])
