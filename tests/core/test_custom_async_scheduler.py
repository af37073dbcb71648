"""A hand-written async scheduler is checked when the Tuner is built, and its answers
are read in Syne Tune's forms or refused naming the hook (as a synchronous one's are)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import SimulatorBackend
from aiotune.blackbox import Branin
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision, Suggestion
from aiotune.schedulers import BaseScheduler
from aiotune.store.event_log import read_log
from aiotune.store.records import DecisionMade

BB = Branin()


class _State(msgspec.Struct):
    pass


class Handmade:
    """Suggests ``plan`` in order (then Branin's random configs); answers ``answer``."""

    def __init__(self, plan: list[Any] | None = None, answer: Any = Decision.CONTINUE,
                 metric: Any = "value", mode: Any = "min") -> None:
        self.plan = list(plan or [])
        self.answer = answer
        self.metric, self.mode = metric, mode
        self.n = 0

    async def suggest(self) -> Any:
        if self.plan:
            return self.plan.pop(0)
        self.n += 1
        return {"x1": (self.n * 0.37) % 1 * 15 - 5, "x2": (self.n * 0.61) % 1 * 15}

    async def on_trial_add(self, trial: Any) -> None:
        return None

    async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
        return self.answer

    async def on_trial_complete(self, trial: Any, result: dict[str, Any]) -> None:
        return None

    async def on_trial_error(self, trial: Any) -> None:
        return None

    def state(self) -> msgspec.Struct:
        return _State()

    def restore(self, state: Any) -> None:
        return None


def run(scheduler: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trials: int = 6) -> Tuner:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    tuner = Tuner(SimulatorBackend(BB), scheduler,
                  StoppingCriterion(max_num_trials_started=trials), n_workers=2,
                  print_update_interval=1e9)
    tuner.run()
    return tuner


def test_one_metric_and_mode_as_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tuner = run(Handmade(metric="value", mode="max"), tmp_path, monkeypatch)
    assert (tuner.status.metric_names, tuner.status.metric_modes) == (["value"], ["max"])
    assert tuner.best_config()[0] in tuner.trials


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"metric": "value", "mode": "minimize"}, "mode"), ({"metric": 3}, "metric"),
     ({"metric": ["a", "b"], "mode": ["min"]}, "mode")],
)
def test_a_bad_metric_or_mode_is_named(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"Handmade: .*{named}"):
        Tuner(SimulatorBackend(BB), Handmade(**kwargs), StoppingCriterion(max_num_trials_started=1),
              n_workers=1)


def test_a_missing_hook_or_metric_is_named_at_construction() -> None:
    class NoAdd(Handmade):
        on_trial_add = None  # type: ignore[assignment]

    with pytest.raises(InvalidArgumentError, match=r"NoAdd .*\['on_trial_add'\].*BaseScheduler"):
        Tuner(SimulatorBackend(BB), NoAdd(), StoppingCriterion(max_num_trials_started=1),
              n_workers=1)
    bare = Handmade()
    del bare.metric
    with pytest.raises(InvalidArgumentError, match="no 'metric' attribute"):
        Tuner(SimulatorBackend(BB), bare, StoppingCriterion(max_num_trials_started=1),
              n_workers=1)


@pytest.mark.parametrize("answer", ["stop", "STOP", None, Decision.STOP])
def test_answers_in_syne_tunes_forms_are_read(
    answer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuner = run(Handmade(plan=[{"x1": 0.0, "x2": 1.0}], answer=answer), tmp_path, monkeypatch)
    assert tuner.trials[0].config == {"x1": 0.0, "x2": 1.0}  # a config dict starts a trial
    logged = [r.decision for r in read_log(tuner.tuner_path / "events.log").records
              if isinstance(r, DecisionMade)]
    stops = logged.count("stop")  # the shutdown stops the last trial started, too
    assert stops >= 6 if answer is not None else stops <= 1  # None is "continue"


@pytest.mark.parametrize(("scheduler", "hook"), [(Handmade(answer=42), "on_result"),
                                                 (Handmade(plan=[42]), "suggest")])
def test_an_unreadable_answer_is_refused_naming_the_hook(
    scheduler: Handmade, hook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{hook}: .*42|{hook}: .*int"):
        run(scheduler, tmp_path, monkeypatch)


def test_a_resume_of_a_running_trial_is_declined_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Declined, not deferred until the trial ends: the second worker is not held."""
    plan = [{"x1": 0.0, "x2": 1.0}, Suggestion.resume(0), {"x1": 1.0, "x2": 2.0}]
    with caplog.at_level(logging.WARNING, logger="aiotune.tuner"):
        tuner = run(Handmade(plan=plan), tmp_path, monkeypatch, trials=3)
    assert tuner.trials[1].config == {"x1": 1.0, "x2": 2.0}
    assert tuner.trials[1].creation_time == tuner.trials[0].creation_time  # both at once
    assert any("running, not paused" in r.getMessage() for r in caplog.records)


def test_plain_hooks_on_a_base_scheduler_subclass_get_a_useful_hint() -> None:
    class Mine(BaseScheduler):
        def suggest(self) -> Any:  # type: ignore[override]
            return None

        def on_result(self, trial: Any, result: dict[str, Any]) -> Any:  # type: ignore[override]
            return "continue"

    with pytest.raises(InvalidArgumentError, match="make yours `async def`"):
        Tuner(SimulatorBackend(BB), Mine("value", "min"),
              StoppingCriterion(max_num_trials_started=1), n_workers=1)
