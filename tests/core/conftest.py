"""Fixtures for end-to-end tuner tests: a results root per test and small training scripts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TRAIN = """\
import argparse, os, sys, time
from aiotune import Reporter
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--fail_at", type=int, default=-1)
args, _ = p.parse_known_args()
report = Reporter()
for epoch in range(1, args.epochs + 1):
    if epoch == args.fail_at:
        print(f"boom at epoch {epoch} lr={args.lr}", file=sys.stderr)
        sys.exit(3)
    if args.sleep:
        time.sleep(args.sleep)
    report(epoch=epoch, loss=(args.lr - 0.1) ** 2 + 1 / epoch)
"""


@pytest.fixture(autouse=True)
def results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its experiments under its own tmp folder."""
    root = tmp_path / "results"
    monkeypatch.setenv("AIOTUNE_RESULTS", str(root))
    return root


@pytest.fixture
def train_script(tmp_path: Path) -> Path:
    """A training script like the README's, with knobs to sleep or fail."""
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(TRAIN))
    return path
