"""The Excel formulas of udfs.py: called directly, and through xlwings' own classic UDF code.

Directly: with DataFrames shaped as xlwings' converter makes them (floats for whole numbers,
datetimes, serials, Nones, a one-row range, the header only). Through xlwings: the real
``xlwings.udfs`` metadata, VBA wrapper generator and ``conversion.read``/``write`` with the
Windows engine (``xl_segments.xlwings_compat``), fed COM-shaped values: tuples of row tuples,
``pywintypes.TimeType`` dates, COM error ints.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_segments import excel, excel_setup, report
from xl_segments import xlwings_compat as compat
from xl_segments.errors import WorkbookError
from xl_segments.segments import build_segments
from xl_segments.settings import DEFAULTS, Settings
from xl_segments.xlwings_compat import COM_ERRORS, MISSING_ARG, call_like_excel

# The engine's notes (no channel has 10 customers...) are for the Summary sheet, not tested here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NA = COM_ERRORS["#N/A"]
HEADER = (
    "Order ID",
    "Customer ID",
    "Email",
    "Order Date",
    "Amount",
    "Channel",
    "Accepts Marketing",
)
# Four customers with hand-computed figures (as-of: the last order, 2024-03-01):
#   C1 Email:  100 + 50 + 30 = 180, purchase days 10 apart -> own gap 10
#   C2 Social: 200 + 100 = 300, 30 days apart -> own gap 30
#   C3 Email:  20, no consent
#   C4 Search: 80
# Store gap: median of the repeat customers' own gaps (10, 30) = 20.
ROWS: tuple[tuple[Any, ...], ...] = (
    (1001.0, "C1", "ann@example.com", dt.datetime(2024, 1, 1), 100.0, "Email", "yes"),
    (1002.0, "C2", "bob@example.com", dt.datetime(2024, 1, 5), 200.0, "Social", "yes"),
    (1003.0, "C3", "cy@example.com", dt.datetime(2024, 1, 10), 20.0, "Email", "no"),
    (1004.0, "C1", "ann@example.com", dt.datetime(2024, 1, 11), 50.0, "Email", "yes"),
    (1005.0, "C1", "ann@example.com", dt.datetime(2024, 1, 21), 30.0, "Email", "yes"),
    (1006.0, "C2", "bob@example.com", dt.datetime(2024, 2, 4), 100.0, "Social", "yes"),
    (1007.0, "C4", "di@example.com", dt.datetime(2024, 3, 1), 80.0, "Search", "yes"),
)
UDF_NAMES = (
    "TOP_SPENDERS",
    "PARETO",
    "CUSTOMER_LTV",
    "CHANNEL_PERFORMANCE",
    "REPEAT_CUSTOMERS",
    "AVG_DAYS_BETWEEN_PURCHASES",
    "CHURN_RISK",
    "MONTHLY_CHURN",
)


@pytest.fixture(scope="module")
def xw() -> Iterator[Any]:
    """xlwings in Windows mode for this module; its engines and decorators restored after."""
    with compat.windows_engine() as xlwings:
        yield xlwings


@pytest.fixture(scope="module")
def udfs(xw: Any) -> types.ModuleType:
    """udfs.py imported after the Windows engine is bound, so xw.func attaches __xlfunc__."""
    import udfs as module

    return importlib.reload(module)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    excel.CACHE.clear()


def frame(rows: tuple[tuple[Any, ...], ...] = ROWS, header: tuple[str, ...] = HEADER) -> Any:
    """An orders range as xlwings' DataFrame converter hands it to a formula."""
    return pd.DataFrame([list(r) for r in rows], columns=list(header))


