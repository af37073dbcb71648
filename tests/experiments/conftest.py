"""Fixtures for the experiments tests: a results root per test and a small finished run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its experiments under its own tmp folder."""
    root = tmp_path / "results"
    monkeypatch.setenv("AIOTUNE_RESULTS", str(root))
    return root
