"""Argument checks shared by the model-based searchers; each error names the argument."""

from __future__ import annotations

from ..._checks import check_number, check_positive_int

__all__ = ["check_number", "check_positive_int"]
