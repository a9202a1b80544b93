"""A big sheet loaded in row ranges side by side gives exactly what loading it whole gives.

Parts are cut only from sheets of many megabytes; here the size limits are lowered (module
constants, as the package's own tuning knobs) so that small real workbooks are cut into
several parts and every case can be compared with the whole-sheet load in the same test.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.table import Table

from xl_segments.errors import WorkbookError
from xl_segments.sample import sample_orders
from xl_segments.workbook import reader, sheet_parts
from xl_segments.workbook.book import template_path
from xl_segments.workbook.reader import RawOrders, read_orders
from xl_segments.workbook.template import write_orders_workbook

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
SHEET = "xl/worksheets/sheet1.xml"
# The corpus sheets are a few kilobytes: chunks this small cut most of them into 3-5 parts.
CORPUS_CHUNK = 600


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Cut any sheet into parts of a few kilobytes, with temporary files under tmp_path."""
    monkeypatch.setattr(reader, "_CHUNK", 4096)
    monkeypatch.setattr(sheet_parts, "SPLIT_ABOVE_BYTES", 1)
    monkeypatch.setattr(sheet_parts, "MIN_PART_BYTES", 1)
    monkeypatch.setattr(sheet_parts, "LOAD_WORKERS", 3)
    monkeypatch.setattr(sheet_parts, "SHARED_STRINGS_WEIGHT", 0)
    monkeypatch.setattr(sheet_parts, "RAM_FOLDERS", ())
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    yield temp
    # Every part file is gone once the read is over, whatever happened.
    assert list(temp.iterdir()) == []


def read_whole(path: Path) -> RawOrders:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sheet_parts, "SPLIT_ABOVE_BYTES", sys.maxsize)
        return read_orders(path)


def assert_same(in_parts: RawOrders, whole: RawOrders) -> None:
    assert whole.parts == 1
    pd.testing.assert_frame_equal(in_parts.frame, whole.frame)
    assert in_parts.origin == whole.origin
    assert in_parts.date_system_1904 == whole.date_system_1904


def both(path: Path) -> tuple[RawOrders, RawOrders]:
    before = path.read_bytes()
    in_parts = read_orders(path)
    whole = read_whole(path)
    assert_same(in_parts, whole)
    assert path.read_bytes() == before
    return in_parts, whole


def change_sheet(path: Path, change: Callable[[bytes], bytes], part: str = SHEET) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            target.writestr(info.filename, change(body) if info.filename == part else body)
    path.write_bytes(out.getvalue())
    return path


