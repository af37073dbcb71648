"""Searchers: where new configurations come from (random, grid, model-based)."""

from __future__ import annotations

from .base import SEARCHERS as SEARCHERS
from .base import Searcher as Searcher
from .base import SearcherState as SearcherState
from .base import register_searcher as register_searcher
from .base import resolve_searcher as resolve_searcher
from .bayesopt import BayesOptSearcher as BayesOptSearcher
from .bore import BORESearcher as BORESearcher
from .constrained_bayesopt import ConstrainedBayesOptSearcher as ConstrainedBayesOptSearcher
from .cqr import CQRSearcher as CQRSearcher
from .cts import QuantileBasedSurrogateSearcher as QuantileBasedSurrogateSearcher
from .dyhpo import DyHPOSearcher as DyHPOSearcher
from .ehvi import EHVISearcher as EHVISearcher
from .grid import GridSearcher as GridSearcher
from .hypertune import HyperTuneSearcher as HyperTuneSearcher
from .kde import KernelDensitySearcher as KernelDensitySearcher
from .mo_bayesopt import LinearScalarizationSearcher as LinearScalarizationSearcher
from .mo_bayesopt import MOBayesOptSearcher as MOBayesOptSearcher
from .mo_rea import MOREASearcher as MOREASearcher
from .nsga2 import NSGA2Searcher as NSGA2Searcher
from .random import RandomSearcher as RandomSearcher
from .rea import REASearcher as REASearcher
from .tpe import TPESearcher as TPESearcher
from .zero_shot import ZeroShotSearcher as ZeroShotSearcher

__all__ = [
    "SEARCHERS",
    "BayesOptSearcher",
    "BORESearcher",
    "CQRSearcher",
    "DyHPOSearcher",
    "EHVISearcher",
    "ConstrainedBayesOptSearcher",
    "KernelDensitySearcher",
    "LinearScalarizationSearcher",
    "MOBayesOptSearcher",
    "MOREASearcher",
    "NSGA2Searcher",
    "QuantileBasedSurrogateSearcher",
    "REASearcher",
    "GridSearcher",
    "HyperTuneSearcher",
    "RandomSearcher",
    "Searcher",
    "SearcherState",
    "TPESearcher",
    "ZeroShotSearcher",
    "register_searcher",
    "resolve_searcher",
]
