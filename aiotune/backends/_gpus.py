"""GPU rotation for the process backends: each trial gets the least used GPUs.

As Syne Tune's ``LocalBackend(rotate_gpus=True)``: a new trial attempt is given
``num_gpus_per_trial`` GPUs through ``CUDA_VISIBLE_DEVICES``, preferring GPUs no
running attempt holds, then the ones handed out least so far. The pool is
``gpus_to_use`` if given, else the ids in the tuner's own ``CUDA_VISIBLE_DEVICES``
if set, else what ``nvidia-smi --list-gpus`` lists; with no GPU nothing is set.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from ..errors import InvalidArgumentError

__all__ = ["CUDA_VISIBLE_DEVICES", "GpuRotation", "check_gpus_to_use", "detect_gpus"]

logger = logging.getLogger(__name__)

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
NVIDIA_SMI_TIMEOUT = 10.0
_GPU_LINE = re.compile(r"^GPU (\d+):", re.MULTILINE)


def check_gpus_to_use(gpus: Sequence[int | str] | None) -> list[str] | None:
    """``gpus_to_use`` as CUDA device names; InvalidArgumentError naming a bad entry."""
    if gpus is None:
        return None
    if isinstance(gpus, str | bytes) or not isinstance(gpus, Sequence) or not gpus:
        raise InvalidArgumentError(f"gpus_to_use must be a non-empty list of GPU ids, got {gpus!r}")
    names: list[str] = []
    for gpu in gpus:
        ok_int = isinstance(gpu, int) and not isinstance(gpu, bool) and gpu >= 0
        ok_str = isinstance(gpu, str) and bool(gpu.strip()) and "," not in gpu
        if not (ok_int or ok_str):
            raise InvalidArgumentError(
                f"gpus_to_use: {gpu!r} is not a GPU id (an int >= 0 or a device name)"
            )
        names.append(str(gpu).strip())
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"gpus_to_use lists a GPU twice: {list(gpus)!r}")
    return names


def detect_gpus(environ: Mapping[str, str]) -> list[str]:
    """The GPUs trials may use: ``environ``'s ``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi``'s list.

    Blocking (it may run ``nvidia-smi``): call it in a worker thread.
    """
    visible = environ.get(CUDA_VISIBLE_DEVICES)
    if visible is not None:
        names = []
        for part in visible.split(","):
            part = part.strip()
            if not part or part.startswith("-"):  # CUDA stops at the first invalid entry
                break
            names.append(part)
        return names
    smi = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--list-gpus"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("nvidia-smi --list-gpus failed (%s): trials get no GPU assignment", exc)
        return []
    if out.returncode != 0:
        logger.warning(
            "nvidia-smi --list-gpus exited with %d: trials get no GPU assignment", out.returncode
        )
        return []
    return _GPU_LINE.findall(out.stdout)


class GpuRotation:
    """Hands ``per_trial`` GPUs of ``gpus`` to each running attempt, least used first."""

    def __init__(self, gpus: Sequence[str], per_trial: int) -> None:
        self.gpus = list(gpus)
        if self.gpus and per_trial > len(self.gpus):
            logger.warning(
                "num_gpus_per_trial=%d but only %d GPUs (%s): each trial gets all of them",
                per_trial, len(self.gpus), ",".join(self.gpus),
            )
        self.per_trial = min(per_trial, len(self.gpus))
        self._busy = [0] * len(self.gpus)  # running attempts holding each GPU
        self._given = [0] * len(self.gpus)  # attempts ever given each GPU
        self._held: dict[int, list[int]] = {}  # trial id -> indices into gpus

    def acquire(self, trial_id: int) -> str:
        """``CUDA_VISIBLE_DEVICES`` for a new attempt of ``trial_id``, held until released."""
        self.release(trial_id)
        order = sorted(range(len(self.gpus)), key=lambda i: (self._busy[i], self._given[i], i))
        chosen = sorted(order[: self.per_trial])
        for i in chosen:
            self._busy[i] += 1
            self._given[i] += 1
        self._held[trial_id] = chosen
        return ",".join(self.gpus[i] for i in chosen)

    def release(self, trial_id: int) -> None:
        """The attempt of ``trial_id`` ended: its GPUs are free again (idempotent)."""
        for i in self._held.pop(trial_id, []):
            self._busy[i] -= 1

    def holding(self) -> dict[int, str]:
        """Running trial id -> its ``CUDA_VISIBLE_DEVICES``."""
        return {tid: ",".join(self.gpus[i] for i in idx) for tid, idx in self._held.items()}
