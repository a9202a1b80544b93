"""Read raw orders, settings and suppressed emails from workbooks and CSV files, values as stored.

Orders are read with fastexcel (Rust calamine to Arrow): a million rows in seconds. A big
sheet is first checked by a streaming scan of its XML, which hands the checked bytes to
`sheet_parts` so that calamine loads it in row ranges on every core meanwhile. Nothing is
judged here: numbers stay numbers, datetimes datetimes, text text, blank cells missing, error
cells become their error text ("#N/A") and columns mixing kinds of values become object
columns holding each value as it is. Row positions stay aligned to spreadsheet rows so that the
normalizer can name the cell of any bad value.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import posixpath
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastexcel
import numpy as np
import pandas as pd
import pyarrow.compute
from defusedxml import ElementTree as SafeET

from xl_segments.errors import SheetNotFoundError, WorkbookError
from xl_segments.settings import SETTING_SPECS
from xl_segments.sheets import ORDERS_SHEET, ORDERS_TABLE, SUPPRESSION_SHEET
from xl_segments.workbook import sheet_parts

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
TEXT_SUFFIXES = (".csv", ".txt")
_ZIP_SUFFIXES = (".xlsx", ".xlsm", ".ods")
_OPENXML_SUFFIXES = (".xlsx", ".xlsm")

# Limits that keep a hostile or damaged file from exhausting memory. A real 1,000,000-row
# Orders sheet unpacks to about 0.5 GB of XML at a compression ratio near 10.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
_RATIO_APPLIES_ABOVE = 16 * 1024**2
# calamine allocates one slot per cell of the rectangle spanned by the used cells, so one
# value in XFD1048576 costs 17 billion slots and aborts the process: refuse large rectangles.
MAX_SHEET_CELLS = 50_000_000
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
# What reading a damaged zip member can raise: a bad deflate stream, a CRC mismatch, a member
# listed but missing, a short read.
_ZIP_DAMAGE = (KeyError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)
# Excel never writes a document type declaration; one in a part is how entity bombs start.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_XML_HEAD_BYTES = 64 * 1024
MAX_TEXT_BYTES = 2 * 1024**3

_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

# calamine's names for error cells, as fastexcel reports them ("Expected float but got
# 'Error(NA)'"), and the text Excel shows for each.
_ERROR_TEXT = {
    "Div0": "#DIV/0!",
    "NA": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "GettingData": "#GETTING_DATA",
}
_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")


@dataclass(frozen=True)
class Origin:
    """Where rows came from, so errors can name the cell: position i is row first_data_row + i."""

    source: str
    sheet: str | None
    first_data_row: int
    first_column: int
    columns: tuple[str, ...] = ()

    def cell(self, position: int, column_position: int) -> str:
        """The address of a value: 'sheet "Orders", cell D17' or 'line 17, column "Amount"'."""
        row = self.first_data_row + position
        if self.sheet is None:
            name = (
                self.columns[column_position]
                if 0 <= column_position < len(self.columns)
                else str(column_position + 1)
            )
            return f'line {row}, column "{name}"'
        letters = column_letter(self.first_column + column_position)
        return f'sheet "{self.sheet}", cell {letters}{row}'


@dataclass(frozen=True)
class RawOrders:
    """An orders table as the file holds it: headers as written, values as stored, RangeIndex."""

    frame: pd.DataFrame
    origin: Origin
    date_system_1904: bool
    parts: int = 1  # how many row ranges were loaded side by side (see sheet_parts)


def column_letter(number: int) -> str:
    """Excel column letters of a 1-based column number (1 -> A, 27 -> AA)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_number(letters: str) -> int:
    """1-based column number of Excel column letters (A -> 1, AA -> 27)."""
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


# --- public API -----------------------------------------------------------------------------


def read_orders(path: Path, sheet: str | None = None) -> RawOrders:
    """Read the orders table of a workbook or CSV file without interpreting any value.

    In a workbook: the sheet named by `sheet` when given, else the Excel table named Orders,
    else the sheet named Orders, else the only sheet. The header is the table's header row or
    a sheet's first non-empty row.
    """
    path = Path(path)
    suffix = _check_path(path)
    if suffix in TEXT_SUFFIXES:
        return _read_text(path)
    package = _inspect_package(path, suffix)
    reader = _open_fastexcel(path)
    names = _sheet_names(reader, path)
    target = _choose_target(path, package, names, sheet)
    return _read_target(path, reader, package, target)


def list_sheets(path: Path) -> list[str]:
    """The sheet names of a workbook, in workbook order (none for a CSV file)."""
    path = Path(path)
    suffix = _check_path(path)
    if suffix in TEXT_SUFFIXES:
        return []
    _inspect_package(path, suffix)
    return _sheet_names(_open_fastexcel(path), path)


def read_settings(path: Path) -> dict[str, object]:
    """Raw values of the Settings sheet's named cells (xls_<setting>), keyed by setting name.

    Settings live in .xlsx/.xlsm workbooks only; other files, and workbooks without the named
    cells, give an empty dict. Only the Settings sheet is parsed, never the Orders sheet.
    """
    return read_settings_and_suppression(path)[0]


def read_suppression(path: Path) -> list[str]:
    """Emails in column A of the workbook's Suppression sheet (none when there is no such sheet)."""
    return read_settings_and_suppression(path)[1]


