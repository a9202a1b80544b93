"""xlwings' own classic (Windows/COM) UDF machinery, run on Linux via xl_segments.xlwings_compat.

The sample UDFs are defined here, after ``use_windows_engine()`` (on Linux xlwings' own
``xw.func`` is a no-op), and fed values shaped as pywin32 delivers them from Excel.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xl_segments import xlwings_compat as compat
from xl_segments.xlwings_compat import COM_ERRORS, MISSING_ARG, call_like_excel

REPO = Path(__file__).resolve().parents[1]
NA = COM_ERRORS["#N/A"]
VALUE = COM_ERRORS["#VALUE!"]
HEADER = ("Customer", "Order Date", "Total")


@pytest.fixture(scope="module")
def xw() -> Iterator[Any]:
    """xlwings in Windows mode for this module; its engines and decorators restored after."""
    with compat.windows_engine() as xlwings:
        yield xlwings


@pytest.fixture(scope="module")
def udfs_module(xw: Any) -> types.ModuleType:
    """A UDF module as a user would write it, decorated with the real xlwings decorators."""

    @xw.func(category="xl-segments")
    @xw.arg("rows", pd.DataFrame, index=False, header=True, err_to_str=True, doc="Orders")
    @xw.arg("min_total", doc="Smallest total to list")
    @xw.ret(index=False)
    def total_by(rows, min_total=0.0):  # no type hints: xlwings would read them (see below)
        """Total per customer."""
        amounts = rows["Total"]
        bad = amounts.map(lambda v: isinstance(v, str))
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            return f"#xl-segments: Total holds {amounts.iloc[first]} in data row {first + 1}"
        totals = rows.assign(Total=amounts.astype(float)).groupby("Customer", as_index=False)
        result = totals["Total"].sum()
        return result[result["Total"] >= min_total].reset_index(drop=True)

    @xw.func
    def first_date(rows):
        return rows[1][1]

    @xw.func
    @xw.ret(expand="table")
    def legacy_spill():
        return [[1, 2], [3, 4]]

    @xw.func
    def broken(x):
        raise ValueError(f"cannot use {x!r}")

    module = types.ModuleType("sample_udfs")
    for f in (total_by, first_date, legacy_spill, broken):
        setattr(module, f.__name__, f)
    return module


def orders(*rows: tuple[Any, ...]) -> tuple[tuple[Any, ...], ...]:
    """An orders range as COM delivers a multi-cell Range.Value: a tuple of row tuples."""
    return (HEADER, *rows)


def com_date(year: int, month: int, day: int) -> Any:
    """A date cell as pywin32 delivers it: a pywintypes.TimeType, timezone-aware in UTC."""
    import pywintypes

    return pywintypes.TimeType(year, month, day, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------- loading


def test_load_returns_the_real_xlwings_udfs_and_is_idempotent() -> None:
    udfs = compat.load_xlwings_udfs()
    assert udfs is compat.load_xlwings_udfs()
    assert udfs.__name__ == "xlwings.udfs"
    assert Path(udfs.__file__).parent.name == "xlwings"
    assert callable(udfs.call_udf) and callable(udfs.generate_vba_wrapper)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="stand-ins are only used off Windows")
def test_ctypes_restored_and_rest_of_xlwings_imports_in_a_fresh_interpreter() -> None:
    script = textwrap.dedent(
        """
        import ctypes, importlib, sys
        before = dict(vars(ctypes))
        from xl_segments import xlwings_compat as compat
        udfs = compat.load_xlwings_udfs()
        assert compat.load_xlwings_udfs() is udfs
        after = dict(vars(ctypes))
        assert after.keys() == before.keys(), set(after) ^ set(before)
        changed = [k for k in before if after[k] is not before[k]]
        assert not changed, changed
        for name in ("windll", "oledll", "WinDLL", "OleDLL", "WINFUNCTYPE"):
            assert not hasattr(ctypes, name), name
        for name in ("pythoncom", "pywintypes", "win32api", "win32com.client", "win32timezone"):
            assert compat.is_standin(sys.modules[name]), name
        for name in ("xlwings", "xlwings.main", "xlwings.conversion", "xlwings.utils",
                     "xlwings.expansion", "xlwings.base_classes", "xlwings.constants",
                     "xlwings._xlwindows", "xlwings.com_server"):
            importlib.import_module(name)
        import xlwings
        assert xlwings.engines.active is None  # only use_windows_engine() changes engines
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.skipif(sys.platform.startswith("win"), reason="stand-ins are only used off Windows")
def test_stand_ins_are_inert_but_typed_like_pywin32(xw: Any) -> None:
    import pythoncom
    import pywintypes
    import win32com.client
    import xlwings._xlwindows as xlwindows

    assert issubclass(pywintypes.TimeType, dt.datetime)
    assert issubclass(pywintypes.com_error, Exception)
    assert pywintypes.com_error(-2147352567, "Exception occurred.", None, None).hresult == (
        -2147352567
    )
    assert pythoncom.com_error is pywintypes.com_error
    # xlwings' own tables of what it treats as dates and cell errors see the stand-ins
    assert pywintypes.TimeType in xlwindows.time_types
    assert xlwindows.cell_errors[NA] == "#N/A"
    # nothing pretends to be Excel
    with pytest.raises(compat.WindowsOnlyError):
        win32com.client.Dispatch("Excel.Application")
    with pytest.raises(compat.WindowsOnlyError):
        list(xw.apps)  # windll.user32.GetTopWindow after the import
    with pytest.raises(AttributeError, match="stand-in"):
        pythoncom.CreateGuid  # noqa: B018


