"""PythonBackend: module-level functions run in real subprocesses, reporting over the socket."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from aiotune import StoppingCriterion, Tuner
from aiotune.backends.python import PythonBackend, function_reference
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Event, ResultEvent, TrialEndedEvent
from aiotune.schedulers import RandomSearch
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.testing.backend_case import BackendTestCase
from aiotune.trial import Trial, TrialStatus

SCRIPTS = Path(__file__).parent / "scripts"
TIMEOUT = 30.0


def _functions_module() -> ModuleType:
    """``functions`` from the scripts folder, importable by that name (also by the child)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    module = sys.modules.get("functions")
    if module is not None and Path(getattr(module, "__file__", "")).parent != SCRIPTS:
        del sys.modules["functions"]
    return importlib.import_module("functions")


@pytest.fixture
def functions() -> Iterator[ModuleType]:
    added = str(SCRIPTS) not in sys.path
    yield _functions_module()
    if added and str(SCRIPTS) in sys.path:
        sys.path.remove(str(SCRIPTS))


class TestPythonBackendConformance(BackendTestCase):
    """The whole BackendTestCase battery against PythonBackend."""

    def make_backend(self, tmp_path: Path) -> PythonBackend:
        function = _functions_module().conformance
        return PythonBackend(function, {"n": 3, "fail": False, "block": False}, 2.0)


async def run_until_ended(
    backend: PythonBackend, exp: ExperimentDir, trials: list[Trial]
) -> list[Event]:
    seen: list[Event] = []
    pending = {t.trial_id for t in trials}
    with anyio.fail_after(TIMEOUT):
        async with backend.session(exp) as events:
            for trial in trials:
                await backend.start_trial(trial)
            async for event in events:
                seen.append(event)
                if isinstance(event, TrialEndedEvent):
                    pending.discard(event.trial_id)
                    if not pending:
                        break
    return seen


@pytest.mark.asyncio
async def test_function_reports_and_completes(functions: ModuleType, tmp_path: Path) -> None:
    backend = PythonBackend(functions.train, {"n": 4, "lr": 0.5})
    exp = ExperimentDir(tmp_path / "exp")
    trial = Trial(trial_id=0, config={"n": 4, "lr": 0.5, "not_in_space": "dropped"})
    seen = await run_until_ended(backend, exp, [trial])
    results = [e for e in seen if isinstance(e, ResultEvent)]
    assert [r.seq for r in results] == [0, 1, 2, 3]
    assert [r.metrics["loss"] for r in results] == [0.5 / e for e in range(1, 5)]
    assert isinstance(seen[-1], TrialEndedEvent)
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    assert (exp.trial_dir(0) / "stderr").exists()


@pytest.mark.asyncio
async def test_checkpoint_dir_parameter(functions: ModuleType, tmp_path: Path) -> None:
    backend = PythonBackend(functions.train_checkpointed, {"epochs": 2})
    exp = ExperimentDir(tmp_path / "exp")
    seen = await run_until_ended(backend, exp, [Trial(trial_id=3, config={"epochs": 2})])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(3)
    assert (exp.checkpoint_dir(3) / "seen.txt").read_text() == str(exp.checkpoint_dir(3))


@pytest.mark.asyncio
async def test_exception_fails_the_trial_with_traceback(
    functions: ModuleType, tmp_path: Path
) -> None:
    backend = PythonBackend(functions.broken, {"n": 2})
    seen = await run_until_ended(
        backend, ExperimentDir(tmp_path / "e"), [Trial(trial_id=0, config={"n": 2})]
    )
    assert len([e for e in seen if isinstance(e, ResultEvent)]) == 2
    assert seen[-1].status is TrialStatus.FAILED and seen[-1].reason == "exit code 1"
    assert "RuntimeError: broken on purpose" in backend.stderr_tail(0)


@pytest.mark.asyncio
async def test_static_method_and_empty_space(functions: ModuleType, tmp_path: Path) -> None:
    backend = PythonBackend(functions.Holder.run, {})
    seen = await run_until_ended(
        backend, ExperimentDir(tmp_path / "e"), [Trial(trial_id=0, config={"n": 2})]
    )
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    assert len(seen) == 3


@pytest.mark.asyncio
async def test_unencodable_config_fails_without_spawning(
    functions: ModuleType, tmp_path: Path
) -> None:
    backend = PythonBackend(functions.train, {"n": 1, "lr": 0.1})
    trial = Trial(trial_id=0, config={"n": 1, "lr": object()})
    seen = await run_until_ended(backend, ExperimentDir(tmp_path / "e"), [trial])
    assert len(seen) == 1 and seen[0].status is TrialStatus.FAILED
    assert "JSON" in seen[0].reason


