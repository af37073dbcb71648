"""ASHA: stopping and promotion decisions checked by hand and against numpy's quantile rule."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers.asha import ASHA, ASHAState
from aiotune.schedulers.bohb import BOHB
from aiotune.schedulers.searchers.base import Searcher
from aiotune.trial import Trial

C, S, P = Decision.CONTINUE, Decision.STOP, Decision.PAUSE
SPACE = {"x": uniform(0.0, 1.0), "epochs": 9}


def make(**kw: Any) -> ASHA:
    kw.setdefault("random_seed", 0)
    return ASHA(kw.pop("space", SPACE), kw.pop("metric", "loss"), **kw)


async def add(s: ASHA, tid: int) -> Trial:
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id is None
    trial = Trial(trial_id=tid, config=sug.config)
    await s.on_trial_add(trial)
    return trial


async def report(s: ASHA, trial: Trial, epoch: int, loss: float) -> Decision:
    return await s.on_result(trial, {"epoch": epoch, "loss": loss})


# -- stopping ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stopping_by_hand() -> None:
    s = make(max_t=9, reduction_factor=3)  # rungs [1, 3]
    assert s.levels == [1, 3]
    t = [await add(s, i) for i in range(6)]
    # rung 1 values and hand-computed cutoffs np.quantile(values, 1/3):
    assert await report(s, t[0], 1, 0.5) is C  # one value: no cutoff
    assert await report(s, t[1], 1, 0.7) is S  # [.5,.7] -> .5667
    assert await report(s, t[2], 1, 0.4) is C  # [.4,.5,.7] -> .4667
    assert await report(s, t[3], 1, 0.5) is C  # [.4,.5,.5,.7] -> .5 (ties continue)
    assert await report(s, t[4], 1, 0.6) is S  # [.4,.5,.5,.6,.7] -> .5
    # between rungs: no decisions
    assert await report(s, t[0], 2, 9.0) is C
    # rung 3
    assert await report(s, t[0], 3, 0.30) is C
    assert await report(s, t[2], 3, 0.35) is S  # [.30,.35] -> .3167
    assert await report(s, t[3], 2, 0.1) is C
    assert await report(s, t[3], 3, 0.2) is C  # [.2,.3,.35] -> .2667
    # reaching max_t: the trial ends on its own; beyond max_t it is stopped
    assert await report(s, t[0], 9, 0.1) is C
    assert await report(s, t[3], 10, 0.1) is S
    assert [len(r) for r in s.rung_table().rungs] == [5, 3]


@pytest.mark.asyncio
async def test_stopping_matches_numpy_rule_on_random_sequence() -> None:
    """Each decision at a rung equals: value <= np.quantile(values so far incl. it, 1/eta)."""
    rng = np.random.default_rng(3)
    for mode, eta in (("min", 3), ("max", 2), ("min", 4)):
        s = make(max_t=64, reduction_factor=eta, mode=mode, grace_period=2)
        seen: dict[int, list[float]] = {lvl: [] for lvl in s.levels}
        for tid in range(300):
            trial = await add(s, tid)
            for epoch in range(1, 65):
                value = float(rng.normal())
                d = await report(s, trial, epoch, value)
                if epoch in seen:
                    signed = value if mode == "min" else -value
                    seen[epoch].append(signed)
                    vals = seen[epoch]
                    expected = len(vals) < 2 or signed <= np.quantile(vals, 1 / eta)
                    assert d is (C if expected else S), (mode, tid, epoch)
                else:
                    assert d is C
                if d is S:
                    break


@pytest.mark.asyncio
async def test_mode_max() -> None:
    s = make(max_t=9, mode="max", metric="acc")
    a, b, c = [await add(s, i) for i in range(3)]
    assert await s.on_result(a, {"epoch": 1, "acc": 0.5}) is C
    assert await s.on_result(b, {"epoch": 1, "acc": 0.9}) is C  # better
    assert await s.on_result(c, {"epoch": 1, "acc": 0.1}) is S


@pytest.mark.asyncio
async def test_nan_is_never_good_and_never_a_cutoff() -> None:
    s = make(max_t=9)
    t = [await add(s, i) for i in range(5)]
    assert await report(s, t[0], 1, math.nan) is S  # even with no cutoff yet
    assert len(s.rung_table().rungs[0]) == 0
    assert await report(s, t[1], 1, 0.5) is C
    assert await report(s, t[2], 1, math.nan) is S
    assert await report(s, t[3], 1, math.inf) is S
    assert len(s.rung_table().rungs[0]) == 1
    assert await report(s, t[4], 1, 0.6) is S  # cutoff from [.5,.6] only
    # NaN between rungs: no decision; a report without the metric defers the rung
    s2 = make(max_t=9)
    u = await add(s2, 0)
    assert await report(s2, u, 1, 0.3) is C
    assert await report(s2, u, 2, math.nan) is C
    assert await s2.on_result(u, {"epoch": 3, "other": 1.0}) is C
    assert len(s2.rung_table().rungs[1]) == 0
    assert await report(s2, u, 4, 0.2) is C
    assert s2.rung_table().rungs[1].sorted_entries() == [(0, 0.2)]


@pytest.mark.asyncio
async def test_missing_time_attr_is_a_clear_error() -> None:
    s = make(max_t=9, time_attr="step")
    t = await add(s, 0)
    with pytest.raises(InvalidArgumentError, match=r"'step'.*\['epoch', 'loss'\]"):
        await report(s, t, 1, 0.5)
    with pytest.raises(InvalidArgumentError, match="finite number"):
        await s.on_result(t, {"step": math.nan, "loss": 0.5})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_t": 9, "grace_period": 10}, "grace_period"),
        ({"max_t": 9, "grace_period": 0}, "grace_period"),
        ({"max_t": 9, "reduction_factor": 1.5}, "reduction_factor"),
        ({"max_t": 9, "brackets": 0}, "brackets"),
        ({"max_t": 9, "type": "median"}, "type"),
        ({"max_t": 0}, "max_t"),
        ({"space": {"x": uniform(0, 1)}}, "max_t"),
        ({"max_resource_attr": "n_epochs"}, "n_epochs"),
        ({"max_t": 9, "searcher": "nope"}, "nope"),
        ({"max_t": 9, "metric": ""}, "metric"),
        ({"max_t": 9, "rung_reference": "random"}, "rung_reference"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        make(**kwargs)


def test_max_t_from_config_space() -> None:
    assert make().max_t == 9
    s = make(space={"x": uniform(0, 1), "n_epochs": 81}, max_resource_attr="n_epochs")
    assert s.max_t == 81 and s.levels == [1, 3, 9, 27]
    assert make(brackets=10).num_brackets == 3  # clamped to len(levels) + 1, as Syne Tune


# -- promotion --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_promotion_order_by_hand() -> None:
    s = make(max_t=9, type="promotion")  # rungs [1, 3]
    t = [await add(s, i) for i in range(3)]
    assert await report(s, t[0], 1, 0.3) is P
    assert await report(s, t[1], 1, 0.1) is P
    assert await report(s, t[2], 1, 0.2) is P
    # rung 1: [.1,.2,.3], cutoff .1667: trial 1 is promoted first
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id == 1
    # trial 2 (.2) is above the cutoff: a new trial instead
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id is None and sug.config is not None
    t.append(Trial(trial_id=3, config=sug.config))
    await s.on_trial_add(t[3])
    # the resumed trial continues from its checkpoint to rung 3 and pauses there
    assert await report(s, t[1], 2, 0.09) is C
    assert await report(s, t[1], 3, 0.08) is P
    assert await report(s, t[3], 1, 0.05) is P
    # rung 1 now [.05,.1,.2,.3] (cutoff .15): trial 3 is promotable; rung 3 has 1 value: not
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id == 3
    assert await report(s, t[3], 3, 0.07) is P
    # rung 3 [.07,.08] cutoff .0733: the top rung is served first -> trial 3 again
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id == 3
    assert await report(s, t[3], 9, 0.01) is C
    await s.on_trial_complete(t[3], {"epoch": 9, "loss": 0.01})
    # results after a pause are ignored until resumed
    assert await report(s, t[2], 2, 0.0) is C
    assert [len(r) for r in s.rung_table().rungs] == [4, 2]


@pytest.mark.asyncio
async def test_promotion_resume_from_scratch_is_not_recorded_twice() -> None:
    s = make(max_t=9, type="promotion")
    a, b = await add(s, 0), await add(s, 1)
    assert await report(s, a, 1, 0.1) is P
    assert await report(s, b, 1, 0.5) is P
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id == 0
    # no checkpoint: the script starts again at epoch 1; old ground is ignored
    assert await report(s, a, 1, 0.1) is C
    assert await report(s, a, 2, 0.1) is C
    assert await report(s, a, 3, 0.1) is P
    assert [len(r) for r in s.rung_table().rungs] == [2, 1]


@pytest.mark.asyncio
async def test_failed_or_removed_paused_trials_are_never_promoted() -> None:
    s = make(max_t=9, type="promotion")
    t = [await add(s, i) for i in range(3)]
    for trial, v in zip(t, (0.1, 0.2, 0.3), strict=True):
        assert await report(s, trial, 1, v) is P
    await s.on_trial_error(t[0])
    await s.on_trial_remove(t[1])
    sug = await s.suggest()
    assert sug is not None and sug.resume_trial_id is None  # trial 2 is above the cutoff


@pytest.mark.asyncio
async def test_promotion_nan_is_stopped_not_paused() -> None:
    s = make(max_t=9, type="promotion")
    a = await add(s, 0)
    assert await report(s, a, 1, math.nan) is S
    assert len(s.rung_table().rungs[0]) == 0


# -- determinism and state --------------------------------------------------------------


def curve(config: dict[str, Any], epoch: int, noise: float) -> float:
    """A learning curve: better x converges lower; a little noise."""
    x = float(config["x"])
    return x + (1.0 - x) / epoch + noise


async def drive(
    s: Any, n_trials: int, seed: int, start: dict[str, Any] | None = None, stop_at: int = 10**9
) -> tuple[list[Any], dict[str, Any]]:
    """Run a tiny deterministic 4-worker simulation; return the decision log and the env."""
    env = start or {
        "rng": np.random.default_rng(seed),
        "running": {},
        "epoch": {},
        "trials": {},
        "next": 0,
        "steps": 0,
    }
    rng, running, epoch, trials = env["rng"], env["running"], env["epoch"], env["trials"]
    log: list[Any] = []
    max_t = getattr(s, "max_t", None) or 27
    while env["steps"] < stop_at:
        while len(running) < 4:
            if env["next"] >= n_trials:
                break
            sug = await s.suggest()
            if sug is None:
                break
            if sug.resume_trial_id is not None:
                tid = sug.resume_trial_id
                trial = trials[tid]
                log.append(("resume", tid))
            else:
                tid = env["next"]
                env["next"] += 1
                trial = trials[tid] = Trial(trial_id=tid, config=sug.config)
                epoch[tid] = 0
                await s.on_trial_add(trial)
                log.append(("start", tid, msgspec.json.encode(sug.config)))
            running[tid] = trial
        if not running:
            break
        ids = sorted(running)
        tid = ids[int(rng.integers(len(ids)))]
        epoch[tid] += 1
        result = {
            "epoch": epoch[tid],
            "loss": curve(trials[tid].config, epoch[tid], 0.01 * float(rng.normal())),
        }
        d = await s.on_result(trials[tid], result)
        env["steps"] += 1
        log.append((tid, epoch[tid], d.value))
        if d is S:
            del running[tid]
            await s.on_trial_remove(trials[tid])
        elif d is P:
            del running[tid]
        elif epoch[tid] >= max_t:
            del running[tid]
            await s.on_trial_complete(trials[tid], result)
    return log, env


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["stopping", "promotion"])
@pytest.mark.parametrize("brackets", [1, 3])
async def test_replay_gives_identical_decisions(kind: str, brackets: int) -> None:
    space = {"x": uniform(0.0, 1.0), "c": choice(["a", "b"]), "epochs": 27}
    logs = []
    for _ in range(2):
        s = ASHA(space, "loss", type=kind, brackets=brackets, random_seed=11)
        log, _ = await drive(s, 60, seed=5)
        logs.append(log)
    assert logs[0] == logs[1]
    decisions = {e[2] for e in logs[0] if isinstance(e[0], int)}
    assert "continue" in decisions and ("stop" in decisions or "pause" in decisions)
    s3 = ASHA(space, "loss", type=kind, brackets=brackets, random_seed=12)
    assert (await drive(s3, 60, seed=5))[0] != logs[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["stopping", "promotion"])
async def test_state_round_trip_continues_identically(kind: str) -> None:
    space = {"x": uniform(0.0, 1.0), "epochs": 27}
    ref = ASHA(space, "loss", type=kind, brackets=2, random_seed=4)
    full, _ = await drive(ref, 50, seed=9)

    first = ASHA(space, "loss", type=kind, brackets=2, random_seed=4)
    head, env = await drive(first, 50, seed=9, stop_at=200)
    blob = msgspec.json.encode(first.state())
    second = ASHA(space, "loss", type=kind, brackets=2, random_seed=999)
    second.restore(msgspec.json.decode(blob, type=ASHAState))
    assert msgspec.json.encode(second.state()) == blob
    tail, _ = await drive(second, 50, seed=9, start=env)
    assert head + tail == full


# -- end to end: the real LocalBackend and a checkpointing script -------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pbt_checkpointing.py"


@pytest.mark.timeout(90)
def test_promotion_resumes_from_checkpoint_through_local_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial paused at epoch 3 resumes from its checkpoint: its next report is epoch 4."""
    from aiotune.backends.local import LocalBackend
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    space = {
        "lr": choice([0.001, 0.003, 0.01, 0.03]),
        "epochs": 9,
        "epoch_time": 0.25,
    }
    scheduler = ASHA(
        space,
        "loss",
        max_t=9,
        grace_period=3,
        reduction_factor=3,
        type="promotion",
        random_seed=1,
    )
    tuner = Tuner(
        LocalBackend(EXAMPLE),
        scheduler,
        StoppingCriterion(max_wallclock_time=80),
        n_workers=2,
        tuner_name="asha-promotion",
        suffix_tuner_name=False,
    )
    tuner.run()
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_trial: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        by_trial.setdefault(row["trial_id"], []).append(
            (int(float(row["epoch"])), int(float(row["resumed_from"])))
        )
    assert len(by_trial) == 4
    resumed = [t for t, reps in by_trial.items() if any(r == 3 for _, r in reps)]
    assert resumed, by_trial
    for t in resumed:
        reps = by_trial[t]
        first_after = next(i for i, (_, r) in enumerate(reps) if r == 3)
        assert reps[:first_after] == [(1, 0), (2, 0), (3, 0)], reps
        assert reps[first_after] == (4, 3), reps  # from the checkpoint, not from scratch
        assert all(e > 3 for e, r in reps[first_after:])
        assert tuner.trials[int(t)].attempt >= 1
    assert max(e for reps in by_trial.values() for e, _ in reps) == 9