def com_date(value: dt.datetime) -> Any:
    """A date cell as pywin32 delivers it: pywintypes.TimeType, timezone-aware in UTC."""
    import pywintypes

    return pywintypes.TimeType(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


def com_range(rows: tuple[tuple[Any, ...], ...] = ROWS) -> tuple[tuple[Any, ...], ...]:
    """An orders range as COM delivers Range.Value: a tuple of row tuples, header first."""
    return (
        HEADER,
        *(tuple(com_date(v) if isinstance(v, dt.datetime) else v for v in r) for r in rows),
    )


def shown(value: Any) -> Any:
    """What Excel shows from a formula result, in the terms to_cells uses.

    xlwings writes blanks as "" and datetimes tagged UTC for pywin32; a 1xN result comes back
    as a flat list.
    """
    if isinstance(value, list):
        rows = value if value and isinstance(value[0], list) else [value]
        return [[shown(v) for v in row] for row in rows]
    if value == "":
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def engine_cells(table: Any) -> list[list[Any]]:
    return excel.to_cells(table if isinstance(table, pd.DataFrame) else table.frame)


# --------------------------------------------------------------------------- direct calls


def test_top_spenders_is_the_engine_table_with_a_header_row(udfs: Any) -> None:
    result = udfs.TOP_SPENDERS(frame())
    segments = build_segments(frame())
    assert result == engine_cells(report.top_spenders_table(segments))
    assert result[0][:4] == ["Rank", "Customer ID", "Email", "Lifetime Value"]
    # top 20% of 4 customers is 1 customer: C2 with 300
    assert [row[1] for row in result[1:]] == ["C2"]
    assert result[1][3] == 300.0
    assert isinstance(result[1][6], dt.datetime) and result[1][6] == dt.datetime(2024, 1, 5)


def test_each_formula_answers_with_the_engine_figures(udfs: Any) -> None:
    orders = frame()
    s = build_segments(orders)
    assert udfs.PARETO(orders) == engine_cells(report.pareto_table(s))
    assert udfs.CHANNEL_PERFORMANCE(orders, "revenue_per_customer", 1.0) == engine_cells(
        report.channel_table(build_segments(orders, Settings(min_channel_customers=1)))
    )
    assert udfs.CHANNEL_PERFORMANCE(orders) == engine_cells(report.channel_table(s))
    assert udfs.REPEAT_CUSTOMERS(orders) == engine_cells(report.repeat_table(s))
    assert udfs.CHURN_RISK(orders) == engine_cells(report.churn_risk_table(s))
    assert udfs.MONTHLY_CHURN(orders) == engine_cells(report.monthly_churn_table(s))
    assert udfs.CUSTOMER_LTV(orders, "C1") == 180.0
    assert udfs.AVG_DAYS_BETWEEN_PURCHASES(orders) == 20.0


def test_customer_ltv_finds_customers_by_id_number_or_email(udfs: Any) -> None:
    numeric = tuple((r[0], float(r[1][1:]), *r[2:]) for r in ROWS)  # ids typed as numbers
    assert udfs.CUSTOMER_LTV(frame(numeric), 2.0) == 300.0  # Excel passes 2 as 2.0
    assert udfs.CUSTOMER_LTV(frame(), " BOB@example.com ") == 300.0
    assert udfs.CUSTOMER_LTV(frame(), "c4") == 80.0
    assert udfs.CUSTOMER_LTV(frame(), "nobody") == (
        '#xl-segments: there is no customer "nobody" (by customer id or email) in the orders'
    )
    assert udfs.CUSTOMER_LTV(frame(), None).startswith("#xl-segments: give a customer id")


def serial(value: dt.datetime) -> float:
    return float((value - dt.datetime(1899, 12, 30)).days)


VARIANTS = {
    "datetimes": ROWS,
    "excel-serials": tuple((*r[:3], serial(r[3]), *r[4:]) for r in ROWS),
    "iso-text": tuple((*r[:3], r[3].strftime("%Y-%m-%d"), *r[4:]) for r in ROWS),
    "text-amounts": tuple((*r[:4], f"${r[4]:,.2f}", *r[5:]) for r in ROWS),
    "currency-decimals": tuple((*r[:4], decimal.Decimal(str(r[4])), *r[5:]) for r in ROWS),
    "blank-rows": (*ROWS[:3], (None,) * len(HEADER), *ROWS[3:], (None,) * len(HEADER)),
}


def test_an_error_value_in_an_optional_column_is_named_too(udfs: Any) -> None:
    # An #N/A channel would otherwise quietly become "Unknown" and move the customer.
    rows = tuple((*r[:5], "#N/A" if i == 6 else r[5], r[6]) for i, r in enumerate(ROWS))
    assert udfs.TOP_SPENDERS(frame(rows)) == (
        '#xl-segments: row 8 of the orders range, column "Channel": holds the Excel error '
        "#N/A; fix the formula or remove the row."
    )


@pytest.mark.parametrize("rows", list(VARIANTS.values()), ids=list(VARIANTS))
def test_excel_shaped_inputs_give_the_same_top_spenders(udfs: Any, rows: Any) -> None:
    assert udfs.TOP_SPENDERS(frame(rows)) == udfs.TOP_SPENDERS(frame())
    assert udfs.CUSTOMER_LTV(frame(rows), "C1") == 180.0


def test_optional_arguments_change_the_list(udfs: Any) -> None:
    assert len(udfs.TOP_SPENDERS(frame(), 0.5)) == 1 + 2  # C2 and C1 (C3 has no consent)
    assert len(udfs.TOP_SPENDERS(frame(), "50%")) == 3
    assert len(udfs.TOP_SPENDERS(frame(), 50.0)) == 3  # 50 typed in a plain cell means 50%
    assert len(udfs.TOP_SPENDERS(frame(), None)) == 2  # a blank cell: the default 20%
    # as of 2024-01-31: C4 has not bought yet, C1 (180) is the best
    early = udfs.TOP_SPENDERS(frame(), 0.2, dt.datetime(2024, 1, 31))
    assert [row[1] for row in early[1:]] == ["C2"] and early[1][3] == 200.0
    assert udfs.TOP_SPENDERS(frame(), 0.2, serial(dt.datetime(2024, 1, 31))) == early
    assert udfs.REPEAT_CUSTOMERS(frame(), "social")[1][:2] == ["Social", "C2"]
    # at risk only past 2x the expected gap: fewer customers listed
    assert len(udfs.CHURN_RISK(frame(), None, 2.0)) <= len(udfs.CHURN_RISK(frame()))
    # a multiplier above the lapsed multiplier lifts it instead of failing
    assert isinstance(udfs.CHURN_RISK(frame(), None, 5.0), list)


def test_one_order_range(udfs: Any) -> None:
    one = frame(ROWS[:1])
    assert udfs.TOP_SPENDERS(one)[1][1] == "C1"
    assert udfs.CUSTOMER_LTV(one, "C1") == 100.0
    assert udfs.AVG_DAYS_BETWEEN_PURCHASES(one) == (
        "#xl-segments: no customer bought on two different days, so there is no average time "
        "between purchases"
    )
    assert udfs.CHURN_RISK(one).startswith("#xl-segments: no customer bought on two")


def test_header_only_range_says_there_are_no_orders(udfs: Any) -> None:
    empty = pd.DataFrame(columns=list(HEADER), dtype=object)
    for name in UDF_NAMES:
        args = (empty, "C1") if name == "CUSTOMER_LTV" else (empty,)
        assert getattr(udfs, name)(*args).startswith(
            "#xl-segments: the orders table has no order rows."
        ), name


def test_missing_column_is_one_short_cell_text(udfs: Any) -> None:
    wrong = frame(tuple((r[3], r[4], r[2]) for r in ROWS), header=("When", "Total", "Email"))
    assert udfs.TOP_SPENDERS(wrong) == (
        '#xl-segments: column "Order Date" missing (found: When, Total, Email). Rename the '
        "column or give a column mapping."
    )


def test_no_channel_column(udfs: Any) -> None:
    no_channel = frame(tuple(r[:5] for r in ROWS), header=HEADER[:5])
    assert udfs.CHANNEL_PERFORMANCE(no_channel).startswith(
        "#xl-segments: the orders have no channel column"
    )
    assert udfs.REPEAT_CUSTOMERS(no_channel).startswith("#xl-segments: the orders have no")
    assert udfs.TOP_SPENDERS(no_channel)[0][-1] == "Cumulative Revenue Share"


def test_bad_arguments_name_the_setting(udfs: Any) -> None:
    assert udfs.TOP_SPENDERS(frame(), "lots") == (
        "#xl-segments: setting 'Top share of customers' (top_share): cannot read 'lots' as share."
    )
    assert udfs.TOP_SPENDERS(frame(), 0.0) == (
        '#xl-segments: "Top share of customers" (top_share) must be a share above 0% and at '
        "most 100%; got 0%."
    )
    assert udfs.CHANNEL_PERFORMANCE(frame(), "clicks").startswith(
        "#xl-segments: setting 'Rank channels by' (rank_channels_by) must be one of"
    )
    assert udfs.TOP_SPENDERS(frame(), 0.2, dt.datetime(2020, 1, 1)).startswith(
        "#xl-segments: the as-of date 2020-01-01 is before the first order"
    )
    assert udfs.REPEAT_CUSTOMERS(frame(), "TV").startswith('#xl-segments: there is no channel "TV"')
    assert udfs.TOP_SPENDERS("not a range").startswith("#xl-segments: the first argument")


# --------------------------------------------------------------------------- small pieces


def test_error_text_is_one_short_line() -> None:
    assert excel.error_text("Column x\nmissing") == "#xl-segments: column x missing"
    assert excel.error_text("CSV file broken") == "#xl-segments: CSV file broken"
    long = excel.error_text("word " * 200)
    assert len(long) == excel.ERROR_LIMIT and long.endswith("…")


def test_unexpected_errors_become_a_short_text_and_a_logged_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise KeyError("lifetime_value")

    with caplog.at_level(logging.ERROR, logger="xl_segments.excel"):
        assert excel.safely(broken) == "#xl-segments: unexpected error: KeyError: 'lifetime_value'"
    assert caplog.records[0].exc_info is not None


def test_to_cells_blanks_dates_numbers_and_text() -> None:
    table = pd.DataFrame(
        {
            "Day": pd.to_datetime(["2024-01-05", None]),
            "Share": [0.5, np.nan],
            "Rank": pd.array([1, None], dtype="Int64"),
            "Count": np.array([3, 4], dtype="int64"),
            "Name": pd.array(["=HYPERLINK(1)", None], dtype="string"),
            "Mixed": pd.Series([pd.Timestamp("2024-02-01"), "text"], dtype=object),
        }
    )
    cells = excel.to_cells(table)
    assert cells[0] == ["Day", "Share", "Rank", "Count", "Name", "Mixed"]
    assert cells[1] == [
        dt.datetime(2024, 1, 5),
        0.5,
        1,
        3,
        "=HYPERLINK(1)",
        dt.datetime(2024, 2, 1),
    ]
    assert cells[2] == [None, None, None, 4, None, "text"]
    assert type(cells[1][0]) is dt.datetime and type(cells[1][3]) is int
    assert excel.to_cells(table.head(0)) == [cells[0]]


# --------------------------------------------------------------------------- xlwings metadata


def test_a_raw_orders_range_is_converted_as_a_dataframe_argument_with_errors_as_text():
    assert excel.ORDERS_OPTIONS == {
        "convert": pd.DataFrame,
        "index": False,
        "header": True,
        "err_to_str": True,
    }


def test_every_formula_is_registered_with_category_help_and_defaults(udfs: Any) -> None:
    optionals = {
        "TOP_SPENDERS": {"top_share": DEFAULTS.top_share, "as_of": None},
        "PARETO": {"revenue_share": DEFAULTS.revenue_share},
        "CUSTOMER_LTV": {},
        "CHANNEL_PERFORMANCE": {
            "rank_by": DEFAULTS.rank_channels_by,
            "min_customers": DEFAULTS.min_channel_customers,
        },
        "REPEAT_CUSTOMERS": {"channel": None},
        "AVG_DAYS_BETWEEN_PURCHASES": {},
        "CHURN_RISK": {"as_of": None, "multiplier": DEFAULTS.churn_multiplier},
        "MONTHLY_CHURN": {},
    }
    for name in UDF_NAMES:
        info = getattr(udfs, name).__xlfunc__
        assert info["name"] == name
        assert info["category"] == "xl-segments"
        assert info["ret"]["doc"] and len(info["ret"]["doc"]) <= 255, name  # wizard help
        orders, *rest = info["args"]
        assert orders["name"] == "orders" and "optional" not in orders
        # The range arrives raw; xlwings' DataFrame conversion runs on a cache miss only.
        assert orders["options"] == {"convert": "raw"}
        for arg in info["args"]:
            assert arg["doc"] and not arg["doc"].startswith("Positional"), (name, arg["name"])
        assert {a["name"]: a["optional"] for a in rest if "optional" in a} == optionals[name]
        required = [a["name"] for a in rest if "optional" not in a]
        assert required == (["customer"] if name == "CUSTOMER_LTV" else []), name


def test_vba_wrappers_excel_imports(udfs: Any) -> None:
    vba = compat.udf_vba_module_text(udfs, "udfs")
    signatures = {
        "TOP_SPENDERS": "orders, Optional top_share, Optional as_of",
        "PARETO": "orders, Optional revenue_share",
        "CUSTOMER_LTV": "orders, customer",
        "CHANNEL_PERFORMANCE": "orders, Optional rank_by, Optional min_customers",
        "REPEAT_CUSTOMERS": "orders, Optional channel",
        "AVG_DAYS_BETWEEN_PURCHASES": "orders",
        "CHURN_RISK": "orders, Optional as_of, Optional multiplier",
        "MONTHLY_CHURN": "orders",
    }
    for name, args in signatures.items():
        assert f"Function {name}({args})\n" in vba
        call_args = args.replace("Optional ", "")
        assert (
            f'{name} = XLPy.CallUDF("udfs", "{name}", Array({call_args}), '
            "ActiveWorkbook, Application.Caller)" in vba
        )
    assert vba.count("End Function") == len(UDF_NAMES)


# --------------------------------------------------------------------------- through xlwings


def test_com_values_through_xlwings_give_the_engine_tables(udfs: Any) -> None:
    s = build_segments(frame())
    expected = {
        "TOP_SPENDERS": report.top_spenders_table(s),
        "PARETO": report.pareto_table(s),
        "CHANNEL_PERFORMANCE": report.channel_table(s),
        "REPEAT_CUSTOMERS": report.repeat_table(s),
        "CHURN_RISK": report.churn_risk_table(s),
        "MONTHLY_CHURN": report.monthly_churn_table(s),
    }
    for name, table in expected.items():
        result = call_like_excel(getattr(udfs, name), com_range())
        # ints come back as floats from xlwings' writer: compare as Excel would show them
        assert shown(result) == engine_cells(table), name
        assert shown(result)[0] == [
            str(c) for c in (table.frame if hasattr(table, "frame") else table).columns
        ]
    assert call_like_excel(udfs.CUSTOMER_LTV, com_range(), "C2") == 300.0
    assert call_like_excel(udfs.AVG_DAYS_BETWEEN_PURCHASES, com_range()) == 20.0


def test_dates_come_back_as_datetimes_and_blanks_as_empty_cells(udfs: Any) -> None:
    result = call_like_excel(udfs.MONTHLY_CHURN, com_range())
    first = result[1]
    assert first[0] == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)  # pywin32-bound date
    assert first[7] == ""  # churn rate of the first month: no one active at its start


