"""Reading orders, settings and sheets from real workbook and CSV files, good and bad."""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import Font
from openpyxl.worksheet.table import Table

from xl_segments.errors import SheetNotFoundError, WorkbookError
from xl_segments.workbook.reader import list_sheets, read_orders, read_settings

HEADER = ["Order ID", "Customer", "Order Date", "Amount"]
ROWS = [
    [1, "C1", dt.datetime(2024, 1, 2, 10, 30), 10.5],
    [2, "C2", dt.datetime(2024, 1, 3), 20.0],
    [3, "C1", dt.datetime(2024, 2, 1), 7.25],
]


def _book(path: Path, sheets: dict[str, list[list[object]]], **options: object) -> Path:
    book = openpyxl.Workbook()
    first = True
    for name, rows in sheets.items():
        sheet = book.active if first else book.create_sheet(name)
        assert sheet is not None
        sheet.title = name
        first = False
        for row in rows:
            sheet.append(row)
    if options.get("date1904"):
        book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    book.save(path)
    return path


# --- which table is read --------------------------------------------------------------------


def test_the_orders_table_is_read_wherever_it_is(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Notes"
    notes["A1"] = "Read me"
    data = book.create_sheet("Data")
    data["A1"] = "Exported orders"  # text above the table is not part of it
    for r, row in enumerate([HEADER, *ROWS], start=3):
        for c, value in enumerate(row, start=2):
            data.cell(row=r, column=c, value=value)
    data["B20"] = "a note below the table"
    data.add_table(Table(displayName="Orders", ref="B3:E6"))
    path = tmp_path / "table.xlsx"
    book.save(path)

    raw = read_orders(path)
    assert list(raw.frame.columns) == HEADER
    assert raw.frame["Customer"].tolist() == ["C1", "C2", "C1"]
    assert raw.origin.sheet == "Data"
    assert raw.origin.first_data_row == 4
    assert raw.origin.first_column == 2
    assert raw.origin.cell(2, 3) == 'sheet "Data", cell E6'


def test_a_sheet_named_orders_is_read_from_its_first_non_empty_row(tmp_path: Path) -> None:
    path = _book(tmp_path / "s.xlsx", {"Other": [["x"]], "Orders": [[], [], HEADER, *ROWS]})
    raw = read_orders(path)
    assert list(raw.frame.columns) == HEADER
    assert raw.frame["Amount"].tolist() == [10.5, 20.0, 7.25]
    assert raw.origin.first_data_row == 4


def test_a_named_sheet_is_read(tmp_path: Path) -> None:
    path = _book(tmp_path / "n.xlsx", {"March": [HEADER, *ROWS], "April": [HEADER, ROWS[0]]})
    assert len(read_orders(path, sheet="April").frame) == 1
    assert len(read_orders(path, sheet="march").frame) == 3


def test_the_only_sheet_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = _book(tmp_path / "one.xlsx", {"Export 2024": [HEADER, *ROWS]})
    raw = read_orders(path)
    assert raw.origin.sheet == "Export 2024"
    assert len(raw.frame) == 3


def test_an_unknown_sheet_error_lists_the_sheets(tmp_path: Path) -> None:
    path = _book(tmp_path / "u.xlsx", {"March": [HEADER], "April": [HEADER]})
    with pytest.raises(SheetNotFoundError, match=r"u.xlsx.*'May'.*'March', 'April'"):
        read_orders(path, sheet="May")
    with pytest.raises(SheetNotFoundError, match=r"'March', 'April'"):
        read_orders(path)
    assert list_sheets(path) == ["March", "April"]


# --- values as the file holds them ----------------------------------------------------------


def test_error_cells_come_through_as_their_text(tmp_path: Path) -> None:
    rows = [
        [1, "C1", dt.datetime(2024, 1, 2), "#N/A"],
        [2, "#REF!", "#VALUE!", 5.0],
        [3, "C3", dt.datetime(2024, 1, 4), "#DIV/0!"],
    ]
    path = _book(tmp_path / "e.xlsx", {"Orders": [HEADER, *rows]})
    frame = read_orders(path).frame
    assert frame["Amount"].tolist() == ["#N/A", 5.0, "#DIV/0!"]
    assert frame["Customer"].tolist() == ["C1", "#REF!", "C3"]
    assert frame["Order Date"].iloc[1] == "#VALUE!"
    assert frame["Order Date"].iloc[0] == pd.Timestamp("2024-01-02")


def test_mixed_columns_keep_each_value_as_it_is(tmp_path: Path) -> None:
    rows = [
        [1, "C1", dt.datetime(2024, 1, 2, 9, 0), 10.5],
        [2, "C2", "03/01/2024", "$1,200.50"],
        [3, "C3", 45300, True],
        [4, "C4", "#N/A", 7],
    ]
    path = _book(tmp_path / "m.xlsx", {"Orders": [HEADER, *rows]})
    frame = read_orders(path).frame
    dates = frame["Order Date"].tolist()
    assert dates[0] == dt.datetime(2024, 1, 2, 9, 0)
    assert dates[1] == "03/01/2024"
    assert dates[2] == 45300
    assert not isinstance(dates[2], str)
    assert dates[3] == "#N/A"
    amounts = frame["Amount"].tolist()
    assert amounts[0] == 10.5
    assert amounts[1] == "$1,200.50"
    assert amounts[2] is True
    assert amounts[3] == 7


def test_blank_rows_inside_keep_positions_aligned_to_rows(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", {"Orders": [HEADER, ROWS[0], [], [], ROWS[1], ROWS[2]]})
    raw = read_orders(path)
    assert len(raw.frame) == 5
    assert raw.frame.iloc[1:3].isna().all().all()
    assert raw.frame["Customer"].iloc[3] == "C2"
    assert raw.origin.cell(3, 1) == 'sheet "Orders", cell B5'
    assert isinstance(raw.frame.index, pd.RangeIndex)


def test_formatted_rows_down_to_the_last_row_cost_nothing(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    for row in [HEADER, *ROWS]:
        sheet.append(row)
    for column in range(1, 5):
        sheet.cell(row=1_048_576, column=column).font = Font(bold=True)
    sheet.cell(row=1_048_576, column=1).value = ""  # an empty text, as formulas leave
    path = tmp_path / "tail.xlsx"
    book.save(path)
    started = time.perf_counter()
    raw = read_orders(path)
    assert time.perf_counter() - started < 5
    assert len(raw.frame) == 3


def test_a_value_far_away_is_refused_before_it_exhausts_memory(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    sheet.append(HEADER)
    sheet.append(ROWS[0])
    sheet["XFD1048576"] = "far away"
    path = tmp_path / "far.xlsx"
    book.save(path)
    with pytest.raises(WorkbookError, match=r"far.xlsx.*1,048,576 rows and 16,384 columns"):
        read_orders(path)


def test_duplicate_headers_are_kept_as_written(tmp_path: Path) -> None:
    path = _book(tmp_path / "d.xlsx", {"Orders": [["Amount", "Amount", "Date"], [1, 2, 3]]})
    assert list(read_orders(path).frame.columns) == ["Amount", "Amount", "Date"]


def test_the_1904_date_system_is_reported(tmp_path: Path) -> None:
    plain = _book(tmp_path / "p.xlsx", {"Orders": [HEADER, *ROWS]})
    mac = _book(tmp_path / "mac.xlsx", {"Orders": [HEADER, *ROWS]}, date1904=True)
    assert read_orders(plain).date_system_1904 is False
    raw = read_orders(mac)
    assert raw.date_system_1904 is True
    assert raw.frame["Order Date"].iloc[0] == pd.Timestamp("2024-01-02 10:30")


def test_an_empty_sheet_gives_an_empty_frame(tmp_path: Path) -> None:
    path = _book(tmp_path / "empty.xlsx", {"Orders": []})
    assert read_orders(path).frame.empty


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("Order ID,Name,Amount\n1,José,10.50\n2,NA,\n", "utf-8-sig"),
        ("Order ID,Name,Amount\n1,José,10.50\n2,NA,\n", "utf-8"),
        ("Order ID;Name;Amount\n1;José;10,50\n2;NA;\n", "cp1252"),
        ("Order ID\tName\tAmount\n1\tJosé\t10.50\n2\tNA\t\n", "utf-16"),
    ],
    ids=["utf-8-sig", "utf-8", "cp1252-semicolon", "utf-16-tab"],
)
def test_csv_variants_are_read_as_text(tmp_path: Path, content: str, encoding: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(content.encode(encoding))
    raw = read_orders(path)
    assert list(raw.frame.columns) == ["Order ID", "Name", "Amount"]
    assert raw.frame["Name"].tolist() == ["José", "NA"]
    assert raw.frame["Order ID"].tolist() == ["1", "2"]
    assert pd.isna(raw.frame["Amount"].iloc[1])
    assert raw.origin.sheet is None
    assert raw.origin.cell(1, 2) == 'line 3, column "Amount"'


def test_csv_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("Order ID,Amount\n1,5\n\n3,7\n", encoding="utf-8")
    raw = read_orders(path)
    assert raw.frame["Order ID"].tolist()[2] == "3"
    assert raw.origin.cell(2, 0) == 'line 4, column "Order ID"'


def test_csv_in_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Order ID,Name\n1,\x81\x8d\x90\n")
    with pytest.raises(WorkbookError, match=r"odd.csv.*UTF-8"):
        read_orders(path)


# --- bad files ------------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match=r"nothere.xlsx: no such file"):
        read_orders(tmp_path / "nothere.xlsx")


def test_an_unsupported_extension_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(WorkbookError, match=r"orders.pdf: unsupported file type .pdf"):
        read_orders(path)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("Order ID,Amount\n1,2\n")
    with pytest.raises(WorkbookError, match=r"fake.xlsx is not a valid workbook"):
        read_orders(path)


def test_a_truncated_workbook_is_refused(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", {"Orders": [HEADER, *ROWS]})
    path = tmp_path / "cut.xlsx"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WorkbookError, match=r"cut.xlsx"):
        read_orders(path)
    with pytest.raises(WorkbookError, match=r"cut.xlsx"):
        read_settings(path)


def test_a_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    # Excel saves an encrypted workbook as an OLE container with an EncryptionInfo stream.
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100
    path = tmp_path / "secret.xlsx"
    path.write_bytes(header + b"\x00" * 512 + directory + b"\x00" * 2048)
    with pytest.raises(WorkbookError, match=r"secret.xlsx is password-protected"):
        read_orders(path)


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (64 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(WorkbookError, match=r"bomb.xlsx is refused.*zip bomb"):
        read_orders(path)


def test_an_entity_bomb_is_refused(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", {"Orders": [HEADER, *ROWS]})
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheets><sheet name='&lol2;' sheetId='1'/></sheets></workbook>"
    )
    path = tmp_path / "lol.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = bomb.encode() if name == "xl/workbook.xml" else source.read(name)
            target.writestr(name, data)
    with pytest.raises(WorkbookError, match=r"lol.xlsx"):
        read_orders(path)


# --- settings -------------------------------------------------------------------------------


def test_settings_are_empty_for_csv_and_workbooks_without_named_cells(tmp_path: Path) -> None:
    csv_path = tmp_path / "o.csv"
    csv_path.write_text("a,b\n1,2\n")
    assert read_settings(csv_path) == {}
    assert read_settings(_book(tmp_path / "plain.xlsx", {"Orders": [HEADER]})) == {}


@pytest.mark.parametrize("chunk", [64, 200, 333, 1000])
def test_a_header_row_cut_by_the_scan_chunks_is_still_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from xl_segments.workbook import reader

    rows = [[None], [None], ["note above the orders", None, None, None], [None], HEADER, *ROWS]
    path = _book(tmp_path / "orders.xlsx", {"Orders": rows})
    expected = read_orders(path)
    monkeypatch.setattr(reader, "_CHUNK", chunk)
    got = read_orders(path)
    assert list(got.frame.columns) == list(expected.frame.columns)
    pd.testing.assert_frame_equal(got.frame, expected.frame)
    assert got.origin == expected.origin


def test_rows_without_numbers_are_counted_across_scan_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xl_segments.workbook import reader

    rows = [[None]] * 3 + [["title", None, None, None], [None], HEADER, *ROWS]
    path = _book(tmp_path / "orders.xlsx", {"Orders": rows})
    numbered = tmp_path / "numberless.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(numbered, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<row r="\d+"', b"<row", body)
                body = re.sub(rb' r="[A-Z]+\d+"', b"", body)
            target.writestr(info, body)
    expected = read_orders(numbered)
    monkeypatch.setattr(reader, "_CHUNK", 150)
    got = read_orders(numbered)
    assert got.origin == expected.origin
    pd.testing.assert_frame_equal(got.frame, expected.frame)
