"""best_config and pareto_front of a real run, live (Tuner) and read back (load_experiment).

Each trial is a real subprocess reporting over the socket. The trial with x=0
diverges: it reports an infinity that would win in the scheduler's mode. x=1
peaks at its first epoch; x=2 holds steady. Both readers must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiotune import AiotuneError, InvalidArgumentError, StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import choice
from aiotune.experiments import ExperimentError, load_experiment
from aiotune.schedulers import GridSearch

TRAIN = """\
import argparse
from aiotune import Reporter
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
p.add_argument("--sign", type=float)
args, _ = p.parse_known_args()
scores = {0: [float("inf")] * 2, 1: [0.9, 0.5], 2: [0.7, 0.7]}[args.x]
report = Reporter()
for epoch, score in enumerate(scores, start=1):
    report(epoch=epoch, score=args.sign * score, aux=10.0 * args.x + epoch)
"""


def _run(tmp_path: Path, mode: str) -> Tuner:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    # "max": x=0 reports +inf; "min": every score negated, so x=0 reports -inf.
    space = {"x": choice([0, 1, 2]), "sign": 1.0 if mode == "max" else -1.0}
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=script),
        scheduler=GridSearch(space, metric="score", mode=mode),
        stop_criterion=StoppingCriterion(max_num_trials_started=10),
        n_workers=3,
        print_update_interval=3600.0,
    )
    tuner.run()
    assert tuner.stop_reason == "search space exhausted"
    return tuner


@pytest.mark.parametrize("mode", ["min", "max"])
def test_live_and_read_back_agree_and_ignore_infinities(tmp_path: Path, mode: str) -> None:
    tuner = _run(tmp_path, mode)
    result = load_experiment(tuner.tuner_path)
    x_of = {tid: t.config["x"] for tid, t in tuner.trials.items()}

    # The best report wins (x=1's first epoch), never x=0's infinity.
    for best in (tuner.best_config(), result.best_config(), tuner.best_config("score")):
        assert x_of[best[0]] == 1
    assert result.best_value() == (0.9 if mode == "max" else -0.9)
    # The Pareto front judges latest reports: x=1 fell back to 0.5, x=2 holds 0.7.
    assert [x_of[tid] for tid, _, _ in tuner.pareto_front()] == [2]
    assert [x_of[tid] for tid in result.pareto_front()["trial_id"]] == [2]

    # A reported metric the scheduler does not optimize: "min" unless told otherwise.
    for reader in (tuner, result):
        assert x_of[reader.best_config("aux")[0]] == 0
        assert x_of[reader.best_config("aux", mode="max")[0]] == 2
        assert x_of[reader.best_config("score", mode="min" if mode == "max" else "max")[0]] == 1

    # A metric nobody reported: the same clear error from both, for both questions.
    for call in (
        lambda: tuner.best_config("nope"),
        lambda: result.best_config("nope"),
        lambda: tuner.pareto_front(["nope"]),
        lambda: result.pareto_front(["nope"]),
        lambda: result.best_value("nope"),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        message = str(info.value)
        assert "'nope'" in message and "'score'" in message and "'aux'" in message


def test_a_scheduler_metric_with_only_infinities_has_no_best(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=script),
        scheduler=GridSearch({"x": choice([0]), "sign": 1.0}, metric="score", mode="max"),
        stop_criterion=StoppingCriterion(max_num_trials_started=10),
        n_workers=1,
        print_update_interval=3600.0,
    )
    tuner.run()
    with pytest.raises(AiotuneError, match="no trial reported a usable value of metric 'score'"):
        tuner.best_config()
    with pytest.raises(ExperimentError, match="no trial reported a usable 'score'"):
        load_experiment(tuner.tuner_path).best_config()
    assert tuner.pareto_front(["score"]) == []