def test_use_windows_engine_registers_the_windows_engine(xw: Any) -> None:
    import xlwings._xlwindows as xlwindows

    compat.use_windows_engine()  # idempotent
    assert [e.name for e in xw.engines].count("excel") == 1
    assert xw.engines["excel"].impl is xlwindows.engine
    assert xw.engines.active is xw.engines["excel"]
    assert xw.func is compat.load_xlwings_udfs().xlfunc


# --------------------------------------------------------------------------- metadata / VBA


def test_xlfunc_metadata(udfs_module: types.ModuleType) -> None:
    info = udfs_module.total_by.__xlfunc__
    assert info["name"] == "total_by"
    assert info["category"] == "xl-segments"
    assert info["sub"] is False and info["volatile"] is False and info["call_in_wizard"]
    rows, min_total = info["args"]
    assert rows["name"] == "rows" and "optional" not in rows and rows["doc"] == "Orders"
    assert rows["options"] == {
        "convert": pd.DataFrame,
        "index": False,
        "header": True,
        "err_to_str": True,
    }
    assert min_total["optional"] == 0.0 and min_total["doc"] == "Smallest total to list"
    assert info["ret"]["options"] == {"index": False}
    assert info["ret"]["doc"] == "Total per customer."
    assert udfs_module.first_date.__xlfunc__["category"] == "xlwings"  # xlwings' default


def test_generate_vba_wrapper_writes_the_functions_excel_imports(
    udfs_module: types.ModuleType,
) -> None:
    udfs = compat.load_xlwings_udfs()
    buffer = io.StringIO()
    # xlwings.udfs.import_udfs calls it exactly like this; the workbook is only asked its Name
    udfs.generate_vba_wrapper(
        "sample_udfs", udfs_module, buffer, types.SimpleNamespace(Name="xl_segments.xlam")
    )
    vba = buffer.getvalue()
    assert "Function total_by(rows, Optional min_total)\n" in vba
    assert (
        'total_by = XLPy.CallUDF("sample_udfs", "total_by", Array(rows, min_total), '
        "ActiveWorkbook, Application.Caller)" in vba
    )
    assert 'total_by = XLPy.CallUDF("sample_udfs", "total_by", Array(rows, min_total))' in vba
    assert "total_by = Err.Description" in vba
    assert "Function first_date(rows)\n" in vba
    assert vba.count("End Function") == 4

    as_workbook = compat.udf_vba_module_text(udfs_module, workbook_name="Book1.xlsm")
    assert as_workbook.startswith('Attribute VB_Name = "xlwings_udfs"\n')
    assert "ThisWorkbook, Application.Caller" in as_workbook
    assert "ActiveWorkbook" not in as_workbook


# --------------------------------------------------------------------------- conversion


def test_com_values_become_a_dataframe_with_the_right_dtypes(xw: Any) -> None:
    import xlwings.conversion as conversion

    com_value = orders(
        ("ann", com_date(2024, 1, 5), 10.0),
        ("bob", None, NA),
        (None, com_date(2024, 2, 5), 3.0),
    )
    options = {"convert": pd.DataFrame, "index": False, "header": True}
    df = conversion.read(None, com_value, options)
    assert list(df.columns) == list(HEADER)
    assert pd.api.types.is_string_dtype(df["Customer"])
    assert df["Order Date"].dtype.kind == "M"  # pywintypes time -> naive datetime64
    assert df["Order Date"].iloc[0] == pd.Timestamp("2024-01-05")
    assert df["Order Date"].dt.tz is None
    # the trap: without err_to_str an #N/A cell reads as None, i.e. a silent NaN amount
    assert df["Total"].dtype == "float64"
    assert pd.isna(df["Total"].iloc[1]) and pd.isna(df["Order Date"].iloc[1])
    assert pd.isna(df["Customer"].iloc[2])

    strict = conversion.read(None, com_value, {**options, "err_to_str": True})
    assert strict["Total"].tolist() == [10.0, "#N/A", 3.0]
    assert strict["Total"].dtype == object


def test_result_comes_back_as_a_list_of_lists_with_a_header_row(
    udfs_module: types.ModuleType,
) -> None:
    com_value = orders(
        ("ann", com_date(2024, 1, 5), 10.0),
        ("bob", com_date(2024, 1, 6), 4.0),
        ("ann", com_date(2024, 2, 5), 3.0),
    )
    assert call_like_excel(udfs_module.total_by, com_value) == [
        ["Customer", "Total"],
        ["ann", 13.0],
        ["bob", 4.0],
    ]
    # the optional argument, given as Excel gives a number
    assert call_like_excel(udfs_module.total_by, com_value, 5.0) == [
        ["Customer", "Total"],
        ["ann", 13.0],
    ]
    # explicitly omitted (=TOTAL_BY(A1:C4,)) -> VBA's Missing -> the default
    assert call_like_excel(udfs_module.total_by, com_value, MISSING_ARG)[0] == [
        "Customer",
        "Total",
    ]