def test_missing_and_given_optionals_through_xlwings(udfs: Any) -> None:
    default = call_like_excel(udfs.TOP_SPENDERS, com_range())
    assert call_like_excel(udfs.TOP_SPENDERS, com_range(), MISSING_ARG, MISSING_ARG) == default
    assert call_like_excel(udfs.TOP_SPENDERS, com_range(), None) == default  # blank cell
    wider = call_like_excel(udfs.TOP_SPENDERS, com_range(), 0.5)
    assert [row[1] for row in wider[1:]] == ["C2", "C1"]
    as_of = com_date(dt.datetime(2024, 1, 31))
    early = call_like_excel(udfs.TOP_SPENDERS, com_range(), MISSING_ARG, as_of)
    assert early[1][3] == 200.0


def test_na_in_an_amount_is_a_clear_error_not_a_customer_worth_zero(udfs: Any) -> None:
    rows = list(ROWS)
    rows[2] = (*ROWS[2][:4], NA, *ROWS[2][5:])
    rng = com_range(tuple(rows))
    message = (
        '#xl-segments: row 4 of the orders range, column "Amount": holds the Excel error #N/A; '
        "fix the formula or remove the row."
    )
    for name in UDF_NAMES:
        args = (rng, "C3") if name == "CUSTOMER_LTV" else (rng,)
        assert call_like_excel(getattr(udfs, name), *args) == message, name


