"""Tuner names and experiment paths: no user string escapes the results root (G9)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiotune.errors import InvalidArgumentError
from aiotune.store.names import (
    TUNER_NAME_RE,
    default_results_root,
    experiment_path,
    make_tuner_name,
    validate_tuner_name,
)


@pytest.mark.parametrize("name", ["a", "exp-1", "My_Tuner.v2", "0", "a" * 128, "x..y", "A-_-."])
def test_valid_names(name: str) -> None:
    assert validate_tuner_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../x",
        "..",
        ".",
        ".hidden",
        "-rf",
        "/abs",
        "a/b",
        "a\\b",
        "with space",
        "tab\tname",
        "new\nline",
        "trailing\n",
        "nul\0byte",
        "a" * 129,
        "a" * 200,
        "ünïcode",
        "semi;colon",
        "$(whoami)",
    ],
)
def test_invalid_names_are_rejected_naming_them(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid tuner name") as info:
        validate_tuner_name(name)
    assert repr(name)[:40] in str(info.value)


def test_long_name_is_shown_shortened() -> None:
    with pytest.raises(InvalidArgumentError, match="200 characters"):
        validate_tuner_name("a" * 200)


@pytest.mark.parametrize("name", [None, 3, b"bytes"])
def test_non_strings_are_rejected(name: object) -> None:
    with pytest.raises(InvalidArgumentError):
        validate_tuner_name(name)  # type: ignore[arg-type]


def test_make_tuner_name_defaults_and_suffix() -> None:
    stamp = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}"
    assert make_tuner_name(None, False) == "aiotune"
    assert make_tuner_name("exp", False) == "exp"
    assert re.fullmatch(rf"exp-{stamp}", make_tuner_name("exp", True))
    assert re.fullmatch(rf"aiotune-{stamp}", make_tuner_name(None, True))
    assert make_tuner_name(None, False, "/some/dir/train_mlp.py") == "train_mlp"
    assert make_tuner_name(None, False, "my script (v2).py") == "my-script-v2-"
    assert make_tuner_name(None, False, "...") == "aiotune"
    long = make_tuner_name("b" * 128, True)
    assert len(long) == 128 and re.fullmatch(TUNER_NAME_RE, long)
    assert re.fullmatch(rf"b+-{stamp}", long)


def test_make_tuner_name_rejects_a_bad_explicit_base() -> None:
    with pytest.raises(InvalidArgumentError, match="../x"):
        make_tuner_name("../x", True)


def test_default_results_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    assert default_results_root() == tmp_path
    monkeypatch.setenv("AIOTUNE_RESULTS", "")
    assert default_results_root() == Path.home() / "aiotune-results"
    monkeypatch.delenv("AIOTUNE_RESULTS")
    assert default_results_root() == Path.home() / "aiotune-results"


def test_experiment_path_stays_under_the_root(tmp_path: Path) -> None:
    assert experiment_path(tmp_path, "exp-1") == tmp_path / "exp-1"
    for bad in ("../x", "/abs", "", "a/../../b"):
        with pytest.raises(InvalidArgumentError):
            experiment_path(tmp_path, bad)


def test_experiment_path_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    (root / "self").symlink_to(root)
    (root / "inside").symlink_to(root / "real")
    with pytest.raises(InvalidArgumentError, match="outside the results root"):
        experiment_path(root, "escape")
    with pytest.raises(InvalidArgumentError, match="outside the results root"):
        experiment_path(root, "self")
    assert experiment_path(root, "inside") == root / "inside"
