"""DEHB: differential evolution's operators, the bracket layout, selection, and runs."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers import DEHB, SyncHyperband
from aiotune.schedulers._differential_evolution import crossover, mutate
from aiotune.schedulers.dehb import DEHBState
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0), "epochs": 9}


def loss(config: dict[str, Any], epoch: int) -> float:
    """Best at x = y = 0.3; every epoch lowers it, the same for every config."""
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2 + 1.0 / epoch


# -- the operators ----------------------------------------------------------------------


def test_mutation_is_rand_1_and_redraws_what_leaves_the_cube() -> None:
    rng = np.random.default_rng(0)
    base, a, b = np.array([0.5, 0.9, 0.1]), np.array([0.6, 0.9, 0.0]), np.array([0.2, 0.1, 0.9])
    out = mutate(rng, base.copy(), a, b, 0.5)
    assert out[0] == pytest.approx(0.7)  # 0.5 + 0.5 * (0.6 - 0.2)
    # 0.9 + 0.4 = 1.3 and 0.1 - 0.45 = -0.35 left [0, 1]: redrawn inside it
    assert 0.0 <= out[1] <= 1.0 and out[1] != pytest.approx(1.3)
    assert 0.0 <= out[2] <= 1.0 and out[2] != pytest.approx(-0.35)


def test_crossover_takes_whole_hyperparameters_and_at_least_one_from_the_mutant() -> None:
    rng = np.random.default_rng(1)
    widths = [1, 3, 1]  # a categorical's one-hot block in the middle
    mutant, target = np.full(5, 0.7), np.zeros(5)
    for _ in range(200):
        child = crossover(rng, mutant, target, widths, 0.5)
        assert len(set(child[1:4])) == 1  # never split
        assert child.any()
    # probability 0: exactly one hyperparameter from the mutant
    for _ in range(50):
        child = crossover(rng, mutant, target, widths, 0.0)
        blocks = [child[0], child[1], child[4]]
        assert sum(v > 0 for v in blocks) == 1
    assert crossover(rng, mutant, target, widths, 1.0).tolist() == mutant.tolist()


# -- layout and arguments ---------------------------------------------------------------


def test_brackets_are_the_first_bracket_without_its_lowest_rungs() -> None:
    s = DEHB({"x": uniform(0.0, 1.0), "epochs": 27}, "loss", random_seed=0)
    assert s.layout == [
        [(27, 1), (9, 3), (3, 9), (1, 27)],
        [(9, 3), (3, 9), (1, 27)],
        [(3, 9), (1, 27)],
        [(1, 27)],
    ]
    assert DEHB({"x": uniform(0.0, 1.0), "epochs": 27}, "loss", brackets=2).layout == [
        [(27, 1), (9, 3), (3, 9), (1, 27)],
        [(9, 3), (3, 9), (1, 27)],
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mutation_factor": 1.5}, "mutation_factor"),
        ({"mutation_factor": "0.5"}, "mutation_factor"),
        ({"crossover_probability": -0.1}, "crossover_probability"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"grace_period": 10}, "grace_period"),
    ],
)
def test_invalid_arguments_name_themselves(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        DEHB(SPACE, "loss", **kwargs)


def test_a_space_without_hyperparameters_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="at least one hyperparameter"):
        DEHB({"epochs": 9}, "loss")


# -- the algorithm, step by step --------------------------------------------------------


class Driver:
    """One worker, in order: every job runs to its level, reporting each epoch."""

    def __init__(self, scheduler: Any, value: Any = loss) -> None:
        self.s, self.value = scheduler, value
        self.trials: dict[int, Trial] = {}
        self.epoch: dict[int, int] = {}
        self.log: list[tuple[str, int, int]] = []  # (start|resume, trial, epoch reached)
        self.decisions: list[Decision] = []  # how each job ended

    async def job(self) -> int:
        sug = await self.s.suggest()
        assert sug is not None
        if sug.resume_trial_id is not None:
            tid, kind = sug.resume_trial_id, "resume"
        else:
            tid, kind = len(self.trials), "start"
            self.trials[tid] = Trial(trial_id=tid, config=sug.config)
            self.epoch[tid] = 0
            await self.s.on_trial_add(self.trials[tid])
        trial = self.trials[tid]
        while True:
            self.epoch[tid] += 1
            result = {"epoch": self.epoch[tid], "loss": self.value(trial.config, self.epoch[tid])}
            decision = await self.s.on_result(trial, result)
            if decision is not Decision.CONTINUE or self.epoch[tid] >= self.s.max_t:
                break
        if decision is Decision.STOP:
            await self.s.on_trial_remove(trial)
        elif decision is Decision.CONTINUE:
            await self.s.on_trial_complete(trial, result)
        self.log.append((kind, tid, self.epoch[tid]))
        self.decisions.append(decision)
        return tid


@pytest.mark.asyncio
async def test_only_the_first_bracket_promotes_later_jobs_start_children_at_their_level() -> None:
    s = DEHB(SPACE, "loss", random_seed=0)  # levels 1, 3, 9; first bracket 9 + 3 + 1 jobs
    d = Driver(s)
    for _ in range(13):
        await d.job()
    assert [k for k, _, _ in d.log] == ["start"] * 9 + ["resume"] * 4
    assert d.decisions[:12] == [Decision.PAUSE] * 12  # bracket 0 waits to be promoted
    first = sorted(range(9), key=lambda t: loss(d.trials[t].config, 1))
    assert [t for _, t, _ in d.log[9:12]] == first[:3]  # the best 3 of rung 1, best first
    n = len(d.trials)
    for _ in range(60):
        await d.job()
    later = d.log[13:]
    assert all(kind == "start" for kind, _, _ in later)  # no promotion after bracket 0
    # a child stops at its job's level: 3 or 9 (bracket 1), 9 (bracket 2), ...
    assert {e for _, _, e in later} <= {1, 3, 9}
    assert all(
        dec is (Decision.CONTINUE if e == 9 else Decision.STOP)
        for (_, _, e), dec in zip(later, d.decisions[13:], strict=True)
    )
    assert any(e == 3 for _, _, e in later) and any(e == 9 for _, _, e in later)
    # bracket 1 (levels 3 and 9) began with random configs: no target at level 3 existed yet
    assert len(d.trials) == n + 60


@pytest.mark.asyncio
async def test_selection_keeps_the_better_of_child_and_target_in_the_slot() -> None:
    s = DEHB(SPACE, "loss", brackets=1, random_seed=3)  # every bracket: levels 1, 3, 9
    d = Driver(s)
    for _ in range(13):  # bracket 0: 9 at epoch 1, 3 resumed to 3, 1 resumed to 9
        await d.job()
    rung0 = s._brackets[0].done_rungs[0]
    targets = {i: (slot.trial_id, slot.value) for i, slot in enumerate(rung0)}
    for _ in range(9):  # bracket 1's first rung: children, each against its target
        await d.job()
    b1 = s._brackets[1]
    slots = b1.done_rungs[0] if b1.done_rungs else b1.slots
    kept_child = kept_target = 0
    for i, slot in enumerate(slots):
        target_id, target_value = targets[i]
        child = d.trials[9 + i]  # one worker: slot i's job was the i-th of the bracket
        child_value = loss(child.config, 1)
        if child_value < target_value:
            assert (slot.trial_id, slot.value) == (child.trial_id, pytest.approx(child_value))
            kept_child += 1
        else:
            assert (slot.trial_id, slot.value) == (target_id, target_value)
            kept_target += 1
    assert kept_child and kept_target  # both cases happened


@pytest.mark.asyncio
async def test_children_move_towards_the_optimum() -> None:
    """Selection and parents drawn from the best: the configs DE breeds in later
    iterations are closer to the optimum than the first bracket's random ones."""
    gaps = {"DEHB": [], "SyncHyperband": []}
    for seed in range(5):
        for name, cls in (("DEHB", DEHB), ("SyncHyperband", SyncHyperband)):
            d = Driver(cls(SPACE, "loss", random_seed=seed))
            for _ in range(400):
                await d.job()
            last = list(d.trials.values())[-60:]
            gaps[name].append(np.median([loss(t.config, 10**9) for t in last]))
    assert np.mean(gaps["DEHB"]) < 0.5 * np.mean(gaps["SyncHyperband"]), gaps


