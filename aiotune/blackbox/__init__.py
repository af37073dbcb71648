"""Blackboxes for simulated tuning: synthetic functions, learning curves, tables, surrogates."""

from __future__ import annotations

from .base import Blackbox as Blackbox
from .base import BlackboxBase as BlackboxBase
from .base import Fidelity as Fidelity
from .learning_curves import SyntheticLearningCurves as SyntheticLearningCurves
from .registry import blackbox_names as blackbox_names
from .registry import load as load
from .registry import load_npz as load_npz
from .surrogate import SurrogateBlackbox as SurrogateBlackbox
from .synthetic import Branin as Branin
from .synthetic import Hartmann3 as Hartmann3
from .synthetic import Hartmann6 as Hartmann6
from .tabular import TabularBlackbox as TabularBlackbox

__all__ = [
    "Blackbox",
    "BlackboxBase",
    "Branin",
    "Fidelity",
    "Hartmann3",
    "Hartmann6",
    "SurrogateBlackbox",
    "SyntheticLearningCurves",
    "TabularBlackbox",
    "blackbox_names",
    "load",
    "load_npz",
]
