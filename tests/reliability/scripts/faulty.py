"""A training script that misbehaves on request (``--mode``), for the reliability tests.

Modes: ``ok`` (report --n results), ``nan`` (--n NaN losses), ``crash`` (--k reports, then exit 7),
``noreport`` (exit 0 at once), ``hang`` (--k reports, a grandchild, then wait
forever; both ignore SIGTERM with --ignore_term 1), ``sigkill`` (--k reports,
then SIGKILL itself), ``oom`` (--k reports, then allocate past RLIMIT_AS),
``midframe`` (--k reports, then half a frame and SIGKILL), ``stall`` (--k
reports every --period s, then silence), ``ckpt`` (--n epochs resuming from its
checkpoint; attempt 0 exits 5 at epoch --crash_at), ``count`` (report until
SIGTERM, then record how many were sent). Pids go to ``<checkpoint>/pids.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiotune.reporter import Reporter
from aiotune.wire import (
    ENV_ATTEMPT,
    ENV_REPORT_ADDR,
    ENV_SECRET,
    ENV_TRIAL_ID,
    Hello,
    Report,
    encode_frame,
)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="ok")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--period", type=float, default=0.0)
    p.add_argument("--ignore_term", type=int, default=0)
    p.add_argument("--crash_at", type=int, default=-1)
    p.add_argument("--st_checkpoint_dir", default=".")
    args, _ = p.parse_known_args()
    ckpt = Path(args.st_checkpoint_dir)
    ckpt.mkdir(parents=True, exist_ok=True)
    pids = {"child": os.getpid()}
    report = Reporter(add_time=False, add_cost=False)
    mode = args.mode
    if mode == "ok":
        for i in range(args.n):
            report(epoch=i + 1, loss=1.0 / (i + 1))
            if args.period:
                time.sleep(args.period)
        return
    if mode == "noreport":
        return
    if mode == "nan":
        for i in range(args.n):
            report(epoch=i + 1, loss=float("nan"))
        return
    if mode == "ckpt":
        state = ckpt / "epoch.json"
        start = json.loads(state.read_text())["epoch"] + 1 if state.exists() else 1
        for epoch in range(start, args.n + 1):
            if epoch == args.crash_at and os.environ.get(ENV_ATTEMPT) == "0":
                sys.exit(5)
            report(epoch=epoch, loss=1.0 / epoch, start=start)
            state.write_text(json.dumps({"epoch": epoch}))
        return
    if mode == "count":
        sent = 0

        def on_term(signum: int, frame: object) -> None:
            (ckpt / f"sent.{os.environ.get(ENV_ATTEMPT)}").write_text(str(sent))
            os._exit(0)

        signal.signal(signal.SIGTERM, on_term)
        for i in range(args.n):
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
            report(i=i)  # a report and its count are one step for SIGTERM
            sent += 1
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        (ckpt / f"sent.{os.environ.get(ENV_ATTEMPT)}").write_text(str(sent))
        return
    if mode in ("hang", "stall"):  # signals and the grandchild first, then the reports
        code = "import signal, time\n"
        if args.ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        code += "time.sleep(300)\n"
        grandchild = subprocess.Popen([sys.executable, "-c", code])
        pids["grandchild"] = grandchild.pid
        (ckpt / "pids.json").write_text(json.dumps(pids))
    for i in range(args.k):
        report(epoch=i + 1, loss=1.0 / (i + 1))
        if args.period:
            time.sleep(args.period)
    if mode in ("hang", "stall"):
        while True:
            time.sleep(3600)
    if mode == "crash":
        print("crashing on purpose", file=sys.stderr, flush=True)
        sys.exit(7)
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "oom":
        limit = 512 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        hog = bytearray(2 * limit)  # MemoryError under the limit
        print(len(hog))
        return
    if mode == "midframe":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(os.environ[ENV_REPORT_ADDR])
        tid, att = int(os.environ[ENV_TRIAL_ID]), int(os.environ[ENV_ATTEMPT])
        sock.sendall(encode_frame(Hello(trial_id=tid, attempt=att, secret=os.environ[ENV_SECRET])))
        frame = encode_frame(Report(trial_id=tid, attempt=att, seq=10**6, metrics={"x": 1.0}))
        sock.sendall(frame[: len(frame) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
