"""Build the template workbook, fill its Orders table, and write big order workbooks fast.

The template is built with openpyxl and normalized (fixed timestamps, fixed zip entry order
and dates) so that rebuilding it gives the same bytes. `write_orders_workbook` splices a
generated Orders sheet into the template's package, which writes a million rows in seconds.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import zipfile
from copy import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from xl_segments.errors import WorkbookError
from xl_segments.settings import DEFAULTS, SETTING_SPECS, SettingSpec
from xl_segments.sheets import (
    HOW_TO_SHEET,
    LIST_SHEETS,
    ORDERS_SHEET,
    ORDERS_TABLE,
    SETTINGS_SHEET,
    SUPPRESSION_SHEET,
    TEMPLATE_ORDER_COLUMNS,
)
from xl_segments.workbook.atomic import atomic_output

TEMPLATE_PATH = (
    Path(__file__).resolve().parents[2] / "workbook_templates" / "segments_template.xlsx"
)
PLACEHOLDER_TEXT = "Run a refresh to fill this sheet."

# Fixed document times and zip entry dates: rebuilding gives identical bytes.
BUILD_TIME = dt.datetime(2025, 1, 1, 0, 0, 0)
_ZIP_DATE = (2025, 1, 1, 0, 0, 0)

DATE_FORMAT = "yyyy-mm-dd hh:mm"
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

_EXAMPLE_ORDERS: tuple[tuple[Any, ...], ...] = (
    ("100001", "C000001", "ana.lopez@example.com", "Ana Lopez",
     dt.datetime(2025, 3, 4, 10, 15), 84.50, "Email", "Yes"),
    ("100002", "C000002", "ben.okafor@example.net", "Ben Okafor",
     dt.datetime(2025, 3, 4, 13, 2), 42.00, "Social", "No"),
    ("100003", "C000001", "ana.lopez@example.com", "Ana Lopez",
     dt.datetime(2025, 4, 11, 18, 40), 120.25, "Email", "Yes"),
    ("100004", "C000003", "chen.wei@example.org", "Chen Wei",
     dt.datetime(2025, 4, 20, 9, 5), 35.90, "Paid Search", "Yes"),
    ("R-100002", "C000002", "ben.okafor@example.net", "Ben Okafor",
     dt.datetime(2025, 3, 12, 11, 30), -42.00, "Social", "No"),
)  # fmt: skip

_HOW_TO = (
    ("xl-segments: customer lists from your orders", "title"),
    ("", ""),
    ("1. Paste or export your orders into the Orders table (sheet Orders). One row per order; "
     "refunds as negative amounts. Replace the example rows.", ""),
    ("2. Adjust the Settings sheet if you like (every setting has a description).", ""),
    ("3. Refresh: in a terminal run  xl-segments refresh THIS_FILE.xlsx --out lists.xlsx  (or "
     "click Refresh all lists on the xl-segments ribbon tab in Excel). The list sheets are "
     "replaced by new ones; your other sheets are left as they are.", ""),
    ("4. Or use the formulas in any cell: =TOP_SPENDERS(Orders[#All]), =PARETO(Orders[#All]), "
     "=CHANNEL_PERFORMANCE(Orders[#All]), =REPEAT_CUSTOMERS(Orders[#All]), "
     "=CHURN_RISK(Orders[#All]), =MONTHLY_CHURN(Orders[#All]), "
     "=AVG_DAYS_BETWEEN_PURCHASES(Orders[#All]), =CUSTOMER_LTV(Orders[#All], \"C000001\").", ""),
    ("", ""),
    ("The lists", "title"),
    ("Summary: customers, revenue, the Pareto point (how few customers bring most revenue), the "
     "store's typical days between purchases, customers at risk and last month's churn, and the "
     "settings used.", ""),
    ("Top Spenders: your best customers by lifetime value (net of refunds): the top share set "
     "in Settings (20% by default). Rank is among all customers, so a gap in the ranks is a "
     "customer left out for consent. Use it for VIP offers.", ""),
    ("Channel Performance: each acquisition channel (the channel of a customer's first order) "
     "with customers, revenue per customer, repeat rate and average order value; the top "
     "channels are flagged.", ""),
    ("Repeat by Channel: customers who bought more than once, from the top channels (or the "
     "channel named in Settings).", ""),
    ("Churn Risk: customers whose silence is longer than their usual gap between purchases "
     "times the at-risk multiplier, with how overdue they are. Lapsed customers are marked.", ""),
    ("Monthly Churn: for each month, customers active at the start, new, returning, "
     "reactivated and churned customers (no purchase within the churn window), and the churn "
     "rate (churned / active at the start).", ""),
    ("", ""),
    ("Consent and privacy", "title"),
    ("Customers whose Accepts Marketing is No, and addresses on the Suppression sheet, are left "
     "out of contact lists unless the setting says otherwise. The Summary says how many.", ""),
)  # fmt: skip


# --- building the template ------------------------------------------------------------------


def build_template(target: Path) -> None:
    """Write the template workbook to `target` (atomically, the same bytes on every build)."""
    _atomic_write(Path(target), template_bytes())


def template_bytes() -> bytes:
    """The template workbook as bytes."""
    book = Workbook()
    how_to = book.active
    assert how_to is not None
    how_to.title = HOW_TO_SHEET
    _fill_how_to(how_to)
    _fill_orders_sheet(book.create_sheet(ORDERS_SHEET))
    _fill_settings_sheet(book, book.create_sheet(SETTINGS_SHEET))
    suppression = book.create_sheet(SUPPRESSION_SHEET)
    suppression["A1"] = "Email"
    suppression["A1"].font = Font(bold=True)
    suppression.column_dimensions["A"].width = 40
    for name in LIST_SHEETS:
        sheet = book.create_sheet(name)
        sheet["A1"] = PLACEHOLDER_TEXT
        sheet["A1"].font = Font(italic=True, color="808080")
        sheet.column_dimensions["A"].width = 40
    book.properties.creator = "xl-segments"
    book.properties.title = "xl-segments template"
    book.properties.created = BUILD_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    return _normalize_package(buffer.getvalue())


def _fill_how_to(sheet: Any) -> None:
    sheet.column_dimensions["A"].width = 110
    for row, (text, kind) in enumerate(_HOW_TO, start=1):
        cell = sheet.cell(row=row, column=1, value=text or None)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if kind == "title":
            cell.font = Font(bold=True, size=14 if row == 1 else 12)


def _fill_orders_sheet(sheet: Any) -> None:
    columns = list(TEMPLATE_ORDER_COLUMNS)
    sheet.append(columns)
    for values in _EXAMPLE_ORDERS:
        sheet.append(list(values))
    formats = _column_formats()
    for row in sheet.iter_rows(min_row=2, max_row=len(_EXAMPLE_ORDERS) + 1):
        for cell in row:
            cell.number_format = formats.get(columns[cell.column - 1], "General")
    widths = {"Order ID": 12, "Customer ID": 13, "Email": 30, "Name": 22, "Order Date": 18,
              "Amount": 12, "Channel": 16, "Accepts Marketing": 19}  # fmt: skip
    for i, name in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = widths.get(name, 14)
    ref = f"A1:{get_column_letter(len(columns))}{len(_EXAMPLE_ORDERS) + 1}"
    table = Table(displayName=ORDERS_TABLE, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    sheet.add_table(table)
    sheet.freeze_panes = "A2"


def _column_formats() -> dict[str, str]:
    return {"Order Date": DATE_FORMAT, "Amount": MONEY_FORMAT, "Order ID": "@"}


def _fill_settings_sheet(book: Workbook, sheet: Any) -> None:
    headers = ("Setting", "Value", "Description", "Cell name")
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for width, letter in zip((38, 22, 90, 28), "ABCD", strict=True):
        sheet.column_dimensions[letter].width = width
    for row, spec in enumerate(SETTING_SPECS, start=2):
        sheet.cell(row=row, column=1, value=spec.label)
        value_cell = sheet.cell(row=row, column=2, value=_default_cell_value(spec))
        value_cell.fill = PatternFill("solid", fgColor="FFF2CC")
        number_format = {"share": "0%", "date": "yyyy-mm-dd", "whole": "0", "number": "0.0##"}
        value_cell.number_format = number_format.get(spec.kind, "General")
        description = sheet.cell(row=row, column=3, value=spec.description)
        description.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.cell(row=row, column=4, value=spec.cell_name).font = Font(color="808080")
        address = f"{quote_sheetname(sheet.title)}!$B${row}"
        book.defined_names[spec.cell_name] = DefinedName(spec.cell_name, attr_text=address)
        validation = _validation_for(spec)
        if validation is not None:
            sheet.add_data_validation(validation)
            validation.add(value_cell.coordinate)
    sheet.freeze_panes = "A2"


def _default_cell_value(spec: SettingSpec) -> Any:
    value = getattr(DEFAULTS, spec.name)
    if value is None or spec.kind == "emails" or (spec.kind == "text" and not value):
        return None
    if spec.kind == "switch":
        return "Yes" if value else "No"
    return value


def _validation_for(spec: SettingSpec) -> DataValidation | None:
    prompt = spec.description[:255]
    if spec.kind == "choice":
        return DataValidation(
            type="list", formula1='"' + ",".join(spec.choices) + '"', allow_blank=True,
            promptTitle=spec.label[:32], prompt=prompt,
        )  # fmt: skip
    if spec.kind == "switch":
        return DataValidation(type="list", formula1='"Yes,No"', allow_blank=True)
    if spec.kind == "share":
        return DataValidation(
            type="decimal", operator="between", formula1="0.0001", formula2="1",
            allow_blank=True, errorTitle="Share", error="Enter a percentage from 0% to 100%.",
            showErrorMessage=True,
        )  # fmt: skip
    if spec.kind == "whole":
        minimum = 2 if spec.name == "min_purchases_for_own_gap" else 1
        return DataValidation(
            type="whole", operator="greaterThanOrEqual", formula1=str(minimum), allow_blank=True,
            errorTitle="Whole number", error=f"Enter a whole number of at least {minimum}.",
            showErrorMessage=True,
        )  # fmt: skip
    if spec.kind == "number":
        return DataValidation(
            type="decimal", operator="greaterThan", formula1="0", allow_blank=True,
            errorTitle="Number", error="Enter a number greater than 0.", showErrorMessage=True,
        )  # fmt: skip
    if spec.kind == "date":
        return DataValidation(
            type="date", operator="greaterThan", formula1="1", allow_blank=True,
            errorTitle="Date", error="Enter a date, or leave blank.", showErrorMessage=True,
        )  # fmt: skip
    return None


def _normalize_package(data: bytes) -> bytes:
    """The same package with fixed document times and zip entry dates."""
    stamp = BUILD_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    lambda m: m.group(1) + stamp + m.group(3),
                    text,
                )
                content = text.encode("utf-8")
            _write_entry(target, info.filename, content)
    return out.getvalue()


def _write_entry(archive: zipfile.ZipFile, name: str, content: bytes, level: int = 6) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    archive.writestr(info, content, compresslevel=level)


# --- filling the Orders table with openpyxl -------------------------------------------------


def fill_orders(template: Path, orders: pd.DataFrame, target: Path) -> None:
    """Write `orders` (columns TEMPLATE_ORDER_COLUMNS) into the template's Orders table.

    Replaces the table's rows, resizes the table and writes `target` atomically; the rest of
    the template is kept as openpyxl loads it. Fine up to some 50,000 rows.
    """
    template, target = Path(template), Path(target)
    _check_orders_columns(orders)
    keep_vba = template.suffix.casefold() == ".xlsm"
    try:
        book = load_workbook(template, keep_vba=keep_vba)
    except Exception as exc:
        raise WorkbookError(f"Cannot open the template {template.name}: {exc}.") from None
    sheet, table = _orders_table(book, template)
    first_col, first_row, last_col, last_row = _bounds(table.ref)
    # Number formats of the template's first data row carry over to every row written.
    styles = [
        copy(sheet.cell(row=first_row + 1, column=c)._style) for c in range(first_col, last_col + 1)
    ]
    if last_row > first_row:
        sheet.delete_rows(first_row + 1, last_row - first_row)
    columns = [_cell_values(orders[name]) for name in TEMPLATE_ORDER_COLUMNS]
    n_rows = len(orders)
    for i in range(n_rows):
        row = first_row + 1 + i
        for j, values in enumerate(columns):
            cell = sheet.cell(row=row, column=first_col + j)
            value = values[i]
            cell.value = value
            if isinstance(value, str) and cell.data_type != "s":
                # openpyxl reads "=..." as a formula and "#N/A" as an error: keep it text.
                cell.data_type = "s"
            cell._style = copy(styles[j])
    end_row = first_row + max(n_rows, 1)
    table.ref = f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{end_row}"
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    buffer = io.BytesIO()
    book.save(buffer)
    _atomic_write(target, buffer.getvalue())


def _check_orders_columns(orders: pd.DataFrame) -> None:
    missing = [c for c in TEMPLATE_ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise WorkbookError(
            f"The orders to write lack the template columns {', '.join(missing)}; "
            f"expected {', '.join(TEMPLATE_ORDER_COLUMNS)}."
        )


def _orders_table(book: Workbook, template: Path) -> tuple[Any, Table]:
    for sheet in book.worksheets:
        for table in sheet.tables.values():
            if table.displayName.casefold() == ORDERS_TABLE.casefold():
                return sheet, table
    raise WorkbookError(f"The template {template.name} has no Excel table named {ORDERS_TABLE}.")


def _bounds(ref: str) -> tuple[int, int, int, int]:
    from openpyxl.utils.cell import range_boundaries

    first_col, first_row, last_col, last_row = range_boundaries(ref)
    assert first_col and first_row and last_col and last_row
    return first_col, first_row, last_col, last_row


def _cell_values(series: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    out: list[Any] = []
    for value in series.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out.append(None)
        elif isinstance(value, np.generic):
            out.append(value.item())
        elif isinstance(value, pd.Timestamp):
            out.append(value.to_pydatetime())
        else:
            out.append(value)
    return out


# --- writing big order workbooks fast -------------------------------------------------------


def write_orders_workbook(orders: pd.DataFrame, target: Path, template: Path | None = None) -> None:
    """A refreshable workbook holding `orders` in the Orders table, written in seconds.

    The template's package (default: the bundled template) is copied part for part; only the
    Orders sheet's rows and the table's range are replaced. Text is written as inline strings,
    so it can never become a formula. Expects the template's Orders table at the top left of
    its sheet with the columns of TEMPLATE_ORDER_COLUMNS.
    """
    _check_orders_columns(orders)
    source = Path(template).read_bytes() if template is not None else _default_template_bytes()
    with zipfile.ZipFile(io.BytesIO(source)) as package:
        sheet_part, table_part = _orders_parts(package)
        sheet_xml = package.read(sheet_part).decode("utf-8")
        table_xml = package.read(table_part).decode("utf-8")
        head, header_row, tail, styles = _split_sheet(sheet_xml)
        n = len(orders)
        last = get_column_letter(len(TEMPLATE_ORDER_COLUMNS))
        ref = f"A1:{last}{n + 1 if n else 2}"
        head = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{ref}"', head, count=1)
        table_xml = re.sub(r'(<table\b[^>]*?\bref=")[^"]*"', rf'\g<1>{ref}"', table_xml, count=1)
        table_xml = re.sub(
            r'(<autoFilter\b[^>]*?\bref=")[^"]*"', rf'\g<1>{ref}"', table_xml, count=1
        )
        body = _rows_xml(orders, styles)
        with atomic_output(Path(target)) as out, zipfile.ZipFile(out, "w") as result:
            for info in package.infolist():
                if info.filename == sheet_part:
                    _write_sheet_entry(result, sheet_part, head, header_row, body, tail)
                elif info.filename == table_part:
                    _write_entry(result, info.filename, table_xml.encode("utf-8"))
                else:
                    _write_entry(result, info.filename, package.read(info.filename))


def _default_template_bytes() -> bytes:
    if TEMPLATE_PATH.exists():
        return TEMPLATE_PATH.read_bytes()
    return template_bytes()


def _orders_parts(package: zipfile.ZipFile) -> tuple[str, str]:
    names = package.namelist()
    for name in names:
        if not re.fullmatch(r"xl/worksheets/_rels/[^/]+\.xml\.rels", name):
            continue
        rels = package.read(name).decode("utf-8")
        for target in re.findall(r'Target="([^"]+)"[^>]*Type="[^"]*/table"', rels) + re.findall(
            r'Type="[^"]*/table"[^>]*Target="([^"]+)"', rels
        ):
            part = os.path.normpath(os.path.join("xl/worksheets", target)).replace(os.sep, "/")
            part = part.lstrip("/")
            xml = package.read(part).decode("utf-8")
            if re.search(rf'\bdisplayName="{ORDERS_TABLE}"', xml, re.IGNORECASE):
                sheet = "xl/worksheets/" + name.rsplit("/", 1)[1][: -len(".rels")]
                return sheet, part
    raise WorkbookError(f"The template has no Excel table named {ORDERS_TABLE}.")


def _split_sheet(xml: str) -> tuple[str, str, str, list[str]]:
    """(XML before the rows, the header row, XML after the rows, style ids of a data row)."""
    start = xml.index("<sheetData")
    open_end = xml.index(">", start) + 1
    if xml[open_end - 2] == "/":  # <sheetData/>: no rows at all
        raise WorkbookError("The template's Orders sheet has no header row.")
    end = xml.index("</sheetData>")
    rows = re.findall(r"<row\b.*?</row>", xml[open_end:end], re.DOTALL)
    if not rows or not re.search(r'<row\b[^>]*\br="1"', rows[0]):
        raise WorkbookError("The template's Orders table must start in cell A1.")
    styles = ["" for _ in TEMPLATE_ORDER_COLUMNS]
    if len(rows) > 1:
        for cell in re.finditer(r'<c r="([A-Z]+)\d+"([^>]*)', rows[1]):
            col = _column_index(cell.group(1))
            found = re.search(r'\bs="(\d+)"', cell.group(2))
            if col < len(styles) and found:
                styles[col] = f' s="{found.group(1)}"'
    head = xml[:open_end].replace("<sheetData/>", "<sheetData>")
    return head, rows[0], xml[end:], styles


def _column_index(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _rows_xml(orders: pd.DataFrame, styles: list[str]) -> list[str]:
    """The data rows' XML, built column by column with vectorized string operations."""
    n = len(orders)
    row_numbers = pd.Series(np.arange(2, n + 2)).astype(str)
    cells: list[Any] = []
    cell: Any
    missing: Any
    for j, name in enumerate(TEMPLATE_ORDER_COLUMNS):
        letter = get_column_letter(j + 1)
        series = orders[name].reset_index(drop=True)
        prefix = f'<c r="{letter}'
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            naive = series.dt.tz_localize(None) if series.dt.tz is not None else series
            days = (naive - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
            text = days.astype(str)
            cell = prefix + row_numbers + f'"{styles[j]}><v>' + text + "</v></c>"
            missing = series.isna()
        elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            values = series.astype("float64")
            missing = ~np.isfinite(values)
            cell = prefix + row_numbers + f'"{styles[j]}><v>' + values.astype(str) + "</v></c>"
        else:
            missing = series.isna()
            text = series.astype(object).where(~missing, "").astype(str)
            text = (
                text.str.replace("&", "&amp;", regex=False)
                .str.replace("<", "&lt;", regex=False)
                .str.replace(">", "&gt;", regex=False)
                .str.replace(_ILLEGAL_XML, "", regex=True)
            )
            spaced = text.str.match(r"^\s|.*\s$")
            t_open: Any = pd.Series(np.where(spaced, '<t xml:space="preserve">', "<t>"))
            cell = (
                prefix + row_numbers + f'"{styles[j]} t="inlineStr"><is>' + t_open + text
                + "</t></is></c>"
            )  # fmt: skip
        cells.append(cell.where(~pd.Series(missing).to_numpy(), ""))
    rows = '<row r="' + row_numbers + '">'
    for cell in cells:
        rows = rows + cell
    return (rows + "</row>").tolist()


def _write_sheet_entry(
    archive: zipfile.ZipFile, name: str, head: str, header: str, body: list[str], tail: str
) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    # Fast compression: the sheet is most of the file and level 1 is several times quicker.
    info._compresslevel = 1  # type: ignore[attr-defined]
    with archive.open(info, "w", force_zip64=True) as stream:
        stream.write(head.encode("utf-8"))
        stream.write(header.encode("utf-8"))
        step = 50_000
        for i in range(0, len(body), step):
            stream.write("".join(body[i : i + step]).encode("utf-8"))
        stream.write(tail.encode("utf-8"))


# --- atomic writes --------------------------------------------------------------------------


def _atomic_write(target: Path, data: bytes) -> None:
    with atomic_output(target) as out:
        out.write(data)
