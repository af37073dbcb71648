"""SimulatorBackend driven directly: event order, exact virtual times, stop/pause/resume, PBT."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.backends.base import TrialBackend
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.base import Fidelity
from aiotune.blackbox.synthetic import Branin
from aiotune.blackbox.tabular import TabularBlackbox
from aiotune.config_space import choice, randint
from aiotune.errors import InvalidArgumentError
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.testing.backend_case import BackendTestCase
from aiotune.trial import Trial, TrialStatus


def small_table() -> TabularBlackbox:
    """x in 1..4, epochs 1..3; each epoch costs x seconds; err = 1 / (x * epoch)."""
    xs = [1, 2, 3, 4]
    epochs = np.arange(1, 4)
    err = np.array([[1.0 / (x * epochs)] for x in xs])  # (4, 1 seed, 3)
    runtime = np.array([[x * epochs] for x in xs], dtype=float)
    values = np.stack([err, runtime], axis=-1)
    return TabularBlackbox(
        {"x": randint(1, 4)},
        {"x": xs},
        values,
        ["err", "runtime"],
        Fidelity("epoch", [1, 2, 3]),
        "runtime",
    )


class StandardTrial:
    """The conformance battery's standard trial as a blackbox: ``n`` results, then fail/block.

    ``block`` is a curve long enough that the battery stops or pauses the
    trial first (the stream is pull based); ``fail`` uses ``failure``.
    """

    BLOCK = 1000

    def __init__(self) -> None:
        self.config_space = {
            "n": randint(1, 100),
            "fail": choice([False, True]),
            "block": choice([False, True]),
        }
        self.fidelity_space = Fidelity("epoch", list(range(1, self.BLOCK + 1)))
        self.objectives = ["loss", "runtime"]
        self.runtime_name = "runtime"
        self.metric, self.mode = "loss", "min"

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
        n = self.BLOCK if config["block"] else config["n"]
        epochs = np.arange(1, n + 1, dtype=float)
        return {"loss": 1.0 / epochs, "runtime": epochs * 0.5}

    def evaluate(self, config: dict[str, Any], fidelity: Any = None, seed: int = 0) -> dict:
        curve = self.learning_curve(config, seed)
        return {k: float(v[-1]) for k, v in curve.items()}

    def failure(self, config: dict[str, Any], seed: int) -> str | None:
        return "exit code 2 (the standard trial's failure)" if config["fail"] else None


class TestSimulatorBackendConformance(BackendTestCase):
    """The whole BackendTestCase battery; resumed standard trials restart (no checkpoints)."""

    def make_backend(self, tmp_path: Any) -> SimulatorBackend:
        return SimulatorBackend(StandardTrial(), support_checkpointing=False)


@pytest.mark.asyncio
async def test_short_curves_and_failures() -> None:
    backend = SimulatorBackend(StandardTrial())
    async with backend.session(None) as events:
        await backend.start_trial(Trial(trial_id=0, config={"n": 2, "fail": True, "block": False}))
        got = await drain(events)
    assert [brief(e) for e in got] == [
        ("r", 0, 0, 0, 0.5, 1),
        ("r", 0, 0, 1, 1.0, 2),
        ("end", 0, 0, 1.0, "failed"),
    ]
    assert "exit code 2" in got[-1].reason


@pytest.mark.asyncio
async def test_without_checkpointing_resume_restarts() -> None:
    backend = SimulatorBackend(small_table(), support_checkpointing=False)
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 2))
        await events.__anext__()
        await events.__anext__()  # t=4, epoch 2
        await backend.pause_trial(0)
        await events.__anext__()
        await backend.resume_trial(trial(0, 2, attempt=1))
        await backend.start_trial(trial(1, 1), checkpoint_from=0)
        got = [brief(e) for e in await drain(events)]
    assert [g for g in got if g[1] == 0][:2] == [("r", 0, 1, 0, 6.0, 1), ("r", 0, 1, 1, 8.0, 2)]
    assert [g for g in got if g[1] == 1][0] == ("r", 1, 0, 0, 5.0, 1)


def trial(tid: int, x: int, attempt: int = 0) -> Trial:
    return Trial(trial_id=tid, config={"x": x}, attempt=attempt)


async def drain(events: Any) -> list[Any]:
    return [e async for e in events]


def brief(ev: Any) -> tuple[Any, ...]:
    if isinstance(ev, ResultEvent):
        return ("r", ev.trial_id, ev.attempt, ev.seq, ev.time, ev.metrics["epoch"])
    return ("end", ev.trial_id, ev.attempt, ev.time, ev.status.value)


def test_is_a_trial_backend() -> None:
    backend = SimulatorBackend(small_table())
    assert isinstance(backend, TrialBackend)
    assert backend.time_attr == "epoch"
    assert backend.clock.now() == 0.0


@pytest.mark.asyncio
async def test_four_trials_in_time_order() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        for tid, x in enumerate([4, 3, 2, 1]):
            await backend.start_trial(trial(tid, x))
        assert await backend.busy_trial_ids() == {0, 1, 2, 3}
        got = []
        async for ev in events:
            assert backend.clock.now() == ev.time
            got.append(ev)
    times = [e.time for e in got]
    assert times == sorted(times)
    assert times[-1] == 12.0 and backend.clock.now() == 12.0
    assert await backend.busy_trial_ids() == set()
    for tid, x in enumerate([4, 3, 2, 1]):
        mine = [e for e in got if e.trial_id == tid]
        results = [e for e in mine if isinstance(e, ResultEvent)]
        assert [e.seq for e in results] == [0, 1, 2]
        assert [e.time for e in results] == [x * 1.0, x * 2.0, x * 3.0]
        assert [e.metrics["epoch"] for e in results] == [1, 2, 3]
        assert [e.metrics["elapsed_time"] for e in results] == [x * 1.0, x * 2.0, x * 3.0]
        assert results[-1].metrics["err"] == pytest.approx(1 / (3 * x))
        assert isinstance(mine[-1], TrialEndedEvent)
        assert mine[-1].status is TrialStatus.COMPLETED and mine[-1].time == 3.0 * x
    # ties (t=4: trial 0 epoch 1, trial 2 epoch 2, ...) are broken by scheduling order
    assert [brief(e) for e in got[:4]] == [
        ("r", 3, 0, 0, 1.0, 1),
        ("r", 2, 0, 0, 2.0, 1),
        ("r", 3, 0, 1, 2.0, 2),
        ("r", 1, 0, 0, 3.0, 1),
    ]


@pytest.mark.asyncio
async def test_stop_drops_future_results() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 2))
        await backend.start_trial(trial(1, 1))
        first = await events.__anext__()
        assert brief(first) == ("r", 1, 0, 0, 1.0, 1)
        second = await events.__anext__()
        assert brief(second) == ("r", 0, 0, 0, 2.0, 1)
        await backend.stop_trial(0)
        await backend.stop_trial(0)  # a second request changes nothing
        assert 0 in await backend.busy_trial_ids()  # until its ended event is out
        rest = await drain(events)
    # trial 1's epoch 2 was scheduled for t=2 before the stop: it comes first
    assert [brief(e) for e in rest] == [
        ("r", 1, 0, 1, 2.0, 2),
        ("end", 0, 0, 2.0, "stopped"),
        ("r", 1, 0, 2, 3.0, 3),
        ("end", 1, 0, 3.0, "completed"),
    ]


@pytest.mark.asyncio
async def test_stop_after_last_result_still_completes() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 1))
        got = [await events.__anext__() for _ in range(3)]
        assert got[-1].metrics["epoch"] == 3
        await backend.stop_trial(0)
        rest = await drain(events)
    assert [brief(e) for e in rest] == [("end", 0, 0, 3.0, "completed")]


@pytest.mark.asyncio
async def test_pause_resume_accounts_time() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 2))  # epochs at 2, 4, 6
        assert brief(await events.__anext__()) == ("r", 0, 0, 0, 2.0, 1)
        assert brief(await events.__anext__()) == ("r", 0, 0, 1, 4.0, 2)
        await backend.pause_trial(0)
        assert brief(await events.__anext__()) == ("end", 0, 0, 4.0, "paused")
        await backend.start_trial(trial(1, 3))  # from t=4: 7, 10, 13
        assert brief(await events.__anext__()) == ("r", 1, 0, 0, 7.0, 1)
        await backend.resume_trial(trial(0, 2, attempt=1))  # epoch 3 costs 6-4=2 s: t=9
        ev = await events.__anext__()
        assert brief(ev) == ("r", 0, 1, 0, 9.0, 3)
        assert ev.metrics["elapsed_time"] == 6.0 and ev.metrics["err"] == pytest.approx(1 / 6)
        assert brief(await events.__anext__()) == ("end", 0, 1, 9.0, "completed")
        rest = await drain(events)
    assert [brief(e) for e in rest] == [
        ("r", 1, 0, 1, 10.0, 2),
        ("r", 1, 0, 2, 13.0, 3),
        ("end", 1, 0, 13.0, "completed"),
    ]


@pytest.mark.asyncio
async def test_resume_before_paused_event_is_pulled() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 1))
        await events.__anext__()
        await backend.pause_trial(0)
        await backend.resume_trial(trial(0, 1, attempt=1))
        got = [brief(e) for e in await drain(events)]
    assert got == [
        ("end", 0, 0, 1.0, "paused"),
        ("r", 0, 1, 0, 2.0, 2),
        ("r", 0, 1, 1, 3.0, 3),
        ("end", 0, 1, 3.0, "completed"),
    ]


@pytest.mark.asyncio
async def test_resume_of_unknown_trial_starts_over() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.resume_trial(trial(7, 1, attempt=3))  # paused by an earlier process
        got = [brief(e) for e in await drain(events)]
    assert got[0] == ("r", 7, 3, 0, 1.0, 1) and got[-1] == ("end", 7, 3, 3.0, "completed")


@pytest.mark.asyncio
async def test_resume_errors_when_not_paused() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None):
        await backend.start_trial(trial(0, 1))
        with pytest.raises(InvalidArgumentError, match="running, not paused"):
            await backend.resume_trial(trial(0, 1, attempt=1))
        with pytest.raises(InvalidArgumentError, match="already running"):
            await backend.start_trial(trial(0, 1))


@pytest.mark.asyncio
async def test_checkpoint_from_starts_at_donor_fidelity() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 2))
        await events.__anext__()
        await events.__anext__()  # donor at epoch 2, t=4, elapsed 4
        await backend.stop_trial(0)
        await events.__anext__()
        await backend.start_trial(trial(1, 3), checkpoint_from=0)
        rest = await drain(events)
        with pytest.raises(InvalidArgumentError, match="no such trial"):
            await backend.start_trial(trial(2, 3), checkpoint_from=99)
    assert [brief(e) for e in rest] == [("r", 1, 0, 0, 7.0, 3), ("end", 1, 0, 7.0, "completed")]
    assert rest[0].metrics["elapsed_time"] == 4.0 + 3.0
    assert rest[0].metrics["err"] == pytest.approx(1 / 9)


@pytest.mark.asyncio
async def test_config_outside_space_fails_the_trial() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(trial(0, 7))
        got = await drain(events)
    assert len(got) == 1 and got[0].status is TrialStatus.FAILED
    assert "'x'" in got[0].reason


@pytest.mark.asyncio
async def test_keys_outside_the_blackbox_space_are_ignored() -> None:
    backend = SimulatorBackend(small_table())
    async with backend.session(None) as events:
        await backend.start_trial(Trial(trial_id=0, config={"x": 2, "max_epochs": 3}))
        await backend.start_trial(Trial(trial_id=1, config={"y": 2}))
        got = await drain(events)
    ended = {e.trial_id: e for e in got if isinstance(e, TrialEndedEvent)}
    assert ended[0].status is TrialStatus.COMPLETED
    assert ended[1].status is TrialStatus.FAILED and "'x'" in ended[1].reason


@pytest.mark.asyncio
async def test_single_fidelity_and_max_resource() -> None:
    backend = SimulatorBackend(Branin(runtime=2.5))
    assert backend.time_attr is None
    async with backend.session(None) as events:
        await backend.start_trial(Trial(trial_id=0, config={"x1": 0.0, "x2": 1.0}))
        got = await drain(events)
    assert [type(e).__name__ for e in got] == ["ResultEvent", "TrialEndedEvent"]
    assert got[0].time == 2.5 and set(got[0].metrics) == {"value", "elapsed_time"}

    capped = SimulatorBackend(small_table(), max_resource=2)
    async with capped.session(None) as events:
        await capped.start_trial(trial(0, 1))
        got = await drain(events)
    assert [brief(e) for e in got][-2:] == [("r", 0, 0, 1, 2.0, 2), ("end", 0, 0, 2.0, "completed")]
    with pytest.raises(InvalidArgumentError, match="max_resource"):
        SimulatorBackend(small_table(), max_resource=0.5)


@pytest.mark.asyncio
async def test_same_seed_same_events_and_spec_round_trip() -> None:
    async def run(backend: SimulatorBackend) -> list[Any]:
        rng = np.random.default_rng(0)
        from aiotune.config_space import sample_config

        async with backend.session(None) as events:
            for tid in range(5):
                config = sample_config(backend.blackbox.config_space, rng)
                await backend.start_trial(Trial(trial_id=tid, config=config))
            return await drain(events)

    a = await run(SimulatorBackend("synthetic-lc", seed=3))
    b = await run(from_spec(to_spec(SimulatorBackend("synthetic-lc", seed=3))))
    c = await run(SimulatorBackend("synthetic-lc", seed=4))
    assert a == b
    assert a != c
    assert len(a) == 5 * 28


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown blackbox"):
        SimulatorBackend("no-such-benchmark")
    with pytest.raises(InvalidArgumentError, match="not a Blackbox"):
        SimulatorBackend(object())  # type: ignore[arg-type]


# ----------------------------------------------------------------- through the Tuner


def _tuner(tmp_path: Any, name: str, stop: Any, seed: int = 1, max_epochs: int = 9) -> Any:
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.tuner import Tuner

    bb = SyntheticLearningCurves(max_epochs=max_epochs)
    return Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=RandomSearch(bb.config_space, metric="valid_error", random_seed=seed),
        stop_criterion=stop,
        n_workers=4,
        tuner_name=name,
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )


def test_tuner_same_seeds_same_results_csv(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiotune.stopping import StoppingCriterion

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    stop = StoppingCriterion(max_num_trials_completed=40)
    runs = []
    for name in ("a", "b"):
        tuner = _tuner(tmp_path, name, stop)
        tuner.run()
        runs.append((tmp_path / name / "results.csv").read_bytes())
        assert tuner.status.num_trials_completed >= 40
    assert runs[0] == runs[1]
    other = _tuner(tmp_path, "c", stop, seed=2)
    other.run()
    assert (tmp_path / "c" / "results.csv").read_bytes() != runs[0]


def test_tuner_wallclock_budget_is_simulated_time(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from aiotune.stopping import StoppingCriterion

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    budget = 4 * 3600.0  # four simulated hours
    tuner = _tuner(tmp_path, "w", StoppingCriterion(max_wallclock_time=budget), max_epochs=27)
    t0 = time.perf_counter()
    tuner.run()
    real = time.perf_counter() - t0
    backend = tuner.trial_backend
    assert budget <= backend.clock.now() < budget + 600.0
    assert tuner.status.num_trials_completed > 100
    assert real < 5.0  # typically well under a second


def test_tuner_promotion_asha_pauses_and_resumes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv
    from collections import defaultdict

    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers.asha import ASHA
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=ASHA(bb.config_space, metric="valid_error", time_attr="epoch", max_t=9,
                       type="promotion", random_seed=0),
        stop_criterion=StoppingCriterion(max_wallclock_time=1800.0),
        n_workers=4,
        tuner_name="promo",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    tuner.run()
    with open(tmp_path / "promo" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_trial: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_trial[row["trial_id"]].append(row)
    resumed = 0
    for trial_rows in by_trial.values():
        epochs = [int(r["epoch"]) for r in trial_rows]
        assert epochs == list(range(1, len(epochs) + 1))  # continues where it paused
        elapsed = [float(r["elapsed_time"]) for r in trial_rows]
        assert elapsed == sorted(elapsed)
        times = [float(r["tuner_time"]) for r in trial_rows]
        assert times == sorted(times)
        resumed += len(epochs) > 1
    assert resumed >= 5 and max(len(v) for v in by_trial.values()) == 9
    assert tuner.status.num_trials_paused > 0


def test_shipped_table_is_saved_by_name() -> None:
    from aiotune._spec import NotSerializableError
    from aiotune.blackbox.registry import DATA_DIR, load

    if not (DATA_DIR / "sklearn-digits-mlp.npz").exists():
        pytest.skip("run benchmarks/make_tabular.py first")
    spec = to_spec(SimulatorBackend(load("sklearn-digits-mlp"), seed=1))
    assert spec.kwargs["blackbox"] == "sklearn-digits-mlp"
    assert from_spec(spec).blackbox.n_configs == load("sklearn-digits-mlp").n_configs
    with pytest.raises(NotSerializableError, match="TabularBlackbox"):
        to_spec(SimulatorBackend(small_table()))
