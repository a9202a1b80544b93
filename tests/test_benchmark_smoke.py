"""The refresh benchmark still runs (a tiny --quick run), and its naive pipeline is faithful."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xl_segments.churn import flag_churn_risk, store_average_gap
from xl_segments.customers import build_customers
from xl_segments.orders import normalize_orders
from xl_segments.sample import sample_orders

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "refresh.py"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_refresh", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "naive/ours" in out and "ours/floor" in out
    for pipeline in ("| ours |", "| naive |", "| floor |"):
        assert out.count(pipeline) == 2, out
    assert "| scaling" in out
    # Every pipeline wrote its output and reported time and memory.
    rows = [line for line in out.splitlines() if line.startswith("| ") and "| ours |" in line]
    assert all("x |" in line for line in rows), out


def test_naive_figures_match_ours() -> None:
    bench = _bench()
    orders = sample_orders(customers=300, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = bench.naive_customers(orders).set_index("customer_key").sort_index()
        ours = build_customers(normalize_orders(orders))
    table = ours.frame.set_index("customer_key").sort_index()
    flagged = flag_churn_risk(ours.frame, store_average_gap(ours.frame)).set_index("customer_key")
    assert list(naive.index) == list(table.index)
    for column in ("orders", "purchase_days", "days_since_last_order"):
        assert (naive[column].to_numpy() == table[column].to_numpy()).all(), column
    for column in ("lifetime_value", "avg_days_between_purchases", "days_to_second_purchase"):
        np.testing.assert_allclose(
            naive[column].astype(float), table[column].astype(float), equal_nan=True
        )
    for column in ("first_order", "last_order"):
        assert (pd.to_datetime(naive[column]) == table[column]).all(), column
    assert (naive["acquisition_channel"] == table["acquisition_channel"]).all()
    assert (naive["consent"].astype(bool) == table["consent"].astype(bool)).all()
    assert naive.attrs["store_gap"] == pytest.approx(store_average_gap(ours.frame))
    bought = naive[naive["orders"] > 0]
    assert (bought["status"] == flagged.loc[bought.index, "status"]).all()


def test_the_excel_saved_workbook_holds_the_same_orders_in_shared_strings(tmp_path: Path) -> None:
    import zipfile

    from xl_segments.workbook.reader import read_orders

    bench = _bench()
    book = bench.workbook_for(2000, tmp_path)
    saved = bench.excel_saved(book)
    with zipfile.ZipFile(saved) as archive:
        sheet = archive.read(bench.orders_part(saved))
        assert b"inlineStr" not in sheet and b' t="s"><v>' in sheet
        assert b"<si>" in archive.read("xl/sharedStrings.xml")
    pd.testing.assert_frame_equal(read_orders(saved).frame, read_orders(book).frame)
    assert bench.excel_saved(book) == saved  # made once
