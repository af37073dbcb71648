"""DyHPO: linear rungs and their quantiles, the searcher's resume-or-start choice on
planted data, pending levels, the successive-halving step, bad arguments, whole
simulated runs (on a table too) and the conformance battery."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.config_space import choice, loguniform, sample_config, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import DyHPO, FIFOScheduler
from aiotune.schedulers.dyhpo import linear_rung_levels
from aiotune.schedulers.searchers import DyHPOSearcher
from aiotune.schedulers.searchers.dyhpo import PausedTrial
from aiotune.stopping import StoppingCriterion
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial, TrialStatus
from aiotune.tuner import Tuner

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0), "epochs": 9}
LEVELS = [1.0, 3.0, 5.0, 7.0, 9.0]


def _searcher(seed: int = 0, **kwargs: Any) -> DyHPOSearcher:
    return DyHPOSearcher(SPACE, "loss", random_seed=seed, max_resource=9,
                         fidelity_levels=LEVELS, num_init_random=0, **kwargs)


def _bowl(config: dict[str, Any], level: float) -> float:
    """Lower near (0.3, 0.6), and lower with more epochs."""
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2 + 0.5 / level


def _feed(searcher: DyHPOSearcher, n: int = 30, seed: int = 0) -> list[Trial]:
    """``n`` random configs reported at epoch 1, the best third at 3 too."""
    rng = np.random.default_rng(seed)
    trials = [Trial(trial_id=i, config={"x": float(a), "y": float(b), "epochs": 9})
              for i, (a, b) in enumerate(rng.random((n, 2)))]
    for t in trials:
        searcher.on_result(t, {"epoch": 1, "loss": _bowl(t.config, 1)})
    for t in sorted(trials, key=lambda t: _bowl(t.config, 1))[: n // 3]:
        searcher.on_result(t, {"epoch": 3, "loss": _bowl(t.config, 3)})
    return trials


def test_linear_rungs_and_their_promotion_quantiles() -> None:
    assert linear_rung_levels(1, 2, 27) == list(range(1, 27, 2))
    assert linear_rung_levels(2, 3, 11) == [2, 5, 8]
    s = DyHPO(SPACE, "loss", max_t=9, random_seed=0)
    assert s.levels == [1, 3, 5, 7] and s.rung_table().levels == [1, 3, 5, 7]
    assert s._quantiles == pytest.approx([1 / 3, 3 / 5, 5 / 7, 7 / 9])
    assert s.searcher.fidelity_levels == LEVELS
    assert s.type == "promotion" and "rung_levels=[1, 3, 5, 7]" in repr(s)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"rung_increment": 0}, "rung_increment"),
        ({"rung_increment": 1.5}, "rung_increment"),
        ({"probability_sh": 1.5}, "probability_sh"),
        ({"probability_sh": "often"}, "probability_sh"),
        ({"grace_period": 0}, "grace_period"),
        ({"grace_period": 12}, "grace_period"),
        ({"max_t": None, "config_space": {"x": uniform(0.0, 1.0)}}, "max_t"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], named: str) -> None:
    args: dict[str, Any] = {"config_space": SPACE, "metric": "loss", "max_t": 9, **kwargs}
    with pytest.raises(InvalidArgumentError, match=named):
        DyHPO(**args)


@pytest.mark.asyncio
async def test_the_searcher_refuses_to_work_outside_dyhpo() -> None:
    fifo = FIFOScheduler(SPACE, "loss", searcher="dyhpo", random_seed=0,
                         searcher_kwargs={"max_resource": 9})
    with pytest.raises(InvalidArgumentError, match="DyHPO scheduler"):
        await fifo.suggest()


def test_points_to_evaluate_and_the_initial_design_start_new_trials() -> None:
    searcher = DyHPOSearcher(SPACE, "loss", random_seed=0, max_resource=9,
                             fidelity_levels=LEVELS, num_init_random=3,
                             points_to_evaluate=[{"x": 0.5, "y": 0.5}])
    star = Trial(trial_id=99, config={"x": 0.3, "y": 0.6, "epochs": 9})
    searcher.on_result(star, {"epoch": 1, "loss": 0.0})
    paused = [PausedTrial(99, 3.0)]
    first = searcher.choose(paused)
    assert first.trial_id is None and first.config == {"x": 0.5, "y": 0.5, "epochs": 9}
    for _ in range(2):
        assert searcher.choose(paused).trial_id is None  # random design: never a resume
    assert searcher.num_suggested == 3 and not searcher.last_from_model


def test_a_paused_trial_near_the_optimum_is_resumed() -> None:
    searcher = _searcher()
    trials = _feed(searcher)
    best = min(trials, key=lambda t: _bowl(t.config, 3))
    good = PausedTrial(best.trial_id, 5.0)
    got = searcher.choose([good])
    assert got.trial_id == best.trial_id and got.config is None
    # it is pending at its next level now, until it reports there
    assert searcher._pending_level[best.trial_id] == 5.0
    searcher.on_result(best, {"epoch": 4, "loss": _bowl(best.config, 4)})
    assert best.trial_id in searcher._pending
    searcher.on_result(best, {"epoch": 5, "loss": _bowl(best.config, 5)})
    assert best.trial_id not in searcher._pending


def test_a_poor_paused_trial_loses_to_a_new_config() -> None:
    searcher = _searcher()
    trials = _feed(searcher)
    worst = max(trials, key=lambda t: _bowl(t.config, 1))
    got = searcher.choose([PausedTrial(worst.trial_id, 3.0)])
    assert got.trial_id is None and got.config is not None
    assert searcher.last_from_model
    # a model-chosen new config lies in the good region, and is pending at epoch 1
    assert _bowl(got.config, 1) < np.quantile([_bowl(t.config, 1) for t in trials], 0.25)
    new = Trial(trial_id=100, config=got.config)
    searcher.on_trial_add(new)
    assert searcher._pending_level[100] == 1.0


def test_a_pending_trial_steers_the_next_choice_off_its_twin() -> None:
    """On a table with two near-identical rows at the optimum, the second choice is not
    the first one's twin once the first is pending (the twin would win without it)."""
    rng = np.random.default_rng(2)
    rows = [{"x": float(a), "y": float(b), "epochs": 9} for a, b in rng.random((40, 2))]
    twins = [{"x": 0.3, "y": 0.6, "epochs": 9}, {"x": 0.3001, "y": 0.6001, "epochs": 9}]
    searcher = _searcher(restrict_configurations=rows + twins)
    for i, config in enumerate(rows[:25]):
        t = Trial(trial_id=i, config=config)
        searcher.on_trial_add(t)
        searcher.on_result(t, {"epoch": 1, "loss": _bowl(config, 1)})
    first = searcher.choose([]).config
    assert first in twins
    searcher.on_trial_add(Trial(trial_id=100, config=first))
    second = searcher.choose([]).config
    assert second is not None and second not in twins


