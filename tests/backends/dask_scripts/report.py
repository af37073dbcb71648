"""A Dask trial: report --n epochs every --interval s, then fail, block or end; pid to a file."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--fail", default="False")
    parser.add_argument("--block", default="False")
    parser.add_argument("--st_checkpoint_dir", default="")
    args, _ = parser.parse_known_args()
    if args.st_checkpoint_dir:
        folder = Path(args.st_checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pid").write_text(str(os.getpid()))
    reporter = Reporter()
    for epoch in range(1, args.n + 1):
        if args.interval:
            time.sleep(args.interval)
        try:
            reporter(epoch=epoch, loss=1.0 / epoch)
        except Exception:  # the tuner gave this attempt up and closed the connection
            pass
    print(f"reported {args.n}", file=sys.stderr, flush=True)
    if args.fail == "True":
        print("trial fails on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.block == "True":
        signal.pause()


if __name__ == "__main__":
    main()
