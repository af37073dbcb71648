"""A Dask trial that checkpoints each epoch and resumes from its checkpoint.

Reports ``epoch``, ``loss`` and ``resumed_from`` (the epoch it loaded, 0 for a fresh start).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--st_checkpoint_dir", default="")
    args, _ = parser.parse_known_args()
    checkpoint = Path(args.st_checkpoint_dir) / "checkpoint.json"
    start = json.loads(checkpoint.read_text())["epoch"] if checkpoint.is_file() else 0
    reporter = Reporter()
    for epoch in range(start + 1, args.epochs + 1):
        time.sleep(0.4)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text(json.dumps({"epoch": epoch}))  # first: a logged epoch is saved
        reporter(epoch=epoch, loss=abs(args.lr - 0.1) + 1.0 / epoch, resumed_from=start)


if __name__ == "__main__":
    main()
