"""Trains --epochs epochs, checkpointing each; resumes after the last checkpointed epoch.

With --block_at K, attempt 0 waits (to be paused) after reporting epoch K.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from aiotune.reporter import Reporter, checkpoint_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--block_at", type=int, default=0)
    args, _ = parser.parse_known_args()
    folder = checkpoint_dir()
    assert folder is not None
    state = Path(folder, "epoch.txt")
    start = int(state.read_text()) if state.exists() else 0
    reporter = Reporter()
    for epoch in range(start + 1, args.epochs + 1):
        state.write_text(str(epoch))
        reporter(epoch=epoch)
        if epoch == args.block_at and os.environ.get("AIOTUNE_ATTEMPT") == "0":
            while True:
                signal.pause()


if __name__ == "__main__":
    main()
