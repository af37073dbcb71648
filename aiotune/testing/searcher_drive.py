"""Drive a searcher by hand, ask/tell, for its tests: suggest, add, complete, repeat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..schedulers.searchers.base import Searcher
from ..trial import Trial

__all__ = ["drive_searcher"]


def drive_searcher(
    searcher: Searcher,
    objective: Callable[[dict[str, Any]], float],
    n: int,
    start: int = 0,
    metric: str = "y",
) -> list[dict[str, Any]]:
    """Run ``n`` trials one after another (ids ``start``...), each completed with
    ``{metric: objective(config)}``; the configs suggested, in order."""
    out = []
    for i in range(start, start + n):
        config = searcher.suggest()
        assert config is not None, f"{searcher!r} ran out of configs after {i - start}"
        trial = Trial(trial_id=i, config=config)
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, {metric: objective(config)})
        out.append(config)
    return out
