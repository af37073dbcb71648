"""Hostile input: fuzzed and forged frames, bad metric values and names, hostile configs, names."""

from __future__ import annotations

import datetime
import json
import os
import random
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiotune.backends._report_server import ReportServer
from aiotune.backends.local import LocalBackend
from aiotune.clock import RealClock
from aiotune.errors import ConfigValueError, InvalidArgumentError, WireError
from aiotune.events import Event, ResultEvent, TrialEndedEvent
from aiotune.status import TuningStatus
from aiotune.store.event_log import read_log
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.store.records import TrialAdded
from aiotune.trial import Trial, TrialStatus
from aiotune.tuner import Tuner
from aiotune.wire import (
    ENV_REPORT_ADDR,
    ENV_SECRET,
    Goodbye,
    Hello,
    Report,
    decode_payload,
    encode_frame,
)

from .conftest import FAULTY, SCRIPTS, ListScheduler, zombie_children

ECHO = SCRIPTS / "echo_argv.py"
HEALTHY_REPORTS = 1000


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset)."""
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def _raw_report(tid: int, attempt: int, seq: int, metrics: Any) -> bytes:
    """A Report frame encoded without any client-side validation (a hostile trial)."""
    body = msgspec.msgpack.encode(
        {"type": "report", "trial_id": tid, "attempt": attempt, "seq": seq, "metrics": metrics}
    )
    return struct.pack("!I", len(body)) + body


def _hostile_clients(path: str, secret0: str, secret1: str, rng: random.Random) -> int:
    """Throw bad frames at the server; returns the number of connections opened (each bad).

    Trial 1 idles for the whole test, so the forged hellos aim at a live registration.
    """
    n = 0

    def attempt(payload: bytes) -> None:
        nonlocal n
        n += 1
        sock = _connect(path)
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed_by_peer(sock)
        sock.close()

    hello1 = encode_frame(Hello(trial_id=1, attempt=0, secret=secret1))
    for _ in range(40):  # random bytes, with and without a plausible length prefix
        junk = rng.randbytes(rng.randrange(1, 200))
        attempt(junk if rng.random() < 0.5 else struct.pack("!I", len(junk)) + junk)
    attempt(struct.pack("!I", 1 << 30))  # oversized: refused before allocating
    attempt(struct.pack("!I", 100) + b"x" * 10)  # stalled: half a frame, then silence
    attempt(encode_frame(Report(trial_id=1, attempt=0, seq=0, metrics={"x": 1.0})))  # no hello
    attempt(encode_frame(Hello(trial_id=1, attempt=0, secret="0" * 64)))  # wrong secret
    attempt(encode_frame(Hello(trial_id=1, attempt=0, secret=secret0)))  # another trial's secret
    attempt(encode_frame(Hello(trial_id=1, attempt=1, secret=secret1)))  # another attempt
    attempt(encode_frame(Hello(trial_id=7, attempt=0, secret=secret1)))  # unknown trial
    # trial 1's own (stolen) secret, then a report claiming to be trial 0's
    attempt(hello1 + encode_frame(Report(trial_id=0, attempt=0, seq=5, metrics={"x": 1.0})))
    attempt(hello1 + hello1)  # a second hello
    attempt(hello1 + _raw_report(1, 0, 0, {"x": "a string"}))  # invalid metric value
    attempt(hello1 + b"\x00\x00\x00\x03abc")  # undecodable body after a good hello
    return n


@pytest.mark.asyncio
async def test_fuzzed_frames_never_disturb_a_healthy_trial(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    backend = LocalBackend(FAULTY)
    seen: list[Event] = []
    result: list[int] = []
    with anyio.fail_after(60):
        async with backend.session(exp) as events:
            server = backend._session.server  # type: ignore[union-attr]
            server._frame_timeout = 1.0  # the stalled frame is cut off quickly
            await backend.start_trial(Trial(trial_id=1, config={"mode": "stall", "k": 0}))
            env1 = server.register(1, 0)  # an existing registration: gives its secret back
            healthy = {"mode": "ok", "n": HEALTHY_REPORTS, "period": 0.001}
            await backend.start_trial(Trial(trial_id=0, config=healthy))
            env0 = server.register(0, 0)
            rng = random.Random(7)

            async def hostile() -> None:
                result.append(
                    await anyio.to_thread.run_sync(
                        _hostile_clients,
                        env0[ENV_REPORT_ADDR],
                        env0[ENV_SECRET],
                        env1[ENV_SECRET],
                        rng,
                    )
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(hostile)
                async for event in events:
                    seen.append(event)
                    if isinstance(event, TrialEndedEvent) and event.trial_id == 0:
                        break
            # here the hostile task is done too (the task group waited for it)
            await backend.stop_trial(1)
            stats = server.stats
    got = [e for e in seen if isinstance(e, ResultEvent) and e.trial_id == 0]
    assert [e.seq for e in got] == list(range(HEALTHY_REPORTS))  # all 1,000, in order, once
    assert [e.metrics["epoch"] for e in got] == list(range(1, HEALTHY_REPORTS + 1))
    assert not [e for e in seen if isinstance(e, ResultEvent) and e.trial_id != 0]
    ended = [e for e in seen if isinstance(e, TrialEndedEvent)]
    assert ended[0].status is TrialStatus.COMPLETED
    # every hostile connection was refused or cut off, and counted once
    reasons = stats.rejections
    assert stats.connections_rejected + stats.frames_rejected == result[0], reasons
    assert stats.connections_rejected >= 6, reasons
    assert any("stalled frame" in r or "no hello within" in r for r in reasons), reasons
    for fragment in (
        "exceeds the",
        "wrong secret",
        "not a Hello",
        "attempt 1, which is not registered",
        "trial 7 attempt 0",
        "Report for trial 0 attempt 0 on this connection",
        "a second hello",
        "'x' has a value of type str",
        "undecodable",
    ):
        assert any(fragment in r for r in reasons), (fragment, reasons)


@pytest.mark.asyncio
async def test_a_replayed_frame_is_dropped_once(tmp_path: Path) -> None:
    send, receive = anyio.create_memory_object_stream[Event](100)
    server = ReportServer(send, RealClock(), frame_timeout=1.0)
    async with receive, anyio.create_task_group() as tg:
        path = await tg.start(server.serve)
        env = server.register(3, 0)
        frames = [encode_frame(Hello(trial_id=3, attempt=0, secret=env[ENV_SECRET]))]
        frames += [
            encode_frame(Report(trial_id=3, attempt=0, seq=s, metrics={"v": s}))
            for s in (0, 1, 1, 0, 2)
        ]
        frames.append(encode_frame(Goodbye(trial_id=3, attempt=0, count=3)))
        sock = await anyio.to_thread.run_sync(_connect, path)
        sock.sendall(b"".join(frames))
        sock.close()
        got = []
        with anyio.fail_after(5):
            while len(got) < 3:
                got.append(await receive.receive())
        await server.drain(3, 0, 2.0)
        server.unregister(3, 0)
        # a late frame of the retired attempt (say, from a frozen process) is refused
        late = await anyio.to_thread.run_sync(_connect, path)
        late.sendall(frames[0] + frames[1])
        assert await anyio.to_thread.run_sync(_closed_by_peer, late)
        late.close()
        tg.cancel_scope.cancel()
    assert [(e.seq, e.metrics["v"]) for e in got] == [(0, 0), (1, 1), (2, 2)]
    assert server.stats.duplicates_dropped == 2
    assert server.stats.connections_rejected == 1


BAD_METRICS: list[tuple[dict[Any, Any], str]] = [
    ({"loss": "0.1"}, "'loss'"),
    ({"loss": None}, "'loss'"),
    ({"loss": [1.0]}, "'loss'"),
    ({"loss": {"a": 1}}, "'loss'"),
    ({"loss": 2**63}, "'loss'"),
    ({"loss": b"raw"}, "'loss'"),
    ({"": 1.0}, "empty"),
    ({"seq": 1.0}, "'seq'"),
    ({"trial_id": 1.0}, "'trial_id'"),
    ({"aiotune_x": 1.0}, "'aiotune_x'"),
    ({"n" * 10_000: 1.0}, "10000 characters"),
    ({1: 1.0}, "undecodable"),
]


@pytest.mark.asyncio
async def test_bad_metric_values_and_names_are_rejected_naming_the_key() -> None:
    send, receive = anyio.create_memory_object_stream[Event](100)
    server = ReportServer(send, RealClock(), frame_timeout=1.0)
    async with receive, anyio.create_task_group() as tg:
        path = await tg.start(server.serve)
        env = server.register(0, 0)
        hello = encode_frame(Hello(trial_id=0, attempt=0, secret=env[ENV_SECRET]))
        for i, (metrics, _) in enumerate(BAD_METRICS):
            sock = await anyio.to_thread.run_sync(_connect, path)
            sock.sendall(hello + _raw_report(0, 0, i, metrics))
            assert await anyio.to_thread.run_sync(_closed_by_peer, sock), metrics
            sock.close()
        # NaN, +-inf, big ints and bools are data: kept as they are
        good = {
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": -float("inf"),
            "big": 2**63 - 1,
            "small": -(2**63),
            "flag": True,
        }
        sock = await anyio.to_thread.run_sync(_connect, path)
        sock.sendall(hello + _raw_report(0, 0, 100, good))
        sock.close()
        with anyio.fail_after(5):
            event = await receive.receive()
        tg.cancel_scope.cancel()
    assert server.stats.frames_rejected == len(BAD_METRICS)
    for (_, fragment), reason in zip(BAD_METRICS, server.stats.rejections, strict=True):
        assert fragment in reason, reason
    m = event.metrics
    assert m["nan"] != m["nan"] and m["inf"] == float("inf") and m["ninf"] == -float("inf")
    assert m["big"] == 2**63 - 1 and m["small"] == -(2**63) and m["flag"] is True


def test_validation_holds_under_python_O() -> None:
    code = (
        "from aiotune.wire import validate_metrics\n"
        "from aiotune.errors import WireError\n"
        "from aiotune.reporter import Reporter\n"
        "bad = [{'': 1}, {'seq': 1}, {'x'*300: 1}, {'x': 'str'}, {'x': None}, {'x': [1]}]\n"
        "n = 0\n"
        "for m in bad:\n"
        "    try:\n"
        "        validate_metrics(m)\n"
        "    except WireError:\n"
        "        n += 1\n"
        "    try:\n"
        "        Reporter()(**m)\n"
        "    except ValueError:\n"
        "        n += 1\n"
        "assert __debug__ is False\n"
        "print(n)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOTUNE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-O", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.split()[-1] == "12"


def test_nan_is_never_best() -> None:
    status = TuningStatus(["loss"], ["min"])
    for tid, value in enumerate([float("nan"), 3.0, float("nan"), 2.0]):
        status.on_trial_started(tid, {})
        status.on_result(tid, {"loss": value})
    best = status.best_trial("loss")
    assert best is not None and best.trial_id == 3
    only_nan = TuningStatus(["loss"], ["max"])
    only_nan.on_trial_started(0, {})
    only_nan.on_result(0, {"loss": float("nan")})
    assert only_nan.best_trial("loss") is None


@pytest.mark.asyncio
async def test_nan_is_never_an_asha_cutoff() -> None:
    from aiotune.config_space import uniform
    from aiotune.events import Decision
    from aiotune.schedulers.asha import ASHA

    asha = ASHA(
        {"x": uniform(0, 1)},
        metric="loss",
        mode="min",
        max_t=9,
        grace_period=1,
        reduction_factor=2,
        random_seed=0,
    )
    trials = []
    for tid in range(4):
        suggestion = await asha.suggest()
        trial = Trial(trial_id=tid, config=dict(suggestion.config))
        await asha.on_trial_add(trial)
        trials.append(trial)
    # three NaN results fill the first rung: none of them may become the bar to beat
    for trial in trials[:3]:
        await asha.on_result(trial, {"epoch": 1, "loss": float("nan")})
    decision = await asha.on_result(trials[3], {"epoch": 1, "loss": 5.0})
    assert decision is Decision.CONTINUE  # a real value beats "no value"


def _run_echo(configs: list[dict[str, Any]], **backend_kwargs: Any) -> Tuner:
    tuner = Tuner(
        LocalBackend(ECHO, **backend_kwargs),
        ListScheduler(configs),
        lambda s: False,
        n_workers=2,
        max_failures=len(configs),
        tuner_name="echo",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    return tuner


HOSTILE_VALUES = {
    "semi": "; touch PWNED #",
    "subst": "$(touch PWNED)",
    "tick": "`touch PWNED`",
    "opt": "--st_checkpoint_dir",
    "dash": "-",
    "space": "a b\tc\nd",
    "quotes": "'\"\\",
    "glob": "*",
    "redir": "> PWNED",
    "uni": "é ☃ \u202e",
    "empty": "",
    "big": "x" * 100_000,
}


def test_config_values_arrive_byte_exact_as_one_argv_entry_each(tmp_path: Path) -> None:
    tuner = _run_echo([HOSTILE_VALUES, HOSTILE_VALUES])
    assert tuner.status.num_trials_completed == 2
    argv = json.loads((tuner.tuner_path / "trials/0/checkpoints/argv.json").read_text())["argv"]
    expected: list[str] = []
    for key, value in HOSTILE_VALUES.items():
        expected += [f"--{key}", value]
    assert argv[: len(expected)] == expected  # no shell: nothing split, expanded or lost
    assert argv[len(expected)] == "--st_checkpoint_dir" and len(argv) == len(expected) + 2
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()


def test_config_values_arrive_byte_exact_as_json(tmp_path: Path) -> None:
    config = {**HOSTILE_VALUES, "nul": "a\0b", "num": 3, "f": 0.1}
    tuner = _run_echo([config], pass_args_as_json=True)
    got = json.loads((tuner.tuner_path / "trials/0/checkpoints/argv.json").read_text())
    assert got["config"] == config


def test_a_nul_byte_cannot_reach_argv_and_no_process_is_spawned() -> None:
    tuner = _run_echo([{"ok": "fine"}, {"name": "a\0b"}])
    bad = tuner.status.trials[1]
    assert bad.status is TrialStatus.FAILED and "'name'" in bad.reason and "NUL" in bad.reason
    assert not (tuner.tuner_path / "trials/1/stdout").exists()  # nothing was started
    assert tuner.status.trials[0].status is TrialStatus.COMPLETED


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"s": {1, 2}}, "'s'"),
        ({"d": datetime.datetime(2024, 1, 1)}, "'d'"),
        ({"o": object()}, "'o'"),
        ({"t": (1, 2)}, "'t'"),
        ({"b": b"bytes"}, "'b'"),
        ({"n": float("nan")}, "'n'"),
        ({"a": np.arange(3)}, "'a'"),
    ],
)
def test_a_config_that_cannot_round_trip_is_never_spawned(config: dict[str, Any], key: str) -> None:
    configs = [{"mode": "hang", "k": 1}, {"mode": "ok", **config}]
    tuner = Tuner(
        LocalBackend(FAULTY, stop_grace_period=0.5),
        ListScheduler(configs),
        lambda s: False,
        n_workers=2,
        tuner_name="bad",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    with pytest.raises(ConfigValueError, match=key):
        tuner.run()
    records = read_log(tuner.tuner_path / "events.log").records
    assert [r.trial_id for r in records if isinstance(r, TrialAdded)] == [0]
    assert not (tuner.tuner_path / "trials" / "1").exists()
    ended = [r for r in records if isinstance(r, TrialEndedEvent)]
    assert [e.trial_id for e in ended] == [0]  # the running trial was stopped on the way out
    assert zombie_children() == []


def test_numpy_scalars_in_configs_are_converted_explicitly() -> None:
    config = {"mode": "ok", "x": np.float32(0.5), "i": np.int64(3), "flag": np.bool_(True)}
    tuner = Tuner(
        LocalBackend(FAULTY),
        ListScheduler([config]),
        lambda s: False,
        n_workers=1,
        tuner_name="np",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    (added,) = [
        r for r in read_log(tuner.tuner_path / "events.log").records if isinstance(r, TrialAdded)
    ]
    assert added.config == {"mode": "ok", "x": 0.5, "i": 3, "flag": True}
    assert type(added.config["i"]) is int and type(added.config["flag"]) is bool


@pytest.mark.parametrize(
    "name", ["../escape", "/abs/path", "a/../../b", "..", ".", "", "a/b", "x\0y", "-x", "n" * 200]
)
def test_path_like_tuner_names_are_refused(name: str, tmp_path: Path) -> None:
    before = set(tmp_path.parent.iterdir())
    with pytest.raises(InvalidArgumentError):
        Tuner(
            LocalBackend(FAULTY),
            ListScheduler([]),
            lambda s: False,
            n_workers=1,
            tuner_name=name,
            suffix_tuner_name=False,
        )
    assert set(tmp_path.parent.iterdir()) == before
    assert not (tmp_path / "results").exists()  # nothing written anywhere


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_frame_or_a_wire_error(payload: bytes) -> None:
    try:
        msg = decode_payload(payload)
    except WireError:
        return
    assert isinstance(msg, Hello | Report | Goodbye)


def test_deeply_nested_values_are_a_wire_error_not_a_crash() -> None:
    head = b"\x85\xa4type\xa6report\xa8trial_id\x00\xa7attempt\x00\xa3seq\x00\xa7metrics\x81\xa1x"
    with pytest.raises(WireError, match="undecodable frame"):
        decode_payload(head + b"\x91" * 200_000 + b"\x01")


def test_nan_reports_are_kept_but_never_best_nor_a_stopping_threshold() -> None:
    from aiotune.stopping import StoppingCriterion

    tuner = Tuner(
        LocalBackend(FAULTY),
        ListScheduler([{"mode": "nan", "n": 3}, {"mode": "ok", "n": 2}]),
        StoppingCriterion(max_metric_value={"loss": 100.0}),
        n_workers=1,
        tuner_name="nan",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    assert tuner.status.num_trials_completed == 2  # NaN never crossed the "loss >= 100" bar
    assert tuner.status.trials[0].num_results == 3  # kept as data
    assert tuner.best_config("loss")[0] == 1
    rows = (tuner.tuner_path / "results.csv").read_text().splitlines()
    assert sum(",nan" in row for row in rows) == 3  # exported explicitly, not as null


SYNE_TUNE_STRINGS = """\
import json
for epoch in (1, 2, 3):
    print("[tune-metric]: " + json.dumps(
        {"epoch": epoch, "loss": 1.0 / epoch, "phase": "train", "extra": None}), flush=True)
"""


def test_a_syne_tune_line_with_a_string_keeps_its_numbers(tmp_path: Path) -> None:
    """Syne Tune's reporter takes any JSON value; the trial's numbers all arrive and it
    completes (it used to be failed as "exited 0 without reporting")."""
    script = tmp_path / "st_strings.py"
    script.write_text(SYNE_TUNE_STRINGS)
    tuner = Tuner(
        trial_backend=LocalBackend(script),
        scheduler=ListScheduler([{"x": 1}]),
        stop_criterion=lambda status: False,
        n_workers=1,
        tuner_name="st-strings",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    summary = tuner.status.trials[0]
    assert summary.status is TrialStatus.COMPLETED and summary.num_results == 3
    assert summary.last_result["loss"] == pytest.approx(1 / 3)
    assert "phase" not in summary.last_result and "extra" not in summary.last_result
