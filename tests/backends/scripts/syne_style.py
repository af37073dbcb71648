"""A Syne Tune style script: prints [tune-metric] lines itself (no aiotune import)."""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--st_checkpoint_dir", type=str)
    args = parser.parse_args()
    for epoch in range(1, args.n + 1):
        print("some log line", flush=True)
        print(f"[tune-metric]: {json.dumps({'epoch': epoch, 'acc': epoch / 10})}", flush=True)
    print("[tune-metric]: {not json}", flush=True)


if __name__ == "__main__":
    main()