# -- end to end: the Tuner on the simulator -----------------------------------------------


def _simulate(kind: str, n: int, tmp_path: Path, name: str) -> Any:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    scheduler = ASHA(
        bb.config_space, "valid_error", time_attr="epoch", max_t=27, type=kind, random_seed=0
    )
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"),
        scheduler,
        StoppingCriterion(max_num_trials_started=n),
        n_workers=4,
        tuner_name=name,
        suffix_tuner_name=False,
        print_update_interval=1e9,
    )
    tuner.run()
    return tuner


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_asha_through_tuner_on_simulator(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    tuner = _simulate(kind, 150, tmp_path, f"sim-{kind}")
    st = tuner.status
    assert st.num_trials_started >= 150
    full = [s for s in st.trials.values() if s.last_result and s.last_result["epoch"] == 27]
    # successive halving: only a small fraction of trials is trained to max_t
    assert 1 <= len(full) <= 0.25 * st.num_trials_started
    if kind == "stopping":
        assert st.num_trials_stopped >= 0.5 * st.num_trials_started
    else:
        assert any(t.attempt >= 1 for t in tuner.trials.values())
    # the trials that reached max_t are better than a typical trial at epoch 1
    best = st.best_trial()
    assert best is not None and best.last_result["epoch"] >= 9
    # deterministic end to end
    again = _simulate(kind, 150, tmp_path, f"sim-{kind}-2")
    assert again.best_config() == tuner.best_config()
    assert again.status.num_evaluations == st.num_evaluations


# -- what Tuner.load does: spec and state through JSON builtins ---------------------------


def _all_schedulers() -> list[Any]:
    from aiotune.schedulers.hyperband import Hyperband
    from aiotune.schedulers.median_stopping import MedianStoppingRule
    from aiotune.schedulers.pasha import PASHA
    from aiotune.schedulers.pbt import PopulationBasedTraining
    from aiotune.schedulers.sync_hyperband import SyncHyperband

    space = {"x": uniform(0.0, 1.0), "c": choice(["a", "b"]), "epochs": 27}
    return [
        ASHA(space, "loss", type="promotion", brackets=2, random_seed=3),
        Hyperband(space, "loss", random_seed=3),
        SyncHyperband(space, "loss", random_seed=3),
        MedianStoppingRule(space, "loss", random_seed=3),
        PASHA(space, "loss", random_seed=3),
        PopulationBasedTraining(space, "loss", population_size=3, perturbation_interval=2,
                                random_seed=3),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("index", range(6))
async def test_spec_and_state_survive_json_as_tuner_load_does(index: int) -> None:
    from aiotune._spec import from_spec, to_spec

    s = _all_schedulers()[index]
    await drive(s, 25, seed=1)
    spec = msgspec.json.decode(msgspec.json.encode(to_spec(s)))
    state = msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(s.state())))
    rebuilt = from_spec(msgspec.convert(spec, type=type(to_spec(s))))
    assert repr(rebuilt) == repr(s)
    rebuilt.restore(msgspec.convert(state, type(rebuilt.state())))
    assert msgspec.json.encode(rebuilt.state()) == msgspec.json.encode(s.state())
    a, b = await s.suggest(), await rebuilt.suggest()
    assert a == b


