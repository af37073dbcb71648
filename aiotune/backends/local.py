"""LocalBackend: each trial runs a training script as a local subprocess.

The script gets its config as command-line arguments, one argv entry per value
(``--lr 0.1 --name 'a b'``; no shell ever parses them), or as one JSON file
(``--st_config_json_filename <path>``, Syne Tune's option, which its
``add_config_json_to_argparse`` and ``load_config_json`` read), and always
``--st_checkpoint_dir <folder>`` as Syne Tune passes it. It reports with
:class:`aiotune.Reporter` over a local socket, or prints Syne Tune's
``[tune-metric]: {json}`` lines: both arrive as results, so Syne Tune training
scripts run unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiofiles
import msgspec

from .._spec import component
from ..errors import InvalidArgumentError
from ..trial import Trial
from ._process import LaunchSpec, ProcessBackend, child_pythonpath
from .base import ExperimentPaths

__all__ = ["LocalBackend"]

CONFIG_JSON_NAME = "config.json"
CONFIG_JSON_ARG = "st_config_json_filename"
"""The option naming the JSON config file: Syne Tune's ``ST_CONFIG_JSON_FNAME_ARG``."""
_json_encoder = msgspec.json.Encoder()


@component
class LocalBackend(ProcessBackend):
    """Runs ``entry_point`` once per trial attempt as a local process group.

    ``python`` is the interpreter for ``.py`` entry points (default: the one
    running aiotune); any other entry point is executed directly. With
    ``pass_args_as_json`` the config is written to ``trials/<id>/config.json``
    and passed as ``--st_config_json_filename <path>``, as Syne Tune does (values
    of any JSON type, NUL bytes included). ``env`` is
    added to the trials' environment. ``stop_grace_period`` is how long a
    stopped or paused trial gets between SIGTERM and SIGKILL. With
    ``delete_checkpoints`` a trial's checkpoint folder is removed when it
    completes or is stopped (never when it is paused).

    ``trial_timeout`` (seconds, per attempt) and ``heartbeat_timeout`` (seconds
    without an accepted report, counted from the start) end a hung trial: SIGTERM
    to its process group, SIGKILL after ``stop_grace_period``; it is recorded as
    FAILED with the reason ``"timeout: ..."`` or ``"no report for N s ..."``.

    GPUs, as Syne Tune's: with ``rotate_gpus`` each attempt gets
    ``num_gpus_per_trial`` GPUs in ``CUDA_VISIBLE_DEVICES``, free ones first,
    then the least used; the pool is ``gpus_to_use``, else the tuner's own
    ``CUDA_VISIBLE_DEVICES``, else what ``nvidia-smi`` lists (none: nothing set).
    A ``CUDA_VISIBLE_DEVICES`` in ``env`` turns the rotation off.
    """

    def __init__(
        self,
        entry_point: str | Path,
        pass_args_as_json: bool = False,
        delete_checkpoints: bool = False,
        python: str | None = None,
        stop_grace_period: float = 5.0,
        env: dict[str, Any] | None = None,
        trial_timeout: float | None = None,
        heartbeat_timeout: float | None = None,
        rotate_gpus: bool = True,
        num_gpus_per_trial: int = 1,
        gpus_to_use: Sequence[int | str] | None = None,
    ) -> None:
        super().__init__(
            stop_grace_period=stop_grace_period,
            trial_timeout=trial_timeout,
            heartbeat_timeout=heartbeat_timeout,
            rotate_gpus=rotate_gpus,
            num_gpus_per_trial=num_gpus_per_trial,
            gpus_to_use=gpus_to_use,
        )
        path = Path(entry_point).expanduser().resolve()
        if not path.is_file():
            raise InvalidArgumentError(f"entry_point {str(entry_point)!r} is not a file")
        if env is not None and not (
            isinstance(env, dict) and all(isinstance(k, str) for k in env)
        ):
            raise InvalidArgumentError("env must be a dict with string keys")
        for key, value in (env or {}).items():
            if "\0" in key or "=" in key or not key or "\0" in str(value):
                raise InvalidArgumentError(f"env variable {key!r} cannot be set")
        self.entry_point = path
        self.pass_args_as_json = bool(pass_args_as_json)
        self.delete_checkpoints = bool(delete_checkpoints)
        self.python = python
        self.env = {k: str(v) for k, v in (env or {}).items()}
        if python is not None:
            self._interpreter = [python]
        elif path.suffix == ".py":
            self._interpreter = [sys.executable]
        else:
            self._interpreter = []

    def __repr__(self) -> str:
        return (
            f"LocalBackend(entry_point={str(self.entry_point)!r}, "
            f"pass_args_as_json={self.pass_args_as_json}, "
            f"delete_checkpoints={self.delete_checkpoints}, "
            f"stop_grace_period={self.stop_grace_period}, "
            f"trial_timeout={self.trial_timeout}, heartbeat_timeout={self.heartbeat_timeout}, "
            f"rotate_gpus={self.rotate_gpus}, num_gpus_per_trial={self.num_gpus_per_trial})"
        )

    async def _launch_spec(self, trial: Trial, experiment: ExperimentPaths) -> LaunchSpec:
        """The argv of one attempt; raises ValueError naming a key that cannot be passed."""
        checkpoint_dir = experiment.checkpoint_dir(trial.trial_id)
        argv = [*self._interpreter, os.fspath(self.entry_point)]
        if self.pass_args_as_json:
            try:
                data = _json_encoder.encode(trial.config)
            except (TypeError, msgspec.EncodeError) as exc:
                raise ValueError(f"config cannot be written as JSON: {exc}") from exc
            path = experiment.trial_dir(trial.trial_id) / CONFIG_JSON_NAME
            async with aiofiles.open(path, "wb") as file:
                await file.write(data)
            argv += [f"--{CONFIG_JSON_ARG}", os.fspath(path)]
        else:
            argv += config_to_argv(trial.config)
        argv += ["--st_checkpoint_dir", os.fspath(checkpoint_dir)]
        env = dict(self.env)
        pythonpath = child_pythonpath({**os.environ, **env})
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        return LaunchSpec(argv=argv, env=env, cwd=os.fspath(self.entry_point.parent))


def config_to_argv(config: dict[str, Any]) -> list[str]:
    """``["--name", "value", ...]``: one argv entry per value, ``str()`` of each.

    Raises ValueError naming the key when a name or value cannot be an argv
    entry (a NUL byte; a name that is empty or starts with ``-``).
    """
    argv: list[str] = []
    for key, value in config.items():
        name = str(key)
        text = value if isinstance(value, str) else str(value)
        if not name or name.startswith("-") or "\0" in name or any(c.isspace() for c in name):
            raise ValueError(f"config key {name!r} cannot be a command-line option")
        if "\0" in text:
            raise ValueError(f"value of {name!r} contains a NUL byte (use pass_args_as_json)")
        argv += [f"--{name}", text]
    return argv