def plain_book(path: Path, rows: list[list[object]], table_ref: str | None = None) -> Path:
    """An openpyxl workbook (shared strings) whose only sheet holds the rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    for row in rows:
        sheet.append(row)
    if table_ref is not None:
        sheet.add_table(Table(displayName="Orders", ref=table_ref))
    book.save(path)
    return path


HEADER: list[object] = ["Order ID", "Customer ID", "Email", "Order Date", "Amount", "Channel"]


def order_rows(count: int) -> list[list[object]]:
    start = dt.datetime(2024, 1, 1, 9, 30)
    return [
        [
            f"#{1000 + i}",
            f"C{i % 37}",
            f"c{i % 37}@example.com",
            start + dt.timedelta(hours=7 * i),
            round(10 + (i * 7.31) % 90, 2),
            ["Email", "Ads", "Organic"][i % 3],
        ]
        for i in range(count)
    ]


# --- cut into parts and the same as whole -----------------------------------------------------


def test_the_sample_store_in_the_template_reads_the_same_in_parts(tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    write_orders_workbook(sample_orders(customers=300), path, template=template_path())
    in_parts, whole = both(path)
    assert in_parts.parts >= 5
    assert len(whole.frame) > 1000


def test_a_sheet_without_a_table_with_gaps_errors_and_a_blank_tail(tmp_path: Path) -> None:
    rows: list[list[object]] = [HEADER, *order_rows(900)]
    for i in range(100, 900, 97):
        rows[i] = [None] * len(HEADER)  # blank rows inside, some at part boundaries
    rows[450][4] = "#N/A"  # openpyxl writes it as an error cell
    rows[451][1] = "#REF!"
    rows += [["  ", None, "", None, None, " "]] * 60  # white space to the end of the sheet
    in_parts, _ = both(plain_book(tmp_path / "orders.xlsx", rows))
    assert in_parts.parts >= 3
    assert in_parts.frame.iloc[449, 4] == "#N/A"
    assert in_parts.frame.iloc[450, 1] == "#REF!"
    assert len(in_parts.frame) == 900


def test_a_table_that_ends_above_more_rows_stops_at_its_end(tmp_path: Path) -> None:
    rows = [HEADER, *order_rows(1200)]
    in_parts, _ = both(plain_book(tmp_path / "orders.xlsx", rows, table_ref="A1:F801"))
    assert in_parts.parts >= 2
    assert len(in_parts.frame) == 800


def test_a_column_empty_in_the_first_rows_is_typed_by_the_later_ones(tmp_path: Path) -> None:
    rows = [HEADER, *order_rows(800)]
    for row in rows[1:500]:
        row[5] = None
    in_parts, _ = both(plain_book(tmp_path / "orders.xlsx", rows))
    assert in_parts.parts >= 3
    assert in_parts.frame["Channel"].iloc[:499].isna().all()
    assert in_parts.frame["Channel"].iloc[499:].notna().all()


def test_a_namespace_prefixed_sheet_reads_the_same_in_parts(tmp_path: Path) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(600)])

    def prefixed(body: bytes) -> bytes:
        body = re.sub(rb"<(/?)(\w+)([ />])", rb"<\1x:\2\3", body)
        return body.replace(b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x=", 1)

    in_parts, _ = both(change_sheet(path, prefixed))
    assert in_parts.parts >= 2


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CORPUS.glob("*.xlsx")), ids=lambda name: name
)
def test_every_corpus_workbook_reads_the_same_in_parts_or_fails_the_same(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "_CHUNK", CORPUS_CHUNK)
    path = CORPUS / name
    try:
        whole = read_whole(path)
    except WorkbookError as error:
        with pytest.raises(WorkbookError) as in_parts_error:
            read_orders(path)
        assert str(in_parts_error.value) == str(error)
        return
    assert_same(read_orders(path), whole)


def test_most_corpus_workbooks_are_really_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "_CHUNK", CORPUS_CHUNK)
    parts = []
    for path in sorted(CORPUS.glob("*.xlsx")):
        try:
            parts.append(read_orders(path).parts)
        except WorkbookError:
            continue
    assert sum(count >= 2 for count in parts) >= 20, parts


# --- what cannot be cut is read whole, never wrong ----------------------------------------------


def move_row(body: bytes, number: int, before: bytes) -> bytes:
    """The sheet XML with row `number` taken out and put back just before `before`."""
    start = body.index(b'<row r="%d"' % number)
    end = body.index(b"</row>", start) + len(b"</row>")
    row = body[start:end]
    body = body[:start] + body[end:]
    at = body.index(before)
    return body[:at] + row + body[at:]


def test_rows_written_out_of_order_make_the_sheet_load_whole(tmp_path: Path) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(700)])
    late_row_first = change_sheet(path, lambda body: move_row(body, 650, b'<row r="2"'))
    in_parts, whole = both(late_row_first)
    assert in_parts.parts == 1
    assert whole.frame.iloc[648, 0] == "#1648"


def test_an_early_row_written_late_makes_the_sheet_load_whole(tmp_path: Path) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(700)])
    early_row_last = change_sheet(path, lambda body: move_row(body, 3, b"</sheetData>"))
    in_parts, _ = both(early_row_last)
    assert in_parts.parts == 1


def test_a_cell_pointing_into_an_earlier_range_makes_the_sheet_load_whole(tmp_path: Path) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(700)])
    moved = change_sheet(path, lambda body: body.replace(b'<c r="B690"', b'<c r="B5"', 1))
    in_parts, _ = both(moved)
    assert in_parts.parts == 1


def test_a_column_changing_kind_between_parts_is_read_whole_as_mixed(tmp_path: Path) -> None:
    rows = [HEADER, *order_rows(700)]
    for row in rows[600:]:
        row[4] = f"{row[4]} EUR"
    in_parts, _ = both(plain_book(tmp_path / "orders.xlsx", rows))
    assert in_parts.parts == 1
    assert in_parts.frame["Amount"].dtype == object


def test_rows_without_numbers_are_not_cut(tmp_path: Path) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(600)])
    numberless = change_sheet(path, lambda body: re.sub(rb' r="[A-Z]*\d+"', b"", body))
    in_parts, _ = both(numberless)
    assert in_parts.parts == 1


def test_a_huge_row_number_in_a_late_part_is_refused_before_calamine_sees_it(
    tmp_path: Path,
) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(700)])
    hostile = change_sheet(path, lambda body: body.replace(b'<c r="A650"', b'<c r="A999999999"'))
    with pytest.raises(WorkbookError, match="beyond Excel's last row"):
        read_orders(hostile)


def test_a_value_far_to_the_right_in_a_late_part_is_refused(tmp_path: Path) -> None:
    # 3,101 rows by 16,381 columns: more cells than calamine may be asked to hold.
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(3100)])
    wide = change_sheet(path, lambda body: body.replace(b'<c r="F3000"', b'<c r="XFA3000"'))
    with pytest.raises(WorkbookError, match="too large to read safely"):
        read_orders(wide)


def test_parts_in_the_ram_folder_leave_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ram = Path("/dev/shm")
    if not ram.is_dir():
        pytest.skip("no RAM folder on this system")
    monkeypatch.setattr(sheet_parts, "RAM_FOLDERS", (str(ram),))
    before = {p.name for p in ram.glob("xl-segments-*")}
    in_parts, _ = both(plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(600)]))
    assert in_parts.parts >= 2
    assert {p.name for p in ram.glob("xl-segments-*")} == before


def test_no_room_for_the_parts_means_the_sheet_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(600)])
    written = 0
    real_write = sheet_parts.StoredEntry.write

    def write_until_full(entry: sheet_parts.StoredEntry, data: bytes) -> None:
        nonlocal written
        written += len(data)
        if written > 20_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(entry, data)

    monkeypatch.setattr(sheet_parts.StoredEntry, "write", write_until_full)
    in_parts, _ = both(path)
    assert in_parts.parts == 1
    assert written > 20_000


def test_no_writable_temporary_folder_means_the_sheet_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(600)])
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "no such folder"))
    in_parts, _ = both(path)
    assert in_parts.parts == 1


def test_part_folders_left_by_a_killed_read_are_removed_by_the_next(
    tmp_path: Path, small_parts: Path
) -> None:
    stale = small_parts / f"{sheet_parts.PARTS_PREFIX}killed"
    stale.mkdir()
    (stale / "part3.xlsx").write_bytes(b"customer data")
    old = time.time() - sheet_parts.STALE_AFTER_SECONDS - 60
    os.utime(stale, (old, old))
    running = small_parts / f"{sheet_parts.PARTS_PREFIX}running"
    running.mkdir()
    read_orders(plain_book(tmp_path / "orders.xlsx", [HEADER, *order_rows(300)]))
    assert not stale.exists()
    assert running.exists()  # another read in progress keeps its parts
    running.rmdir()


def _first_cut(path: Path, tmp_path: Path) -> int:
    """The row the second part starts with, as the reader would cut this workbook."""
    folder = tmp_path / "cut"
    folder.mkdir()
    size = zipfile.ZipFile(path).getinfo(SHEET).file_size
    writer = sheet_parts.PartWriter(
        path, SHEET, folder, sheet_parts.part_bytes(size, 3, 0), sentinel_column="Z"
    )
    with zipfile.ZipFile(path) as archive, archive.open(SHEET) as stream:
        for chunk in reader._chunks(stream):
            for done in writer.feed(chunk):
                writer.close()
                assert done.next_row is not None
                return done.next_row
    raise AssertionError("no cut")


@pytest.mark.parametrize("past_the_cut", [0, 1, 2, 3, 4])
def test_a_row_of_the_first_part_numbered_at_or_past_its_end_is_not_lost(
    tmp_path: Path, past_the_cut: int
) -> None:
    # Title rows above the table: its header is row 4, not row 1.
    rows: list[list[object]] = [["Orders export"], [None], ["(all shops)"], HEADER]
    path = plain_book(tmp_path / "orders.xlsx", [*rows, *order_rows(700)], table_ref="A4:F704")
    cut = _first_cut(path, tmp_path)
    number = cut + past_the_cut

    def renumbered(body: bytes) -> bytes:
        start = body.index(b'<row r="6"')
        end = body.index(b"</row>", start)
        row = body[start:end].replace(b'<row r="6"', b'<row r="%d"' % number, 1)
        row = re.sub(rb'<c r="([A-Z]+)6"', rb'<c r="\g<1>%d"' % number, row)
        return body[:start] + row + body[end:]

    in_parts, whole = both(change_sheet(path, renumbered))
    assert in_parts.parts == 1
    assert whole.frame["Order ID"].isna().iloc[1]  # row 6 moved away, as calamine places it


def test_a_note_below_the_orders_in_another_column_ends_the_sheet_as_loading_it_whole_does(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    for row in [HEADER, *order_rows(600)]:
        sheet.append(row)
    sheet.cell(650, 3, "   ")
    sheet.cell(700, 11, "a note far below, in column K")
    book.save(path)
    in_parts, whole = both(path)
    assert in_parts.parts >= 3
    assert len(whole.frame) == 699  # down to the note's row, blank in the orders columns


def test_a_sheet_whose_last_part_is_blank_is_read_whole(tmp_path: Path) -> None:
    rows = [HEADER, *order_rows(400)] + [[" ", None, "  ", None, None, None]] * 300
    in_parts, whole = both(plain_book(tmp_path / "orders.xlsx", rows))
    assert in_parts.parts == 1
    assert len(whole.frame) == 400
