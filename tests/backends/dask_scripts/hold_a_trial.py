"""A tuner stand-in: one DaskBackend session running a trial that blocks, until it is killed.

Usage: hold_a_trial.py SCHEDULER_ADDRESS EXPERIMENT_DIR [HEARTBEAT_TIMEOUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from aiotune.backends.dask import DaskBackend
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.trial import Trial


async def main() -> None:
    backend = DaskBackend(
        Path(__file__).parent / "report.py",
        scheduler_address=sys.argv[1],
        heartbeat_timeout=float(sys.argv[3]) if len(sys.argv) > 3 else 0.5,
        stop_grace_period=1.0,
    )
    async with backend.session(ExperimentDir(Path(sys.argv[2]))) as events:
        await backend.start_trial(Trial(trial_id=0, config={"n": 1, "block": True}))
        async for event in events:
            print(type(event).__name__, flush=True)


if __name__ == "__main__":
    anyio.run(main, backend="asyncio")
