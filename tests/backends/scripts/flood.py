"""Reports --n results over the socket and prints --n [tune-metric] lines, flat out."""

from __future__ import annotations

import argparse
import json

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args, _ = parser.parse_known_args()
    reporter = Reporter()
    for i in range(args.n):
        reporter(i=i, via_socket=True)
        print(f"[tune-metric]: {json.dumps({'i': i, 'via_socket': False})}")


if __name__ == "__main__":
    main()