def read_settings_and_suppression(path: Path) -> tuple[dict[str, object], list[str]]:
    """read_settings and read_suppression with one opening of the workbook.

    Opening a workbook reads its whole table of shared strings: 0.4 s for the 1.5 million
    strings of a 1,000,000-order workbook saved by Excel.
    """
    path = Path(path)
    suffix = _check_path(path)
    if suffix not in _OPENXML_SUFFIXES:
        return {}, []
    package = _inspect_package(path, suffix)
    sheets = _SmallSheets(path)
    return _settings(path, package, sheets), _suppression(package, sheets)


class _SmallSheets:
    """Every cell of a few small sheets, from one python-calamine opening of the workbook."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._book: Any = None

    def values(self, sheet: str) -> list[list[object]]:
        if self._book is None:
            self._book = _open_calamine(self.path)
        return _sheet_values(self.path, self._book, sheet)


def _settings(path: Path, package: _Package, sheets: _SmallSheets) -> dict[str, object]:
    wanted = {spec.cell_name.casefold(): spec.name for spec in SETTING_SPECS}
    cells: dict[str, dict[str, tuple[int, int]]] = {}
    for name, (sheet_name, row, column) in _defined_cells(path, package).items():
        setting = wanted.get(name.casefold())
        if setting is not None:
            cells.setdefault(sheet_name, {})[setting] = (row, column)
    values: dict[str, object] = {}
    for sheet_name, refs in cells.items():
        if sheet_name not in (package.sheet_parts or {}):
            continue
        rows = sheets.values(sheet_name)
        for setting, (row, column) in refs.items():
            inside = row - 1 < len(rows) and column - 1 < len(rows[row - 1])
            values[setting] = rows[row - 1][column - 1] if inside else None
    return values


def _suppression(package: _Package, sheets: _SmallSheets) -> list[str]:
    sheet_name = _find_name(SUPPRESSION_SHEET, list(package.sheet_parts or {}))
    if sheet_name is None:
        return []
    emails: list[str] = []
    for row in sheets.values(sheet_name):
        value = row[0] if row else None
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip()
        # The header cell (Email, E-mail...) is not an address.
        if "@" not in text and text.casefold().replace("-", "") in ("email", "emails"):
            continue
        emails.append(text)
    return emails


_DEFINED_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)")


def _defined_cells(path: Path, package: _Package) -> dict[str, tuple[str, int, int]]:
    """Workbook-level defined names that point at one cell: name -> (sheet, row, column)."""
    with zipfile.ZipFile(path) as archive:
        book = _parse_part(path, archive, package.book_part)
    found: dict[str, tuple[str, int, int]] = {}
    if book is None:
        return found
    for element in book.iter(f"{{{_NS_MAIN}}}definedName"):
        if element.get("localSheetId") is not None:
            continue
        match = _DEFINED_REF.match((element.text or "").strip())
        if match is None:
            continue
        quoted, plain, letters, row = match.groups()
        sheet = quoted.replace("''", "'") if quoted is not None else plain
        found[element.get("name", "")] = (sheet, int(row), column_number(letters))
    return found


def _open_calamine(path: Path) -> Any:
    import python_calamine

    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise _not_readable(path, exc) from None


def _not_readable(path: Path, exc: Exception) -> WorkbookError:
    return WorkbookError(
        f"{path.name} cannot be read as a workbook ({type(exc).__name__}: {exc}). "
        "Open it in Excel and save it again."
    )


def _sheet_values(path: Path, book: Any, sheet: str) -> list[list[object]]:
    """Every cell of one small sheet (Settings, Suppression) as openpyxl would give it.

    python-calamine reads one sheet without building Python objects for the shared strings of
    the whole workbook, which openpyxl does: seconds per 100,000 strings of a big Orders sheet.
    """
    try:
        rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:
        raise _not_readable(path, exc) from None
    out: list[list[object]] = []
    for row in rows:
        values: list[object] = []
        for value in row:
            if isinstance(value, str) and value == "":
                values.append(None)
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                values.append(dt.datetime(value.year, value.month, value.day))
            else:
                values.append(value)
        out.append(values)
    return out


# --- checks before anything is loaded -------------------------------------------------------


def _check_path(path: Path) -> str:
    suffix = path.suffix.casefold()
    if not path.exists():
        raise WorkbookError(f"{path.name}: no such file ({path}). Check the name and folder.")
    if not path.is_file():
        raise WorkbookError(f"{path.name} is a folder, not a workbook or CSV file.")
    if suffix not in WORKBOOK_SUFFIXES + TEXT_SUFFIXES:
        raise WorkbookError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}. Use an Excel workbook "
            "(.xlsx, .xlsm, .xls, .xlsb), an OpenDocument sheet (.ods) or a CSV file (.csv, .txt)."
        )
    return suffix


@dataclass(frozen=True)
class _Table:
    name: str
    sheet: str
    first_row: int  # 1-based header row
    last_row: int
    first_col: int  # 1-based
    last_col: int
    header_rows: int
    totals_rows: int


@dataclass(frozen=True)
class _Package:
    """What we learned from a workbook's structure before loading any cell."""

    date_system_1904: bool = False
    sheet_parts: dict[str, str] | None = None  # sheet name -> part name (xlsx/xlsm only)
    tables: tuple[_Table, ...] = ()
    book_part: str = "xl/workbook.xml"