def test_state_round_trip_keeps_pending_levels() -> None:
    searcher = _searcher(3)
    trials = _feed(searcher)
    searcher.choose([PausedTrial(trials[0].trial_id, 3.0)])
    searcher.on_trial_add(Trial(trial_id=100, config={"x": 0.1, "y": 0.1, "epochs": 9}))
    blob = msgspec.json.encode(searcher.state())
    other = _searcher(8)
    other.restore(msgspec.json.decode(blob))
    assert msgspec.json.encode(other.state()) == blob
    assert other._pending_level == searcher._pending_level
    assert other.choose([]) == searcher.choose([])


async def _report(s: DyHPO, trial: Trial, epochs: range, value: float) -> Any:
    decision = None
    for epoch in epochs:
        decision = await s.on_result(trial, {"loss": value, "epoch": epoch})
    return decision


@pytest.mark.asyncio
async def test_successive_halving_step_promotes_within_the_rung_quantile() -> None:
    s = DyHPO(SPACE, "loss", max_t=9, random_seed=0, probability_sh=1.0,
              searcher_kwargs={"num_init_random": 50})
    trials = []
    for i, value in enumerate([0.5, 0.1, 0.9]):
        t = Trial(trial_id=i, config={"x": i / 4, "y": 0.5, "epochs": 9})
        await s.on_trial_add(t)
        assert (await _report(s, t, range(1, 2), value)).name == "PAUSE"
        t.status = TrialStatus.PAUSED
        trials.append(t)
    # rung 1's quantile is 1/3: of 0.1, 0.5, 0.9 only trial 1 (0.1) is within it
    assert (await s.suggest()).resume_trial_id == 1
    # nothing else is within the cutoff, so the searcher answers (random design)
    nxt = await s.suggest()
    assert nxt.resume_trial_id is None and nxt.config is not None


