"""Starts a grandchild, records both pids, reports once, then waits forever.

With --ignore_term True both ignore SIGTERM, so only SIGKILL ends them. With
--exit_now True the script exits at once, leaving the grandchild behind.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from aiotune.reporter import Reporter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore_term", default="False")
    parser.add_argument("--exit_now", default="False")
    parser.add_argument("--st_checkpoint_dir", type=str)
    args = parser.parse_args()
    code = "import signal, time\n"
    if args.ignore_term == "True":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "time.sleep(120)\n"
    grandchild = subprocess.Popen([sys.executable, "-c", code])
    pids = {"child": os.getpid(), "grandchild": grandchild.pid}
    Path(args.st_checkpoint_dir, "pids.json").write_text(json.dumps(pids))
    Reporter()(ready=1)
    if args.exit_now == "True":  # leave the grandchild behind, holding our stdout
        return
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
