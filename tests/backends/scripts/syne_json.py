"""A Syne Tune ``pass_args_as_json`` script, written as Syne Tune's docs show (no aiotune import).

``add_config_json_to_argparse`` adds ``--st_config_json_filename``; ``load_config_json``
merges that file into the parsed arguments. ``parse_args()`` (not ``parse_known_args``)
so any option this script does not declare fails it. Its defaults differ from every
config the tests use: a trial that silently ran on them would report them.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--st_config_json_filename", type=str)  # add_config_json_to_argparse
    parser.add_argument("--st_checkpoint_dir", type=str)
    config = vars(parser.parse_args())
    if config["st_config_json_filename"] is None:
        raise SystemExit("no --st_config_json_filename given")
    with open(config["st_config_json_filename"], encoding="utf-8") as file:  # load_config_json
        config.update(json.load(file))
    lr = config.get("lr", -1.0)
    layers = config.get("layers", [])
    metrics = {"epoch": 1, "lr_seen": lr, "n_layers": len(layers), "width_sum": sum(layers)}
    print(f"[tune-metric]: {json.dumps(metrics)}", flush=True)


if __name__ == "__main__":
    main()
