"""Load one big worksheet on every core: its rows cut into ranges, each range loaded on a thread.

calamine parses a sheet on one thread: about 4 s for the 0.5 GB of XML of 1,000,000 orders.
The reader already inflates and checks every byte of that XML before calamine may see it (see
`reader._SheetScan`); while doing so it hands the bytes to a `PartWriter`, which cuts them at
row boundaries into parts. A part is the source workbook with the sheet holding only one range
of rows, stored uncompressed in a private temporary folder (in memory, /dev/shm, when it has
room) and deleted as soon as it is loaded. Each part is loaded with fastexcel on a
worker thread (calamine releases the GIL) as soon as it is written and checked, so parsing
overlaps the scan and uses every core.

The parts are then proven to add up to the whole sheet, or the caller loads the whole sheet
the ordinary way: every part must hold only rows of its own range (a sheet written out of row
order would otherwise lose or move rows), each column must have one type in every part (or be
empty in some), and nothing may fail. What the caller gets is what loading the whole sheet in
one go gives, row for row.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import fastexcel
import pyarrow as pa

from xl_segments.workbook.package import StoredEntry, ZipWriter

# Sheets whose XML unpacks to less than this are loaded in one go: splitting buys nothing.
SPLIT_ABOVE_BYTES = 16 * 1024**2
# Threads loading parts: calamine runs on each without holding the GIL.
LOAD_WORKERS = min(os.cpu_count() or 1, 4)
# The least XML a part holds (see part_bytes for how big parts are).
MIN_PART_BYTES = 4 * 1024**2

_SHEET_DATA_OPEN = re.compile(rb"<((?:\w+:)?)sheetData\b[^>]*?(/?)>")
_ROOT_OPEN = re.compile(rb"<((?:\w+:)?worksheet)\b")
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_EMPTY_SHEET = b'<worksheet xmlns="' + _MAIN_NS + b'"><sheetData/></worksheet>'
# The text of the rows marking where a part's range starts and ends.
SENTINEL = b"xl-segments part boundary"
# Other worksheets bigger than this are left empty in a part: nobody loads them there.
_EMPTIED_ABOVE_BYTES = 256 * 1024


# Folders tried for the part files before the system's temporary folder: a RAM-backed one
# takes 0.5 GB in a fifth of the time a disk does.
RAM_FOLDERS: tuple[str, ...] = ("/dev/shm",)


def parts_folder(sheet_bytes: int) -> str | None:
    """A RAM-backed folder with room for the parts twice over, else None (the temp folder)."""
    for folder in RAM_FOLDERS:
        try:
            stats = os.statvfs(folder)
        except (OSError, AttributeError):  # no such folder; no statvfs on Windows
            continue
        if os.access(folder, os.W_OK) and stats.f_bavail * stats.f_frsize >= 2 * sheet_bytes:
            return folder
    return None


# The part folders' names start so; a folder of ours left older than this by a process that
# was killed mid-read (its customers' data in it) is removed by the next read.
PARTS_PREFIX = "xl-segments-"
STALE_AFTER_SECONDS = 3600


def remove_stale_parts(folder: str | None) -> None:
    """Delete part folders a killed read of this user's left in folder (None: the temp one)."""
    base = Path(folder if folder is not None else tempfile.gettempdir())
    now = time.time()
    try:
        candidates = list(base.glob(PARTS_PREFIX + "*"))
    except OSError:
        return
    for candidate in candidates:
        try:
            stats = candidate.stat()
            mine = not hasattr(os, "getuid") or stats.st_uid == os.getuid()
            if candidate.is_dir() and mine and now - stats.st_mtime > STALE_AFTER_SECONDS:
                shutil.rmtree(candidate, ignore_errors=True)
        except OSError:
            continue


# The first part holds this fraction of what the others do.
FIRST_PART_SHARE = 4
# A part holds at least this many times the shared strings' XML, which it re-reads.
SHARED_STRINGS_WEIGHT = 3
# Parts per worker: more parts let the last one, which starts when the scan ends, be short.
PARTS_PER_WORKER = 4


def part_bytes(sheet_bytes: int, workers: int, shared_strings_bytes: int) -> int:
    """How much sheet XML each part holds.

    Each part re-reads the workbook's shared strings when it is opened (calamine reads them
    all up front), so with a big table of shared strings parts are made fewer and bigger.
    """
    return max(
        MIN_PART_BYTES,
        sheet_bytes // (PARTS_PER_WORKER * workers) + 1,
        SHARED_STRINGS_WEIGHT * shared_strings_bytes,
    )


