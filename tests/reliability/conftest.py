"""Shared fixtures of the reliability tests: a results root per test, helpers, the slow switch.

Tests marked ``slow`` are the scaled-up variants (RELIABILITY.md's full sizes);
they are skipped unless ``AIOTUNE_SLOW=1`` is set, so a plain ``python -m pytest``
stays fast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "scripts"
FAULTY = SCRIPTS / "faulty.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless AIOTUNE_SLOW=1 (or ``-m slow`` selects them explicitly)."""
    if os.environ.get("AIOTUNE_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="scaled-up variant: set AIOTUNE_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords and str(item.fspath).startswith(str(Path(__file__).parent)):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its experiments under its own tmp folder."""
    root = tmp_path / "results"
    monkeypatch.setenv("AIOTUNE_RESULTS", str(root))
    return root


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(predicate: Callable[[], bool], within: float = 5.0) -> bool:
    """Whether ``predicate()`` becomes true within ``within`` seconds (checked every 20 ms)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def gone_soon(pid: int, within: float = 5.0) -> bool:
    """Whether ``pid`` is gone within ``within`` seconds (SIGKILL delivery is asynchronous)."""
    return eventually(lambda: not alive(pid), within)


def open_fds() -> int:
    """Number of file descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def zombie_children() -> list[int]:
    """Pids of this process's children that are zombies (exited, never reaped)."""
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            out.append(int(entry))
    return out


def report_dirs() -> set[str]:
    """The report servers' socket folders currently in the temp folder."""
    import tempfile

    tmp = tempfile.gettempdir()
    base = tmp if len(tmp) < 64 else "/tmp"
    return {name for name in os.listdir(base) if name.startswith("aiotune-")}


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private temp folder for this test's report sockets (other runs share /tmp)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class ListScheduler:
    """Suggests the given configs in order, then None; optionally stops trials on a rule."""

    def __init__(
        self,
        configs: list[dict[str, object]],
        metric: str = "loss",
        stop_if: Callable[[int, dict[str, object]], bool] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.configs = list(configs)
        self.metric = [metric]
        self.mode = ["min"]
        self.stop_if = stop_if
        self.delay = delay
        self.results: dict[int, int] = {}
        self.errors: list[int] = []

    async def suggest(self) -> object:
        from aiotune.events import Suggestion

        return Suggestion.start(self.configs.pop(0)) if self.configs else None

    async def on_trial_add(self, trial: object) -> None:
        return None

    async def on_result(self, trial: object, result: dict[str, object]) -> object:
        import anyio

        from aiotune.events import Decision

        tid = trial.trial_id  # type: ignore[attr-defined]
        self.results[tid] = self.results.get(tid, 0) + 1
        if self.delay:
            await anyio.sleep(self.delay)  # a slow scheduler: the stream fills up
        if self.stop_if is not None and self.stop_if(tid, result):
            return Decision.STOP
        return Decision.CONTINUE

    async def on_trial_complete(self, trial: object, result: dict[str, object]) -> None:
        return None

    async def on_trial_error(self, trial: object) -> None:
        self.errors.append(trial.trial_id)  # type: ignore[attr-defined]

    def state(self) -> object:
        import msgspec

        class _S(msgspec.Struct):
            pass

        return _S()

    def restore(self, state: object) -> None:
        return None