# -- the reference field: model-proposed trials against the prior-drawn field ------------


class PlantedModel(Searcher):
    """A model-based searcher for the tests: ``num_random`` random draws, then its pick."""

    uses_model = True

    def __init__(self, *args: Any, num_random: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_random = num_random

    def _suggest(self) -> dict[str, Any] | None:
        if self.num_suggested < self.num_random:
            return self.random_config()
        return {**self.constants, "x": 0.25}


@pytest.mark.asyncio
@pytest.mark.parametrize("reference", ["prior", "all"])
async def test_model_proposed_trials_meet_the_cutoff_of_the_prior_field(reference: str) -> None:
    searcher = PlantedModel(SPACE, "loss", random_seed=0)
    s = make(max_t=9, searcher=searcher, rung_reference=reference)
    drawn = [await add(s, i) for i in range(5)]
    assert not searcher.last_from_model
    for trial, value in zip(drawn, [0.5, 0.6, 0.7, 0.8, 0.9], strict=True):
        await report(s, trial, 1, value)
    proposed = [await add(s, i) for i in range(5, 10)]
    assert searcher.last_from_model
    for trial in proposed[:4]:
        assert await report(s, trial, 1, 0.1) is C
    # 0.55 is within the 1/3 quantile of the five drawn values (0.6333) but not within
    # that of all nine values so far plus its own (0.1): Syne Tune's rule stops it.
    decision = await report(s, proposed[4], 1, 0.55)
    assert decision is (C if reference == "prior" else S)
    assert s.rung_table().rungs[0].state().guided == [5, 6, 7, 8, 9]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["stopping", "promotion"])
