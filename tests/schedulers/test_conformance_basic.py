"""RandomSearch, GridSearch and FIFOScheduler pass the scheduler conformance suite."""

from __future__ import annotations

from typing import Any

from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.fifo import FIFOScheduler
from aiotune.schedulers.grid_search import GridSearch
from aiotune.schedulers.random_search import RandomSearch
from aiotune.schedulers.searchers.base import SearcherState
from aiotune.schedulers.searchers.grid import GridSearcher
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.schedulers.sync_adapter import as_async_scheduler
from aiotune.testing.scheduler_case import SchedulerTestCase


class TestRandomSearchConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return RandomSearch(config_space, metric=metric, mode=mode, random_seed=seed)


class TestGridSearchConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return GridSearch(config_space, metric=metric, mode=mode, num_samples=2, random_seed=seed)


class TestShuffledGridSearchConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return GridSearch(
            config_space, metric=metric, mode=mode, num_samples=2, shuffle=True, random_seed=seed
        )


class TestFIFOSchedulerConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return FIFOScheduler(
            config_space,
            metric=[metric, "cost"],
            mode=[mode, "min"],
            searcher="random",
            random_seed=seed,
            points_to_evaluate=[{"a": 2}] if "a" in config_space else [{"x": 0.25}],
        )


class TestFIFOWithSearcherInstanceConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        searcher = GridSearcher(config_space, metric, mode, random_seed=seed, shuffle=True)
        return FIFOScheduler(config_space, metric=metric, mode=mode, searcher=searcher)


class PlainRandomScheduler:
    """A synchronous scheduler built on a searcher: the adapter must make it conform."""

    def __init__(self, config_space: dict[str, Any], metric: str, mode: str, seed: int) -> None:
        self.metric, self.mode = metric, mode
        self.searcher = RandomSearcher(config_space, metric, mode, random_seed=seed)

    def suggest(self) -> dict[str, Any] | None:
        return self.searcher.suggest()

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> str:
        return "continue"

    def state(self) -> SearcherState:
        return self.searcher.state()

    def restore(self, state: SearcherState) -> None:
        self.searcher.restore(state)


class TestSyncAdapterConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return as_async_scheduler(PlainRandomScheduler(config_space, metric, mode, seed))