@dataclass
class SheetPart:
    """One written part: rows first_row .. next_row - 1 of the sheet (first_row 1 for part 0)."""

    path: Path
    first_row: int
    next_row: int | None = None  # None for the last part


@dataclass
class _OpenPart:
    part: SheetPart
    handle: BinaryIO
    writer: ZipWriter
    entry: StoredEntry
    size: int = 0


@dataclass
class PartWriter:
    """Cuts a sheet's XML, fed in chunks that each end just before a '<', into part files.

    Cuts fall just before a <row> element that carries its row number. Nothing is cut when the
    sheet has no <sheetData> in its first chunk, or at a row without a number (its position
    would depend on the rows before it).
    """

    source: Path
    sheet_part: str
    folder: Path
    part_bytes: int
    sentinel_column: str  # letters of a column next to the orders columns
    parts: list[SheetPart] = field(default_factory=list)
    cutting: bool = True
    _head: bytes = b""
    _close: bytes = b""
    _prefix: bytes = b""
    _row_open: re.Pattern[bytes] | None = None
    _current: _OpenPart | None = None

    def feed(self, chunk: bytes) -> list[SheetPart]:
        """Write a chunk; the parts it completed (at most one), ready to load."""
        if self._current is None:
            self._start(chunk)
            return []
        current = self._current
        # The first part is smaller, so that calamine starts soon after the scan does.
        wanted = self.part_bytes // FIRST_PART_SHARE if not self.parts else self.part_bytes
        if not self.cutting or current.size < wanted or self._row_open is None:
            self._append(chunk)
            return []
        found = self._row_open.search(chunk)
        if found is None:
            self._append(chunk)
            return []
        number = _ROW_NUMBER.match(chunk, found.start())
        if number is None:
            self.cutting = False
            self._append(chunk)
            return []
        row = int(number.group(1))
        self._append(chunk[: found.start()])
        done = self._seal(current, self._sentinel(row) + self._close, next_row=row)
        self._open(SheetPart(self._part_path(), first_row=row))
        self._append(self._head + self._sentinel(row - 1))
        self._append(chunk[found.start() :])
        return [done]

    def _sentinel(self, row: int) -> bytes:
        """A row holding SENTINEL next to the orders columns: where a part's range must end."""
        p, ref = self._prefix, f"{self.sentinel_column}{row}".encode()
        return (
            b'<%srow r="%d"><%sc r="%s" t="inlineStr"><%sis><%st>%s</%st></%sis></%sc></%srow>'
            % (p, row, p, ref, p, p, SENTINEL, p, p, p, p)
        )

    def finish(self) -> SheetPart | None:
        """Seal the last part; None when nothing was written."""
        if self._current is None:
            return None
        return self._seal(self._current, b"", next_row=None)

    def close(self) -> None:
        """Close an unfinished part's file (after an error)."""
        if self._current is not None:
            self._current.handle.close()
            self._current = None

    def _start(self, chunk: bytes) -> None:
        sheet_data = _SHEET_DATA_OPEN.search(chunk)
        root = _ROOT_OPEN.search(chunk)
        if sheet_data is None or root is None or sheet_data.group(2) == b"/":
            self.cutting = False
        else:
            prefix = self._prefix = sheet_data.group(1)
            self._head = chunk[: sheet_data.end()]
            self._close = b"</" + prefix + b"sheetData></" + root.group(1) + b">"
            self._row_open = re.compile(b"<" + re.escape(prefix) + rb"row\b")
        self._open(SheetPart(self._part_path(), first_row=1))
        self._append(chunk)

    def _part_path(self) -> Path:
        return self.folder / f"part{len(self.parts) + (self._current is not None)}.xlsx"

    def _open(self, part: SheetPart) -> None:
        handle = open(part.path, "wb")  # noqa: SIM115 - closed when sealed or by close()
        try:
            writer = ZipWriter(handle)
            with zipfile.ZipFile(self.source) as archive, open(self.source, "rb") as raw:
                for info in archive.infolist():
                    if info.filename == self.sheet_part:
                        continue
                    if (
                        info.filename.startswith("xl/worksheets/")
                        and info.filename.endswith(".xml")
                        and info.file_size > _EMPTIED_ABOVE_BYTES
                    ):
                        writer.write(info.filename, _EMPTY_SHEET)
                    else:
                        writer.copy_raw(info, raw)
            entry = writer.stored_entry(self.sheet_part)
        except BaseException:
            handle.close()
            raise
        self._current = _OpenPart(part, handle, writer, entry)

    def _append(self, data: bytes) -> None:
        assert self._current is not None
        self._current.entry.write(data)
        self._current.size += len(data)

    def _seal(self, current: _OpenPart, closing: bytes, next_row: int | None) -> SheetPart:
        if closing:
            current.entry.write(closing)
        current.entry.close()
        current.writer.close()
        current.handle.close()
        current.part.next_row = next_row
        self.parts.append(current.part)
        self._current = None
        return current.part


