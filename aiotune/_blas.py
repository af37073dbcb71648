"""Hold the BLAS libraries to one thread while the tuner runs.

NumPy's and SciPy's OpenBLAS start as many threads as there are cores. A GP fit
in the tuner process (in a worker thread) then competes with the event loop, and
with the trials on the same machine, for every core, and on a tuner's small
matrices the extra threads mostly spin. On the 2-core VM a BO run of 30 trials
took 2.4-3.3 s instead of 1.2-1.3 s, the loop's longest tick grew from 20-30 ms
to 85-155 ms, and the suggest latency at 100-400 observations doubled or worse
(benchmarks/README.md). So the tuning loop holds BLAS to one thread for the whole
run (threadpoolctl): process-wide while held, the original limits back when the
last holder lets go. Holding it only around each think in the worker thread did
not recover the time, and OpenBLAS ignores a raise of its thread count from
another thread than the one that lowered it, so the holders are the loop threads.
"""

from __future__ import annotations

import threading
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

_lock = threading.Lock()
_holders = 0
_limiter: Any = None
_controller: ThreadpoolController | None = None


class one_blas_thread:  # noqa: N801 - a context manager used like a function
    """BLAS on one thread inside the block (re-entrant; nest it in one thread)."""

    def __enter__(self) -> None:
        global _holders, _limiter, _controller
        with _lock:
            if _holders == 0:
                if _controller is None:  # the libraries are loaded by now: NumPy, SciPy
                    _controller = ThreadpoolController()
                _limiter = _controller.limit(limits=1, user_api="blas")
            _holders += 1

    def __exit__(self, *exc: object) -> None:
        global _holders, _limiter
        with _lock:
            _holders -= 1
            if _holders == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
