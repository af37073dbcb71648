"""A small Gaussian-process stack on numpy/scipy for model-based searchers (private)."""
