"""Writes its argv (and the JSON config file content, if any) to the checkpoint folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from aiotune.reporter import Reporter


def main() -> None:
    argv = sys.argv[1:]
    folder = Path(argv[argv.index("--st_checkpoint_dir") + 1])
    out = {"argv": argv, "cwd": os.getcwd(), "env_dir": os.environ.get("AIOTUNE_CHECKPOINT_DIR")}
    if "--st_config_json_filename" in argv:  # pass_args_as_json, Syne Tune's option
        config_file = Path(argv[argv.index("--st_config_json_filename") + 1])
        out["config"] = json.loads(config_file.read_text("utf-8"))
    (folder / "argv.json").write_text(json.dumps(out), encoding="utf-8")
    Reporter()(done=1)


if __name__ == "__main__":
    main()
