"""Module-level training functions for PythonBackend tests (imported by reference)."""

from __future__ import annotations

from aiotune import Reporter


def train_quadratic(lr: float, epochs: int) -> None:
    """Report a loss that is best at lr = 0.1."""
    report = Reporter()
    for epoch in range(1, epochs + 1):
        report(epoch=epoch, loss=(lr - 0.1) ** 2 + 1 / epoch)