def _local_function(n: int) -> None:
    pass


def test_functions_that_cannot_be_imported_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="module-level function"):
        PythonBackend(lambda n: None, {"n": 1})

    def inner(n: int) -> None:
        pass

    with pytest.raises(InvalidArgumentError, match="module-level function"):
        PythonBackend(inner, {"n": 1})
    with pytest.raises(InvalidArgumentError, match="callable"):
        PythonBackend(3, {})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="config_space"):
        PythonBackend(_local_function, [1])  # type: ignore[arg-type]


def test_function_reference(functions: ModuleType) -> None:
    assert function_reference(functions.train) == ("functions:train", None)
    assert function_reference(functions.Holder.run) == ("functions:Holder.run", None)
    assert function_reference(_local_function)[0].endswith(":_local_function")


def test_repr_names_the_function(functions: ModuleType) -> None:
    backend: Any = PythonBackend(functions.train, {"n": 1, "lr": 0.1})
    assert "functions:train" in repr(backend)


def test_function_of_the_main_script(tmp_path: Path) -> None:
    """A function defined in the tuning script itself runs (the script's guard keeps it quiet)."""
    import json
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    pythonpath = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "python_main.py"), str(tmp_path / "exp")],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "completed", out["stderr"]
    assert out["kinds"] == ["ResultEvent"] * 3 + ["TrialEndedEvent"]


def test_an_unguarded_main_script_fails_the_trial_clearly(tmp_path: Path) -> None:
    """Its top level runs again in the trial; the Tuner there refuses instead of tuning."""
    root = Path(__file__).resolve().parents[2]
    pythonpath = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    imports = tmp_path / "imports.txt"
    env = {**os.environ, "PYTHONPATH": pythonpath, "AIOTUNE_RESULTS": str(tmp_path / "results"),
           "UNGUARDED_IMPORTS": str(imports)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "python_main_unguarded.py")],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "TooManyFailuresError" in proc.stderr
    assert "python_main_unguarded.py started a Tuner while a PythonBackend trial" in last
    assert "if __name__ == \"__main__\":" in last
    # The script ran twice: in the parent and in the one trial (which went no further).
    assert len(imports.read_text().splitlines()) == 2


def _results(seen: list[Event]) -> list[ResultEvent]:
    return [e for e in seen if isinstance(e, ResultEvent)]


@pytest.mark.asyncio
async def test_an_async_function_runs_and_reports(functions: ModuleType, tmp_path: Path) -> None:
    backend = PythonBackend(functions.train_async, {"n": 3, "lr": 0.5})
    trial = Trial(trial_id=0, config={"n": 3, "lr": 0.5})
    seen = await run_until_ended(backend, ExperimentDir(tmp_path / "exp"), [trial])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    assert [r.metrics["loss"] for r in _results(seen)] == [0.5, 0.25, 0.5 / 3]


@pytest.mark.asyncio
async def test_a_returned_dict_is_reported_as_the_last_result(
    functions: ModuleType, tmp_path: Path
) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    backend = PythonBackend(functions.reports_then_returns, {"n": 2})
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"n": 2})])
    assert seen[-1].status is TrialStatus.COMPLETED, backend.stderr_tail(0)
    got = _results(seen)
    assert [r.seq for r in got] == [0, 1, 2]
    assert [r.metrics["epoch"] for r in got] == [1, 2, 3]
    assert got[-1].metrics["loss"] == 0.0 and got[-1].metrics["final"] is True
    async_backend = PythonBackend(functions.returns_async, {"x": 0.5})
    trial = Trial(trial_id=1, config={"x": 0.5})
    seen = await run_until_ended(async_backend, exp, [trial])
    assert seen[-1].status is TrialStatus.COMPLETED, async_backend.stderr_tail(1)
    assert [r.metrics["loss"] for r in _results(seen)] == [1.0]


