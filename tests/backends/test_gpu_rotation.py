"""GPU rotation of the process backends (Syne Tune's ``rotate_gpus``).

This machine has no GPU: the end-to-end runs give the backend a GPU list
(``gpus_to_use``) or put a fake ``nvidia-smi`` (a shell script printing two
GPUs) first on PATH, and the trial scripts record the ``CUDA_VISIBLE_DEVICES``
they were started with. That variable is the whole interface to CUDA.
"""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aiotune import StoppingCriterion, Tuner
from aiotune._spec import from_spec, to_spec
from aiotune.backends import LocalBackend, PythonBackend
from aiotune.backends._gpus import GpuRotation, detect_gpus
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import RandomSearch

SCRIPT = """
import os, sys, time
from aiotune import Reporter
log = os.environ["GPU_LOG"]
gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
with open(log, "a") as f:
    f.write(f"start {os.getpid()} {gpus} {time.time()}\\n")
report = Reporter()
for epoch in range(1, 4):
    time.sleep(0.05)
    report(epoch=epoch, loss=1.0 / epoch)
with open(log, "a") as f:
    f.write(f"end {os.getpid()} {time.time()}\\n")
"""


def fake_nvidia_smi(folder: Path, gpus: int, exit_code: int = 0) -> None:
    """A ``nvidia-smi`` whose ``--list-gpus`` prints ``gpus`` lines like the real one."""
    lines = "".join(
        f'echo "GPU {i}: NVIDIA A10G (UUID: GPU-0000000{i}-aaaa-bbbb-cccc-dddddddddddd)"\n'
        for i in range(gpus)
    )
    path = folder / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{lines}exit {exit_code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trials: int = 6,
               workers: int = 2, **backend_kwargs: Any) -> list[dict[str, Any]]:
    """Run ``trials`` trials of SCRIPT; per attempt: pid, CUDA_VISIBLE_DEVICES, start, end."""
    tmp_path.mkdir(exist_ok=True)
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "results"))
    log = tmp_path / "gpu.log"
    monkeypatch.setenv("GPU_LOG", str(log))
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    backend = LocalBackend(script, **backend_kwargs)
    tuner = Tuner(
        trial_backend=backend,
        scheduler=RandomSearch({"x": uniform(0.0, 1.0)}, metric="loss", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=trials - 1),
        wait_trial_completion_when_stopping=True,
        n_workers=workers,
        print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_completed == trials
    if backend._gpus is not None:
        assert backend._gpus.holding() == {}  # every ended attempt gave its GPUs back
    runs: dict[str, dict[str, Any]] = {}
    for line in log.read_text().splitlines():
        kind, pid, *rest = line.split()
        if kind == "start":
            runs[pid] = {"gpus": rest[0], "start": float(rest[1])}
        else:
            runs[pid]["end"] = float(rest[0])
    return sorted(runs.values(), key=lambda r: r["start"])


def overlapping(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:] if b["start"] < a["end"]]


def test_rotation_prefers_free_gpus_then_the_least_used() -> None:
    rot = GpuRotation(["0", "1", "2"], per_trial=1)
    assert [rot.acquire(t) for t in range(3)] == ["0", "1", "2"]
    rot.release(1)
    assert rot.acquire(3) == "1"  # the only free one
    assert rot.acquire(4) == "0"  # none free: busy counts tie, GPU 0 was given out least
    rot.release(4)
    rot.release(4)  # idempotent
    assert rot.holding() == {0: "0", 2: "2", 3: "1"}
    two = GpuRotation(["a", "b", "c"], per_trial=2)
    assert two.acquire(0) == "a,b" and two.acquire(1) == "a,c"  # c free, then a given least
    assert two.acquire(0) == "b,c"  # a new attempt of trial 0 first gives its GPUs back


def test_more_gpus_per_trial_than_exist_gives_each_trial_all(caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    rot = GpuRotation(["0", "1"], per_trial=4)
    assert rot.acquire(0) == "0,1" and rot.acquire(1) == "0,1"
    assert "num_gpus_per_trial=4 but only 2 GPUs" in caplog.text
    caplog.clear()
    none = GpuRotation([], per_trial=1)  # a machine without GPUs: nothing to say
    assert none.gpus == [] and not caplog.records


def test_detect_gpus_from_cuda_visible_devices_or_nvidia_smi(tmp_path: Path) -> None:
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "2, 3", "PATH": ""}) == ["2", "3"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "GPU-1a,GPU-2b"}) == ["GPU-1a", "GPU-2b"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []  # CUDA: no device at all
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # stops at -1, as CUDA
    assert detect_gpus({"PATH": str(tmp_path)}) == []  # no nvidia-smi
    fake_nvidia_smi(tmp_path, 3)
    assert detect_gpus({"PATH": str(tmp_path)}) == ["0", "1", "2"]
    fake_nvidia_smi(tmp_path, 3, exit_code=9)  # driver trouble: no GPUs, a warning
    assert detect_gpus({"PATH": str(tmp_path)}) == []


def test_bad_gpu_arguments_are_refused_by_name(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    for kwargs, needle in [
        ({"num_gpus_per_trial": 0}, "num_gpus_per_trial"),
        ({"num_gpus_per_trial": 1.5}, "num_gpus_per_trial"),
        ({"gpus_to_use": []}, "gpus_to_use"),
        ({"gpus_to_use": "0,1"}, "gpus_to_use"),
        ({"gpus_to_use": [0, -1]}, "-1 is not a GPU id"),
        ({"gpus_to_use": [1, 1]}, "lists a GPU twice"),
    ]:
        with pytest.raises(InvalidArgumentError, match=needle):
            LocalBackend(script, **kwargs)
    with pytest.raises(InvalidArgumentError, match="num_gpus_per_trial"):
        PythonBackend(print, {}, num_gpus_per_trial=-2)


def test_concurrent_trials_never_share_a_gpu(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    runs = run_trials(tmp_path, monkeypatch, gpus_to_use=[0, 1])
    assert {r["gpus"] for r in runs} == {"0", "1"}
    pairs = overlapping(runs)
    assert pairs  # two workers: trials did run side by side
    assert all(a["gpus"] != b["gpus"] for a, b in pairs)


def test_gpus_found_by_nvidia_smi_are_rotated(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_nvidia_smi(bin_dir, 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    runs = run_trials(tmp_path, monkeypatch, trials=4, workers=2, num_gpus_per_trial=2)
    assert {r["gpus"] for r in runs} == {"0,1"}
    runs = run_trials(tmp_path / "again", monkeypatch, trials=4, workers=2)
    assert all(a["gpus"] != b["gpus"] for a, b in overlapping(runs))


def test_rotation_off_or_the_users_own_setting_leaves_the_variable_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    runs = run_trials(tmp_path / "a", monkeypatch, trials=2, gpus_to_use=[0, 1],
                      rotate_gpus=False)
    assert {r["gpus"] for r in runs} == {"unset"}
    runs = run_trials(tmp_path / "b", monkeypatch, trials=2, gpus_to_use=[0, 1],
                      env={"CUDA_VISIBLE_DEVICES": "7"})
    assert {r["gpus"] for r in runs} == {"7"}


def test_gpu_arguments_survive_the_tuner_state(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    backend = LocalBackend(script, rotate_gpus=True, num_gpus_per_trial=2, gpus_to_use=[3, "GPU-x"])
    again = from_spec(to_spec(backend))
    assert (again.rotate_gpus, again.num_gpus_per_trial, again.gpus_to_use) == (
        True, 2, ["3", "GPU-x"]
    )
