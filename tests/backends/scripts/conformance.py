"""The standard trial of the BackendTestCase battery: report n epochs, then fail, block or end."""

from __future__ import annotations

import argparse
import signal
import sys

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--fail", default="False")
    parser.add_argument("--block", default="False")
    args, _ = parser.parse_known_args()
    reporter = Reporter()
    for epoch in range(1, args.n + 1):
        reporter(epoch=epoch, loss=1.0 / epoch)
    if args.fail == "True":
        print("conformance trial fails on purpose", file=sys.stderr)
        sys.exit(2)
    if args.block == "True":
        signal.pause()  # until the backend stops or pauses us


if __name__ == "__main__":
    main()