def _inspect_package(path: Path, suffix: str) -> _Package:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(_OLE_SIGNATURE):
        if suffix in (*_OPENXML_SUFFIXES, ".xlsb") and _is_encrypted(path):
            raise WorkbookError(
                f"{path.name} is password-protected (encrypted), so it cannot be read. Open it "
                "in Excel, remove the password (File > Info > Protect Workbook) and save it again."
            )
        if suffix != ".xls":
            raise WorkbookError(
                f"{path.name} is not a valid {suffix} workbook (it looks like an old .xls file or "
                "another Office document). Open it in Excel and save it as .xlsx."
            )
        return _Package()
    if suffix not in (*_ZIP_SUFFIXES, ".xlsb"):
        return _Package()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise WorkbookError(
            f"{path.name} is not a valid workbook: the file is damaged, truncated or not an "
            f"{suffix} file. Open it in Excel and save it again, or export the orders as CSV."
        ) from None
    with archive:
        _check_sizes(path, archive)
        _check_declarations(path, archive)
        if suffix not in _OPENXML_SUFFIXES:
            return _Package()
        return _read_structure(path, archive)


def _is_encrypted(path: Path) -> bool:
    # An encrypted OOXML file is an OLE container holding EncryptionInfo/EncryptedPackage;
    # the directory entries sit within the first sectors of these small containers.
    with open(path, "rb") as handle:
        data = handle.read(4 * 1024 * 1024)
    return _ENCRYPTION_STREAM in data


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    total = 0
    for info in archive.infolist():
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_APPLIES_ABOVE and ratio > MAX_COMPRESSION_RATIO:
            raise WorkbookError(
                f"{path.name} is refused: its part {info.filename} would unpack to "
                f"{info.file_size / 1024**2:,.0f} MB from {info.compress_size / 1024**2:,.1f} MB, "
                "which is how zip bombs look, not workbooks."
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookError(
            f"{path.name} is too large: it unpacks to {total / 1024**3:,.1f} GB "
            f"(the limit is {MAX_UNCOMPRESSED_BYTES / 1024**3:,.0f} GB). "
            "Export the orders as CSV instead."
        )


def _check_declarations(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a package any of whose XML parts declares a DTD or entities (billion laughs)."""
    for info in archive.infolist():
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        try:
            with archive.open(info) as stream:
                head = stream.read(_XML_HEAD_BYTES)
        except _ZIP_DAMAGE:
            raise _damaged(path, info.filename) from None
        if _DTD.search(head):
            raise WorkbookError(
                f"{path.name} is refused: its part {info.filename} declares XML entities, "
                "which workbooks saved by Excel never do (it looks like an entity bomb). Open "
                "it in Excel and save it again."
            )


def _damaged(path: Path, part: str) -> WorkbookError:
    return WorkbookError(
        f"{path.name} is damaged: its part {part} cannot be unpacked. Open it in Excel and "
        "save it again, or export the orders as CSV."
    )


def _parse_part(path: Path, archive: zipfile.ZipFile, part: str) -> Any:
    try:
        return SafeET.fromstring(archive.read(part))
    except KeyError:
        return None
    except Exception:
        # defusedxml refuses entity bombs; anything else unparsable is damage.
        raise WorkbookError(
            f"{path.name} is damaged or unsafe: its part {part} is not valid workbook XML. "
            "Open it in Excel and save it again."
        ) from None


def _rels(path: Path, archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    folder, name = posixpath.split(part)
    root = _parse_part(path, archive, posixpath.join(folder, "_rels", name + ".rels"))
    found: dict[str, tuple[str, str]] = {}
    if root is None:
        return found
    for rel in root.iter(f"{{{_NS_PKG_REL}}}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        resolved = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        found[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], resolved)
    return found


def _read_structure(path: Path, archive: zipfile.ZipFile) -> _Package:
    book_part = "xl/workbook.xml"
    for _, (kind, target) in _rels(path, archive, "").items():
        if kind == "officeDocument":
            book_part = target
    book = _parse_part(path, archive, book_part)
    if book is None:
        raise WorkbookError(
            f"{path.name} is not a valid workbook: it has no workbook part. "
            "Open it in Excel and save it again."
        )
    pr = book.find(f"{{{_NS_MAIN}}}workbookPr")
    date1904 = pr is not None and pr.get("date1904", "0").casefold() in ("1", "true")
    rels = _rels(path, archive, book_part)
    sheet_parts: dict[str, str] = {}
    tables: list[_Table] = []
    for element in book.iter(f"{{{_NS_MAIN}}}sheet"):
        rel = rels.get(element.get(f"{{{_NS_REL}}}id", ""))
        if rel is None or rel[0] != "worksheet":
            continue
        name = element.get("name", "")
        sheet_parts[name] = rel[1]
        for kind, target in _rels(path, archive, rel[1]).values():
            if kind != "table":
                continue
            table = _parse_part(path, archive, target)
            if table is None:
                continue
            ref = table.get("ref", "")
            match = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?", ref)
            if not match:
                continue
            c1, r1, c2, r2 = match.groups()
            tables.append(
                _Table(
                    name=table.get("displayName") or table.get("name", ""),
                    sheet=name,
                    first_row=int(r1),
                    last_row=int(r2 or r1),
                    first_col=column_number(c1),
                    last_col=column_number(c2 or c1),
                    header_rows=int(table.get("headerRowCount", "1")),
                    totals_rows=int(table.get("totalsRowCount", "0")),
                )
            )
    return _Package(date1904, sheet_parts, tuple(tables), book_part)


# --- choosing and reading the table ---------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    sheet: str
    table: _Table | None


def _find_name(wanted: str, names: list[str]) -> str | None:
    if wanted in names:
        return wanted
    for name in names:
        if name.strip().casefold() == wanted.casefold():
            return name
    return None


def _choose_target(path: Path, package: _Package, names: list[str], sheet: str | None) -> _Target:
    tables_by_name = {t.name.casefold(): t for t in package.tables}
    orders_table = tables_by_name.get(ORDERS_TABLE.casefold())
    if sheet is not None:
        found = _find_name(sheet, names)
        if found is None:
            raise SheetNotFoundError(
                f"{path.name} has no sheet named {sheet!r}; its sheets are: "
                f"{', '.join(repr(n) for n in names)}."
            )
        on_sheet = [t for t in package.tables if t.sheet == found]
        if orders_table is not None and orders_table.sheet == found:
            return _Target(found, orders_table)
        # A sheet holding exactly one table: that table is what the user means.
        return _Target(found, on_sheet[0] if len(on_sheet) == 1 else None)
    if orders_table is not None:
        return _Target(orders_table.sheet, orders_table)
    found = _find_name(ORDERS_SHEET, names)
    if found is not None:
        return _Target(found, None)
    if len(names) == 1:
        return _Target(names[0], None)
    raise SheetNotFoundError(
        f"{path.name} has no Excel table or sheet named {ORDERS_SHEET!r}; its sheets are: "
        f"{', '.join(repr(n) for n in names)}. Name the sheet that holds the orders."
    )


def _open_fastexcel(path: Path) -> fastexcel.ExcelReader:
    try:
        return fastexcel.read_excel(path)
    except fastexcel.FastExcelError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: Exception) -> WorkbookError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "password" in detail.casefold() or "encrypt" in detail.casefold():
        return WorkbookError(
            f"{path.name} is password-protected (encrypted), so it cannot be read. Open it in "
            "Excel, remove the password and save it again."
        )
    return WorkbookError(
        f"{path.name} cannot be read as a workbook ({detail}). The file may be damaged: open "
        "it in Excel and save it again, or export the orders as CSV."
    )


def _sheet_names(reader: fastexcel.ExcelReader, path: Path) -> list[str]:
    try:
        return list(reader.sheet_names)
    except fastexcel.FastExcelError as exc:
        raise _unreadable(path, exc) from None


@dataclass(frozen=True)
class _Layout:
    header_row: int  # 1-based; 0 when the sheet is empty
    first_col: int
    last_col: int
    n_rows: int | None
    headers: tuple[str | None, ...] | None  # header texts as written, when known


def _read_target(
    path: Path, reader: fastexcel.ExcelReader, package: _Package, target: _Target
) -> RawOrders:
    part = (package.sheet_parts or {}).get(target.sheet)
    frame: pd.DataFrame | None = None
    parts = 1
    if part is not None:
        layout, frame, parts = _scan_openxml_sheet(path, part, target)
    else:
        layout = _scan_other_sheet(path, reader, target)
    if layout.header_row == 0:
        origin = Origin(path.name, target.sheet, 2, 1)
        return RawOrders(pd.DataFrame(), origin, package.date_system_1904)
    if frame is None:
        frame = _load(path, reader, target.sheet, layout)
    if layout.headers is not None and len(layout.headers) == frame.shape[1]:
        # fastexcel renames duplicate headers (Amount, Amount_1); keep them as written so that
        # the normalizer can say the header is duplicated.
        frame.columns = pd.Index(
            [h if h else old for h, old in zip(layout.headers, frame.columns, strict=True)],
            dtype=object,
        )
    origin = Origin(
        source=path.name,
        sheet=target.sheet,
        first_data_row=layout.header_row + 1,
        first_column=layout.first_col,
        columns=tuple(str(c) for c in frame.columns),
    )
    return RawOrders(frame, origin, package.date_system_1904, parts)


def _column_options(layout: _Layout) -> dict[str, Any]:
    """fastexcel options every load of the orders columns shares, whole or in parts."""
    return {
        # fastexcel takes "C:E", but a single column as "C" ("C:C" is an empty range to it).
        "use_columns": column_letter(layout.first_col)
        if layout.first_col == layout.last_col
        else f"{column_letter(layout.first_col)}:{column_letter(layout.last_col)}",
        # Guess each column's type from every row, not the first thousand.
        "schema_sample_rows": None,
        "whitespace_as_null": True,
    }


def _load(path: Path, reader: fastexcel.ExcelReader, sheet: str, layout: _Layout) -> pd.DataFrame:
    options: dict[str, Any] = {
        "header_row": layout.header_row - 1,
        "n_rows": layout.n_rows,
        **_column_options(layout),
        # A table ends where its ref says; a sheet ends at its last row holding a value.
        "skip_whitespace_tail_rows": layout.n_rows is None,
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                loaded = reader.load_sheet(sheet, dtype_coercion="strict", **options)
                mixed = False
            except fastexcel.UnsupportedColumnTypeCombinationError:
                # Some column mixes numbers, dates, text or booleans. fastexcel would turn the
                # whole column into text ("2024-01-04 00:00:00", "5"); read again and recover
                # each value's own type below.
                loaded = reader.load_sheet(sheet, dtype_coercion="coerce", **options)
                mixed = True
            batch, cell_errors = loaded.to_arrow_with_errors()
    except fastexcel.FastExcelError as exc:
        raise _unreadable(path, exc) from None
    frame = batch.to_pandas()
    if mixed:
        frame = _restore_mixed(path, sheet, layout, frame)
    if cell_errors is not None:
        _show_error_cells(
            frame, [(*error.offset_position, error.detail) for error in cell_errors.errors]
        )
    return frame.reset_index(drop=True)


def _show_error_cells(frame: pd.DataFrame, errors: list[tuple[int, int, str]]) -> None:
    """Put error cells' text (#N/A...) where fastexcel left a blank: (row, column, detail)."""
    by_column: dict[int, tuple[list[int], list[str]]] = {}
    for row, col, detail in errors:
        match = _ERROR_DETAIL.search(detail)
        if match:
            text = _ERROR_TEXT.get(match.group(1), f"#{match.group(1).upper()}")
        elif 'String("")' in detail:
            # An empty text among numbers (LibreOffice writes some blanks so): still blank.
            continue
        else:
            text = "#ERROR"
        rows, texts = by_column.setdefault(col, ([], []))
        rows.append(row)
        texts.append(text)
    for col, (rows, texts) in by_column.items():
        values = frame.iloc[:, col].astype(object)
        values.iloc[rows] = texts
        frame.isetitem(col, values.to_numpy(dtype=object))


def _restore_mixed(path: Path, sheet: str, layout: _Layout, frame: pd.DataFrame) -> pd.DataFrame:
    """Replace text-coerced mixed columns by their values with their own types."""
    try:
        import python_calamine
    except ImportError:  # pragma: no cover - python-calamine ships with fastexcel's engine users
        warnings.warn(
            f"{path.name}, sheet {sheet!r}: some columns mix numbers, dates and text; without "
            "python-calamine they are read as text.",
            UserWarning,
            stacklevel=3,
        )
        return frame
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    # Without skipping the empty area, rows[r][c] is the cell of sheet row r + 1, column c + 1.
    rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    first = layout.header_row  # index in `rows` of the first data row
    for col in range(frame.shape[1]):
        # Only text columns can hide other kinds: numbers, dates and booleans do not mix.
        if not isinstance(frame.dtypes.iloc[col], pd.StringDtype):
            continue
        index = layout.first_col - 1 + col
        values: list[object] = []
        kinds: set[type] = set()
        for i in range(len(frame)):
            r = first + i
            value = rows[r][index] if 0 <= r < len(rows) and 0 <= index < len(rows[r]) else ""
            if value == "" or (isinstance(value, str) and not value.strip()):
                values.append(None)
                continue
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                # python-calamine gives midnight datetimes as dates; fastexcel as datetimes.
                value = dt.datetime(value.year, value.month, value.day)
            kinds.add(type(value))
            values.append(value)
        if kinds - {str}:
            column = np.empty(len(values), dtype=object)
            column[:] = values
            frame.isetitem(col, column)
    return frame


# --- finding the header and checking the extent of a sheet ----------------------------------

_ROW_OPEN = re.compile(rb"<(?:\w+:)?row\b([^>]*?)(/?)>")
_ROW_NUMBER = re.compile(rb'\br="(\d+)"')
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.DOTALL)
_INLINE_TEXT = re.compile(rb"<(?:\w+:)?t\b[^>]*>(.*?)</(?:\w+:)?t>", re.DOTALL)
_ROW_CLOSE = re.compile(rb"</(?:\w+:)?row>")
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b")
_CHUNK = 8 * 1024 * 1024
# A row longer than this (16,384 cells of 4 KB) is not a header worth carrying across chunks.
_MAX_ROW_BYTES = 64 * 1024 * 1024


def _scan_openxml_sheet(
    path: Path, part: str, target: _Target
) -> tuple[_Layout, pd.DataFrame | None, int]:
    """Header row, column span and extent of a worksheet, from one streaming pass over its XML.

    The pass keeps calamine from being handed a sheet whose used range would not fit in
    memory. A big sheet is also loaded during the pass, in parts on every core
    (`sheet_parts`); otherwise, or when the parts do not add up, no frame comes back and the
    caller loads the sheet in one go. The last item is how many parts were loaded.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(part).file_size
            shared_strings = sum(
                info.file_size
                for info in archive.infolist()
                if info.filename.lower().endswith("sharedstrings.xml")
            )
        workers = sheet_parts.LOAD_WORKERS
        if size >= sheet_parts.SPLIT_ABOVE_BYTES and workers > 1:
            where = sheet_parts.parts_folder(size)
            sheet_parts.remove_stale_parts(where)
            try:
                folder = tempfile.TemporaryDirectory(
                    prefix=sheet_parts.PARTS_PREFIX, dir=where, ignore_cleanup_errors=True
                )
            except OSError:  # no writable temporary folder: read the sheet in one go
                folder = None
            if folder is not None:
                with folder:
                    part_bytes = sheet_parts.part_bytes(size, workers, shared_strings)
                    return _scan_and_load_in_parts(
                        path, part, target, part_bytes, workers, Path(folder.name)
                    )
        scan = _SheetScan(want_header=target.table is None)
        with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
            for chunk in _chunks(stream):
                scan.feed(chunk)
    except _ZIP_DAMAGE:
        raise _damaged(path, part) from None
    return _layout_of(path, target, scan), None, 1


def _scan_and_load_in_parts(
    path: Path, part: str, target: _Target, part_bytes: int, workers: int, folder: Path
) -> tuple[_Layout, pd.DataFrame | None, int]:
    scan = _SheetScan(want_header=target.table is None)
    early: _Layout | None = None  # the layout as known from the first chunk
    request: sheet_parts.PartRequest | None = None
    writer: sheet_parts.PartWriter | None = None
    splitting = True
    futures: list[Future[sheet_parts.LoadedPart]] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="xl-segments-load") as pool:
        try:
            with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
                for chunk in _chunks(stream):
                    scan.feed(chunk)
                    if not splitting:
                        continue
                    if writer is None:
                        # The header (or the table) is known from the first chunk, or the
                        # sheet is read in one go.
                        if target.table is not None or scan.header is not None:
                            early = _layout_from(path, target, scan)
                            request = _part_request(target, early)
                        if early is None or request is None:
                            splitting = False
                            continue
                        writer = sheet_parts.PartWriter(
                            path,
                            part,
                            folder,
                            part_bytes,
                            sentinel_column=request.sentinel_column,
                        )
                    try:
                        completed = writer.feed(chunk)
                    except OSError:
                        # No room for the parts (a small RAM disk, a full disk): read whole.
                        splitting = False
                        writer.close()
                        continue
                    for done in completed:
                        # A part goes to calamine only once every byte of it has been checked.
                        if (
                            early is None
                            or request is None
                            or _extent_problem(path, target, scan, early) is not None
                        ):
                            splitting = False
                            writer.close()
                            break
                        futures.append(pool.submit(sheet_parts.load_part, done, request))
            layout = _layout_of(path, target, scan, known=early)
            if not splitting or writer is None or request is None or not futures:
                return layout, None, 1
            try:
                last = writer.finish()
            except OSError:
                return layout, None, 1
            if last is not None:
                futures.append(pool.submit(sheet_parts.load_part, last, request))
            try:
                loaded = [future.result() for future in futures]
                combined, errors = sheet_parts.combine_parts(loaded, request)
            except Exception:  # PartsDisagree, or any part failing to load
                # Loading the whole sheet is always right: it reads the sheet or says why not.
                return layout, None, 1
        finally:
            if writer is not None:
                writer.close()
            pool.shutdown(wait=True, cancel_futures=True)
    frame = combined.to_pandas()
    if errors:
        _show_error_cells(frame, errors)
    return layout, frame.reset_index(drop=True), len(loaded)


def _part_request(target: _Target, layout: _Layout) -> sheet_parts.PartRequest | None:
    """What to load from each part (None: read the sheet in one go)."""
    if layout.header_row < 1 or layout.last_col >= EXCEL_COLUMNS:
        return None
    sentinel = column_letter(layout.last_col + 1)
    return sheet_parts.PartRequest(
        sheet=target.sheet,
        columns=_column_options(layout)["use_columns"],
        sentinel_column=sentinel,
        columns_and_sentinel=f"{column_letter(layout.first_col)}:{sentinel}",
        header_row=layout.header_row,
        last_data_row=None if layout.n_rows is None else layout.header_row + layout.n_rows,
    )


def _layout_of(
    path: Path, target: _Target, scan: _SheetScan, known: _Layout | None = None
) -> _Layout:
    """The layout of a fully scanned sheet (`known` when already worked out from its first
    chunk: the header row does not move), refusing one calamine could not hold."""
    layout = known if known is not None else _layout_from(path, target, scan)
    problem = _extent_problem(path, target, scan, layout)
    if problem is not None:
        raise problem
    return layout


def _extent_problem(
    path: Path, target: _Target, scan: _SheetScan, layout: _Layout
) -> WorkbookError | None:
    """Why calamine must not be handed what was scanned so far, if it must not."""
    if scan.last_row > EXCEL_ROWS or scan.widest > EXCEL_COLUMNS:
        return WorkbookError(
            f"{path.name}, sheet {target.sheet!r}: the sheet has cells beyond Excel's last row "
            f"or column (row {scan.last_row:,}), so the file is damaged or was not made by a "
            "spreadsheet program. Open it in Excel and save it again."
        )
    if layout.header_row == 0 and target.table is None:
        return None
    last_col = max(scan.widest, layout.last_col)
    last_row = max(scan.last_row, layout.header_row)
    if last_col * last_row > MAX_SHEET_CELLS:
        return WorkbookError(
            f"{path.name}, sheet {target.sheet!r}: the used part of the sheet spans "
            f"{last_row:,} rows and {last_col:,} columns, too large "
            "to read safely. Delete the unused rows and columns below and to the right of the "
            "orders (or copy the orders to a new workbook) and try again."
        )
    return None


def _layout_from(path: Path, target: _Target, scan: _SheetScan) -> _Layout:
    """Header row and columns from the table, or from the first row holding values."""
    table = target.table
    if table is not None:
        header_row = table.first_row
        n_rows = table.last_row - table.first_row - table.totals_rows
        if table.header_rows == 0:
            header_row -= 1
            n_rows += 1
        return _Layout(header_row, table.first_col, table.last_col, n_rows, None)
    if scan.header is None:
        return _Layout(0, 1, 1, None, None)
    header_row, cells = scan.header
    first_col, last_col = min(cells), max(cells)
    headers = _header_texts(path, cells, first_col, last_col)
    return _Layout(header_row, first_col, last_col, None, headers)


_HeaderCells = tuple[int, dict[int, tuple[bytes, bytes]]]


class _SheetScan:
    """What one pass over a sheet's XML learns, fed chunk by chunk (see `_chunks`).

    The first row holding a value (when wanted), the last row number and the widest column
    holding a value.
    """

    def __init__(self, want_header: bool) -> None:
        self.want_header = want_header
        self.header: _HeaderCells | None = None
        self._unfinished = (
            b""  # the start of a row the last chunk cut, while looking for the header
        )
        self._rows_before = 0  # rows before it (numbers rows that do not say theirs)
        self.last_row = 0
        self.widest = 0
        self._patterns: tuple[re.Pattern[bytes], ...] | None = None

    def _compile(self, chunk: bytes) -> tuple[re.Pattern[bytes], ...]:
        # Patterns starting with a literal (namespace prefix included) scan at C speed.
        found = _SHEET_DATA.search(chunk)
        prefix = re.escape(found.group(1) or b"") if found else b""
        # A cell in a column past Z holding a value, or a cell anywhere with a row number of
        # 7 or more digits: rows out of order can hide a huge row number mid-sheet, and
        # calamine sizes its grid by the largest one it meets.
        wide_valued_cell = re.compile(
            b"<" + prefix + rb'c r="(?:([A-Z]{1,3})(\d{7,})"|([A-Z]{2,3})\d+"'
            rb"(?:[^>]*[^/>])?>)"
        )
        last_row_start = re.compile(b"<" + prefix + rb'row r="(\d+)"')
        long_row_start = re.compile(b"<" + prefix + rb'row r="(\d{7,})"')
        # Either, or neither, in one search that starts at a literal: a reference with two
        # letters, or with 7 digits. Most chunks have neither and skip the two searches above.
        suspect = re.compile(rb'r="(?:[A-Z]{2}|[A-Z]{0,3}\d{7})')
        self._patterns = (wide_valued_cell, last_row_start, long_row_start, suspect)
        return self._patterns

    def feed(self, chunk: bytes) -> None:
        patterns = self._patterns or self._compile(chunk)
        wide_valued_cell, last_row_start, long_row_start, suspect = patterns
        if self.header is None and self.want_header:
            # A row cut by the chunk's end is read again with the next chunk.
            text = self._unfinished + chunk
            self.header, resume, self._rows_before = _first_valued_row(text, self._rows_before)
            self._unfinished = text[resume:] if len(text) - resume <= _MAX_ROW_BYTES else b""
        last_row, widest = self.last_row, self.widest
        if suspect.search(chunk) is not None:
            # (letters, 7+ digits, "") for a long row number, counted whether or not the cell
            # holds a value; ("", "", letters) for a valued cell past column Z. Rows past
            # 999,999 put one of the first kind in every cell: handled in bulk.
            found = wide_valued_cell.findall(chunk)
            numbers = [int(digits) for _, digits, _ in found if digits]
            letters = {a for a, digits, _ in found if digits} | {w for _, _, w in found if w}
            numbers += map(int, long_row_start.findall(chunk))
            last_row = max([last_row, *numbers])
            widest = max([widest, *(column_number(x.decode()) for x in letters)])
        rows = list(last_row_start.finditer(chunk[-4096:])) or list(last_row_start.finditer(chunk))
        if rows:
            last_row = max(last_row, int(rows[-1].group(1)))
        self.last_row, self.widest = last_row, widest


def _chunks(stream: Any) -> Iterator[bytes]:
    # Chunks overlap by a little so that no element is cut in two for the searches above.
    tail = b""
    while True:
        data = stream.read(_CHUNK)
        if not data:
            if tail:
                yield tail
            return
        buffer = tail + data
        cut = buffer.rfind(b"<", 0, len(buffer) - 1) if len(buffer) > 1 else -1
        cut = cut if cut > 0 else len(buffer)
        yield buffer[:cut]
        tail = buffer[cut:]


def _first_valued_row(chunk: bytes, row_number: int = 0) -> tuple[_HeaderCells | None, int, int]:
    """The first row holding a value: ((row number, {column: (type, content)}), ...).

    Otherwise (None, where an unfinished row starts or the chunk's end, the number of the
    last complete row): the caller goes on with the unfinished row and the next chunk.
    """
    position = 0
    while True:
        opening = _ROW_OPEN.search(chunk, position)
        if opening is None:
            return None, len(chunk), row_number
        closing = None if opening.group(2) == b"/" else _ROW_CLOSE.search(chunk, opening.end())
        if opening.group(2) != b"/" and closing is None:
            return None, opening.start(), row_number
        number = _ROW_NUMBER.search(opening.group(1))
        row_number = int(number.group(1)) if number else row_number + 1
        if closing is None:  # an empty row: <row r="5"/>
            position = opening.end()
            continue
        end = closing.end()
        body = chunk[opening.end() : closing.start()]
        cells: dict[int, tuple[bytes, bytes]] = {}
        column = 0
        for cell in _CELL.finditer(body):
            ref = _CELL_REF.search(cell.group(1))
            column = column_number(ref.group(1).decode()) if ref else column + 1
            content = cell.group(2) or b""
            if b"<v" in content or b"<is" in content or b":v>" in content:
                kind = _CELL_TYPE.search(cell.group(1))
                cells[column] = (kind.group(1) if kind else b"n", content)
        if cells:
            return (row_number, cells), end, row_number
        position = end


def _header_texts(
    path: Path, cells: dict[int, tuple[bytes, bytes]], first_col: int, last_col: int
) -> tuple[str | None, ...]:
    shared_wanted: dict[int, int] = {}
    texts: dict[int, str] = {}
    for column, (kind, content) in cells.items():
        value = _VALUE.search(content)
        if kind == b"inlineStr":
            texts[column] = _xml_text(b"".join(m.group(1) for m in _INLINE_TEXT.finditer(content)))
        elif kind == b"s" and value:
            shared_wanted[int(value.group(1))] = column
        elif value:
            texts[column] = _xml_text(value.group(1))
    if shared_wanted:
        texts.update(_shared_strings(path, shared_wanted))
    return tuple(texts.get(c) for c in range(first_col, last_col + 1))


def _xml_text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _shared_strings(path: Path, wanted: dict[int, int]) -> dict[int, str]:
    """Texts of a few shared strings, streaming the table only as far as the last one needed."""
    try:
        return _stream_shared_strings(path, wanted)
    except _ZIP_DAMAGE:
        raise _damaged(path, "xl/sharedStrings.xml") from None
    except Exception:
        # defusedxml refuses entity declarations; anything else unparsable is damage.
        raise WorkbookError(
            f"{path.name} is damaged or unsafe: its part xl/sharedStrings.xml is not valid "
            "workbook XML. Open it in Excel and save it again."
        ) from None


def _stream_shared_strings(path: Path, wanted: dict[int, int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with zipfile.ZipFile(path) as archive:
        name = next((n for n in archive.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
        if name is None:
            return found
        last = max(wanted)
        with archive.open(name) as stream:
            index = 0
            for _, element in SafeET.iterparse(stream, events=("end",)):
                if element.tag != f"{{{_NS_MAIN}}}si":
                    continue
                if index in wanted:
                    found[wanted[index]] = "".join(
                        t.text or ""
                        for t in element.iter(f"{{{_NS_MAIN}}}t")
                        if not _inside_phonetic(element, t)
                    )
                element.clear()
                index += 1
                if index > last:
                    break
    return found


def _inside_phonetic(si: Any, t: Any) -> bool:
    return any(t in list(rph.iter()) for rph in si.iter(f"{{{_NS_MAIN}}}rPh"))


def _scan_other_sheet(path: Path, reader: fastexcel.ExcelReader, target: _Target) -> _Layout:
    """Header row and columns of an .xls/.xlsb/.ods sheet: one extra pass reading text only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # With no header and no skipped rows, row i of the result is sheet row i + 1.
            probe = reader.load_sheet(
                target.sheet, header_row=None, skip_rows=0, dtypes="string", n_rows=None
            )
            columns = probe.selected_columns
            batch = probe.to_arrow()
    except fastexcel.FastExcelError as exc:
        raise _unreadable(path, exc) from None
    if batch.num_rows == 0 or batch.num_columns == 0:
        return _Layout(0, 1, 1, None, None)
    filled = None
    for i in range(batch.num_columns):
        valid = batch.column(i).is_valid()
        filled = valid if filled is None else pyarrow.compute.or_(filled, valid)
    assert filled is not None
    rows_with_values = [i for i, v in enumerate(filled.to_pylist()) if v]
    if not rows_with_values:
        return _Layout(0, 1, 1, None, None)
    header_index = rows_with_values[0]
    header = [batch.column(i)[header_index].as_py() for i in range(batch.num_columns)]
    used = [i for i, h in enumerate(header) if h is not None and str(h).strip()]
    first, last = used[0], used[-1]
    return _Layout(
        header_row=header_index + 1,
        first_col=columns[first].absolute_index + 1,
        last_col=columns[last].absolute_index + 1,
        n_rows=None,
        headers=tuple(header[first : last + 1]),
    )


# --- CSV and text files ---------------------------------------------------------------------


def _read_text(path: Path) -> RawOrders:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise WorkbookError(f"{path.name} is too large ({size / 1024**3:,.1f} GB) to read.")
    data = path.read_bytes()
    text = _decode(path, data)
    delimiter = _sniff_delimiter(text)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            # Blank lines stay as empty rows so that position i is always line i + 2.
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return RawOrders(pd.DataFrame(), Origin(path.name, None, 2, 1), False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise WorkbookError(
            f"{path.name} cannot be read as CSV ({str(exc).strip().splitlines()[0]}). Check that "
            "every line has the same number of fields and that quotes are closed."
        ) from None
    if table.empty:
        return RawOrders(pd.DataFrame(), Origin(path.name, None, 2, 1), False)
    # The header row is taken as written, duplicates included (pandas would rename them).
    headers = [
        "" if pd.isna(h) else str(h).strip() or f"__UNNAMED__{i}"
        for i, h in enumerate(table.iloc[0])
    ]
    headers = [h or f"__UNNAMED__{i}" for i, h in enumerate(headers)]
    frame = table.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index(headers, dtype=object)
    origin = Origin(path.name, None, 2, 1, tuple(headers))
    return RawOrders(frame, origin, False)


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export: UTF-16 with a byte order mark, tab-separated.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise WorkbookError(
            f"{path.name} is neither UTF-8 nor Windows-1252 text. Save it again as "
            '"CSV UTF-8 (comma delimited)".'
        ) from None


def _sniff_delimiter(text: str) -> str:
    """; , or tab: whichever splits the header line into the most fields."""
    header = next((line for line in text[:65536].splitlines() if line.strip()), "")
    best, best_count = ",", 0
    for delimiter in (",", ";", "\t"):
        count = len(next(csv.reader([header], delimiter=delimiter), [])) - 1
        if count > best_count:
            best, best_count = delimiter, count
    return best


__all__ = [
    "Origin",
    "RawOrders",
    "column_letter",
    "column_number",
    "list_sheets",
    "read_orders",
    "read_settings",
    "read_suppression",
]