@pytest.mark.asyncio
async def test_children_snap_to_unused_rows_of_a_restricted_list() -> None:
    space = {"x": uniform(0.0, 1.0), "c": choice(["a", "b"]), "epochs": 9}
    rng = np.random.default_rng(0)
    rows = [{"x": float(v), "c": str(c), "epochs": 9}
            for v, c in zip(rng.random(150), rng.choice(["a", "b"], 150), strict=True)]
    s = DEHB(space, "loss", random_seed=0, searcher_kwargs={"restrict_configurations": rows})
    d = Driver(s, lambda c, e: (c["x"] - 0.3) ** 2 + (c["c"] == "b") + 1.0 / e)
    for _ in range(120):
        await d.job()
    started = [(t.config["x"], t.config["c"]) for t in d.trials.values()]
    assert len(started) == len(set(started))  # each row at most once
    assert set(started) <= {(r["x"], r["c"]) for r in rows}


@pytest.mark.asyncio
async def test_state_round_trip_continues_the_same_run() -> None:
    a = Driver(DEHB(SPACE, "loss", random_seed=4))
    for _ in range(70):
        await a.job()
    blob = msgspec.json.encode(a.s.state())
    other = DEHB(SPACE, "loss", random_seed=9)
    other.restore(msgspec.json.decode(blob))
    assert msgspec.json.encode(other.state()) == blob
    assert isinstance(other.state(), DEHBState)
    b = Driver(other)
    b.trials, b.epoch = dict(a.trials), dict(a.epoch)
    for _ in range(30):
        assert await a.job() == await b.job()
    assert [t.config for t in a.trials.values()] == [t.config for t in b.trials.values()]


def test_a_simulated_run_breeds_never_fails_and_resumes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    s = DEHB(bb.config_space, "valid_error", resource_attr="epoch", max_t=27, random_seed=0)
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), s, StoppingCriterion(max_num_trials_started=150),
        n_workers=4, tuner_name="dehb", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_started >= 150 and tuner.status.num_trials_failed == 0
    assert len(s._brackets) > 4  # past the first iteration: children were bred
    again = Tuner.load(tmp_path / "dehb", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=250))
    assert isinstance(again.scheduler, DEHB)
    assert msgspec.json.encode(again.scheduler.state()) == msgspec.json.encode(s.state())
    again.run()
    assert again.status.num_trials_started >= 250 and again.status.num_trials_failed == 0


class TestDEHBConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return DEHB(config_space, metric, mode=mode, max_t=9, random_seed=seed)