# --- loading the parts and proving they add up --------------------------------------------


class PartsDisagree(Exception):
    """The parts cannot stand for the whole sheet; load it in one go."""


@dataclass(frozen=True)
class PartRequest:
    """Which rows and columns of the sheet are wanted: data rows after the header row."""

    sheet: str
    columns: str  # fastexcel's use_columns for the orders columns ("A:H")
    sentinel_column: str  # letters of the column after them, which marks part boundaries
    columns_and_sentinel: str  # the same and the sentinel column ("A:I")
    header_row: int  # 1-based
    last_data_row: int | None  # a table's last data row; None: up to the sheet's last value


@dataclass
class LoadedPart:
    """The wanted rows of one part's range as Arrow columns, and its error cells."""

    first_row: int  # sheet row of the table's first row
    table: pa.Table | None
    errors: list[tuple[int, int, str]]  # (row in table, column, fastexcel's detail)
    names: list[str] | None = None


_COMMON: dict[str, Any] = {"schema_sample_rows": None, "whitespace_as_null": True}


def load_part(part: SheetPart, request: PartRequest) -> LoadedPart:
    """Load the wanted rows of one part's range with fastexcel (run on a worker thread).

    The part's file is deleted once loaded, so that the parts never take much room at once.
    """
    try:
        return _load_part(part, request)
    finally:
        # Still open elsewhere (Windows): the temporary folder goes at the end instead.
        with contextlib.suppress(OSError):
            part.path.unlink(missing_ok=True)


