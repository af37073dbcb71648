"""The demo's training script: parse hyperparameters, "train", report each epoch.

Run by hand it prints ``[tune-metric]: {...}`` lines instead of reporting to a tuner.
"""

from __future__ import annotations

import math
import time
from argparse import ArgumentParser

from aiotune.reporter import Reporter


def main() -> None:
    """Report a toy learning curve, best near lr = 0.1 and momentum = 0.9."""
    p = ArgumentParser()
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--epoch_time", type=float, default=0.05)
    args, _ = p.parse_known_args()
    report = Reporter()
    final = (math.log10(args.lr) + 1.0) ** 2 + (args.momentum - 0.9) ** 2 + 0.1
    speed = 32.0 / args.batch_size
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.epoch_time)
        report(epoch=epoch, loss=final + 2.0 * math.exp(-speed * epoch))


if __name__ == "__main__":
    main()