def test_error_cells_reach_the_udf_as_text_and_it_answers_with_one_cell(
    udfs_module: types.ModuleType,
) -> None:
    com_value = orders(("ann", com_date(2024, 1, 5), 10.0), ("bob", com_date(2024, 1, 6), NA))
    assert call_like_excel(udfs_module.total_by, com_value) == (
        "#xl-segments: Total holds #N/A in data row 2"
    )
    com_value = orders(("ann", com_date(2024, 1, 5), VALUE))
    assert call_like_excel(udfs_module.total_by, com_value) == (
        "#xl-segments: Total holds #VALUE! in data row 1"
    )


def test_one_data_row_range(udfs_module: types.ModuleType) -> None:
    com_value = orders(("ann", com_date(2024, 1, 5), 10.0))
    # a 2x2 result stays a list of lists
    assert call_like_excel(udfs_module.total_by, com_value) == [
        ["Customer", "Total"],
        ["ann", 10.0],
    ]
    # a 1-D value (an array constant, a 1-D VBA array) is made 2-D for the DataFrame
    assert call_like_excel(udfs_module.total_by, HEADER) == ["Customer", "Total"]


def test_default_conversion_squeezes_one_row_one_column_and_one_cell(xw: Any) -> None:
    import xlwings.conversion as conversion

    assert conversion.read(None, (("a", 1.0),), {}) == ["a", 1.0]  # one-row range
    assert conversion.read(None, (("a",), ("b",)), {}) == ["a", "b"]  # one-column range
    assert conversion.read(None, 2.0, {}) == 2.0  # one cell: a scalar, floats stay floats
    assert conversion.read(None, 2.4, {"numbers": int}) == 2
    assert conversion.read(None, NA, {}) is None
    assert conversion.read(None, NA, {"err_to_str": True}) == "#N/A"
    assert conversion.read(None, (("a", 1.0),), {"ndim": 2}) == [["a", 1.0]]


def test_type_hints_become_converters(xw: Any) -> None:
    def hinted(x: int, rows: pd.DataFrame, maybe: float | None = None) -> pd.DataFrame:
        return rows

    info = xw.func(hinted).__xlfunc__
    assert info["args"][0]["options"] == {"convert": int}  # no rounding: numbers=int does that
    assert info["args"][1]["options"] == {"convert": pd.DataFrame}  # index=1, header=1 defaults
    assert info["ret"]["options"] == {"convert": pd.DataFrame}
    frame = call_like_excel(hinted, 2.4, (("id", "v"), ("a", 1.0)), MISSING_ARG)
    assert frame == [["id", "v"], ["a", 1.0]]  # first column became the index, written back
    with pytest.raises(AttributeError, match="UnionType"):  # a union hint breaks the UDF
        call_like_excel(hinted, 2.4, (("id", "v"), ("a", 1.0)), 1.0)


def test_header_only_range_gives_an_empty_frame_and_a_header_row(
    xw: Any, udfs_module: types.ModuleType
) -> None:
    import xlwings.conversion as conversion

    df = conversion.read(None, (HEADER,), {"convert": pd.DataFrame, "index": False})
    assert df.empty and list(df.columns) == list(HEADER)
    assert all(dtype == "object" for dtype in df.dtypes)
    # a 1xN result is handed to Excel as a flat list by XLPython.CallUDF
    assert call_like_excel(udfs_module.total_by, (HEADER,)) == ["Customer", "Total"]


def test_scalars_dates_and_blanks_on_the_way_back(udfs_module: types.ModuleType) -> None:
    rows = orders(("ann", com_date(2024, 1, 5), 10.0))
    # no converter: rows arrive as lists, the date as a naive datetime; writing a datetime
    # tags it UTC for pywin32 (xlwings' _datetime_to_com_time)
    assert call_like_excel(udfs_module.first_date, rows) == dt.datetime(
        2024, 1, 5, tzinfo=dt.timezone.utc
    )
    assert call_like_excel(udfs_module.first_date, ((None, None), (None, None))) == ""


def test_what_xlwings_cannot_replay_or_excel_would_reject(udfs_module: types.ModuleType) -> None:
    with pytest.raises(NotImplementedError, match="expand"):
        call_like_excel(udfs_module.legacy_spill)
    with pytest.raises(TypeError, match="needs 'rows'"):
        call_like_excel(udfs_module.total_by)
    with pytest.raises(TypeError, match="at most 2"):
        call_like_excel(udfs_module.total_by, (HEADER,), 1.0, 2.0)
    with pytest.raises(TypeError, match="__xlfunc__"):
        call_like_excel(lambda: 1)
    # exceptions from the UDF propagate (Excel would show pywin32's error text in the cell)
    with pytest.raises(ValueError, match=r"cannot use 1\.0"):
        call_like_excel(udfs_module.broken, 1.0)
