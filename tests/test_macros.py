"""The ribbon macros, run against the file adapter (the headless refresh's Book), and the
pure pieces of the xlwings Book: number formats, text cells, sheet plans, reading helpers.

XlwingsBook itself needs Excel; what it decides is tested here through its plans, and the
macros run the same refresh_book with FileBook as they run with XlwingsBook in Excel.
"""

from __future__ import annotations

import datetime as dt
import itertools
import warnings
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.workbook.defined_name import DefinedName

from xl_segments import excel, macros, sheets
from xl_segments.errors import SegmentsError, WorkbookError
from xl_segments.excel import Area, Step, plan_summary, plan_table
from xl_segments.report import build_report
from xl_segments.segments import build_segments
from xl_segments.settings import DEFAULTS, Settings
from xl_segments.tables import Block, Chart, SheetTable, SummarySheet
from xl_segments.workbook.book import FileBook

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HEADER = [
    "Order ID",
    "Customer ID",
    "Email",
    "Order Date",
    "Amount",
    "Channel",
    "Accepts Marketing",
]
CHANNELS = ("Email", "Social", "Search")


def orders_rows(customers: int = 30) -> list[list[Any]]:
    """A small store: customer i buys (i % 4) + 1 times, 9 + i days apart, from one channel."""
    rows = []
    order_id = 1000
    for i in range(customers):
        for k in range(i % 4 + 1):
            order_id += 1
            rows.append(
                [
                    order_id,
                    f"C{i:03d}",
                    f"c{i}@example.com",
                    dt.datetime(2024, 1, 1) + dt.timedelta(days=(i * 3 + k * (9 + i)) % 330),
                    float(20 + (i * 37) % 180),
                    CHANNELS[i % 3],
                    "yes" if i % 5 else "no",
                ]
            )
    return rows


