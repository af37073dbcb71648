"""TabularBlackbox: building from a table, lookup, seeds, and clear errors for bad tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiotune.blackbox.tabular import TabularBlackbox
from aiotune.config_space import Categorical, Float, choice, uniform
from aiotune.errors import ConfigValueError, InvalidArgumentError


def long_table() -> pd.DataFrame:
    rows = []
    for lr in [0.001, 0.01, 0.1]:
        for act in ["relu", "tanh"]:
            for seed in [0, 1]:
                for epoch in [1, 2, 3]:
                    rows.append(
                        {
                            "lr": lr,
                            "act": act,
                            "seed": seed,
                            "epoch": epoch,
                            "err": round(lr + 1 / epoch + 0.1 * seed + (act == "tanh"), 6),
                            "time": epoch * (2.0 if act == "tanh" else 1.0),
                        }
                    )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # row order must not matter


def build(df: pd.DataFrame | None = None, **kw: object) -> TabularBlackbox:
    args: dict[str, object] = {
        "config_columns": ["lr", "act"],
        "fidelity_column": "epoch",
        "objective_columns": ["err"],
        "runtime_column": "time",
        "seed_column": "seed",
    }
    args.update(kw)
    return TabularBlackbox.from_dataframe(long_table() if df is None else df, **args)


def test_lookup_exact_seeds_and_average() -> None:
    bb = build()
    assert bb.n_configs == 6 and bb.seeds == [0, 1]
    assert bb.objectives == ["err", "time"] and bb.metric == "err" and bb.runtime_name == "time"
    assert bb.fidelity_space is not None and bb.fidelity_space.values == [1, 2, 3]
    assert isinstance(bb.config_space["lr"], Float) and bb.config_space["lr"].log
    assert isinstance(bb.config_space["act"], Categorical)
    cfg = {"lr": 0.01, "act": "tanh"}
    assert bb.evaluate(cfg, 2, seed=0) == {"err": pytest.approx(1.51), "time": 4.0}
    assert bb.evaluate(cfg, 2, seed=1)["err"] == pytest.approx(1.61)
    assert bb.evaluate(cfg, 2, seed=3)["err"] == pytest.approx(1.61)  # seed % n_seeds
    assert bb.evaluate(cfg)["err"] == pytest.approx(0.01 + 1 / 3 + 1)  # last fidelity
    avg = build(average_seeds=True)
    assert avg.evaluate(cfg, 2, seed=0)["err"] == pytest.approx(1.56)
    curve = bb.learning_curve(cfg, seed=0)
    assert curve["time"].tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError):
        curve["err"][0] = 0.0  # the table is read-only


def test_nearest_neighbour_for_configs_not_in_table() -> None:
    bb = build()
    # 0.02 is nearest to 0.01 on the log scale
    near = bb.evaluate({"lr": 0.01, "act": "relu"}, 1)
    assert bb.evaluate({"lr": 0.02, "act": "relu"}, 1) == near
    assert bb.evaluate({"lr": 0.05, "act": "relu"}, 1) == bb.evaluate({"lr": 0.1, "act": "relu"}, 1)
    with pytest.raises(ConfigValueError, match="'lr'"):
        bb.evaluate({"lr": 5.0, "act": "relu"})
    with pytest.raises(ConfigValueError, match="'act'"):
        bb.evaluate({"lr": 0.01, "act": "gelu"})
    with pytest.raises(ConfigValueError, match="'act'"):
        bb.evaluate({"lr": 0.01})
    with pytest.raises(InvalidArgumentError, match="epoch=7"):
        bb.evaluate({"lr": 0.01, "act": "relu"}, 7)


def test_explicit_space_and_non_cumulative_runtime() -> None:
    df = long_table()
    df["step"] = 2.0
    space = {"lr": uniform(0.0, 1.0), "act": choice(["relu", "tanh", "gelu"])}
    bb = build(df, runtime_column="step", runtime_is_cumulative=False, config_space=space)
    assert bb.config_space is not space and bb.config_space == space
    assert bb.learning_curve({"lr": 0.1, "act": "relu"})["step"].tolist() == [2.0, 4.0, 6.0]
    # the table's configs must lie in the given space
    with pytest.raises(ConfigValueError, match="'lr'"):
        build(config_space={"lr": uniform(0.0, 0.05), "act": choice(["relu", "tanh"])})


def test_missing_column_is_named() -> None:
    with pytest.raises(InvalidArgumentError, match=r"\['loss'\] not in the table"):
        build(objective_columns=["loss"])
    with pytest.raises(InvalidArgumentError, match="'momentum'"):
        build(config_columns=["lr", "act", "momentum"])


def test_nan_in_objective_is_named() -> None:
    df = long_table()
    df.loc[df.index[4], "err"] = np.nan
    with pytest.raises(InvalidArgumentError, match="'err' has 1 NaN"):
        build(df)
    df = long_table()
    df["time"] = df["time"].astype(object)
    df.loc[df.index[0], "time"] = "slow"
    with pytest.raises(InvalidArgumentError, match="'time'"):
        build(df)


def test_missing_and_duplicate_rows_are_named() -> None:
    df = long_table()
    gone = df[(df.lr == 0.1) & (df.act == "relu") & (df.seed == 1) & (df.epoch == 2)].index
    with pytest.raises(InvalidArgumentError, match=r"'lr': 0.1.*seed=1, epoch=2 has no row"):
        build(df.drop(gone))
    with pytest.raises(InvalidArgumentError, match="has 2 rows"):
        build(pd.concat([df, df.iloc[:1]]))


def test_runtime_must_be_cumulative() -> None:
    df = long_table()
    df["time"] = 3.0 / df["epoch"]
    with pytest.raises(InvalidArgumentError, match="cumulative"):
        build(df)


def test_csv_parquet_round_trip(tmp_path: Path) -> None:
    bb = build()
    path = tmp_path / "t.csv"
    bb.to_dataframe().to_csv(path, index=False)
    again = TabularBlackbox.from_csv(
        path,
        config_columns=["lr", "act"],
        fidelity_column="epoch",
        objective_columns=["err"],
        runtime_column="time",
        seed_column="seed",
    )
    assert np.array_equal(again.values, bb.values)
    pytest.importorskip("pyarrow")
    ppath = tmp_path / "t.parquet"
    bb.to_dataframe().to_parquet(ppath)
    again = TabularBlackbox.from_parquet(
        ppath,
        config_columns=["lr", "act"],
        fidelity_column="epoch",
        objective_columns=["err"],
        runtime_column="time",
        seed_column="seed",
    )
    assert np.array_equal(again.values, bb.values)


def test_single_fidelity_table() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0], "t": [1.0, 1.0, 1.0]})
    bb = TabularBlackbox.from_dataframe(df, ["x"], None, ["y"], "t")
    assert bb.fidelity_space is None
    assert bb.evaluate({"x": 2.1}) == {"y": 1.0, "t": 1.0}