@pytest.mark.asyncio
async def test_model_decisions_resume_a_good_paused_trial() -> None:
    s = DyHPO(SPACE, "loss", max_t=9, random_seed=0, probability_sh=0.0,
              searcher_kwargs={"num_init_random": 0})
    rng = np.random.default_rng(1)
    for i, (a, b) in enumerate(rng.random((20, 2))):
        t = Trial(trial_id=i, config={"x": float(a), "y": float(b), "epochs": 9})
        await s.on_trial_add(t)
        await _report(s, t, range(1, 2), _bowl(t.config, 1))
        t.status = TrialStatus.PAUSED
    star = Trial(trial_id=20, config={"x": 0.3, "y": 0.6, "epochs": 9})
    await s.on_trial_add(star)
    await _report(s, star, range(1, 2), _bowl(star.config, 1))
    star.status = TrialStatus.PAUSED
    got = await s.suggest()
    assert got.resume_trial_id == 20
    assert s.rung_table().rungs[0].is_promoted(20)
    # resumed: it runs to epoch 3 and pauses there
    star.status = TrialStatus.RUNNING
    assert (await _report(s, star, range(2, 4), 0.01)).name == "PAUSE"


def _simulated(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, s: Any, n: int, bb: Any) -> Any:
    """A simulated run of ``s`` on ``bb`` until ``n`` trials started (4 workers)."""
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), s, StoppingCriterion(max_num_trials_started=n),
        n_workers=4, tuner_name="dy", suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    return tuner


def test_a_simulated_run_resumes_trials_and_reloads(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    s = DyHPO(bb.config_space, "valid_error", max_t=9, random_seed=0)
    tuner = _simulated(tmp_path, monkeypatch, s, 30, bb)
    assert tuner.status.num_trials_started >= 30 and tuner.status.num_trials_failed == 0
    promoted = sum(len(r._promoted) for r in s.rung_table().rungs)
    assert promoted > 0  # trials were resumed, not only started
    counts = s.decision_counts
    assert counts["promoted_by_sh"] + counts["promoted_by_dyhpo"] == promoted
    assert counts["started_by_dyhpo"] == tuner.status.num_trials_started
    again = Tuner.load(tmp_path / "dy", trial_backend=SimulatorBackend(bb, time_attr="epoch"),
                       stop_criterion=StoppingCriterion(max_num_trials_started=36))
    assert isinstance(again.scheduler, DyHPO)
    assert again.scheduler.searcher.num_observations == s.searcher.num_observations
    assert again.scheduler.decision_counts == counts  # saved with the scheduler's state
    again.run()
    assert again.scheduler.decision_counts["started_by_dyhpo"] == again.status.num_trials_started
    assert again.status.num_trials_started >= 36 and again.status.num_trials_failed == 0


def test_a_plain_asha_state_saved_before_the_counts_still_restores() -> None:
    space = {"x": uniform(0.0, 1.0), "epochs": 9}
    a = DyHPO(space, "loss", max_t=9, random_seed=0)
    a.decision_counts["started_by_dyhpo"] = 5
    old = msgspec.to_builtins(a.state().asha)  # what a DyHPO state was before
    b = DyHPO(space, "loss", max_t=9, random_seed=0)
    b.restore(old)
    assert b.decision_counts["started_by_dyhpo"] == 0
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    assert b.decision_counts == a.decision_counts
    assert msgspec.json.encode(b.state()) == msgspec.json.encode(a.state())


def test_on_a_table_it_starts_each_row_at_most_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    rng = np.random.default_rng(0)
    rows = [sample_config(bb.config_space, rng) for _ in range(25)]
    s = DyHPO(bb.config_space, "valid_error", max_t=9, random_seed=0,
              searcher_kwargs={"restrict_configurations": rows, "num_init_random": 4})
    tuner = _simulated(tmp_path, monkeypatch, s, 40, bb)
    started = [t.config for t in tuner.trials.values()]
    keys = [tuple(sorted(c.items())) for c in started]
    assert len(keys) == len(set(keys)) == 25  # every row once, then only resumes
    assert set(keys) == {tuple(sorted(r.items())) for r in rows}


class TestDyHPOConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return DyHPO(config_space, metric, mode=mode, max_t=9, random_seed=seed,
                     searcher_kwargs={"num_init_random": 3})


def test_categorical_spaces_work() -> None:
    space = {"opt": choice(["sgd", "adam", "rmsprop"]), "lr": uniform(0.0, 1.0), "epochs": 9}
    searcher = DyHPOSearcher(space, "loss", random_seed=0, max_resource=9,
                             fidelity_levels=LEVELS, num_init_random=0)
    for i in range(12):
        config = {"opt": ["sgd", "adam", "rmsprop"][i % 3], "lr": i / 12, "epochs": 9}
        t = Trial(trial_id=i, config=config)
        searcher.on_result(t, {"epoch": 1, "loss": config["lr"] + (config["opt"] == "adam")})
    got = searcher.choose([])
    assert got.config is not None and got.config["opt"] in ("sgd", "rmsprop")


def test_new_candidates_are_at_least_as_many_as_the_paused_trials() -> None:
    searcher = _searcher(num_candidates=50)
    assert searcher._new_candidates(10, [])[0].shape == (50, 2)
    assert searcher._new_candidates(120, [])[0].shape == (120, 2)
    rng = np.random.default_rng(0)
    rows = [{"x": float(a), "y": float(b), "epochs": 9} for a, b in rng.random((80, 2))]
    table = _searcher(num_candidates=50, restrict_configurations=rows)
    table.on_trial_add(Trial(trial_id=0, config=table.choose([]).config))
    drawn, drawn_rows = table._new_candidates(10, [])
    assert drawn.shape == (50, 2)  # 50 of the 79 unused rows, drawn at random
    assert drawn_rows is not None and all(r in rows for r in drawn_rows)
    assert table._new_candidates(100, [])[0].shape == (79, 2)  # all that are left


def test_on_a_table_the_model_starts_the_row_it_scored_best() -> None:
    """A table's log-scaled floats (written with 7 digits here) do not survive
    encode/decode exactly: the chosen row itself is started, not a random stand-in for
    a decoded near-copy (which is not a row)."""
    space = {"lr": loguniform(1e-4, 1.0), "x": uniform(0.0, 1.0), "epochs": 9}
    rows = [{**c, "lr": round(c["lr"], 7)}
            for c in (sample_config(space, np.random.default_rng(i)) for i in range(60))]
    searcher = DyHPOSearcher(space, "loss", random_seed=0, max_resource=9,
                             fidelity_levels=LEVELS, num_init_random=0,
                             restrict_configurations=rows)

    def loss(c: dict[str, Any]) -> float:
        return (np.log10(c["lr"]) + 2.0) ** 2 + (c["x"] - 0.5) ** 2

    for i, config in enumerate(rows[:30]):
        searcher.remember(config)  # started earlier
        searcher.on_result(Trial(trial_id=i, config=config), {"epoch": 1, "loss": loss(config)})
    for _ in range(5):
        got = searcher.choose([]).config
        assert got in rows[30:] and searcher.last_from_model
        searcher.on_trial_add(Trial(trial_id=100 + _, config=got))


def test_sparsified_data_keeps_each_trials_latest_result_per_geometric_bucket() -> None:
    s = DyHPOSearcher(SPACE, "loss", random_seed=0, max_resource=27, num_init_random=0,
                      sparsify_data=True)
    trial_ids = [0] * 9 + [1] * 3 + [2]
    levels = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1], dtype=float)
    eligible = s._sparse_rows(trial_ids, levels)
    # Buckets (0, 1], (1, 3], (3, 9], (9, 27]: trial 0 keeps epochs 1, 3 and 9.
    kept = sorted((trial_ids[i], levels[i]) for i in np.flatnonzero(eligible))
    assert kept == [(0, 1.0), (0, 3.0), (0, 9.0), (1, 1.0), (1, 3.0), (2, 1.0)]
    zero = DyHPOSearcher(SPACE, "loss", max_resource=9, fidelity_levels=[0, 3, 9],
                         sparsify_data=True)
    assert zero._sparse_rows([0, 0, 0], np.array([0.0, 3.0, 9.0])).all()  # terminates


