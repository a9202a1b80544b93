"""Build the messy-input corpus: realistic bad workbooks and CSVs, each with its expected outcome.

Run `python tests/data/make_corpus.py` to (re)write tests/data/corpus/ and its expected.json.
The output is deterministic (fixed zip timestamps, no randomness without a seed), so running it
twice changes nothing. Workbooks are written as raw SpreadsheetML so that every oddity Excel
produces (error cells, the 1904 date system, merged cells, formatted rows to the last row,
shared and inline strings, escaped control characters) is exactly what the file holds.

Large inputs (50,000 channels, formatted rows to row 1,048,576, zip bombs) are not committed:
`build_large(name, folder)` makes them at test time.

Expected outcomes, in expected.json, keyed by file name:
- {"outcome": "handled", "figures": {...}}: the refresh succeeds with these key figures
  (customers, orders = purchases, revenue = total lifetime value, and some others).
- {"outcome": "error", "words": [...]}: the refresh stops with a SegmentsError whose message
  contains each of the words (case-insensitive): the sheet, the cell, the column...
Optional keys: "settings" (overrides passed to the refresh), "note" (what the case is about).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

# --- a small raw SpreadsheetML writer -------------------------------------------------------


@dataclass(frozen=True)
class Err:
    """An Excel error cell (t="e"), e.g. Err("#N/A")."""

    text: str


@dataclass(frozen=True)
class Num:
    """A number written as it is, even where a datetime style would apply (a date serial)."""

    value: float


@dataclass(frozen=True)
class Inline:
    """Text written as an inline string instead of a shared string."""

    text: str


@dataclass
class Sheet:
    name: str
    rows: Sequence[Sequence[Any]]
    merges: Sequence[str] = ()
    # Rows (1-based) that carry only a style: what "formatted down to the last row" leaves.
    formatted_rows: Iterable[int] = ()
    dimension: str | None = None
    # Extra raw XML rows appended after the data (already numbered).
    raw_rows: str = ""
    doctype: str = ""
    table: str | None = None  # an Excel table named Orders over this range, e.g. "A1:D5"


@dataclass
class Book:
    sheets: list[Sheet]
    date1904: bool = False
    shared_strings: bool = True
    workbook_doctype: str = ""
    sst_doctype: str = ""
    extra_parts: dict[str, bytes] = field(default_factory=dict)


def _col(n: int) -> str:
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _ooxml_escape(text: str) -> str:
    # Characters XML 1.0 cannot carry are written as _xHHHH_, as Excel does; a literal
    # _xHHHH_ in the text gets its underscore escaped first.
    import re

    text = re.sub(r"_(?=x[0-9A-Fa-f]{4}_)", "_x005F_", text)
    return re.sub(
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", lambda m: f"_x{ord(m.group(0)):04X}_", text
    )


def _serial(value: dt.datetime | dt.date, date1904: bool) -> float:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    delta = value - epoch
    return delta.days + delta.seconds / 86400


def _cell(ref: str, value: Any, strings: dict[str, int] | None, date1904: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Err):
        return f'<c r="{ref}" t="e"><v>{escape(value.text)}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, Num):
        return f'<c r="{ref}"><v>{value.value!r}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="1"><v>{_serial(value, date1904)!r}</v></c>'
    text = value.text if isinstance(value, Inline) else str(value)
    body = escape(_ooxml_escape(text))
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    if strings is None or isinstance(value, Inline):
        return f'<c r="{ref}" t="inlineStr"><is><t{space}>{body}</t></is></c>'
    index = strings.setdefault(text, len(strings))
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'


def _sheet_xml(sheet: Sheet, strings: dict[str, int] | None, date1904: bool) -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{sheet.doctype}']
    parts.append(f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">')
    width = max((len(r) for r in sheet.rows), default=1) or 1
    height = max(len(sheet.rows), 1)
    dimension = sheet.dimension or f"A1:{_col(width)}{height}"
    parts.append(f'<dimension ref="{dimension}"/><sheetData>')
    formatted = sorted(set(sheet.formatted_rows))
    for r, row in enumerate(sheet.rows, start=1):
        cells = "".join(
            _cell(f"{_col(c)}{r}", v, strings, date1904) for c, v in enumerate(row, start=1)
        )
        parts.append(f'<row r="{r}">{cells}</row>' if cells else "")
    for r in formatted:
        if r > len(sheet.rows):
            parts.append(f'<row r="{r}" s="2" customFormat="1"/>')
    parts.append(sheet.raw_rows)
    parts.append("</sheetData>")
    if sheet.merges:
        merges = "".join(f'<mergeCell ref="{m}"/>' for m in sheet.merges)
        parts.append(f'<mergeCells count="{len(sheet.merges)}">{merges}</mergeCells>')
    if sheet.table:
        parts.append('<tableParts count="1"><tablePart r:id="rIdT1"/></tableParts>')
    parts.append("</worksheet>")
    return "".join(parts).encode("utf-8")


_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    "</styleSheet>"
)


def xlsx_bytes(book: Book) -> bytes:
    """The bytes of a workbook, deterministic (fixed timestamps, fixed part order)."""
    import io

    strings: dict[str, int] | None = {} if book.shared_strings else None
    sheet_parts = [_sheet_xml(s, strings, book.date1904) for s in book.sheets]
    files: list[tuple[str, bytes]] = []
    overrides = [
        ("/xl/workbook.xml", f"{_CT}.sheet.main+xml"),
        ("/xl/styles.xml", f"{_CT}.styles+xml"),
    ]
    for i in range(len(book.sheets)):
        overrides.append((f"/xl/worksheets/sheet{i + 1}.xml", f"{_CT}.worksheet+xml"))
    if strings is not None:
        overrides.append(("/xl/sharedStrings.xml", f"{_CT}.sharedStrings+xml"))
    tables = [(i, s) for i, s in enumerate(book.sheets) if s.table]
    for n, _ in enumerate(tables, start=1):
        overrides.append((f"/xl/tables/table{n}.xml", f"{_CT}.table+xml"))
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
        + "</Types>"
    )
    files.append(("[Content_Types].xml", types.encode()))
    files.append(
        (
            "_rels/.rels",
            (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ).encode(),
        )
    )
    sheets_xml = "".join(
        f'<sheet name={quoteattr(s.name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>'
        for i, s in enumerate(book.sheets)
    )
    pr = '<workbookPr date1904="1"/>' if book.date1904 else "<workbookPr/>"
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{book.workbook_doctype}'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">{pr}<sheets>{sheets_xml}</sheets></workbook>'
    )
    files.append(("xl/workbook.xml", workbook.encode()))
    n = len(book.sheets)
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" '
        f'Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(n)
    )
    rels += f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    if strings is not None:
        rels += (
            f'<Relationship Id="rId{n + 2}" Type="{_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/>'
        )
    files.append(
        (
            "xl/_rels/workbook.xml.rels",
            (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<Relationships xmlns="{_PKG}">{rels}</Relationships>'
            ).encode(),
        )
    )
    files.append(("xl/styles.xml", _STYLES.encode()))
    for i, part in enumerate(sheet_parts):
        files.append((f"xl/worksheets/sheet{i + 1}.xml", part))
    for n_table, (i, sheet) in enumerate(tables, start=1):
        headers = [str(h) for h in sheet.rows[0]]
        columns = "".join(
            f'<tableColumn id="{k + 1}" name={quoteattr(h)}/>' for k, h in enumerate(headers)
        )
        table_xml = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<table xmlns="{_MAIN}" id="{n_table}" name="Orders" displayName="Orders" '
            f'ref="{sheet.table}"><autoFilter ref="{sheet.table}"/>'
            f'<tableColumns count="{len(headers)}">{columns}</tableColumns>'
            '<tableStyleInfo name="TableStyleMedium2" showRowStripes="1"/></table>'
        )
        files.append((f"xl/tables/table{n_table}.xml", table_xml.encode()))
        files.append(
            (
                f"xl/worksheets/_rels/sheet{i + 1}.xml.rels",
                (
                    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f'<Relationships xmlns="{_PKG}"><Relationship Id="rIdT1" '
                    f'Type="{_REL}/table" Target="../tables/table{n_table}.xml"/>'
                    "</Relationships>"
                ).encode(),
            )
        )
    if strings is not None:
        preserve = ' xml:space="preserve"'
        items = "".join(
            f"<si><t{preserve if t != t.strip() else ''}>{escape(_ooxml_escape(t))}</t></si>"
            for t in strings
        )
        sst = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{book.sst_doctype}'
            f'<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'
            f"{items}</sst>"
        )
        files.append(("xl/sharedStrings.xml", sst.encode("utf-8")))
    files.extend(book.extra_parts.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def csv_text(rows: Sequence[Sequence[Any]], sep: str = ",") -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# --- the cases ------------------------------------------------------------------------------

D = dt.datetime
HEADER = ["Order ID", "Customer ID", "Email", "Name", "Order Date", "Amount", "Channel",
          "Accepts Marketing"]  # fmt: skip


def good_rows() -> list[list[Any]]:
    """Eight orders of four customers; the base most cases change one thing in.

    Revenue 735.00; 4 customers; 8 purchases; first order 2024-01-05, last 2024-06-20.
    """
    return [
        HEADER,
        [1001, "C1", "ann@example.com", "Ann Lee", D(2024, 1, 5, 10, 0), 120.0, "Email", "yes"],
        [1002, "C2", "bob@example.com", "Bob Ray", D(2024, 1, 9, 12, 30), 80.0, "Ads", "yes"],
        [1003, "C1", "ann@example.com", "Ann Lee", D(2024, 2, 14, 9, 15), 95.5, "Email", "yes"],
        [1004, "C3", "cy@example.com", "Cy Oto", D(2024, 3, 1, 18, 0), 45.0, "Social", "no"],
        [1005, "C2", "bob@example.com", "Bob Ray", D(2024, 3, 20, 8, 0), 150.0, "Ads", "yes"],
        [1006, "C4", "di@example.com", "Di Park", D(2024, 4, 2, 11, 0), 60.5, "Email", "yes"],
        [1007, "C1", "ann@example.com", "Ann Lee", D(2024, 5, 11, 14, 0), 110.0, "Email", "yes"],
        [1008, "C3", "cy@example.com", "Cy Oto", D(2024, 6, 20, 16, 45), 74.0, "Social", "no"],
    ]


GOOD = {"customers": 4, "orders": 8, "revenue": 735.0}


def _with(rows: list[list[Any]], column: str, values: Sequence[Any]) -> list[list[Any]]:
    i = rows[0].index(column)
    out = [list(r) for r in rows]
    for r, v in zip(out[1:], values, strict=False):
        r[i] = v
    return out


def _book(rows: Sequence[Sequence[Any]], **sheet: Any) -> bytes:
    book_options = {k: sheet.pop(k) for k in ("date1904", "shared_strings") if k in sheet}
    return xlsx_bytes(Book([Sheet("Orders", rows, **sheet)], **book_options))


def cases() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """File name -> (bytes, expected outcome)."""
    out: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def handled(name: str, data: bytes | str, note: str, **figures: Any) -> None:
        settings = figures.pop("settings", None)
        entry: dict[str, Any] = {"outcome": "handled", "note": note, "figures": figures}
        if settings:
            entry["settings"] = settings
        out[name] = (data.encode("utf-8") if isinstance(data, str) else data, entry)

    def error(name: str, data: bytes | str, note: str, words: list[str], **extra: Any) -> None:
        entry: dict[str, Any] = {"outcome": "error", "note": note, "words": words, **extra}
        out[name] = (data.encode("utf-8") if isinstance(data, str) else data, entry)

    rows = good_rows()
    handled("baseline.xlsx", _book(rows), "the clean base the other cases change", **GOOD)
    handled("baseline.csv", csv_text([[str(v) for v in r] for r in rows]), "same as CSV", **GOOD)

    # Dates ---------------------------------------------------------------------------------
    mixed = _with(
        rows,
        "Order Date",
        [Num(45296.4166666667), "2024-01-09 12:30", D(2024, 2, 14, 9, 15), "1 March 2024",
         Num(45371.0), "2024/04/02", D(2024, 5, 11), "2024-06-20T16:45:00"],
    )  # fmt: skip
    handled(
        "dates_serials_real_and_text.xlsx",
        _book(mixed),
        "one date column mixing serial numbers, real datetimes and text dates",
        **GOOD,
        first_order="2024-01-05",
        as_of="2024-06-20",
    )
    ambiguous = _with(
        rows, "Order Date", ["03/04/2024", "05/06/2024", "07/08/2024", "01/02/2024",
                             "02/03/2024", "04/05/2024", "06/07/2024", "08/09/2024"]
    )  # fmt: skip
    error(
        "dates_ambiguous.csv",
        csv_text(ambiguous),
        "every text date could be day/month or month/day",
        ["line 2", "Order Date", "03/04/2024", "day/month"],
    )
    settled = _with(ambiguous, "Order Date", ["25/01/2024"])
    handled(
        "dates_ambiguous_settled_by_day_above_12.csv",
        csv_text(settled),
        "one day above 12 settles the column as day-first",
        **GOOD,
        first_order="2024-01-25",
        as_of="2024-09-08",
    )
    handled(
        "dates_ambiguous_with_format.csv",
        csv_text(ambiguous),
        "the date_format setting settles ambiguous dates",
        **GOOD,
        first_order="2024-01-02",
        as_of="2024-08-09",
        settings={"date_format": "%m/%d/%Y"},
    )
    handled(
        "dates_1904_system.xlsx",
        _book(rows, date1904=True),
        "a Mac workbook in the 1904 date system: serials count from 1904",
        **GOOD,
        first_order="2024-01-05",
        as_of="2024-06-20",
    )
    tz = _with(
        rows,
        "Order Date",
        ["2024-01-05 10:00:00 -0500", "2024-01-09T12:30:00Z", "2024-02-14 09:15:00+01:00",
         "2024-03-01 23:30:00 -0800", "2024-03-20 08:00:00 +0000", "2024-04-02 11:00:00 +0900",
         "2024-05-11 14:00:00 -0300", "2024-06-20 16:45:00 +0200"],
    )  # fmt: skip
    handled(
        "dates_timezone_aware.csv",
        csv_text(tz),
        "ISO dates with offsets are converted to UTC (cy's 2024-03-01 23:30 -0800 is 2 March)",
        **GOOD,
        first_order="2024-01-05",
        as_of="2024-06-20",
    )
    handled(
        "dates_timezone_berlin.csv",
        csv_text(tz),
        "the timezone setting changes the wall-clock day",
        **GOOD,
        as_of="2024-06-20",
        settings={"timezone": "Europe/Berlin"},
    )
    error(
        "dates_serial_before_1970.xlsx",
        _book(_with(rows, "Order Date", [None, None, Num(12.0)])),
        "a small number in the date column is not a date",
        ["Orders", "E4", "Order Date"],
    )
    error(
        "dates_serial_beyond_year_2262.xlsx",
        _book(_with(rows, "Order Date", [D(2024, 1, 5), Num(2_958_465.0)])),
        "a serial for 9999-12-31 is outside 1970-2100 and should be refused by cell",
        ["Orders", "E3", "Order Date"],
    )
    error(
        "dates_not_a_date.csv",
        csv_text(_with(rows, "Order Date", ["2024-01-05", "next tuesday"])),
        "text that is not a date",
        ["line 3", "Order Date", "next tuesday"],
    )

    # Amounts -------------------------------------------------------------------------------
    money = _with(
        rows,
        "Amount",
        ["$120.00", "80 USD", "€95.50", "(15.00)", "$1,150.00", "60.50-", " £110 ", "-€74"],
    )
    handled(
        "amounts_text_currency_accounting.xlsx",
        _book(money),
        "numbers stored as text: currency symbols, thousands separators, accounting negatives",
        customers=4,
        orders=5,
        revenue=1406.0,
    )
    comma = _with(
        rows, "Amount", ["1.234,50 €", "80,00", "95,5", "45", "150,00 €", "60,50", "110", "74,00"]
    )
    handled(
        "amounts_decimal_comma.csv",
        csv_text(comma, sep=";"),
        "a European export: semicolons and decimal commas, with the decimal_comma setting",
        customers=4,
        orders=8,
        revenue=1849.5,
        settings={"decimal_comma": True},
    )
    error(
        "amounts_decimal_comma_without_setting.csv",
        csv_text(_with(rows, "Amount", ["120", "12,50"]), sep=";"),
        "12,50 without the decimal-comma setting is refused, not read as 1250",
        ["line 3", "Amount", "12,50"],
    )
    error(
        "amounts_word.xlsx",
        _book(_with(rows, "Amount", [120.0, 80.0, "ninety"])),
        "a word in the amount column",
        ["Orders", "F4", "Amount", "ninety"],
    )

    # Error cells ---------------------------------------------------------------------------
    error(
        "error_cell_na_amount.xlsx",
        _book(_with(rows, "Amount", [120.0, Err("#N/A"), 95.5, Err("#N/A")])),
        "#N/A from a failed lookup in the amount column",
        ["Orders", "F3", "Amount", "#N/A", "1 more row"],
    )
    error(
        "error_cell_value_date.xlsx",
        _book(_with(rows, "Order Date", [D(2024, 1, 5), D(2024, 1, 9), Err("#VALUE!")])),
        "#VALUE! in the date column",
        ["Orders", "E4", "Order Date", "#VALUE!"],
    )
    error(
        "error_cell_div0_customer.xlsx",
        _book(_with(_with(rows, "Customer ID", ["C1", Err("#DIV/0!")]), "Email", ["a@b.c", None])),
        "#DIV/0! in the customer id column and no email: the order has no customer",
        ["Orders", "B3", "Customer ID"],
    )
    error(
        "error_cell_na_customer_id_with_email.xlsx",
        _book(_with(rows, "Customer ID", ["C1", Err("#N/A")])),
        "#N/A in the customer id column of an order that has an email",
        ["Orders", "B3", "Customer ID", "#N/A"],
    )
    error(
        "error_cell_ref_channel.xlsx",
        _book(_with(rows, "Channel", [Err("#REF!")])),
        "an error value in any column we read, even the optional channel, stops the refresh",
        ["Orders", "G2", "Channel", "#REF!"],
    )

    # Blanks --------------------------------------------------------------------------------
    gaps = [rows[0], rows[1], [], [None] * 8, rows[2], rows[3], [], *rows[4:]]
    handled(
        "blank_rows_inside.xlsx",
        _book(gaps),
        "blank rows inside the table are skipped and counted",
        **GOOD,
        blank_rows=3,
    )
    error(
        "blank_amount_cell.xlsx",
        _book(_with(rows, "Amount", [120.0, 80.0, 95.5, None])),
        "a blank required cell inside the table",
        ["Orders", "F5", "Amount", "blank"],
    )
    handled(
        "blank_optional_cells.xlsx",
        _book(_with(_with(rows, "Channel", [None, None]), "Name", [None, None, None])),
        "blank channel and name cells are fine (channel Unknown)",
        **GOOD,
    )
    handled(
        "trailing_formatted_rows_small.xlsx",
        _book(rows, formatted_rows=[*range(20, 40), 1_048_576]),
        "formatted-only rows after the table and one at row 1,048,576",
        **GOOD,
    )
    handled(
        "trailing_empty_text_cells.xlsx",
        _book(rows, raw_rows='<row r="1048576"><c r="A1048576" t="inlineStr"><is><t></t></is>'
              '</c><c r="H1048576" t="inlineStr"><is><t></t></is></c></row>'),
        "empty text (what a formula returning \"\" leaves) in the last row",
        **GOOD,
    )  # fmt: skip

    # Merged cells --------------------------------------------------------------------------
    merged = _with(rows, "Channel", ["Email", "Ads", None, "Social", None, None, None, None])
    handled(
        "merged_channel_cells.xlsx",
        _book(merged, merges=["G3:G4", "G5:G9"]),
        "merged cells keep their value in the top-left cell only; the rest read as blank",
        **GOOD,
    )
    title = [["Orders export, first half 2024"], *rows]
    error(
        "merged_title_above_header.xlsx",
        _book(title, merges=["A1:H1"]),
        "a merged title row above the header is taken as the header",
        ["Order Date", "missing", "Orders export"],
    )
    handled(
        "merged_title_with_table.xlsx",
        _book(title, merges=["A1:H1"], table="A2:H10"),
        "the same sheet with an Excel table named Orders reads the table",
        **GOOD,
    )

    # Headers -------------------------------------------------------------------------------
    variants = [
        [" ORDER-ID ", "customer_id", "E-Mail", "Customer Name", "Order\nDate", "TOTAL",
         "utm_source", "Opt-In"],
        *rows[1:],
    ]  # fmt: skip
    handled(
        "headers_case_spaces_line_breaks.xlsx",
        _book(variants),
        "headers in other cases, with spaces, punctuation and a line break",
        **GOOD,
    )
    german = [["Bestellnummer", "Datum", "E-Mail", "Betrag", "Kanal"]] + [
        [r[0], r[4].strftime("%Y-%m-%d"), r[2], str(r[5]).replace(".", ","), r[6]] for r in rows[1:]
    ]
    handled(
        "headers_german_export.csv",
        csv_text(german, sep=";"),
        "a German export: Datum and Betrag are known aliases, E-Mail is email",
        **GOOD,
        settings={"decimal_comma": True},
    )
    spanish = [["Pedido", "Fecha", "Email", "Importe"]] + [
        [r[0], r[4].strftime("%Y-%m-%d"), r[2], r[5]] for r in rows[1:]
    ]
    handled(
        "headers_spanish_export.csv",
        csv_text(spanish),
        "a Spanish export: Fecha and Importe are known aliases",
        **GOOD,
    )
    french = [["Commande", "Date", "Courriel", "Montant"]] + [
        [r[0], r[4].strftime("%Y-%m-%d"), r[2], r[5]] for r in rows[1:]
    ]
    error(
        "headers_french_export.csv",
        csv_text(french),
        "a French export: Montant is not an alias, so the amount column is missing",
        ["Amount", "missing", "Montant"],
    )
    dup = [["Order ID", "Email", "Order Date", "Amount", "Amount"]] + [
        [r[0], r[2], r[4], r[5], r[5]] for r in rows[1:]
    ]
    error(
        "headers_duplicate.xlsx",
        _book(dup),
        "the amount header twice",
        ["Amount", "rename"],
    )
    both = [["Order ID", "Email", "Order Date", "Total", "Order Total"]] + [
        [r[0], r[2], r[4], r[5], r[5]] for r in rows[1:]
    ]
    handled(
        "headers_two_amount_aliases.xlsx",
        _book(both),
        "Total and Order Total both match the amount: Total (earlier alias) is used, with a "
        "warning naming both (docs/definitions.md)",
        **GOOD,
    )

    # Orders --------------------------------------------------------------------------------
    lines = [rows[0], rows[1], rows[1][:], rows[2], rows[2][:], *rows[3:]]
    handled(
        "orders_exact_duplicate_rows.xlsx",
        _book(lines),
        "rows repeated exactly are dropped and counted",
        **GOOD,
        duplicate_rows=2,
    )
    items = [list(r) for r in rows]
    items.insert(2, [1001, "C1", "ann@example.com", "Ann Lee", None, None, "Email", None])
    handled(
        "orders_line_items.xlsx",
        _book(items),
        "a second line-item row of order 1001 with blanks merges into the order",
        **GOOD,
    )
    conflict = [list(r) for r in rows]
    conflict.append([1002, "C2", "bob@example.com", "Bob Ray", D(2024, 7, 1), 99.0, "Ads", "yes"])
    error(
        "orders_conflicting_ids.xlsx",
        _book(conflict),
        "order 1002 twice with different dates and amounts",
        ["1002", "A3", "A10", "different"],
    )
    refund = [list(r) for r in rows]
    refund.append([1009, "C4", "di@example.com", "Di Park", D(2024, 6, 1), -100.0, "Email", "yes"])
    handled(
        "orders_refund_larger_than_order.xlsx",
        _book(refund),
        "a refund of 100 on a 60.50 order: Di's lifetime value is -39.50",
        customers=4,
        orders=8,
        revenue=635.0,
    )
    only_refunds = [list(r) for r in rows]
    only_refunds.append(
        [1009, "C5", "eve@example.com", "Eve Ng", D(2024, 6, 1), -30.0, "Email", "yes"]
    )
    handled(
        "orders_customer_with_only_refunds.xlsx",
        _book(only_refunds),
        "a customer with a refund and no purchase: counted, never a purchase",
        customers=5,
        orders=8,
        revenue=705.0,
    )
    zero = _with(rows, "Amount", [0.0, 0.0, 95.5])
    handled(
        "orders_zero_amounts.xlsx",
        _book(zero),
        "zero-amount orders (free samples) are orders but not purchases",
        customers=4,
        orders=6,
        revenue=535.0,
    )
    single_customer = [rows[0]] + [r for r in rows[1:] if r[1] == "C1"]
    handled(
        "single_customer.xlsx",
        _book(single_customer),
        "one customer with three orders",
        customers=1,
        orders=3,
        revenue=325.5,
    )
    handled(
        "single_order.xlsx",
        _book(rows[:2]),
        "one order: lists without churn (no repeat customer)",
        customers=1,
        orders=1,
        revenue=120.0,
    )
    error(
        "empty_sheet.xlsx",
        _book([]),
        "an empty Orders sheet",
        ["Order Date", "missing"],
    )
    error(
        "header_only.xlsx",
        _book(rows[:1]),
        "a header and no orders",
        ["no order rows"],
    )
    error("empty_file.csv", "", "an empty CSV file", ["Order Date", "missing"])
    error("header_only.csv", csv_text(rows[:1]), "a CSV with a header only", ["no order rows"])

    # Strings -------------------------------------------------------------------------------
    long_name = "Very Long Name " * 2184  # 32,760 characters, just under Excel's cell limit
    long_channel = "c" * 32_000
    long = _with(_with(rows, "Name", [long_name] * 8), "Channel", [long_channel] * 8)
    handled(
        "strings_very_long.xlsx",
        _book(long),
        "names and channels of 32,000 characters",
        **GOOD,
    )
    controls = _with(
        _with(rows, "Name", ["Ann\x01Lee", "Bob\x1bRay", "Ann\x01Lee", "Cy\tOto", "Bob\x1bRay",
                             "Di\x7fPark", "Ann\x01Lee", "Cy\tOto"]),
        "Channel", ["Em\x00ail", "Ads\x0b", "Em\x00ail", "So_x0041_cial", "Ads\x0b",
                    "Em\x00ail", "Em\x00ail", "So_x0041_cial"],
    )  # fmt: skip
    handled(
        "strings_control_characters.xlsx",
        _book(controls),
        "control characters (escaped as _xHHHH_) and a literal _x0041_ in text",
        **GOOD,
    )
    csv_controls = _with(rows, "Name", ["Ann\x01Lee", "Bob\x1bRay", '=HYPERLINK("x")', "@Cy"])
    handled(
        "strings_control_characters.csv",
        csv_text(csv_controls),
        "control characters and formula-like names in a CSV",
        **GOOD,
    )
    ids = _with(rows, "Customer ID", ["101.0", 101, 101.0, " 101 ", "102", "102.0", 102, 103])
    handled(
        "ids_numbers_and_text.xlsx",
        _book(ids),
        "customer ids as numbers and as text with .0 are the same customer",
        customers=3,
        orders=8,
        revenue=735.0,
    )
    emails = _with(
        _with(rows, "Customer ID", [None] * 8),
        "Email",
        ["ann@example.com", "bob@example.com", " Ann@Example.com", "cy@example.com",
         "BOB@EXAMPLE.COM ", "di@example.com", "ann@example.com", "cy@example.com"],
    )  # fmt: skip
    handled(
        "emails_case_and_spaces.xlsx",
        _book(emails),
        "customers known by email only: case and spaces do not matter",
        **GOOD,
    )
    handled(
        "inline_strings.xlsx",
        _book(rows, shared_strings=False),
        "text written as inline strings (as many exporters do)",
        **GOOD,
    )

    # Exports -------------------------------------------------------------------------------
    handled(
        "shopify_export.csv",
        shopify_export(),
        "Shopify orders export: line items, Name as order number, statuses, refunds",
        customers=3,
        orders=4,
        revenue=253.0,
        not_sold=1,
    )
    handled(
        "woocommerce_export.csv",
        woocommerce_export(),
        "WooCommerce export: statuses, guest checkouts with customer id 0",
        customers=3,
        orders=4,
        revenue=239.0,
    )
    return out


def shopify_export() -> str:
    header = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status",
              "Accepts Marketing", "Currency", "Subtotal", "Total", "Refunded Amount",
              "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
              "Billing Name", "Source"]  # fmt: skip
    rows = [
        ["#1001", "ann@example.com", "paid", "2024-01-05 10:01:00 -0500", "fulfilled", "yes",
         "USD", "100.00", "110.00", "0.00", "2024-01-05 10:00:00 -0500", "1", "Mug", "60.00",
         "Ann Lee", "web"],
        ["#1001", "ann@example.com", "", "", "", "", "", "", "", "", "2024-01-05 10:00:00 -0500",
         "1", "Tea", "40.00", "", ""],
        ["#1002", "bob@example.com", "partially_refunded", "2024-02-01 09:00:00 -0500",
         "fulfilled", "no", "USD", "80.00", "80.00", "20.00", "2024-02-01 09:00:00 -0500", "2",
         "Cup", "40.00", "Bob Ray", "pos"],
        ["#1003", "ann@example.com", "paid", "2024-03-03 12:00:00 -0500", "", "yes", "USD",
         "45.00", "45.00", "0.00", "2024-03-03 12:00:00 -0500", "1", "Pot", "45.00", "Ann Lee",
         "web"],
        ["#1004", "cy@example.com", "voided", "", "", "yes", "USD", "30.00", "30.00", "0.00",
         "2024-03-04 12:00:00 -0500", "1", "Lid", "30.00", "Cy Oto", "web"],
        ["#1005", "Cy@Example.com", "refunded", "2024-03-05 12:00:00 -0500", "", "yes", "USD",
         "50.00", "50.00", "50.00", "2024-03-05 12:00:00 -0500", "1", "Jar", "50.00", "Cy Oto",
         "web"],
        ["#1006", "cy@example.com", "paid", "2024-04-05 12:00:00 -0500", "", "yes", "USD",
         "38.00", "38.00", "0.00", "2024-04-05 12:00:00 -0500", "1", "Bag", "38.00", "Cy Oto",
         "web"],
    ]  # fmt: skip
    return csv_text([header, *rows])


def woocommerce_export() -> str:
    header = ["Order ID", "Status", "date_created", "Order Total", "Customer ID",
              "Billing Email", "Billing First Name", "Billing Last Name", "Payment Method",
              "UTM Source"]  # fmt: skip
    rows = [
        ["501", "completed", "2024-01-03 10:00:00", "99.00", "12", "ann@example.com", "Ann",
         "Lee", "stripe", "google"],
        ["502", "processing", "2024-01-20 10:00:00", "40.00", "0", "guest@example.com", "Gus",
         "Est", "paypal", ""],
        ["503", "cancelled", "2024-02-01 10:00:00", "70.00", "12", "ann@example.com", "Ann",
         "Lee", "stripe", "google"],
        ["504", "completed", "2024-02-11 10:00:00", "60.00", "0", "GUEST@example.com", "Gus",
         "Est", "paypal", "newsletter"],
        ["505", "on-hold", "2024-02-12 10:00:00", "15.00", "13", "bo@example.com", "Bo", "Ray",
         "bacs", ""],
        ["506", "completed", "2024-03-01 10:00:00", "40.00", "13", "bo@example.com", "Bo", "Ray",
         "bacs", "facebook"],
    ]  # fmt: skip
    return csv_text([header, *rows])


# --- large and generated-at-test-time inputs ------------------------------------------------


def many_channels_rows(n: int = 50_000) -> list[list[Any]]:
    """n orders of n customers, each from its own channel (one order each)."""
    rows: list[list[Any]] = [HEADER]
    start = dt.datetime(2023, 1, 1)
    for i in range(n):
        rows.append(
            [
                100_000 + i,
                f"C{i:06d}",
                f"c{i}@example.com",
                f"Customer {i}",
                start + dt.timedelta(minutes=13 * i),
                float(10 + i % 90),
                f"channel-{i:05d}",
                "yes",
            ]
        )
    return rows


def trailing_formatted_sheet_rows(last: int = 1_048_576) -> str:
    """Every row after the table down to `last` formatted but empty, as raw sheet XML."""
    return "".join(f'<row r="{r}" s="2" customFormat="1"/>' for r in range(10, last + 1))


def build_large(name: str, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Write one of the large cases into folder; returns its path and expected outcome."""
    folder = Path(folder)
    if name == "channels_50000.xlsx":
        rows = many_channels_rows()
        figures = {"customers": 50_000, "orders": 50_000, "channels": 50_000}
        path = folder / name
        path.write_bytes(_book(rows))
        return path, {"outcome": "handled", "figures": figures}
    if name == "channels_50000.csv":
        rows = many_channels_rows()
        path = folder / name
        path.write_text(csv_text([[str(v) for v in r] for r in rows]), encoding="utf-8")
        return path, {"outcome": "handled", "figures": {"customers": 50_000, "channels": 50_000}}
    if name == "trailing_formatted_rows_to_1048576.xlsx":
        path = folder / name
        path.write_bytes(_book(good_rows(), raw_rows=trailing_formatted_sheet_rows()))
        return path, {"outcome": "handled", "figures": dict(GOOD)}
    raise KeyError(name)


LARGE = (
    "channels_50000.xlsx",
    "channels_50000.csv",
    "trailing_formatted_rows_to_1048576.xlsx",
)


def write_corpus(folder: Path = CORPUS) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Any] = {}
    for name, (data, entry) in sorted(cases().items()):
        (folder / name).write_bytes(data)
        expected[name] = entry
    text = json.dumps(expected, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (folder / "expected.json").write_text(text, encoding="utf-8")
    return expected


def seeded(seed: int) -> random.Random:
    return random.Random(seed)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    written = write_corpus(target)
    print(f"wrote {len(written)} files and expected.json to {target}")
