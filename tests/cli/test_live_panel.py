"""The live panel: a rich panel on a terminal (a real pty here), the plain table on a pipe."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from aiotune._live import budget_bounds, render_panel, use_live
from aiotune.status import TuningStatus
from aiotune.stopping import StoppingCriterion
from aiotune.trial import TrialStatus

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "tests" / "resume" / "ckpt_train.py"

RUN = textwrap.dedent(f"""
    from aiotune.backends.local import LocalBackend
    from aiotune.config_space import loguniform
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner
    Tuner(
        trial_backend=LocalBackend(entry_point={str(TRAIN)!r}),
        scheduler=RandomSearch({{"lr": loguniform(1e-3, 1.0), "epochs": 8, "sleep": 0.05}},
                               metric="loss", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=3, max_wallclock_time=60),
        n_workers=2, tuner_name="live", print_update_interval=0.15,
    ).run()
""")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AIOTUNE_LIVE", None)
    env.update(
        AIOTUNE_RESULTS=str(tmp_path / "results"),
        TERM="xterm-256color",
        COLUMNS="120",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        **extra,
    )
    return env


def _status() -> TuningStatus:
    status = TuningStatus(["loss"], ["min"])
    for tid in range(3):
        status.on_trial_started(tid, {"lr": 0.1 * (tid + 1)})
        status.on_result(tid, {"epoch": 1, "loss": 1.0 + tid})
    status.on_trial_ended(0, TrialStatus.COMPLETED)
    status.set_time(12.5)
    return status


def test_panel_shows_budget_bars_counts_best_and_running_trials() -> None:
    status = _status()
    stop = StoppingCriterion(max_wallclock_time=60, max_num_trials_completed=10)
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=120, file=sink)
        console.print(render_panel("exp", status, stop))
        text = console.export_text()
    assert "aiotune exp" in text
    assert "elapsed 12.5s / 60s" in text
    assert "time (s)" in text and "12.5 / 60" in text
    assert "trials completed" in text and "1 / 10" in text
    assert "running 2" in text and "completed 1" in text
    assert "best loss=1 (trial 0)" in text
    assert "running trials" in text
    rows = [line for line in text.splitlines() if "│" in line and ("  1 " in line or " 2 " in line)]
    assert any("2" in r and "3" in r for r in rows)  # trial 2 with its loss 3
    assert [b[0] for b in budget_bounds(stop, status)] == ["time (s)", "trials completed"]
    assert budget_bounds(lambda s: False, status) == []


def test_several_objectives_show_the_pareto_front_in_the_panel_and_the_table() -> None:
    from aiotune._printer import format_status

    status = TuningStatus(["loss", "latency"], ["min", "min"])
    for tid, (loss, latency) in enumerate([(1.0, 5.0), (2.0, 1.0), (3.0, 6.0), (0.5, 9.0)]):
        status.on_trial_started(tid, {"w": tid})
        status.on_result(tid, {"loss": loss, "latency": latency})
    want = "Pareto front of loss, latency: 3 trials (0, 1, 3)"  # trial 2 is dominated by 0
    assert want in format_status(status)
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=120, file=sink)
        console.print(render_panel("exp", status, StoppingCriterion(max_num_trials_started=9)))
        assert want in console.export_text()
    single = _status()
    assert "Pareto" not in format_status(single)
    empty = TuningStatus(["loss", "latency"], ["min", "min"])
    assert "Pareto front of loss, latency: no trial yet" in format_status(empty)


def test_terminal_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = pty.openpty()
    with open(os.devnull) as null, os.fdopen(slave, "w") as tty:
        monkeypatch.setenv("AIOTUNE_LIVE", "1")
        assert use_live(null)
        monkeypatch.setenv("AIOTUNE_LIVE", "0")
        assert not use_live(tty)
        monkeypatch.delenv("AIOTUNE_LIVE")
        assert use_live(tty)
        assert not use_live(null)
    os.close(master)


def test_a_run_on_a_pty_shows_the_live_panel(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN],
        stdout=slave,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=_env(tmp_path),
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, out[-2000:]
    assert "╭" in out and "aiotune live" in out  # the panel and its title
    assert "elapsed" in out and "/ 60s" in out
    assert "trials completed" in out and "━" in out  # a progress bar
    assert "running trials" in out and "best loss=" in out
    assert "\x1b[" in out  # the live display redraws with escape sequences


def test_a_run_on_a_pipe_prints_the_plain_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "[aiotune] live" in done.stdout and "╭" not in done.stdout
    assert "\x1b[" not in done.stdout
    assert "best loss=" in done.stdout
