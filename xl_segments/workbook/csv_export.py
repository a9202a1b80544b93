"""Write each contact list of a report as a UTF-8 CSV ready for an email tool's import."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from xl_segments.errors import MissingColumnError, WorkbookError
from xl_segments.tables import Report, SheetTable
from xl_segments.workbook.atomic import atomic_output

EMAIL_COLUMN = "Email"
NAME_COLUMN = "Name"
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_name(sheet: str) -> str:
    """The file name for a sheet's list: "Top Spenders" -> "top-spenders.csv"."""
    slug = re.sub(r"[^0-9a-z]+", "-", sheet.lower()).strip("-")
    return f"{slug or 'list'}.csv"


def write_contact_csvs(report: Report, folder: Path) -> list[Path]:
    """Write every contact list of the report to `folder`; returns the files written.

    Columns: Email, First Name, Last Name (the Name split at its first space), then the
    list's other columns. Text that a spreadsheet would run as a formula gets a leading '.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkbookError(f"Cannot write the contact lists: the folder {folder} does not exist.")
    written = []
    for table in report.tables:
        if not table.is_contact_list:
            continue
        frame = contact_frame(table)
        path = folder / csv_name(table.sheet)
        with atomic_output(path) as out:
            _write_csv(frame, out)
        written.append(path)
    return written


def contact_frame(table: SheetTable) -> pd.DataFrame:
    """The list as the CSV shows it: contact columns first, every cell ready to write."""
    frame = table.frame
    if EMAIL_COLUMN not in frame.columns:
        raise MissingColumnError(
            f"The list {table.sheet!r} has no {EMAIL_COLUMN!r} column; it has "
            f"{', '.join(map(repr, map(str, frame.columns)))}."
        )
    first, last = split_names(frame[NAME_COLUMN] if NAME_COLUMN in frame.columns else None, frame)
    out = pd.DataFrame(
        {
            "Email": _cells(frame[EMAIL_COLUMN], table.kind_of(EMAIL_COLUMN)),
            "First Name": neutralize(first),
            "Last Name": neutralize(last),
        },
        index=frame.index,
    )
    for column in frame.columns:
        if column in (EMAIL_COLUMN, NAME_COLUMN):
            continue
        out[_header(str(column))] = _cells(frame[column], table.kind_of(str(column)))
    return out.reset_index(drop=True)


def split_names(names: pd.Series | None, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """First word and the rest of each name ("Mary Ann Jones" -> "Mary", "Ann Jones")."""
    if names is None:
        blank = pd.Series("", index=frame.index, dtype=object)
        return blank, blank.copy()
    text = names.astype(object).where(names.notna(), "").astype(str).str.strip()
    parts = text.str.split(n=1, expand=True, regex=None)
    first = parts[0].fillna("") if 0 in parts.columns else pd.Series("", index=frame.index)
    last = (
        parts[1].fillna("").str.strip() if 1 in parts.columns else pd.Series("", index=frame.index)
    )
    return first.astype(object), last.astype(object)


def neutralize(values: pd.Series) -> pd.Series:
    """Prefix a ' to text that starts like a formula; numbers and other values stay as they are."""
    if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return values
    as_text = values.astype(object)
    try:
        # Non-text values give NA here and stay untouched.
        risky = as_text.str.startswith(FORMULA_TRIGGERS).fillna(False).astype(bool)
    except AttributeError:  # no text at all in the column
        return values
    if not risky.any():
        return as_text
    out = as_text.copy()
    out[risky] = "'" + out[risky].astype(str)
    return out


def _cells(series: pd.Series, kind: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series.dt.tz_localize(None) if getattr(series.dtype, "tz", None) else series
        has_time = bool((stamps.dropna() != stamps.dropna().dt.normalize()).any())
        fmt = "%Y-%m-%d %H:%M:%S" if has_time and kind != "date" else "%Y-%m-%d"
        return stamps.dt.strftime(fmt).astype(object).where(stamps.notna(), "")
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series
    return neutralize(series.astype(object).where(series.notna(), ""))


def _header(name: str) -> str:
    return "'" + name if name.startswith(FORMULA_TRIGGERS) else name


def _write_csv(frame: pd.DataFrame, out: BinaryIO) -> None:
    # UTF-8 without a byte-order mark: email tools read it, and a BOM would end up in the
    # first header ("\ufeffEmail") in several of them.
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        frame.to_csv(text, index=False, lineterminator="\r\n")
        text.flush()
    finally:
        text.detach()