def test_the_model_is_fit_on_the_sparsified_rows_once_the_data_outgrows_the_cap() -> None:
    rng = np.random.default_rng(0)
    dense = _searcher(max_data_points=40, sparsify_data=True)
    plain = _searcher(max_data_points=40)
    for s in (dense, plain):
        for tid in range(10):
            t = Trial(trial_id=tid, config=sample_config(SPACE, rng))
            s.on_trial_add(t)
            for epoch in LEVELS:
                s.on_result(t, {"epoch": epoch, "loss": _bowl(t.config, epoch)})
        assert s.num_observations == 10 * len(LEVELS) > 40
        s._scores([])
    subset = dense.gp.get_fit()[2]
    meta = dense._meta
    buckets = {(meta[i][0], min(k for k, edge in enumerate([1, 3, 9]) if meta[i][1] <= edge))
               for i in subset}
    assert len(buckets) == len(subset) == 10 * 3  # one row per trial and bucket: 1, 3, 9
    assert {meta[i][1] for i in subset} == {1.0, 3.0, 9.0}
    assert len(plain.gp.get_fit()[2]) == 40  # the plain rule fills the cap


@pytest.mark.parametrize("value", [1, "yes", None])
def test_sparsify_data_must_be_a_bool(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="sparsify_data"):
        _searcher(sparsify_data=value)
