"""Plot anytime best-so-far curves of several methods: mean and standard-error band, one PNG.

Example::

    python benchmarks/plot_curves.py runs/digits --out digits.png [--regret] [--logx]

reads every ``*.json`` written by ``benchmarks/simulate.py`` under the given
folders, groups them by scheduler (one line per scheduler, one band over its
seeds) and plots best metric (or regret to the known optimum, or to the best
value any run found) against simulated time. Each seed's step curve is sampled
on a common time grid; a seed counts from its first result on.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def load_runs(folders: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """JSON records of the given folders, grouped by scheduler name."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for folder in folders:
        files = [folder] if folder.is_file() else sorted(folder.glob("*.json"))
        for path in files:
            rec = json.loads(path.read_text())
            if "time" in rec and "best" in rec:
                groups[rec["scheduler"]].append(rec)
    return dict(groups)


def sample_steps(times: list[float], values: list[float], grid: np.ndarray) -> np.ndarray:
    """The step function (value after its last improvement) at each grid time; NaN before."""
    if not times:
        return np.full(grid.shape, np.nan)
    idx = np.searchsorted(np.asarray(times), grid, side="right") - 1
    out = np.asarray(values, dtype=float)[np.clip(idx, 0, None)]
    out[idx < 0] = np.nan
    return out


def summarize(
    runs: list[dict[str, Any]], grid: np.ndarray, reference: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds at every grid point (regret if ``reference``)."""
    ys = np.stack([sample_steps(r["time"], r["best"], grid) for r in runs])
    if reference is not None:
        sign = 1.0 if runs[0]["mode"] == "min" else -1.0
        ys = sign * (ys - reference)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        n = np.sum(~np.isnan(ys), axis=0)
        mean = np.nanmean(ys, axis=0) if ys.size else ys
        std = np.nanstd(ys, axis=0, ddof=1) if len(runs) > 1 else np.zeros(grid.shape)
        se = np.where(n > 1, std / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, se


def main(argv: list[str] | None = None) -> None:
    """Read the runs and write the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("curves.png"))
    p.add_argument("--regret", action="store_true",
                   help="plot regret to the known optimum (else to the best value of all runs)")
    p.add_argument("--logx", action="store_true")
    p.add_argument("--logy", action="store_true")
    p.add_argument("--points", type=int, default=400)
    args = p.parse_args(argv)
    groups = load_runs(args.folders)
    if not groups:
        raise SystemExit(f"no curves found in {[str(f) for f in args.folders]}")
    every = [r for runs in groups.values() for r in runs]
    budget = max(r["budget"] for r in every)
    first = min((r["time"][0] for r in every if r["time"]), default=budget / args.points)
    grid = (
        np.geomspace(max(first, 1e-9), budget, args.points)
        if args.logx
        else np.linspace(0.0, budget, args.points)
    )
    reference = None
    if args.regret:
        opt = every[0].get("optimum")
        if opt is None:
            finals = [r["best"][-1] for r in every if r["best"]]
            opt = min(finals) if every[0]["mode"] == "min" else max(finals)
        reference = float(opt)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted(groups):
        runs = groups[name]
        mean, se = summarize(runs, grid, reference)
        line = ax.step(grid, mean, where="post", label=f"{name} ({len(runs)} seeds)")[0]
        ax.fill_between(grid, mean - se, mean + se, step="post", alpha=0.25,
                        color=line.get_color(), linewidth=0)
    rec = every[0]
    ax.set_xlabel("simulated time (s)")
    ylabel = f"best {rec['metric']}" + (" regret" if reference is not None else "")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{rec['blackbox']}, {rec['n_workers']} workers (mean +- standard error)")
    if args.logx:
        ax.set_xscale("log")
    if args.logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}: {', '.join(f'{k} x{len(v)}' for k, v in sorted(groups.items()))}")


if __name__ == "__main__":
    main()