def _load_part(part: SheetPart, request: PartRequest) -> LoadedPart:
    start = max(part.first_row, request.header_row + 1)
    end = part.next_row - 1 if part.next_row is not None else None  # last row of the range
    if request.last_data_row is not None:
        end = request.last_data_row if end is None else min(end, request.last_data_row)
    # A part past a table's end is loaded all the same: a row written out of order inside
    # it would belong to the table, and its markers show that.
    reader = fastexcel.read_excel(part.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if part.first_row == 1:
            table, errors = _load_first_part(reader, part, request)
        else:
            table, errors = _load_later_part(reader, part, request)
    rows = table.num_rows if end is None else max(min(table.num_rows, end - start + 1), 0)
    data = table.slice(0, rows)
    kept = [(row, column, detail) for row, column, detail in errors if row < rows]
    names = list(data.column_names) if part.first_row == 1 else None
    return LoadedPart(start, data if rows else None, kept, names)


def _load_first_part(
    reader: fastexcel.ExcelReader, part: SheetPart, request: PartRequest
) -> tuple[pa.Table, list[tuple[int, int, str]]]:
    """The part holding the header: the rows after it, read as the whole sheet would be, and
    the marker row below its range, which must be the last row calamine found and empty in
    the orders columns (a row written out of order would pass it or land on it)."""
    assert part.next_row is not None  # the first part is never the last
    header = request.header_row
    sheet = reader.load_sheet(
        request.sheet,
        header_row=header - 1,
        n_rows=part.next_row - header,  # down to the marker row
        use_columns=request.columns,
        skip_whitespace_tail_rows=False,
        dtype_coercion="strict",
        **_COMMON,
    )
    # fastexcel's total_height counts the rows after the header down to the last one found.
    if sheet.total_height + header != part.next_row:
        raise PartsDisagree("the first part holds rows outside its range")
    batch, cell_errors = sheet.to_arrow_with_errors()
    table = pa.Table.from_batches([batch])
    errors = _errors(cell_errors)
    _check_marker_row(table, errors, table.num_rows - 1, sentinel=None)
    return table.slice(0, table.num_rows - 1), errors


def _load_later_part(
    reader: fastexcel.ExcelReader, part: SheetPart, request: PartRequest
) -> tuple[pa.Table, list[tuple[int, int, str]]]:
    """Any other part, from the first row calamine found in it: that must be the marker row
    above the range, and the last one (but in the last part) the marker row below it."""
    # A sheet (not a table) ends at its last row holding a value in any column, as loading
    # it whole decides: the last part trims its own blank tail. (Earlier parts end on their
    # marker row, so nothing there is trimmed.)
    trim_tail = part.next_row is None and request.last_data_row is None
    sheet = reader.load_sheet(
        request.sheet,
        header_row=None,
        skip_rows=None,
        use_columns=request.columns_and_sentinel,
        skip_whitespace_tail_rows=trim_tail,
        dtype_coercion="strict",
        **_COMMON,
    )
    batch, cell_errors = sheet.to_arrow_with_errors()
    table = pa.Table.from_batches([batch])
    errors = _errors(cell_errors)
    if trim_tail and table.num_rows <= 1:
        # Only the marker is left: the blank tail may reach back into earlier parts.
        raise PartsDisagree("the last part holds no value")
    if part.next_row is not None and table.num_rows != part.next_row - part.first_row + 2:
        raise PartsDisagree("a part holds rows outside its range")
    marker = table.column(table.num_columns - 1)
    _check_marker_row(table, errors, 0, sentinel=marker)
    if part.next_row is not None:
        _check_marker_row(table, errors, table.num_rows - 1, sentinel=marker)
    rows = table.num_rows - (2 if part.next_row is not None else 1)
    data = table.drop_columns([table.column_names[-1]]).slice(1, max(rows, 0))
    return data, [(row - 1, column, detail) for row, column, detail in errors if row >= 1]


def _check_marker_row(
    table: pa.Table,
    errors: list[tuple[int, int, str]],
    row: int,
    sentinel: pa.ChunkedArray | None,
) -> None:
    """The row is a marker: SENTINEL in the marker column (when loaded), nothing in the rest."""
    orders_columns = table.num_columns - (1 if sentinel is not None else 0)
    if (
        row < 0
        or (sentinel is not None and sentinel[row].as_py() != SENTINEL.decode())
        or any(table.column(i)[row].is_valid for i in range(orders_columns))
        or any(error_row == row for error_row, _, _ in errors)
    ):
        raise PartsDisagree("a part holds rows outside its range")


def _errors(cell_errors: Any) -> list[tuple[int, int, str]]:
    if cell_errors is None:
        return []
    return [(*error.offset_position, error.detail) for error in cell_errors.errors]


def combine_parts(
    loaded: list[LoadedPart], request: PartRequest
) -> tuple[pa.Table, list[tuple[int, int, str]]]:
    """The parts' rows as one table, and every error cell as (row offset, column, detail)."""
    head = loaded[0]
    if head.names is None or head.table is None:
        raise PartsDisagree("the part holding the header was not loaded")
    names = head.names
    types: list[pa.DataType | None] = [None] * len(names)
    tables: list[pa.Table] = []
    errors: list[tuple[int, int, str]] = []
    next_row = request.header_row + 1  # the sheet row the combined table continues with
    rows = 0
    for part in loaded:
        if part.table is None:
            continue
        if part.table.num_columns != len(names):
            raise PartsDisagree("a part has another number of columns")
        if part.first_row > next_row:
            # The end of the previous range held no values: those rows are empty.
            gap = part.first_row - next_row
            tables.append(pa.table({name: pa.nulls(gap) for name in names}))
            rows += gap
        for column, column_type in enumerate(part.table.schema.types):
            if pa.types.is_null(column_type):
                continue
            if types[column] is None:
                types[column] = column_type
            elif types[column] != column_type:
                raise PartsDisagree("a column holds different kinds of values in two parts")
        errors.extend((rows + row, column, detail) for row, column, detail in part.errors)
        tables.append(part.table.rename_columns(names))
        rows += part.table.num_rows
        next_row = part.first_row + part.table.num_rows
    schema = pa.schema([pa.field(name, types[i] or pa.null()) for i, name in enumerate(names)])
    return pa.concat_tables([table.cast(schema) for table in tables]), errors


__all__ = [
    "MIN_PART_BYTES",
    "SPLIT_ABOVE_BYTES",
    "LoadedPart",
    "PartRequest",
    "PartWriter",
    "PartsDisagree",
    "SheetPart",
    "combine_parts",
    "load_part",
]
