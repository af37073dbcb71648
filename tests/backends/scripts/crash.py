"""Reports twice, complains on stderr, then exits with --code or kills itself with --signal."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=int, default=3)
    parser.add_argument("--signal", default="")
    args, _ = parser.parse_known_args()
    reporter = Reporter()
    reporter(epoch=1, loss=0.5)
    reporter(epoch=2, loss=0.25)
    for i in range(60):
        print(f"stderr line {i}", file=sys.stderr)
    print("something went wrong: boom", file=sys.stderr, flush=True)
    if args.signal:
        os.kill(os.getpid(), signal.Signals[args.signal])
    sys.exit(args.code)


if __name__ == "__main__":
    main()
