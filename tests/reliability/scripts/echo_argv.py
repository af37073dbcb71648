"""Writes its argv (and the JSON config it got, if any) to <checkpoint>/argv.json, then reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiotune.reporter import Reporter

args = sys.argv[1:]
ckpt = Path(args[len(args) - 1 - args[::-1].index("--st_checkpoint_dir") + 1])
ckpt.mkdir(parents=True, exist_ok=True)
out: dict[str, object] = {"argv": args}
if "--st_config_json_filename" in args:
    out["config"] = json.loads(Path(args[args.index("--st_config_json_filename") + 1]).read_text())
(ckpt / "argv.json").write_text(json.dumps(out))
Reporter()(loss=1.0)
