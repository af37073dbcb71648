"""BLAS stays on one thread while the tuner runs, model fits included (aiotune._blas)."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pytest
import scipy.linalg  # noqa: F401 - loads SciPy's own OpenBLAS too
from threadpoolctl import threadpool_info, threadpool_limits

from aiotune import StoppingCriterion, Tuner
from aiotune._blas import one_blas_thread
from aiotune.backends import SimulatorBackend
from aiotune.blackbox import Branin
from aiotune.schedulers import BayesianOptimization


def blas_threads() -> list[int]:
    """The thread count of every loaded BLAS library."""
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads() -> Any:
    """Start from two threads, whatever the machine's default (else nothing is shown)."""
    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_threads()) == {2}
        yield


def test_held_inside_the_block_then_restored(two_blas_threads: None) -> None:
    with one_blas_thread():
        assert set(blas_threads()) == {1}
        with one_blas_thread():  # re-entrant: two tuners in one event loop
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}  # the outer holder is still inside
    assert set(blas_threads()) == {2}


def test_worker_threads_compute_on_one_thread_while_held(two_blas_threads: None) -> None:
    def fit() -> tuple[int, list[int], float]:
        a = np.random.default_rng(0).normal(size=(50, 50))
        return threading.get_ident(), blas_threads(), float(np.linalg.norm(a @ a.T))

    async def main() -> tuple[int, list[int], float]:
        with one_blas_thread():
            return await anyio.to_thread.run_sync(fit)

    ident, inside, _ = anyio.run(main)
    assert ident != threading.get_ident() and set(inside) == {1}
    assert set(blas_threads()) == {2}


class RecordingBO(BayesianOptimization):
    """BO that records the BLAS thread counts in its hooks and in its worker thread."""

    seen: list[int]

    async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
        self.seen = [*getattr(self, "seen", []), *blas_threads()]
        return await super().on_result(trial, result)

    async def suggest(self) -> Any:
        self.seen = [*getattr(self, "seen", []),
                     *(await anyio.to_thread.run_sync(blas_threads))]
        return await super().suggest()


def test_a_tuner_run_holds_one_blas_thread_and_gives_it_back(
    two_blas_threads: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = Branin()
    scheduler = RecordingBO(bb.config_space, metric=bb.metric, mode="min", random_seed=0)
    Tuner(SimulatorBackend(bb), scheduler, StoppingCriterion(max_num_trials_completed=12),
          n_workers=2, print_update_interval=1e9).run()
    assert scheduler.seen and set(scheduler.seen) == {1}
    assert set(blas_threads()) == {2}
