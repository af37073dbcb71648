"""The ``aiotune`` command: list, show, plot, export and resume experiments; run a demo.

Built on click (commands, options) and rich (tables). Any aiotune error (a
missing or corrupt experiment, a locked one, a bad argument) ends the command
with one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["main"]

_MISSING_CLI = "aiotune: error: the aiotune command needs click and rich: pip install click rich"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if value is None:
        return "-"
    return str(value)


def _date(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _build() -> Any:
    """The click group (built lazily so ``--version`` works without click installed)."""
    import click
    from rich.console import Console
    from rich.table import Table

    from .errors import AiotuneError

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # a pipe or a file: no terminal width to fit, keep rows whole
        console = Console(soft_wrap=False, width=200)

    class _Group(click.Group):
        def invoke(self, ctx: click.Context) -> Any:
            try:
                return super().invoke(ctx)
            except AiotuneError as exc:
                raise click.ClickException(str(exc).splitlines()[0]) from None
            except ImportError as exc:
                raise click.ClickException(
                    f"{exc}; install the analysis extra: pip install 'aiotune[analysis]'"
                ) from None
            except OSError as exc:
                raise click.ClickException(str(exc)) from None

    @click.group(cls=_Group, help="asyncio-native hyperparameter tuning")
    @click.version_option(__version__, prog_name="aiotune", message="%(prog)s %(version)s")
    def cli() -> None:
        pass

    @cli.command("ls")
    @click.option(
        "--root",
        type=click.Path(path_type=Path),
        default=None,
        help="results root (default: $AIOTUNE_RESULTS or ~/aiotune-results)",
    )
    def ls_cmd(root: Path | None) -> None:
        """List experiments: date, scheduler, trials, best metric."""
        from .experiments import list_experiments
        from .store.names import default_results_root

        infos = list_experiments(root)
        if not infos:
            console.print(f"no experiments under {root or default_results_root()}")
            return
        table = Table(title=f"experiments under {root or default_results_root()}")
        for col in ("name", "started (UTC)", "scheduler", "trials", "metric", "best", "state"):
            table.add_column(col, overflow="fold")
        for i in infos:
            state = "corrupt" if i.error else ("running/crashed" if i.running else "ended")
            table.add_row(
                i.name,
                _date(i.start_time),
                i.scheduler,
                str(i.num_trials),
                i.metric or "-",
                _fmt(i.best),
                state,
            )
        console.print(table)
        for i in infos:
            if i.error:
                console.print(f"{i.name}: {i.error}", soft_wrap=True, markup=False)

    @cli.command("show")
    @click.argument("name")
    @click.option("--top", default=10, show_default=True, help="trials to list")
    @click.option(
        "--importance",
        is_flag=True,
        help="also rank the hyperparameters by functional ANOVA (needs scikit-learn)",
    )
    def show_cmd(name: str, top: int, importance: bool) -> None:
        """Summary, best config and the best trials of experiment NAME (a name or a path)."""
        from .experiments import load_experiment

        result = load_experiment(name)
        meta, status = result.metadata, result.status
        summary = Table(title=f"experiment {result.name}", show_header=False)
        summary.add_column("key", style="bold")
        summary.add_column("value", overflow="fold")
        rows = [
            ("folder", str(result.path)),
            ("started (UTC)", _date(meta.get("start_time"))),
            ("scheduler", str(meta.get("scheduler", "-"))),
            ("backend", str(meta.get("backend", "-"))),
            (
                "metrics",
                ", ".join(
                    f"{n} ({m})"
                    for n, m in zip(status.metric_names, status.metric_modes, strict=True)
                ),
            ),
            ("ended", result.end_reason or "no (running, or its tuner died: aiotune resume)"),
            (
                "trials",
                f"{status.num_trials_started} started, {status.num_trials_completed} "
                f"completed, {status.num_trials_stopped} stopped, "
                f"{status.num_trials_failed} failed, {status.num_trials_paused} paused, "
                f"{status.num_trials_running} running",
            ),
            ("reports", str(len(result.rows))),
        ]
        for key, value in rows:
            summary.add_row(key, value)
        console.print(summary)
        if not status.metric_names:
            return
        metric = status.metric_names[0]
        best = status.best_trial(0)
        if best is None:
            console.print(f"no trial reported a usable {metric}")
            return
        trial_id, config = result.best_config()
        cfg = Table(title=f"best config: trial {trial_id}, {metric} = {_fmt(best.best[metric])}")
        cfg.add_column("hyperparameter")
        cfg.add_column("value", overflow="fold")
        for key, value in config.items():
            cfg.add_row(key, _fmt(value))
        console.print(cfg)
        sign = 1.0 if status.metric_modes[0] == "min" else -1.0
        varying = [
            k for k in config if len({repr(t.config.get(k)) for t in status.trials.values()}) > 1
        ]
        ranked = sorted(
            (t for t in status.trials.values() if metric in t.best),
            key=lambda t: sign * t.best[metric],
        )[:top]
        trials = Table(title=f"top {len(ranked)} trials by {metric}")
        for col in ("trial", "status", f"best {metric}", "reports", "config"):
            trials.add_column(col, overflow="fold")
        for t in ranked:
            trials.add_row(
                str(t.trial_id),
                t.status.value,
                _fmt(t.best[metric]),
                str(t.num_results),
                ", ".join(f"{k}={_fmt(t.config.get(k))}" for k in varying),
            )
        console.print(trials)
        if len(status.metric_names) > 1:
            front = status.pareto_front()[:top]
            pareto = Table(title=f"Pareto front of {', '.join(status.metric_names)} "
                           f"(latest reports; {len(front)} shown)")
            for col in ("trial", "status", *status.metric_names, "config"):
                pareto.add_column(col, overflow="fold")
            for t in front:
                pareto.add_row(
                    str(t.trial_id),
                    t.status.value,
                    *(_fmt(t.last_result[n]) for n in status.metric_names),
                    ", ".join(f"{k}={_fmt(t.config.get(k))}" for k in varying),
                )
            console.print(pareto)
        if importance:
            _print_importance(result, metric)

    def _print_importance(result: Any, metric: str) -> None:
        completed = sum(t.status.value == "completed" for t in result.trial_records.values())
        if completed < 2:
            console.print("(fewer than 2 completed trials: stopped ones count with their best)")
        shares = result.importance(metric, only_completed=completed >= 2)
        imp = Table(title=f"hyperparameter importance for {metric} (functional ANOVA)")
        imp.add_column("hyperparameter")
        imp.add_column("share of the variance", justify="right")
        for key, share in shares.items():
            imp.add_row(key, f"{share:.3f}")
        console.print(imp)

    @cli.command("plot")
    @click.argument("name")
    @click.option(
        "-o", "--output", type=click.Path(path_type=Path), required=True, help="PNG file to write"
    )
    @click.option("--metric", default=None, help="metric to plot (default: the first)")
    @click.option(
        "--kind",
        default="best_over_time",
        show_default=True,
        type=click.Choice(["best_over_time", "trials_over_time", "parallel_coordinates"]),
    )
    def plot_cmd(name: str, output: Path, metric: str | None, kind: str) -> None:
        """Plot experiment NAME to a PNG file."""
        from .experiments import load_experiment

        load_experiment(name).plot(metric, kind=kind, path=output)
        console.print(f"wrote {output}")

    @cli.command("export")
    @click.argument("name")
    @click.option(
        "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        default=None,
        help="file to write (default: NAME.csv / NAME.parquet here)",
    )
    def export_cmd(name: str, fmt: str, output: Path | None) -> None:
        """Export every report of experiment NAME (one row per report) as CSV or Parquet."""
        from .experiments import load_experiment

        if fmt == "parquet" and not any(
            importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")
        ):
            raise click.ClickException("parquet export needs pyarrow: pip install pyarrow")
        result = load_experiment(name)
        output = output or Path(f"{result.name}.{fmt}")
        frame = result.results
        if fmt == "csv":
            frame.to_csv(output, index=False)
        else:
            frame.to_parquet(output, index=False)
        console.print(f"wrote {len(frame)} rows to {output}")

    @cli.command("resume")
    @click.argument("name")
    def resume_cmd(name: str) -> None:
        """Resume experiment NAME (a name or a path) after a crash, or continue it."""
        from .experiments import find_experiment
        from .tuner import Tuner

        tuner = Tuner.load(find_experiment(name))
        tuner.run()
        _print_best(tuner)

    @cli.command("demo")
    @click.option("--trials", default=12, show_default=True, help="trials to complete")
    @click.option("--workers", default=2, show_default=True, help="parallel workers")
    def demo_cmd(trials: int, workers: int) -> None:
        """Run the bundled example: random search over a toy training script."""
        from ._demo import run_demo

        if trials < 1 or workers < 1:
            raise click.BadParameter("--trials and --workers must be >= 1")
        _print_best(run_demo(n_trials=trials, n_workers=workers))

    def _print_best(tuner: Any) -> None:
        try:
            trial_id, config = tuner.best_config()
        except AiotuneError as exc:
            console.print(str(exc))
            return
        console.print(f"best trial {trial_id}: {config}", soft_wrap=True, highlight=False)
        console.print(f"results: {tuner.tuner_path}", soft_wrap=True, highlight=False)

    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        print(f"aiotune {__version__}")
        return 0
    try:
        import click
    except ImportError:
        print(_MISSING_CLI, file=sys.stderr)
        return 1
    cli = _build()
    try:
        cli.main(args=args, prog_name="aiotune", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:  # click >= 8.2
        click.echo(exc.format_message())
        return 0
    except click.ClickException as exc:
        click.echo(f"aiotune: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aiotune: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("aiotune: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
