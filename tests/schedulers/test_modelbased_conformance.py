"""BayesianOptimization, TPE, REA, BOHB, MOBSTER, BORE and ASHABORE pass the conformance
suite."""

from __future__ import annotations

from typing import Any

from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.bayesian_optimization import BayesianOptimization
from aiotune.schedulers.bohb import BOHB
from aiotune.schedulers.bore import ASHABORE, BORE
from aiotune.schedulers.mobster import MOBSTER
from aiotune.schedulers.rea_scheduler import REA
from aiotune.schedulers.tpe import TPE
from aiotune.testing.scheduler_case import SchedulerTestCase


class TestBayesianOptimizationConformance(SchedulerTestCase):
    num_configs = 12

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return BayesianOptimization(config_space, metric, mode=mode, random_seed=seed,
                                    num_init_random=4,
                                    searcher_kwargs={"num_candidates": 300})


class TestTPEConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return TPE(config_space, metric, mode=mode, random_seed=seed)


class TestREAConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return REA(config_space, metric, mode=mode, random_seed=seed, population_size=5,
                   sample_size=3)


class TestBOHBConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return BOHB(config_space, metric, mode=mode, max_t=self.max_epochs, random_seed=seed,
                    searcher_kwargs={"num_min_data_points": 2})


class TestMOBSTERConformance(SchedulerTestCase):
    num_configs = 12

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return MOBSTER(config_space, metric, mode=mode, max_t=self.max_epochs, random_seed=seed,
                       searcher_kwargs={"num_init_random": 4, "num_candidates": 300})


class TestBOREConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return BORE(config_space, metric, mode=mode, random_seed=seed,
                    searcher_kwargs={"num_init_random": 4,
                                     "classifier_kwargs": {"n_estimators": 20}})


class TestASHABOREConformance(SchedulerTestCase):
    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return ASHABORE(config_space, metric, mode=mode, max_t=self.max_epochs,
                        random_seed=seed,
                        searcher_kwargs={"num_init_random": 4,
                                         "classifier_kwargs": {"n_estimators": 20}})
