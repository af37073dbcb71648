"""A checkpointing training script that outlives its tuner (for the tuner-crash tests).

Every epoch it appends ``pid attempt epoch monotonic_ns`` to ``beats.txt`` in
its trial folder (one ``write``), reports, and checkpoints its epoch. A report
that cannot be sent (its tuner is dead) is ignored, as a long training epoch
would not notice either: such a process is an orphan until a resumed tuner
kills it.
"""

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
args, _ = parser.parse_known_args()
ckpt_dir = Path(os.environ["AIOTUNE_CHECKPOINT_DIR"])
ckpt_dir.mkdir(parents=True, exist_ok=True)
ckpt = ckpt_dir / "ckpt.json"
beats = ckpt_dir.parent / "beats.txt"
attempt = int(os.environ.get("AIOTUNE_ATTEMPT", "0"))
start = json.loads(ckpt.read_text())["epoch"] + 1 if ckpt.exists() else 1
report = Reporter()
for epoch in range(start, args.epochs + 1):
    if args.sleep:
        time.sleep(args.sleep)
    line = f"{os.getpid()} {attempt} {epoch} {time.monotonic_ns()}\n".encode()
    fd = os.open(beats, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    try:
        report(epoch=epoch, loss=(args.lr - 0.1) ** 2 + 1 / epoch, resumed_from=start)
    except Exception:  # noqa: BLE001 - the tuner is gone (WireError): keep training, an orphan
        pass
    tmp = ckpt.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"epoch": epoch}))
    os.replace(tmp, ckpt)