def test_a_function_that_only_returns_its_metrics_is_tuned(
    functions: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optuna/Ray style ``return {"loss": ...}``: every trial completes with that result."""
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    space = {"x": uniform(0.0, 1.0)}
    tuner = Tuner(
        trial_backend=PythonBackend(functions.returns_dict, space),
        scheduler=RandomSearch(space, metric="loss", mode="min", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_finished=2),
        n_workers=1,
        max_failures=0,
        print_update_interval=1e9,
    )
    tuner.run()
    finished = [t for t in tuner.trials.values() if t.status is TrialStatus.COMPLETED]
    assert len(finished) >= 3 and len(finished) == len(tuner.trials)
    _, config = tuner.best_config()
    best_loss = min((t.config["x"] - 0.25) ** 2 for t in finished)
    assert (config["x"] - 0.25) ** 2 == best_loss


@pytest.mark.asyncio
async def test_a_return_value_that_is_not_a_dict_fails_the_trial_clearly(
    functions: ModuleType, tmp_path: Path
) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    backend = PythonBackend(functions.returns_scalar, {"x": 0.5})
    seen = await run_until_ended(backend, exp, [Trial(trial_id=0, config={"x": 0.5})])
    assert _results(seen) == []
    assert seen[-1].status is TrialStatus.FAILED and seen[-1].reason == "exit code 1"
    last = backend.stderr_tail(0).splitlines()[-1]
    assert "functions:returns_scalar returned a float" in last
    assert "return a dict of metrics" in last and "aiotune.Reporter" in last
    bad = PythonBackend(functions.returns_bad_metric, {"x": 0.5})
    seen = await run_until_ended(bad, exp, [Trial(trial_id=1, config={"x": 0.5})])
    assert _results(seen) == [] and seen[-1].status is TrialStatus.FAILED
    assert "'loss'" in bad.stderr_tail(1).splitlines()[-1]  # the Reporter's own validation


def test_generator_functions_are_refused_naming_them(functions: ModuleType) -> None:
    for function in (functions.yields, functions.yields_async):
        with pytest.raises(InvalidArgumentError, match=rf"functions:{function.__name__} is a gen"):
            PythonBackend(function, {"x": 0.5})


def test_the_signature_must_take_every_config_key(functions: ModuleType) -> None:
    with pytest.raises(InvalidArgumentError, match=r"functions:only_x has no parameter 'y'"):
        PythonBackend(functions.only_x, {"x": 0.5, "y": 3})  # y a constant
    with pytest.raises(InvalidArgumentError, match=r"no parameter 'lr', 'y'"):
        PythonBackend(functions.only_x, {"x": 0.5, "lr": 0.1, "y": 3})
    with pytest.raises(InvalidArgumentError, match=r"functions:needs_z requires the parameter 'z'"):
        PythonBackend(functions.needs_z, {"x": 0.5})
    with pytest.raises(InvalidArgumentError, match=r"no parameter 'x'"):
        PythonBackend(functions.positional_only, {"x": 0.5})
    PythonBackend(functions.keyword_only, {"x": 0.5, "y": 2})
    PythonBackend(functions.keyword_only, {"x": 0.5})
    PythonBackend(functions.any_keywords, {"x": 0.5, "anything": "else"})
    PythonBackend(functions.checkpointing, {"x": 0.5})  # st_checkpoint_dir comes from us
    PythonBackend(functions.needs_z, {})  # an empty space passes the trial's whole config


def _run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    pythonpath = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )


def test_a_function_defined_under_the_main_guard_is_refused() -> None:
    proc = _run_script("python_main_guarded.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused: tune_function objective is defined under ")
    assert 'if __name__ == "__main__":' in proc.stdout
    assert "python_main_guarded.py" in proc.stdout and "above the guard" in proc.stdout


def test_a_main_guarded_function_the_check_misses_fails_its_trial_with_the_fix(
    tmp_path: Path,
) -> None:
    """The check lets a name mentioned elsewhere pass; the trial's error then says what to do."""
    import json

    proc = _run_script("python_main_guarded_listed.py", str(tmp_path / "exp"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "failed"
    last = out["stderr"].splitlines()[-1]
    assert last.startswith("AttributeError: the trial cannot find the tune function 'objective'")
    assert 'outside `if __name__ == "__main__":`' in last


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ('if __name__ == "__main__":\n    def f(x): pass\n', True),
        ('if "__main__" == __name__:\n    def f(x): pass\n', True),
        ('def f(x): pass\nif __name__ == "__main__":\n    def f(x): pass\n', False),
        ('if __name__ == "__main__":\n    def f(x): pass\nelse:\n    f = 1\n', False),
        ('from helpers import f\nif __name__ == "__main__":\n    def f(x): pass\n', False),
        ('from helpers import *\nif __name__ == "__main__":\n    def f(x): pass\n', False),
        ('try:\n    f = 1\nexcept Exception:\n    pass\nif __name__ == "__main__":\n'
         '    def f(x): pass\n', False),
        ('if __name__ == "__main__":\n    def g(x): pass\n', False),
    ],
)
def test_the_main_guard_check_refuses_only_what_the_trial_cannot_find(
    tmp_path: Path, source: str, refused: bool
) -> None:
    from aiotune.backends._function_checks import check_outside_main_guard

    script = tmp_path / "script.py"
    script.write_text(source)

    def f(x: float) -> None:
        pass

    f.__qualname__ = "f"
    if refused:
        with pytest.raises(InvalidArgumentError, match="defined under"):
            check_outside_main_guard(f, str(script))
    else:
        check_outside_main_guard(f, str(script))
