"""Reports --n epochs through the aiotune Reporter, with a line on stdout and stderr each."""

from __future__ import annotations

import argparse
import sys

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    args, _ = parser.parse_known_args()
    reporter = Reporter()
    for epoch in range(1, args.n + 1):
        print(f"epoch {epoch}", flush=True)
        print(f"progress {epoch}", file=sys.stderr, flush=True)
        reporter(epoch=epoch, loss=args.lr / epoch)


if __name__ == "__main__":
    main()
