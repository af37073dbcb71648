"""Tuner names and where experiments live: no user string escapes the results root (G9)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = [
    "TUNER_NAME_RE",
    "default_results_root",
    "experiment_path",
    "make_tuner_name",
    "validate_tuner_name",
]

TUNER_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""What a tuner name (the experiment's folder name) must match."""

_NAME = re.compile(TUNER_NAME_RE)
_BAD_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_DEFAULT_BASE = "aiotune"
_MAX_LEN = 128
_SUFFIX_LEN = len("-2026-01-01-00-00-00-000")


def default_results_root() -> Path:
    """``$AIOTUNE_RESULTS`` when set and non-empty, else ``~/aiotune-results``; absolute.

    A relative ``$AIOTUNE_RESULTS`` is taken against the working directory now, so
    the experiment folder stays put for trials, which run in other folders.
    """
    root = os.environ.get("AIOTUNE_RESULTS") or "~/aiotune-results"
    return Path(root).expanduser().absolute()


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 80 else f"{text[:60]}...' ({len(str(name))} characters)"


def validate_tuner_name(name: str) -> str:
    """Return ``name`` if it matches :data:`TUNER_NAME_RE`; else InvalidArgumentError naming it."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InvalidArgumentError(
            f"invalid tuner name {_shown(name)}: it must be 1 to 128 characters of letters, "
            f"digits, '.', '_' or '-', starting with a letter or digit ({TUNER_NAME_RE})"
        )
    return name


def _base_from_entry_point(entry_point: str) -> str:
    stem = _BAD_CHARS.sub("-", Path(entry_point).stem).lstrip("._-")
    return stem[:_MAX_LEN] or _DEFAULT_BASE


def make_tuner_name(base: str | None, suffix: bool, entry_point: str | None = None) -> str:
    """Name a tuner: ``base`` (default: the entry point's stem, else "aiotune"), plus a UTC
    timestamp suffix ``-YYYY-MM-DD-HH-MM-SS-mmm`` when ``suffix`` (as Syne Tune does).

    An explicit ``base`` must itself be a valid name (InvalidArgumentError otherwise); a
    stem derived from ``entry_point`` is sanitized. With a suffix, the base is shortened
    so the whole name stays within 128 characters.
    """
    if base is None:
        base = _base_from_entry_point(entry_point) if entry_point else _DEFAULT_BASE
    validate_tuner_name(base)
    if not suffix:
        return base
    now = time.time()
    millis = int((now % 1) * 1000)
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(now)) + f"-{millis:03d}"
    base = base[: _MAX_LEN - _SUFFIX_LEN]
    return validate_tuner_name(f"{base}-{stamp}")


def experiment_path(root: Path, name: str) -> Path:
    """``root / name``, absolute, for a valid ``name`` whose resolved path stays strictly under
    the resolved ``root`` (a symlink pointing elsewhere is refused); InvalidArgumentError
    otherwise. Absolute because trials, run in other folders, are handed paths inside it.
    """
    validate_tuner_name(name)
    root = Path(root).expanduser().absolute()
    path = root / name
    real_root = root.resolve()
    real_path = path.resolve()
    if real_path == real_root or not real_path.is_relative_to(real_root):
        raise InvalidArgumentError(
            f"experiment {name!r} resolves to {real_path}, outside the results root {real_root}"
        )
    return path
