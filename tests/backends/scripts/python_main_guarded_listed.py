"""Like python_main_guarded.py, but ``__all__`` names the function, so the constructor's
conservative check lets it pass; the trial then explains why it cannot find it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["objective"]


async def _main(folder: str, function: object) -> None:
    from aiotune.backends.python import PythonBackend
    from aiotune.events import TrialEndedEvent
    from aiotune.store.experiment_dir import ExperimentDir
    from aiotune.trial import Trial

    backend = PythonBackend(function, {"x": 0.5})  # type: ignore[arg-type]
    async with backend.session(ExperimentDir(Path(folder))) as events:
        await backend.start_trial(Trial(trial_id=0, config={"x": 0.5}))
        async for event in events:
            if isinstance(event, TrialEndedEvent):
                break
    print(json.dumps({"status": str(event.status), "stderr": backend.stderr_tail(0)}))


if __name__ == "__main__":
    import anyio

    from aiotune.reporter import Reporter

    def objective(x: float) -> None:
        Reporter()(loss=x)

    anyio.run(_main, sys.argv[1], objective)
