"""Synthetic blackboxes: known optima, determinism, learning-curve shape, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.blackbox.base import Blackbox
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.blackbox.synthetic import Branin, Hartmann3, Hartmann6
from aiotune.config_space import sample_config
from aiotune.errors import ConfigValueError, InvalidArgumentError


@pytest.mark.parametrize("cls", [Branin, Hartmann3, Hartmann6])
def test_optimum_is_minimum(cls: type) -> None:
    bb = cls()
    assert isinstance(bb, Blackbox)
    best = bb.evaluate(bb.optimum_config)["value"]
    assert best == pytest.approx(bb.optimum_value, abs=1e-4)
    rng = np.random.default_rng(0)
    values = [bb.evaluate(sample_config(bb.config_space, rng))["value"] for _ in range(300)]
    assert min(values) > bb.optimum_value - 1e-9
    assert bb.evaluate(bb.optimum_config)["elapsed_time"] == 1.0


def test_branin_other_optima_and_noise() -> None:
    bb = Branin()
    for x1, x2 in [(-np.pi, 12.275), (9.42478, 2.475)]:
        assert bb.evaluate({"x1": x1, "x2": x2})["value"] == pytest.approx(0.397887, abs=1e-5)
    noisy = Branin(noise_std=1.0)
    cfg = {"x1": 1.0, "x2": 2.0}
    a, b = noisy.evaluate(cfg, seed=1), noisy.evaluate(cfg, seed=1)
    c = noisy.evaluate(cfg, seed=2)
    assert a == b and a != c
    assert a["value"] != bb.evaluate(cfg)["value"]


def test_synthetic_rejects_bad_configs() -> None:
    bb = Hartmann3()
    with pytest.raises(ConfigValueError, match="'x2'"):
        bb.evaluate({"x1": 0.5, "x2": 1.5, "x3": 0.5})
    with pytest.raises(ConfigValueError, match="'x3'"):
        bb.evaluate({"x1": 0.5, "x2": 0.5})
    with pytest.raises(InvalidArgumentError, match="no fidelity"):
        bb.evaluate({"x1": 0.5, "x2": 0.5, "x3": 0.5}, fidelity=3)
    with pytest.raises(InvalidArgumentError, match="noise_std"):
        Branin(noise_std=-1)


def test_learning_curves_shape_and_determinism() -> None:
    bb = SyntheticLearningCurves(max_epochs=27)
    assert bb.fidelity_space is not None and bb.fidelity_space.values == list(range(1, 28))
    rng = np.random.default_rng(1)
    configs = [sample_config(bb.config_space, rng) for _ in range(200)]
    curves = [bb.learning_curve(c, seed=5) for c in configs]
    again = bb.learning_curve(configs[0], seed=5)
    assert np.array_equal(again["valid_error"], curves[0]["valid_error"])
    assert not np.array_equal(
        bb.learning_curve(configs[0], seed=6)["valid_error"], curves[0]["valid_error"]
    )
    final = np.array([c["valid_error"][-1] for c in curves])
    first = np.array([c["valid_error"][0] for c in curves])
    runtime = np.array([c["elapsed_time"][-1] for c in curves])
    assert ((final >= 0) & (final <= 1)).all()
    assert final.min() < 0.12 and final.max() > 0.5  # hyperparameters matter
    assert np.mean(first - final) > 0.2  # curves mostly go down
    assert runtime.max() / runtime.min() > 5  # runtime depends on the config
    for c in curves:
        assert (np.diff(c["elapsed_time"]) > 0).all()
    # evaluate agrees with the curve
    ev = bb.evaluate(configs[3], fidelity=10, seed=5)
    assert ev["valid_error"] == curves[3]["valid_error"][9]
    # another member of the family has other optima
    other = SyntheticLearningCurves(seed=1).learning_curve(configs[0], seed=5)
    assert not np.array_equal(other["valid_error"], curves[0]["valid_error"])


def test_learning_curves_checks_and_spec() -> None:
    bb = SyntheticLearningCurves(max_epochs=9, seed=2)
    cfg = sample_config(bb.config_space, np.random.default_rng(0))
    with pytest.raises(ConfigValueError, match="'optimizer'"):
        bb.evaluate({**cfg, "optimizer": "lbfgs"})
    with pytest.raises(InvalidArgumentError, match="epoch=10"):
        bb.evaluate(cfg, fidelity=10)
    with pytest.raises(InvalidArgumentError, match="max_epochs"):
        SyntheticLearningCurves(max_epochs=0)
    rebuilt = from_spec(to_spec(bb))
    assert rebuilt.evaluate(cfg) == bb.evaluate(cfg)
    assert "max_epochs=9" in repr(bb)