def orders_frame(rows: list[list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=HEADER)


def write_source(
    path: Path,
    rows: list[list[Any]],
    settings: dict[str, Any] | None = None,
    stale: tuple[str, ...] = (),
) -> Path:
    """A user's workbook: an Orders sheet, a Settings sheet with named cells, other sheets."""
    book = openpyxl.Workbook()
    orders = book.active
    orders.title = sheets.ORDERS_SHEET
    orders.append(HEADER)
    for row in rows:
        orders.append(row)
    settings_sheet = book.create_sheet(sheets.SETTINGS_SHEET)
    for i, (name, value) in enumerate((settings or {}).items(), start=1):
        settings_sheet.cell(i, 1, name)
        settings_sheet.cell(i, 2, value)
        book.defined_names[f"xls_{name}"] = DefinedName(
            f"xls_{name}", attr_text=f"{sheets.SETTINGS_SHEET}!$B${i}"
        )
    notes = book.create_sheet("My Notes")
    notes["A1"] = "keep me"
    for sheet in stale:
        book.create_sheet(sheet)["A1"] = "stale list"
    book.save(path)
    return path


def sheet_rows(path: Path, sheet: str) -> list[list[Any]]:
    book = openpyxl.load_workbook(path)
    try:
        return [list(r) for r in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()


def norm(value: Any) -> Any:
    """Cells compared as Excel shows them: whole floats like ints, 10 digits, blanks None."""
    if value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return round(float(value), 10)
    return value


def normed(rows: list[list[Any]]) -> list[list[Any]]:
    return [[norm(v) for v in row] for row in rows]


def expected_report(rows: list[list[Any]], settings: Settings = DEFAULTS) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_report(build_segments(orders_frame(rows), settings))


def summary_rows(summary: SummarySheet) -> list[list[Any]]:
    """The Summary as cells, laid out by excel.place_blocks (the xlwings writer's layout)."""
    places = excel.place_blocks(summary)
    grid: dict[tuple[int, int], Any] = {}
    for block in summary.blocks:
        place = places[block.key]
        grid[(place.title_row, 1)] = block.title
        for row_offset, row in enumerate(excel.to_cells(block.frame)):
            for j, value in enumerate(row, start=1):
                grid[(place.header_row + row_offset, j)] = value
    last_row = max(r for r, _ in grid)
    width = max(c for _, c in grid)
    return [[grid.get((r, c)) for c in range(1, width + 1)] for r in range(1, last_row + 1)]


def trimmed(rows: list[list[Any]], width: int) -> list[list[Any]]:
    return [list(r[:width]) + [None] * (width - len(r[:width])) for r in rows]


class AlertingFileBook(FileBook):
    """The file adapter plus a message box that records what the user would read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alerts: list[tuple[str, bool]] = []

    def alert(self, message: str, critical: bool = True) -> None:
        self.alerts.append((message, critical))


# --------------------------------------------------------------------------- macros + FileBook


def test_refresh_all_writes_the_lists_build_report_makes(tmp_path: Path) -> None:
    rows = orders_rows()
    source = write_source(
        tmp_path / "shop.xlsx", rows, {"top_share": 0.5, "min_channel_customers": 5}
    )
    out = tmp_path / "out.xlsx"
    returned = macros.refresh_all(FileBook(source, out))
    expected = expected_report(rows, Settings(top_share=0.5, min_channel_customers=5))
    assert returned is not None
    assert [t.sheet for t in returned.tables] == [t.sheet for t in expected.tables]
    for table in expected.tables:
        assert normed(sheet_rows(out, table.sheet)) == normed(excel.to_cells(table.frame)), (
            table.sheet
        )
    summary = summary_rows(expected.summary)
    written = sheet_rows(out, sheets.SUMMARY_SHEET)
    assert normed(trimmed(written, len(summary[0]))) == normed(summary)
    assert sheet_rows(out, "My Notes") == [["keep me"]]


@pytest.mark.parametrize(
    ("macro", "group"),
    [
        (macros.build_top_spenders, (sheets.TOP_SPENDERS_SHEET,)),
        (
            macros.build_channel_lists,
            (sheets.CHANNEL_PERFORMANCE_SHEET, sheets.REPEAT_BY_CHANNEL_SHEET),
        ),
        (macros.build_churn_risk, (sheets.CHURN_RISK_SHEET, sheets.MONTHLY_CHURN_SHEET)),
    ],
    ids=["top-spenders", "channels", "churn"],
)
def test_a_button_writes_only_its_group_and_the_summary(
    tmp_path: Path, macro: Any, group: tuple[str, ...]
) -> None:
    rows = orders_rows()
    stale = tuple(s for s in sheets.LIST_SHEETS if s != sheets.SUMMARY_SHEET)
    source = write_source(tmp_path / "shop.xlsx", rows, stale=stale)
    out = tmp_path / "out.xlsx"
    report = macro(FileBook(source, out))
    assert {t.sheet for t in report.tables} == set(group)
    expected = expected_report(rows)
    for sheet in stale:
        written = sheet_rows(out, sheet)
        if sheet in group:
            assert normed(written) == normed(excel.to_cells(expected.table(sheet).frame))
        else:
            assert written == [["stale list"]], sheet
    assert sheet_rows(out, sheets.SUMMARY_SHEET)[0][0] == "Headline figures"


def test_a_refused_orders_table_becomes_a_message_not_a_traceback(tmp_path: Path) -> None:
    rows = orders_rows()
    rows[3][4] = "#N/A"
    source = write_source(tmp_path / "shop.xlsx", rows)
    out = tmp_path / "out.xlsx"
    book = AlertingFileBook(source, out)
    assert macros.refresh_all(book) is None
    assert len(book.alerts) == 1
    message, critical = book.alerts[0]
    assert critical and message.startswith('Sheet "Orders", cell E5, column "Amount"')
    assert not out.exists()


def test_without_a_message_box_the_error_is_raised(tmp_path: Path) -> None:
    source = write_source(tmp_path / "shop.xlsx", orders_rows(), {"top_share": "lots"})
    with pytest.raises(SegmentsError, match="top_share"):
        macros.refresh_all(FileBook(source, tmp_path / "out.xlsx"))


def test_unexpected_errors_become_a_message_too(tmp_path: Path) -> None:
    class Broken(AlertingFileBook):
        def read_settings(self) -> Any:
            raise KeyError("xls_top_share")

    book = Broken(write_source(tmp_path / "shop.xlsx", orders_rows()), tmp_path / "out.xlsx")
    assert macros.build_top_spenders(book) is None
    assert book.alerts[0][0].startswith("Something went wrong that xl-segments did not expect")
    assert "Traceback" not in book.alerts[0][0]


def test_export_contact_lists_writes_csvs_into_the_folder(tmp_path: Path) -> None:
    pytest.importorskip("xl_segments.workbook.csv_export")
    source = write_source(tmp_path / "shop.xlsx", orders_rows())
    folder = tmp_path / "lists"
    folder.mkdir()
    book = AlertingFileBook(source, tmp_path / "out.xlsx")
    macros.export_contact_lists(book, folder=folder)
    assert list(folder.glob("*.csv"))
    assert book.alerts[-1][1] is False  # an information message, not an error
    assert not (tmp_path / "out.xlsx").exists()  # no sheet was written


def test_export_needs_a_folder_for_a_book_without_one(tmp_path: Path) -> None:
    pytest.importorskip("xl_segments.workbook.csv_export")
    book = AlertingFileBook(
        write_source(tmp_path / "shop.xlsx", orders_rows()), tmp_path / "o.xlsx"
    )
    macros.export_contact_lists(book)
    assert book.alerts == [("Give a folder to export the contact lists to.", True)]


def test_open_settings_on_a_book_without_a_window(tmp_path: Path) -> None:
    book = AlertingFileBook(
        write_source(tmp_path / "shop.xlsx", orders_rows()), tmp_path / "o.xlsx"
    )
    macros.open_settings(book)
    assert book.alerts[0][0] == "This book has no window to show the Settings sheet in."


def test_new_workbook_names_never_overwrite(tmp_path: Path) -> None:
    first = macros.new_workbook_path(tmp_path)
    assert first.name == "Customer segments.xlsx"
    first.touch()
    assert macros.new_workbook_path(tmp_path).name == "Customer segments (2).xlsx"


# --------------------------------------------------------------------------- XlwingsBook's plans


def test_number_formats_match_the_file_writer() -> None:
    assert {k: excel.number_format(k) for k in excel.NUMBER_FORMATS} == {
        "text": "@",
        "flag": "@",
        "integer": "0",
        "number": "0.00",
        "money": "#,##0.00",
        "percent": "0.0%",
        "date": "yyyy-mm-dd",
        "days": "0.0",
    }
    assert excel.number_format("unknown") == "General"


def test_text_never_becomes_a_formula_or_a_number() -> None:
    assert excel.cell_for_kind("=SUM(A:A)", "text") == "=SUM(A:A)"  # the cell is "@" first
    assert excel.cell_for_kind("00123", "text") == "00123"
    assert excel.cell_for_kind("=SUM(A:A)", "money") == "'=SUM(A:A)"  # text prefix
    assert excel.cell_for_kind("", "money") == ""
    assert excel.cell_for_kind(float("nan"), "money") is None
    assert excel.cell_for_kind(pd.Timestamp("2024-01-05"), "date") == dt.datetime(2024, 1, 5)


def _formats_before_values(steps: list[Step]) -> dict[tuple[int, int], str]:
    """Replays a plan: every written text cell must already be formatted as text."""
    formats: dict[tuple[int, int], str] = {}
    for step in steps:
        a = step.area
        if step.action == "format":
            for r in range(a.top, a.bottom + 1):
                for c in range(a.left, a.right + 1):
                    formats[(r, c)] = step.number_format
        elif step.action == "values":
            assert step.rows is not None
            for i, row in enumerate(step.rows):
                for j, value in enumerate(row):
                    if isinstance(value, str) and not value.startswith("'"):
                        assert formats.get((a.top + i, a.left + j)) == "@", (value, i, j)
    return formats


def test_plan_table_formats_columns_before_writing_and_makes_a_table() -> None:
    frame = pd.DataFrame(
        {
            "Customer ID": ["=cmd|' /C calc'!A0", "00123"],
            "Lifetime Value": [10.5, float("nan")],
            "Last Order": pd.to_datetime(["2024-01-05", None]),
        }
    )
    kinds = {"Customer ID": "text", "Lifetime Value": "money", "Last Order": "date"}
    table = SheetTable("Top Spenders", "TopSpenders", frame, kinds)  # type: ignore[arg-type]
    steps = plan_table(table)
    formats = _formats_before_values(steps)
    assert formats[(2, 2)] == "#,##0.00" and formats[(3, 3)] == "yyyy-mm-dd"
    values = next(s for s in steps if s.action == "values")
    assert values.rows == [
        ["Customer ID", "Lifetime Value", "Last Order"],
        ["=cmd|' /C calc'!A0", 10.5, dt.datetime(2024, 1, 5)],
        ["00123", None, None],
    ]
    assert steps[-1] == Step("table", Area(1, 1, 3, 3), name="TopSpenders")
    assert [s.action for s in steps].index("values") > max(
        i for i, s in enumerate(steps) if s.action == "format"
    )


def test_an_empty_list_still_gets_a_table_with_one_blank_row() -> None:
    frame = pd.DataFrame({"Customer ID": pd.Series([], dtype="string")})
    steps = plan_table(SheetTable("Churn Risk", "ChurnRisk", frame, {"Customer ID": "text"}))
    assert steps[-1].area == Area(1, 1, 2, 1)


def test_plan_summary_uses_the_file_writer_layout_and_row_kinds() -> None:
    rows = orders_rows()
    report = expected_report(rows, Settings(min_channel_customers=5))
    steps = plan_summary(report.summary)
    formats = _formats_before_values(steps)
    places = excel.place_blocks(report.summary)
    figures = report.summary.block("figures")
    place = places["figures"]
    assert (place.title_row, place.header_row, place.first_row) == (1, 2, 3)
    assert figures.row_kinds is not None
    for i, kind in enumerate(figures.row_kinds):
        assert formats[(place.first_row + i, 2)] == excel.number_format(kind)
        assert formats[(place.first_row + i, 1)] == "@"
    # blocks follow each other with one blank row
    keys = [b.key for b in report.summary.blocks]
    for before, after in itertools.pairwise(keys):
        assert places[after].title_row == places[before].last_row + 2
    charts = [s for s in steps if s.action == "chart"]
    assert [s.chart.key for s in charts if s.chart] == ["pareto", "channels"]
    width = max(len(b.frame.columns) for b in report.summary.blocks)
    assert all(s.area.left == width + 2 for s in charts)
    pareto = charts[0]
    curve = places["pareto_curve"]
    assert pareto.sources == (
        Area(curve.header_row, 1, curve.last_row, 1),
        Area(curve.header_row, 2, curve.last_row, 2),
    )
    bold = {(s.area.top, s.area.left) for s in steps if s.action == "bold"}
    assert (place.title_row, 1) in bold and (place.header_row, 1) in bold


def test_a_chart_over_a_missing_block_is_left_out() -> None:
    block = Block("figures", "Headline figures", pd.DataFrame({"Figure": ["x"]}), {})
    chart = Chart("pareto", "Pareto", "scatter", "pareto_curve", "a", ("b",))
    assert not [s for s in plan_summary(SummarySheet((block,), (chart,))) if s.action == "chart"]


def test_new_list_sheets_go_after_the_list_sheet_before_them() -> None:
    assert excel.insert_after(["Orders", "Settings"], "Summary") == "Settings"
    assert excel.insert_after(["Orders", "Summary", "Notes"], "Top Spenders") == "Summary"
    assert (
        excel.insert_after(["Orders", "Summary", "Churn Risk", "Notes"], "Monthly Churn")
        == "Churn Risk"
    )
    assert excel.insert_after([], "Summary") is None


def test_reading_helpers() -> None:
    cells = {
        "Settings!xls_top_share": 0.25,
        "XLS_AS_OF": dt.datetime(2024, 1, 31),
        "xls_suppressed_emails": [["a@example.com"], ["b@example.com"]],
        "xls_min_channel_customers": [[5.0, None]],
        "other_name": 1,
    }
    values = excel.settings_from_cells(cells)
    assert values == {
        "top_share": 0.25,
        "as_of": dt.datetime(2024, 1, 31),
        "suppressed_emails": [["a@example.com"], ["b@example.com"]],
        "min_channel_customers": 5.0,
    }
    settings = Settings.from_values(values)
    assert settings.min_channel_customers == 5 and settings.top_share == 0.25
    assert excel.suppression_from_values(
        [["Email"], [" a@example.com "], [None], [3.0], ["b@example.com"]]
    ) == ["a@example.com", "b@example.com"]
    assert excel.suppression_from_values("x@example.com") == ["x@example.com"]
    locator = excel.orders_locator("Orders", header_row=3, first_column=2)
    assert locator.cell(0, 4) == 'sheet "Orders", cell F4'


def test_folder_of_workbook() -> None:
    assert excel.folder_of_workbook("/Users/ann/shop.xlsx") == Path("/Users/ann")
    assert str(excel.folder_of_workbook(r"C:\Users\ann\shop.xlsx")) == r"C:\Users\ann"
    with pytest.raises(WorkbookError, match="Save the workbook first"):
        excel.folder_of_workbook("Book1")
    with pytest.raises(WorkbookError, match="stored online"):
        excel.folder_of_workbook("https://d.docs.live.net/abc/shop.xlsx")


def test_decimal_currency_cells_become_floats() -> None:
    import decimal

    raw = pd.DataFrame({"Amount": pd.Series([decimal.Decimal("12.50"), 3.0], dtype=object)})
    assert excel.excel_frame(raw)["Amount"].tolist() == [12.5, 3.0]
    assert isinstance(raw["Amount"].iloc[0], decimal.Decimal)  # the input is not changed
