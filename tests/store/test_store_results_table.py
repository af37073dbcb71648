"""The results table: CSV layout, NaN/inf, missing values, column order, speed."""

from __future__ import annotations

import csv
import gc
import io
import math
import threading
import weakref

import numpy as np
import pandas as pd

from aiotune.store.results_table import ResultsTable


def parse(table: ResultsTable, **kwargs: bool) -> list[list[str]]:
    return list(csv.reader(io.StringIO(table.to_csv(**kwargs).decode("utf-8"))))


def test_empty_table_has_only_the_fixed_header() -> None:
    table = ResultsTable()
    assert len(table) == 0
    assert table.to_csv() == b"trial_id,status,tuner_time\n"


def test_columns_in_first_seen_order_and_missing_values_empty() -> None:
    table = ResultsTable()
    table.add_trial(0, {"lr": 0.1, "layers": 2})
    table.add_result(0, 1.5, {"epoch": 1, "loss": 0.5})
    table.add_trial(1, {"opt": "sgd", "lr": 0.01})
    table.add_result(1, 2.5, {"epoch": 1, "acc": 0.9})
    table.add_result(0, 3.5, {"loss": 0.25})
    table.set_status(0, "running")
    rows = parse(table)
    assert rows[0] == [
        "trial_id", "status", "tuner_time",
        "config_lr", "config_layers", "config_opt",
        "epoch", "loss", "acc",
    ]  # fmt: skip
    assert rows[1] == ["0", "running", "1.5", "0.1", "2", "", "1", "0.5", ""]
    assert rows[2] == ["1", "", "2.5", "0.01", "", "sgd", "1", "", "0.9"]
    assert rows[3] == ["0", "running", "3.5", "0.1", "2", "", "", "0.25", ""]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert len(table) == 3


def test_status_is_the_latest_on_all_rows_of_a_trial() -> None:
    table = ResultsTable()
    table.add_trial(7, {"x": 1})
    for i in range(3):
        table.add_result(7, float(i), {"m": i})
    table.set_status(7, "running")
    table.set_status(7, "stopped")
    assert [row[1] for row in parse(table)[1:]] == ["stopped"] * 3


def test_nan_and_inf_are_written_explicitly() -> None:
    table = ResultsTable()
    table.add_trial(0, {"x": math.inf})
    table.add_result(0, 1.0, {"a": math.nan, "b": math.inf, "c": -math.inf, "d": np.float32("nan")})
    table.add_result(0, 2.0, {"a": np.float64(-np.inf), "b": np.int64(3), "e": True})
    text = table.to_csv().decode()
    assert "null" not in text
    rows = parse(table)
    assert rows[1][3:] == ["inf", "nan", "inf", "-inf", "nan", ""]
    assert rows[2][3:] == ["inf", "-inf", "3", "", "", "True"]
    frame = pd.read_csv(io.StringIO(text))
    assert math.isnan(frame["a"][0]) and frame["b"][0] == math.inf and frame["c"][0] == -math.inf


def test_awkward_values_survive_csv_quoting() -> None:
    table = ResultsTable()
    nasty = 'a,b "quoted"\nnew line\r'
    table.add_trial(0, {"s": nasty, "l": [1, 2.5, "x"], "d": {"k": None}, "n": None})
    table.add_result(0, 0.1, {"m,comma": nasty, "float": 1e-300, "big": 2**70})
    rows = parse(table)
    assert rows[0][-3:] == ["m,comma", "float", "big"]
    assert rows[1] == ["0", "", "0.1", nasty, '[1,2.5,"x"]', '{"k":null}', "", nasty, "1e-300",
                       str(2**70)]  # fmt: skip


def test_columns_added_later_pad_earlier_rows() -> None:
    table = ResultsTable()
    table.add_trial(0, {"a": 1})
    table.add_result(0, 0.0, {"m1": 1})
    table.add_trial(1, {"b": 2})
    table.add_result(1, 1.0, {"m2": 2})
    table.add_result(2, 2.0, {})  # a trial never registered
    rows = parse(table)
    assert rows[1] == ["0", "", "0.0", "1", "", "1", ""]
    assert rows[2] == ["1", "", "1.0", "", "2", "", "2"]
    assert rows[3] == ["2", "", "2.0", "", "", "", ""]


def test_trials_without_results_on_request() -> None:
    table = ResultsTable()
    table.add_trial(0, {"a": 1})
    table.add_result(0, 0.0, {"m": 1})
    table.add_trial(1, {"a": 2})
    table.set_status(1, "failed")
    assert len(parse(table)) == 2
    rows = parse(table, include_trials_without_results=True)
    assert rows[-1] == ["1", "failed", "", "2", ""]


def test_readd_trial_replaces_its_config() -> None:
    table = ResultsTable()
    table.add_trial(0, {"a": 1})
    table.add_result(0, 0.0, {"m": 1})
    table.add_trial(0, {"a": 5})
    assert parse(table)[1] == ["0", "", "0.0", "5", "1"]


def test_100k_rows_render_and_match_pandas() -> None:
    table = ResultsTable()
    for tid in range(1000):
        table.add_trial(tid, {"lr": 10.0 ** -(tid % 5), "layers": tid % 7, "opt": "adam"})
    for i in range(100_000):
        table.add_result(i % 1000, i * 0.01, {"epoch": i // 1000, "loss": 1 / (i + 1), "acc": 0.5})
    for tid in range(1000):
        table.set_status(tid, "completed")
    data = table.to_csv()  # speed is measured in benchmarks/, not asserted here
    frame = pd.read_csv(io.BytesIO(data))
    assert frame.shape == (100_000, 9)
    assert frame["loss"].iloc[99_999] == 1 / 100_000
    assert (frame["status"] == "completed").all()


def test_to_csv_in_a_thread_while_rows_keep_coming() -> None:
    """The tuner renders in a worker thread while the loop adds trials, rows and columns."""
    table = ResultsTable()
    done = threading.Event()
    outputs: list[bytes] = []

    def render() -> None:
        while not done.is_set():
            outputs.append(table.to_csv(include_trials_without_results=True))

    thread = threading.Thread(target=render)
    thread.start()
    try:
        for i in range(10_000):
            table.add_trial(i, {f"k{i % 50}": i})
            table.add_result(i, float(i), {f"m{i % 40}": i, "loss": 0.5})
            table.set_status(i, "completed")
    finally:
        done.set()
        thread.join()
    outputs.append(table.to_csv())
    assert len(outputs) > 1
    for data in outputs:
        rows = list(csv.reader(io.StringIO(data.decode())))
        assert all(len(row) == len(rows[0]) for row in rows)
    assert len(rows) == 10_001


class _Report(dict):  # a dict that can be weakly referenced
    pass


def test_a_rendered_report_is_not_kept() -> None:
    """Once a row is rendered the raw report is dropped: a long run keeps text, not dicts."""
    table = ResultsTable()
    table.add_trial(0, {"lr": 0.1})
    report = _Report(loss=0.5, epoch=1)
    gone = weakref.ref(report)
    table.add_result(0, 1.5, report)
    del report
    gc.collect()
    assert gone() is not None  # not rendered yet: the table still needs it
    first = table.to_csv()
    gc.collect()
    assert gone() is None
    table.add_result(0, 2.5, {"loss": 0.25, "epoch": 2})
    assert len(table) == 2
    assert table.to_csv().startswith(first)  # rendered rows stay, in order
    assert parse(table)[1:] == [
        ["0", "", "1.5", "0.1", "0.5", "1"],
        ["0", "", "2.5", "0.1", "0.25", "2"],
    ]