def test_na_in_a_date_names_the_cell_too(udfs: Any) -> None:
    rows = list(ROWS)
    rows[0] = (*ROWS[0][:3], COM_ERRORS["#VALUE!"], *ROWS[0][4:])
    assert call_like_excel(udfs.TOP_SPENDERS, com_range(tuple(rows))) == (
        '#xl-segments: row 2 of the orders range, column "Order Date": holds the Excel error '
        "#VALUE!; fix the formula or remove the row."
    )


def test_serials_blanks_and_one_row_ranges_through_xlwings(udfs: Any) -> None:
    serials = com_range(VARIANTS["excel-serials"])
    assert shown(call_like_excel(udfs.TOP_SPENDERS, serials)) == shown(
        call_like_excel(udfs.TOP_SPENDERS, com_range())
    )
    blank_rows = com_range(VARIANTS["blank-rows"])
    assert call_like_excel(udfs.CUSTOMER_LTV, blank_rows, "C1") == 180.0
    one = call_like_excel(udfs.PARETO, com_range(ROWS[:1]))
    assert one[1] == ["Customers", 1.0]
    # the header alone, even as a 1-D array: no orders
    for header_only in ((HEADER,), HEADER):
        assert call_like_excel(udfs.MONTHLY_CHURN, header_only).startswith(
            "#xl-segments: the orders table has no order rows."
        )


