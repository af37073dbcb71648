"""Schedulers: async decision providers that choose configs and stop, pause or resume trials."""

from __future__ import annotations

from .asha import ASHA as ASHA
from .base import BaseScheduler as BaseScheduler
from .base import Scheduler as Scheduler
from .bayesian_optimization import BayesianOptimization as BayesianOptimization
from .bayesian_optimization import (
    ConstrainedBayesianOptimization as ConstrainedBayesianOptimization,
)
from .bohb import BOHB as BOHB
from .bore import ASHABORE as ASHABORE
from .bore import BORE as BORE
from .bounding_box import BoundingBox as BoundingBox
from .cqr import ASHACQR as ASHACQR
from .cqr import CQR as CQR
from .dehb import DEHB as DEHB
from .dyhpo import DyHPO as DyHPO
from .fifo import FIFOScheduler as FIFOScheduler
from .grid_search import GridSearch as GridSearch
from .hyperband import Hyperband as Hyperband
from .hypertune import HyperTune as HyperTune
from .median_stopping import MedianStoppingRule as MedianStoppingRule
from .mo_searchers import EHVI as EHVI
from .mo_searchers import MOREA as MOREA
from .mo_searchers import NSGA2 as NSGA2
from .mo_searchers import MOLinearScalarizationBayesOpt as MOLinearScalarizationBayesOpt
from .mo_searchers import MORandomScalarizationBayesOpt as MORandomScalarizationBayesOpt
from .moasha import MOASHA as MOASHA
from .mobster import MOBSTER as MOBSTER
from .pasha import PASHA as PASHA
from .pbt import PopulationBasedTraining as PopulationBasedTraining
from .random_search import RandomSearch as RandomSearch
from .rea_scheduler import REA as REA
from .rush import RUSH as RUSH
from .sync_adapter import SyncSchedulerAdapter as SyncSchedulerAdapter
from .sync_adapter import as_async_scheduler as as_async_scheduler
from .sync_hyperband import SyncHyperband as SyncHyperband
from .sync_model_based import SyncBOHB as SyncBOHB
from .sync_model_based import SyncMOBSTER as SyncMOBSTER
from .tpe import TPE as TPE
from .transfer_learning import ASHACTS as ASHACTS
from .transfer_learning import TransferLearningTaskEvaluations as TransferLearningTaskEvaluations
from .transfer_learning import ZeroShotTransfer as ZeroShotTransfer

__all__ = [
    "ASHA",
    "ASHABORE",
    "ASHACQR",
    "ASHACTS",
    "BOHB",
    "BORE",
    "CQR",
    "DEHB",
    "DyHPO",
    "EHVI",
    "MOASHA",
    "MOBSTER",
    "NSGA2",
    "MOLinearScalarizationBayesOpt",
    "MOREA",
    "MORandomScalarizationBayesOpt",
    "PASHA",
    "REA",
    "RUSH",
    "TPE",
    "BayesianOptimization",
    "BaseScheduler",
    "BoundingBox",
    "ConstrainedBayesianOptimization",
    "FIFOScheduler",
    "GridSearch",
    "HyperTune",
    "Hyperband",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "RandomSearch",
    "Scheduler",
    "SyncBOHB",
    "SyncHyperband",
    "SyncMOBSTER",
    "SyncSchedulerAdapter",
    "TransferLearningTaskEvaluations",
    "ZeroShotTransfer",
    "as_async_scheduler",
]