async def test_rung_reference_changes_nothing_without_a_model(kind: str) -> None:
    space = {"x": uniform(0.0, 1.0), "c": choice(["a", "b"]), "epochs": 27}
    logs = []
    for reference in ("prior", "all"):
        s = ASHA(space, "loss", type=kind, brackets=3, random_seed=7, rung_reference=reference)
        logs.append((await drive(s, 80, seed=2))[0])
    assert logs[0] == logs[1]


@pytest.mark.asyncio
async def test_guided_trials_survive_the_state_round_trip() -> None:
    space = {"x": uniform(0.0, 1.0), "epochs": 27}

    def bohb(seed: int) -> BOHB:
        return BOHB(space, "loss", random_seed=seed, searcher_kwargs={"random_fraction": 0.5})

    full, _ = await drive(bohb(4), 60, seed=9)
    first = bohb(4)
    head, env = await drive(first, 60, seed=9, stop_at=250)
    state = first.state()
    flags = {rec.guided for _, rec in state.trials}
    assert flags == {True, False}  # both random draws and model proposals so far
    blob = msgspec.json.encode(state)
    second = bohb(999)
    second.restore(msgspec.json.decode(blob, type=ASHAState))
    assert msgspec.json.encode(second.state()) == blob
    tail, _ = await drive(second, 60, seed=9, start=env)
    assert head + tail == full
