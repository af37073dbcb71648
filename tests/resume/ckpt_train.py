"""A training script that checkpoints its epoch and resumes from it (for the resume tests)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from aiotune.reporter import Reporter

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--st_checkpoint_dir", type=str, default="")
args, _ = parser.parse_known_args()
ckpt = Path(args.st_checkpoint_dir or os.environ.get("AIOTUNE_CHECKPOINT_DIR", ".")) / "ckpt.json"
start = json.loads(ckpt.read_text())["epoch"] + 1 if ckpt.exists() else 1
report = Reporter()
for epoch in range(start, args.epochs + 1):
    if args.sleep:
        time.sleep(args.sleep)
    report(epoch=epoch, loss=(args.lr - 0.1) ** 2 + 1 / epoch, resumed_from=start)
    tmp = ckpt.with_suffix(".tmp")
    tmp.write_text(json.dumps({"epoch": epoch}))
    os.replace(tmp, ckpt)