def test_a_single_cell_instead_of_a_range(udfs: Any) -> None:
    assert call_like_excel(udfs.TOP_SPENDERS, 42.0).startswith("#xl-segments: ")


# --------------------------------------------------------------------------- the cache


@pytest.fixture
def normalize_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the real normalize_orders made by the formulas."""
    calls: list[int] = []
    real = excel.normalize_orders

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(excel, "normalize_orders", counted)
    return calls


def test_second_call_over_the_same_range_does_not_normalize_again(
    udfs: Any, normalize_calls: list[int]
) -> None:
    first = call_like_excel(udfs.TOP_SPENDERS, com_range())
    second = call_like_excel(udfs.TOP_SPENDERS, com_range())  # a new tuple, same content
    assert first == second
    assert len(normalize_calls) == 1
    assert excel.CACHE.cache_info() == excel.CacheInfo(normalized=1, built=1, hits=1, entries=1)


def test_eight_formulas_over_one_range_build_once(udfs: Any, normalize_calls: list[int]) -> None:
    for name in UDF_NAMES:
        args = (com_range(), "C1") if name == "CUSTOMER_LTV" else (com_range(),)
        assert not str(call_like_excel(getattr(udfs, name), *args)).startswith("#xl"), name
    info = excel.CACHE.cache_info()
    assert (len(normalize_calls), info.normalized, info.built, info.hits) == (1, 1, 1, 7)


def test_other_settings_reuse_the_normalized_orders(udfs: Any, normalize_calls: list[int]) -> None:
    call_like_excel(udfs.TOP_SPENDERS, com_range())
    call_like_excel(udfs.TOP_SPENDERS, com_range(), 0.5)
    call_like_excel(udfs.CHURN_RISK, com_range(), MISSING_ARG, 2.0)
    info = excel.CACHE.cache_info()
    assert (len(normalize_calls), info.built) == (1, 3)


def test_changed_orders_are_read_again(udfs: Any, normalize_calls: list[int]) -> None:
    before = call_like_excel(udfs.CUSTOMER_LTV, com_range(), "C4")
    rows = list(ROWS)
    rows[-1] = (*ROWS[-1][:4], 81.0, *ROWS[-1][5:])
    after = call_like_excel(udfs.CUSTOMER_LTV, com_range(tuple(rows)), "C4")
    assert (before, after, len(normalize_calls)) == (80.0, 81.0, 2)


def test_a_refused_range_is_not_read_again_by_every_formula(
    udfs: Any, normalize_calls: list[int]
) -> None:
    rows = list(ROWS)
    rows[0] = (*ROWS[0][:4], NA, *ROWS[0][5:])
    answers = {
        call_like_excel(getattr(udfs, n), com_range(tuple(rows)))
        for n in ("TOP_SPENDERS", "PARETO", "MONTHLY_CHURN")
    }
    assert len(answers) == 1 and len(normalize_calls) == 1


def test_the_cache_keeps_only_a_few_ranges() -> None:
    cache = excel.SegmentsCache(size=2)
    frames = [frame(ROWS[: n + 3]) for n in range(4)]
    for f in frames:
        cache.segments(f)
    assert cache.cache_info().entries == 2
    cache.segments(frames[-1])
    cache.segments(frames[0])  # evicted: built again
    assert cache.cache_info().built == 5


def test_content_key_tells_number_from_text_and_headers_apart() -> None:
    base = pd.DataFrame({"Amount": pd.Series([1.0, "x"], dtype=object)})
    as_text = pd.DataFrame({"Amount": pd.Series(["1.0", "x"], dtype=object)})
    renamed = base.rename(columns={"Amount": "Total"})
    keys = {excel.content_key(f) for f in (base, as_text, renamed)}
    assert len(keys) == 3
    assert excel.content_key(base) == excel.content_key(base.copy())


cells = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=5),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=6), st.data())
def test_content_key_changes_with_any_cell(rows: list[tuple[Any, Any]], data: Any) -> None:
    original = pd.DataFrame([list(r) for r in rows], columns=["a", "b"])
    i = data.draw(st.integers(0, len(rows) - 1))
    j = data.draw(st.integers(0, 1))
    new = data.draw(cells)
    changed_rows = [list(r) for r in rows]
    changed_rows[i][j] = new
    changed = pd.DataFrame(changed_rows, columns=["a", "b"])
    same = original.equals(changed) and all(
        type(x) is type(y) for x, y in zip(original.iloc[:, j], changed.iloc[:, j], strict=True)
    )
    rebuilt = pd.DataFrame([list(r) for r in rows], columns=["a", "b"])
    assert excel.content_key(original) == excel.content_key(rebuilt)
    if not same:
        assert excel.content_key(original) != excel.content_key(changed)


# --------------------------------------------------------------------------- xlwings.conf


def test_xlwings_conf_registers_udfs_as_xlwings_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlwings
    import xlwings.utils

    path = excel_setup.write_xlwings_conf(tmp_path, r"C:\Python311\pythonw.exe", platform="win32")
    assert path == tmp_path / "xlwings.conf"
    monkeypatch.setattr(xlwings, "USER_CONFIG_FILE", str(path))
    config = xlwings.utils.read_user_config()  # xlwings' own parser, keys lower-cased
    assert config["udf modules"] == "udfs"
    assert config["interpreter_win"] == r"C:\Python311\pythonw.exe"
    folders = config["pythonpath"].split(";")
    assert (Path(folders[0]) / "udfs.py").is_file()
    assert any((Path(f) / "xl_segments" / "excel.py").is_file() for f in folders)
    lines = path.read_text().splitlines()
    assert lines[-1] == '"UDF Modules","udfs"'
    assert all(line.count('"') == 4 for line in lines)  # VBA's Input # reads "KEY","value"


def test_xlwings_conf_keeps_other_settings_and_replaces_ours(tmp_path: Path) -> None:
    (tmp_path / "xlwings.conf").write_text(
        '"SHOW CONSOLE","True"\n"udf modules","old_module"\n"INTERPRETER_MAC","/old/python"\n'
    )
    path = excel_setup.write_xlwings_conf(tmp_path, "/opt/py/bin/python", platform="darwin")
    assert excel_setup.read_config(path) == {
        "SHOW CONSOLE": "True",
        "INTERPRETER_MAC": "/opt/py/bin/python",
        "PYTHONPATH": ";".join(excel_setup.udf_module_folders()),
        "UDF Modules": "udfs",
    }


def test_xlwings_conf_defaults_and_refusals(tmp_path: Path) -> None:
    assert excel_setup.interpreter_key("linux") == "INTERPRETER"
    assert excel_setup.default_config_folder("win32") == Path.home() / ".xlwings"
    assert excel_setup.default_config_folder("darwin").parts[-3:] == (
        "Containers",
        "com.microsoft.Excel",
        "Data",
    )
    entries = excel_setup.config_entries(platform="linux")
    assert entries["INTERPRETER"] == sys.executable
    with pytest.raises(WorkbookError, match="double quote"):
        excel_setup.write_xlwings_conf(tmp_path, 'C:\\"odd"\\python.exe')


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=2, max_size=8), st.data())
def test_content_key_of_text_columns_changes_with_any_cell(values: list[Any], data: Any) -> None:
    original = pd.DataFrame({"Email": values})
    assert excel.content_key(original) == excel.content_key(pd.DataFrame({"Email": list(values)}))
    i = data.draw(st.integers(0, len(values) - 1))
    new = data.draw(st.one_of(st.none(), st.text(max_size=6)))
    changed = list(values)
    changed[i] = new
    if changed != values:
        assert excel.content_key(pd.DataFrame({"Email": changed})) != excel.content_key(original)
    # a slice shares the original's buffers but holds other values
    assert excel.content_key(original.iloc[1:]) != excel.content_key(original)
