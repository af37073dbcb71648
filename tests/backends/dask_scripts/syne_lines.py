"""A Syne Tune style Dask trial: --n ``[tune-metric]`` lines on stdout (no aiotune import)."""

from __future__ import annotations

import argparse
import json
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--st_checkpoint_dir", default="")
    args, _ = parser.parse_known_args()
    for epoch in range(1, args.n + 1):
        print(f"log line {epoch}")
        print(f"[tune-metric]: {json.dumps({'epoch': epoch, 'acc': epoch / 1000})}")
    print("[tune-metric]: {not json}")
    print('[tune-metric]: {"epoch": 0, "acc": NaN}')
    sys.stdout.write("no newline at the end")
    sys.stdout.flush()
    sys.exit(args.exit)


if __name__ == "__main__":
    main()
