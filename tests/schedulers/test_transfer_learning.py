"""Transfer learning from earlier tasks: the evaluations' checks, ZeroShotTransfer's greedy
portfolio, ASHACTS's copula Thompson sampling, BoundingBox's restricted space."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune import StoppingCriterion, Tuner
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox import SyntheticLearningCurves
from aiotune.config_space import (
    Float,
    Integer,
    choice,
    config_in_space,
    loguniform,
    ordinal,
    randint,
    sample_config,
    uniform,
)
from aiotune.errors import ConfigValueError, InvalidArgumentError
from aiotune.schedulers import (
    ASHACTS,
    BoundingBox,
    RandomSearch,
    TransferLearningTaskEvaluations,
    ZeroShotTransfer,
)
from aiotune.schedulers.bounding_box import bounding_box_space
from aiotune.schedulers.searchers import QuantileBasedSurrogateSearcher, ZeroShotSearcher
from aiotune.schedulers.searchers.cts import normalize_task_values
from aiotune.testing.scheduler_case import SchedulerTestCase

SPACE: dict[str, Any] = {"x": uniform(0.0, 1.0), "opt": choice(["a", "b"]), "epochs": 9}
ABCD = [{"x": 0.1, "opt": "a"}, {"x": 0.2, "opt": "a"}, {"x": 0.3, "opt": "b"},
        {"x": 0.4, "opt": "b"}]


def task(values: list[float], configs: list[dict[str, Any]] = ABCD,
         space: dict[str, Any] = SPACE) -> TransferLearningTaskEvaluations:
    return TransferLearningTaskEvaluations(space, configs, ["loss"], values)


def bowl_tasks(n: int = 300, centers: tuple[float, ...] = (0.28, 0.3, 0.33),
               seed: int = 0) -> dict[str, TransferLearningTaskEvaluations]:
    """Tasks whose loss is a bowl in x centred near 0.3, on different scales."""
    rng = np.random.default_rng(seed)
    space = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}
    out = {}
    for t, c in enumerate(centers):
        configs = [sample_config(space, rng) for _ in range(n)]
        values = [(t + 1) * ((cf["x"] - c) ** 2 + 0.01 * cf["y"]) for cf in configs]
        out[f"t{t}"] = TransferLearningTaskEvaluations(space, configs, ["loss"], values)
    return out


# -- the evaluations ---------------------------------------------------------------------


def test_evaluations_take_syne_tune_shapes_lists_and_dataframes() -> None:
    pd = pytest.importorskip("pandas")
    full = np.arange(4 * 2 * 3 * 1, dtype=float).reshape(4, 2, 3, 1)
    a = TransferLearningTaskEvaluations(SPACE, pd.DataFrame(ABCD), ["loss"], full)
    assert a.hyperparameters[0] == {"x": 0.1, "opt": "a", "epochs": 9}
    assert a.objective_values("loss").shape == (4, 2, 3)
    # mean over the seeds at the last fidelity
    assert a.final_values("loss").tolist() == [3.5, 9.5, 15.5, 21.5]
    assert a.final_values("loss", "max").tolist() == [-3.5, -9.5, -15.5, -21.5]
    assert a.best_values("loss").tolist() == [1.5, 7.5, 13.5, 19.5]  # the best fidelity
    assert a.best_values("loss", "max").tolist() == [-3.5, -9.5, -15.5, -21.5]
    b = task([1.0, math.nan, 3.0, 4.0])  # one objective: a flat list will do
    assert b.final_values("loss").tolist() == [1.0, math.inf, 3.0, 4.0]


def test_bad_evaluations_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="objectives_evaluations must be shaped"):
        TransferLearningTaskEvaluations(SPACE, ABCD, ["loss"], np.zeros((4, 2)))
    with pytest.raises(InvalidArgumentError, match="one config per row"):
        task([1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="objectives_names"):
        TransferLearningTaskEvaluations(SPACE, ABCD, [], [1.0] * 4)
    with pytest.raises(ConfigValueError, match=r"hyperparameters\[1\] lacks \['opt'\]"):
        task([1.0] * 4, [ABCD[0], {"x": 0.5}, ABCD[2], ABCD[3]])
    with pytest.raises(ConfigValueError, match=r"hyperparameters\[2\]"):
        task([1.0] * 4, [ABCD[0], ABCD[1], {"x": 7.0, "opt": "a"}, ABCD[3]])
    with pytest.raises(InvalidArgumentError, match="'loss'"):
        task([1.0] * 4).objective_values("acc")
    with pytest.raises(InvalidArgumentError, match="regressor"):
        ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations={"t": task([1.0] * 4)},
                         regressor="svm")
    with pytest.raises(InvalidArgumentError, match="non-empty dict"):
        ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations={})
    with pytest.raises(InvalidArgumentError, match=r"\['t'\] must be a Transfer"):
        ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations={"t": [1, 2]})
    with pytest.raises(InvalidArgumentError, match=r"\['t'\] has no values of 'acc'"):
        ZeroShotSearcher(SPACE, "acc", transfer_learning_evaluations={"t": task([1.0] * 4)})
    other = {"z": uniform(0, 1)}
    with pytest.raises(InvalidArgumentError, match=r"\['t'\] tunes \['z'\]"):
        ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations={
            "t": TransferLearningTaskEvaluations(other, [{"z": 0.5}], ["loss"], [1.0])})


# -- zero-shot transfer -------------------------------------------------------------------


def test_zero_shot_builds_the_greedy_portfolio_of_lowest_mean_rank() -> None:
    """Hand-checked: A has the best mean rank; then C, which is best where A is worst
    (the next best mean rank alone would be B); then the ranks start afresh: B, D."""
    tasks = {"t1": task([1, 2, 3, 4]), "t2": task([1, 2, 4, 3]), "t3": task([4, 3, 1, 2])}
    s = ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations=tasks)
    order = [s.suggest() for _ in range(4)]
    assert [c["x"] for c in order] == [0.1, 0.3, 0.2, 0.4]
    assert s.suggest() is None  # every configuration used: the run ends
    # Rows in another order are matched by value; mode="max" reverses every task.
    shuffled = {"t1": task([4, 3, 2, 1], ABCD[::-1]), "t2": task([1, 2, 4, 3]),
                "t3": task([4, 3, 1, 2])}
    s = ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations=shuffled)
    assert [s.suggest()["x"] for _ in range(4)] == [0.1, 0.3, 0.2, 0.4]
    s = ZeroShotSearcher(SPACE, "loss", mode="max", transfer_learning_evaluations=tasks)
    assert s.suggest()["x"] == 0.4  # mean rank of the largest values: D (1.33)


def test_zero_shot_needs_the_same_configurations_or_surrogates() -> None:
    tasks = {"t1": task([1, 2, 3, 4]), "t2": task([1, 2, 3], ABCD[:3])}
    with pytest.raises(InvalidArgumentError, match=r"\['t2'\] evaluated other configurations"):
        ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations=tasks)
    tasks = bowl_tasks()  # every task sampled its own configurations
    s = ZeroShotSearcher({"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}, "loss",
                         transfer_learning_evaluations=tasks, use_surrogates=True, random_seed=0)
    first = s.suggest()
    assert abs(first["x"] - 0.3) < 0.05, first  # the best of every task's surrogate


def test_zero_shot_points_to_evaluate_come_first_and_state_round_trips() -> None:
    tasks = {"t1": task([1, 2, 3, 4]), "t2": task([1, 2, 4, 3]), "t3": task([4, 3, 1, 2])}
    s = ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations=tasks,
                         points_to_evaluate=[ABCD[2]])
    assert s.suggest()["x"] == 0.3
    assert s.suggest()["x"] == 0.1
    blob = msgspec.json.encode(s.state())
    other = ZeroShotSearcher(SPACE, "loss", transfer_learning_evaluations=tasks,
                             points_to_evaluate=[ABCD[2]])
    other.restore(msgspec.json.decode(blob))
    rest = [s.suggest() for _ in range(3)]
    assert [c["x"] for c in rest[:2]] == [0.2, 0.4] and rest[2] is None  # C: not again
    assert [other.suggest() for _ in range(3)] == rest


# -- copula Thompson sampling ---------------------------------------------------------------


def test_gaussian_normalization_is_the_quantiles_of_a_standard_normal() -> None:
    z = normalize_task_values(np.array([10.0, 30.0, 20.0, 40.0]), "gaussian")
    assert np.all(np.diff(z[[0, 2, 1, 3]]) > 0)  # order kept
    assert z.sum() == pytest.approx(0.0) and z[3] == pytest.approx(0.8416, abs=1e-4)
    s = normalize_task_values(np.array([1.0, 3.0]), "standard")
    assert s.tolist() == [-1.0, 1.0]


def test_cts_samples_where_the_earlier_tasks_were_good() -> None:
    space = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}
    s = QuantileBasedSurrogateSearcher(space, "loss", random_seed=0,
                                       transfer_learning_evaluations=bowl_tasks(),
                                       num_candidates=20_000)
    got = [s.suggest() for _ in range(20)]
    assert np.median([abs(c["x"] - 0.3) for c in got]) < 0.06  # random: about 0.25
    assert len({c["x"] for c in got}) > 10  # Thompson samples differ
    assert s.last_from_model
    flipped = {k: TransferLearningTaskEvaluations(v.configuration_space, v.hyperparameters,
                                                  ["loss"], -v.objectives_evaluations)
               for k, v in bowl_tasks().items()}
    m = QuantileBasedSurrogateSearcher(space, "loss", mode="max", random_seed=0,
                                       transfer_learning_evaluations=flipped,
                                       num_candidates=20_000)
    assert np.median([abs(m.suggest()["x"] - 0.3) for _ in range(20)]) < 0.06


def test_cts_on_a_table_suggests_its_rows_once_each() -> None:
    space = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}
    rows = [{"x": i / 20, "y": 0.5} for i in range(20)]
    s = QuantileBasedSurrogateSearcher(space, "loss", random_seed=0, restrict_configurations=rows,
                                       transfer_learning_evaluations=bowl_tasks())
    got = [s.suggest() for _ in range(20)]
    assert sorted(c["x"] for c in got) == sorted(r["x"] for r in rows)
    assert abs(got[0]["x"] - 0.3) <= 0.1
    assert s.suggest() is None


def test_cts_bad_arguments_are_named() -> None:
    tasks = bowl_tasks(n=20)
    space = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}
    for kwargs, name in (({"normalization": "rank"}, "normalization"),
                         ({"regressor": "svm"}, "regressor"),
                         ({"num_candidates": 0}, "num_candidates")):
        with pytest.raises(InvalidArgumentError, match=name):
            QuantileBasedSurrogateSearcher(space, "loss", transfer_learning_evaluations=tasks,
                                           **kwargs)
    nan = {"t": TransferLearningTaskEvaluations(space, [{"x": 0.1, "y": 0.1}], ["loss"],
                                                [math.nan])}
    with pytest.raises(InvalidArgumentError, match="nothing to learn"):
        QuantileBasedSurrogateSearcher(space, "loss", transfer_learning_evaluations=nan)


# -- through the Tuner ------------------------------------------------------------------------


def lc_tasks(n: int = 150) -> dict[str, TransferLearningTaskEvaluations]:
    """Earlier members of the synthetic learning-curve family (shifted optima)."""
    rng = np.random.default_rng(1)
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    configs = [sample_config(bb.config_space, rng) for _ in range(n)]
    out = {}
    for seed in (11, 12, 13):
        other = SyntheticLearningCurves(max_epochs=9, seed=seed)
        curves = np.array([other.learning_curve(c)["valid_error"] for c in configs])
        out[f"lc{seed}"] = TransferLearningTaskEvaluations(
            other.config_space, configs, ["valid_error"], curves[:, None, :, None])
    return out


def simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheduler: Any,
              name: str, **criterion: Any) -> Tuner:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    tuner = Tuner(SimulatorBackend(bb, time_attr="epoch"), scheduler,
                  StoppingCriterion(**criterion), n_workers=4, tuner_name=name,
                  suffix_tuner_name=False, print_update_interval=1e9)
    tuner.run()
    return tuner


def test_ashacts_runs_stops_trials_and_reloads_from_its_saved_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    s = ASHACTS(bb.config_space, "valid_error", lc_tasks(), time_attr="epoch", max_t=9,
                random_seed=0, searcher_kwargs={"num_candidates": 5_000})
    tuner = simulated(tmp_path, monkeypatch, s, "cts", max_num_trials_started=30)
    assert tuner.status.num_trials_stopped > 0  # ASHA's rungs at work
    again = Tuner.load(tmp_path / "cts", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=40))
    assert isinstance(again.scheduler, ASHACTS)  # rebuilt from tuner.json, evaluations too
    again.run()
    assert again.status.num_trials_started > 40 and again.status.num_trials_failed == 0


def test_zero_shot_transfer_runs_the_portfolio_then_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    tasks = lc_tasks(n=12)
    s = ZeroShotTransfer(bb.config_space, tasks, "valid_error",
                         sort_transfer_learning_evaluations=False)  # Syne Tune's signature
    tuner = simulated(tmp_path, monkeypatch, s, "zs")
    assert tuner.status.num_trials_completed == 12
    assert "exhausted" in (tuner.stop_reason or "")


# -- bounding box ---------------------------------------------------------------------------------


def test_bounding_box_space_is_the_box_around_each_tasks_best() -> None:
    space = {"lr": loguniform(1e-4, 1.0), "n": randint(1, 100), "act": choice(["relu", "tanh",
             "gelu"]), "size": ordinal([8, 16, 32, 64]), "drop": uniform(0.0, 0.5), "epochs": 9}
    rows = [
        {"lr": 1e-3, "n": 10, "act": "relu", "size": 16, "drop": 0.1},
        {"lr": 1e-2, "n": 50, "act": "gelu", "size": 64, "drop": 0.1},
        {"lr": 0.5, "n": 99, "act": "tanh", "size": 8, "drop": 0.4},
    ]
    tasks = {"a": TransferLearningTaskEvaluations(space, rows, ["loss"], [0.1, 0.5, 0.9]),
             "b": TransferLearningTaskEvaluations(space, rows, ["loss"], [0.5, 0.2, 0.9])}
    box = bounding_box_space(space, tasks, "loss")
    assert isinstance(box["lr"], Float) and box["lr"].log
    assert (box["lr"].lower, box["lr"].upper) == (1e-3, 1e-2)
    assert isinstance(box["n"], Integer) and (box["n"].lower, box["n"].upper) == (10, 50)
    assert box["act"].categories == ["relu", "gelu"]
    assert box["size"].categories == [16, 32, 64]
    assert box["drop"] == 0.1  # both agree: a constant
    assert box["epochs"] == 9
    wider = bounding_box_space(space, tasks, "loss", num_hyperparameters_per_task=2)
    assert wider["drop"] == 0.1 and wider["act"].categories == ["relu", "gelu"]
    maxed = bounding_box_space(space, tasks, "loss", mode="max")
    assert maxed["lr"] == 0.5 and maxed["act"] == "tanh"
    # A config's value is its best over the fidelities: row 0 peaked early, then got worse.
    curves = {"a": TransferLearningTaskEvaluations(space, rows[:2], ["loss"],
                                                   [[[[0.1], [0.9]]], [[[0.5], [0.5]]]])}
    assert bounding_box_space(space, curves, "loss")["lr"] == 1e-3
    # An earlier task that searched a wider range: the box stays inside this space.
    narrow = {**space, "lr": loguniform(5e-3, 1.0), "n": randint(20, 100)}
    clipped = bounding_box_space(narrow, tasks, "loss")
    assert (clipped["lr"].lower, clipped["lr"].upper) == (5e-3, 1e-2)
    assert (clipped["n"].lower, clipped["n"].upper) == (20, 50)


def test_bounding_box_runs_any_scheduler_inside_the_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    tasks = lc_tasks()
    box = bounding_box_space(bb.config_space, tasks, "valid_error", num_hyperparameters_per_task=3)
    s = BoundingBox(lambda space, mode, metric: RandomSearch(space, metric, mode=mode,
                                                            random_seed=0),
                    bb.config_space, "valid_error", tasks, num_hyperparameters_per_task=3)
    tuner = simulated(tmp_path, monkeypatch, s, "box", max_num_trials_started=20)
    lr = box["learning_rate"]
    assert all(lr.lower <= t.config["learning_rate"] <= lr.upper
               for t in tuner.trials.values())
    with pytest.raises(InvalidArgumentError, match="scheduler_fun"):
        BoundingBox("RandomSearch", bb.config_space, "valid_error", tasks)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="num_hyperparameters_per_task"):
        bounding_box_space(bb.config_space, tasks, "valid_error", num_hyperparameters_per_task=0)

    class SyneTuneStyle:  # plain methods: wrapped
        metric, mode = "valid_error", "min"

        def __init__(self, space: dict[str, Any]) -> None:
            self.space, self.rng = space, np.random.default_rng(0)

        def suggest(self) -> dict[str, Any]:
            return sample_config(self.space, self.rng)

    plain = BoundingBox(lambda space, mode, metric: SyneTuneStyle(space), bb.config_space,
                        "valid_error", tasks)
    tuner = simulated(tmp_path / "p", monkeypatch, plain, "plain", max_num_trials_started=8)
    assert tuner.status.num_trials_started > 8 and tuner.status.num_trials_failed == 0
    assert all(config_in_space(plain.config_space, t.config) for t in tuner.trials.values())
    assert not all(config_in_space(plain.config_space, sample_config(bb.config_space, rng))
                   for rng in [np.random.default_rng(0)] for _ in range(20))  # a real box


def random_tasks(space: dict[str, Any], n: int, seed: int) -> dict[str, Any]:
    """Two tasks of random values for the same ``n`` random configs of ``space``."""
    rng = np.random.default_rng(seed)
    configs = [sample_config(space, rng) for _ in range(n)]
    return {f"t{t}": TransferLearningTaskEvaluations(space, configs, ["loss"], rng.random(n))
            for t in range(2)}


class TestZeroShotTransferConformance(SchedulerTestCase):
    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return ZeroShotTransfer(config_space, random_tasks(config_space, 60, seed), metric,
                                mode=mode, random_seed=seed)


class TestASHACTSConformance(SchedulerTestCase):
    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return ASHACTS(config_space, metric, random_tasks(config_space, 60, seed), mode=mode,
                       time_attr="epoch", max_t=3, random_seed=seed,
                       searcher_kwargs={"num_candidates": 2_000})



# -- RUSH ---------------------------------------------------------------------------------------


def rush_tasks() -> dict[str, TransferLearningTaskEvaluations]:
    """Two tasks whose best configurations are x=0.1 (task a) and x=0.2 (task b)."""
    return {"a": task([1, 2, 3, 4]), "b": task([3, 1, 2, 4])}


async def report(s: Any, trial: Any, epoch: int, value: float) -> Any:
    return await s.on_result(trial, {"epoch": epoch, "loss": value})


@pytest.mark.asyncio
async def test_rush_runs_the_hurdles_first_and_stops_what_does_not_clear_them() -> None:
    from aiotune.schedulers import ASHA, RUSH
    from aiotune.trial import Trial

    extra = {"x": 0.9, "opt": "b"}
    s = RUSH(SPACE, rush_tasks(), "loss", time_attr="epoch", max_t=9, random_seed=0,
             points_to_evaluate=[extra, ABCD[1]])
    starts = [(await s.suggest()).config for _ in range(3)]
    assert [c["x"] for c in starts] == [0.1, 0.2, 0.9]  # hurdles, then the other point
    plain = ASHA(SPACE, "loss", time_attr="epoch", max_t=9, random_seed=0)
    trials = [Trial(trial_id=i, config=c) for i, c in enumerate(
        [*starts, *({"x": 0.5 + i / 100, "opt": "a", "epochs": 9} for i in range(4))])]
    decisions = {}
    for sched in (s, plain):
        for t in trials:
            await sched.on_trial_add(t)
        # epoch-1 values: hurdle 0 at 0.1, the others spread; trial 6 is in ASHA's best
        # third (cutoff 0.433) but above the hurdle
        for t, v in zip(trials, [0.1, 0.45, 0.5, 0.6, 0.7, 0.8, 0.3], strict=True):
            decisions[(sched is s, t.trial_id)] = await report(sched, t, 1, v)
    assert decisions[(False, 6)].name == "CONTINUE"  # plain ASHA keeps it
    assert decisions[(True, 6)].name == "STOP"  # RUSH: 0.3 > hurdle 0.1
    assert s.hurdles == {1: 0.1}  # trial 1 (0.45) was stopped by ASHA: no hurdle from it
    blob = msgspec.json.encode(s.state())
    again = RUSH(SPACE, rush_tasks(), "loss", time_attr="epoch", max_t=9, random_seed=0,
                 points_to_evaluate=[extra, ABCD[1]])
    again.restore(msgspec.json.decode(blob))
    assert again.hurdles == {1: 0.1} and msgspec.json.encode(again.state()) == blob


@pytest.mark.asyncio
async def test_rush_promotes_only_trials_that_clear_the_hurdle() -> None:
    from aiotune.schedulers import RUSH
    from aiotune.trial import Trial, TrialStatus

    s = RUSH(SPACE, rush_tasks(), "loss", type="promotion", time_attr="epoch", max_t=9,
             random_seed=0)
    hurdle = Trial(trial_id=0, config=(await s.suggest()).config)
    others = [Trial(trial_id=i, config={"x": 0.5 + i / 100, "opt": "a", "epochs": 9})
              for i in range(1, 6)]
    for t, v in zip([hurdle, *others], [0.2, 0.3, 0.6, 0.7, 0.8, 0.9], strict=True):
        await s.on_trial_add(t)
        assert (await report(s, t, 1, v)).name == "PAUSE"
        t.status = TrialStatus.PAUSED
    assert (await s.suggest()).resume_trial_id == 0  # the hurdle trial: the best
    # Trial 1 (0.3) is next best and within ASHA's quantile, but above the hurdle 0.2:
    nxt = await s.suggest()
    assert nxt.resume_trial_id is None and nxt.config is not None


def test_rush_through_the_tuner_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiotune.schedulers import RUSH

    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    tasks = lc_tasks()
    s = RUSH(bb.config_space, tasks, "valid_error", time_attr="epoch", max_t=9, random_seed=0)
    tuner = simulated(tmp_path, monkeypatch, s, "rush", max_num_trials_started=30)
    # The tasks' distinct best configs ran first (a hurdle is set only by one that
    # survives its rung, Syne Tune's rule: here they start slowly and none did).
    assert s.hurdle_trials and s.hurdle_trials == set(range(len(s.hurdle_trials)))
    assert all(tuner.trials[i].status.value == "stopped" for i in s.hurdle_trials)
    again = Tuner.load(tmp_path / "rush", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=40))
    assert isinstance(again.scheduler, RUSH) and again.scheduler.hurdles == s.hurdles
    again.run()
    assert again.status.num_trials_started > 40 and again.status.num_trials_failed == 0


class TestRUSHConformance(SchedulerTestCase):
    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        from aiotune.schedulers import RUSH

        return RUSH(config_space, random_tasks(config_space, 20, seed), metric, mode=mode,
                    time_attr="epoch", max_t=3, random_seed=seed)
