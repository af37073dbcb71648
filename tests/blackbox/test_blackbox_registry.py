"""Named blackboxes, the shipped sklearn-digits-mlp table, and the surrogate."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.blackbox.registry import DATA_DIR, blackbox_names, load
from aiotune.blackbox.tabular import TabularBlackbox
from aiotune.config_space import sample_config
from aiotune.errors import InvalidArgumentError

HAS_TABLE = (DATA_DIR / "sklearn-digits-mlp.npz").exists()


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match="known names: branin, hartmann3"):
        load("imagenet-in-a-second")
    assert "sklearn-digits-mlp" in blackbox_names()
    assert isinstance(load("synthetic-lc", max_epochs=5), SyntheticLearningCurves)


@pytest.mark.skipif(not HAS_TABLE, reason="run benchmarks/make_tabular.py first")
def test_sklearn_digits_mlp_table() -> None:
    bb = load("sklearn-digits-mlp")
    assert isinstance(bb, TabularBlackbox)
    n, n_seeds, n_fid, _ = bb.values.shape
    assert n >= 200 and n_seeds == 3 and n_fid == 27
    assert bb.metric == "valid_loss" and bb.mode == "min"
    assert bb.fidelity_space is not None and bb.fidelity_space.name == "epoch"
    err = bb.values[..., bb.objectives.index("valid_error")]
    assert ((err >= 0) & (err <= 1)).all()
    assert err[:, :, -1].mean() < err[:, :, 0].mean()  # training helps
    assert err[:, :, -1].min() < 0.05  # good configs exist
    loss = bb.values[..., bb.objectives.index("valid_loss")]
    assert (loss > 0).all() and np.median(loss[:, :, -1]) < np.median(loss[:, :, 0])
    # the log loss ranks configs the 0-1 error calls equal
    top = np.argsort(err[:, :, -1].mean(axis=1))[: n // 10]
    assert len(np.unique(loss[top, :, -1].mean(axis=1))) == len(top)
    # any config of the space is answered (nearest row)
    cfg = sample_config(bb.config_space, np.random.default_rng(0))
    curve = bb.learning_curve(cfg, seed=2)
    assert len(curve["elapsed_time"]) == 27 and (np.diff(curve["elapsed_time"]) >= 0).all()


@pytest.mark.skipif(not HAS_TABLE, reason="run benchmarks/make_tabular.py first")
def test_table_loads_without_sklearn_or_pandas() -> None:
    code = (
        "import sys; sys.modules['sklearn'] = None; sys.modules['pandas'] = None\n"
        "from aiotune.blackbox.registry import load\n"
        "bb = load('sklearn-digits-mlp')\n"
        "print(bb.n_configs)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 200


@pytest.mark.skipif(not HAS_TABLE, reason="run benchmarks/make_tabular.py first")
def test_surrogate_on_shipped_table() -> None:
    pytest.importorskip("sklearn")
    from aiotune.blackbox.surrogate import SurrogateBlackbox

    table = load("sklearn-digits-mlp")
    sur = SurrogateBlackbox(table)
    row = table.configs[7]
    # on a table row, distance weighting returns that row's mean curve
    got = sur.learning_curve(row)["valid_error"]
    want = table.values[7, :, :, table.objectives.index("valid_error")].mean(axis=0)
    assert np.allclose(got, want)
    cfg = sample_config(table.config_space, np.random.default_rng(3))
    curve = sur.learning_curve(cfg)
    assert (np.diff(curve["elapsed_time"]) >= 0).all()
    assert sur.evaluate(cfg, fidelity=27) == sur.evaluate(cfg)
    from sklearn.ensemble import RandomForestRegressor

    forest = SurrogateBlackbox(table, model=RandomForestRegressor(n_estimators=4, random_state=0))
    curve = forest.learning_curve(cfg)
    assert (np.diff(curve["elapsed_time"]) >= 0).all()  # made non-decreasing
    assert 0.0 <= curve["valid_error"][-1] <= 1.0
    with pytest.raises(InvalidArgumentError, match="fit/predict"):
        SurrogateBlackbox(table, model=object())


def test_surrogate_rejects_non_tabular() -> None:
    from aiotune.blackbox.surrogate import SurrogateBlackbox

    with pytest.raises(InvalidArgumentError, match="TabularBlackbox"):
        SurrogateBlackbox(SyntheticLearningCurves())  # type: ignore[arg-type]
