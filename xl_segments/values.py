"""Read cell values the way users type them: amounts, dates, ids, yes/no, Excel errors.

Each parser takes a column (any dtype, as it came from a sheet or a CSV) and returns the parsed
values plus a mask of the cells it could not read; the caller names the first bad cell.
Text is parsed once per distinct value, so a million rows of a few thousand distinct strings
cost a few thousand parses.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from xl_segments.errors import SettingsError

EXCEL_ERRORS = frozenset(
    {
        "#N/A",
        "#VALUE!",
        "#REF!",
        "#DIV/0!",
        "#NUM!",
        "#NAME?",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
    }
)
# COM error codes as xlwings may pass them from Excel (xlErrNA etc.).
COM_ERRORS = {
    -2146826281: "#DIV/0!",
    -2146826246: "#N/A",
    -2146826259: "#NAME?",
    -2146826288: "#NULL!",
    -2146826252: "#NUM!",
    -2146826265: "#REF!",
    -2146826273: "#VALUE!",
}

# Plausible order dates; anything outside is a typo or a number that is not a date.
EARLIEST_DATE = pd.Timestamp("1970-01-01")
LATEST_DATE = pd.Timestamp("2100-12-31")


@dataclass(frozen=True)
class Parsed:
    """Parsed values with masks: blank cells, cells that are Excel errors, unreadable cells."""

    values: pd.Series
    blank: np.ndarray
    error: np.ndarray
    bad: np.ndarray
    hint: str = ""


def is_text_column(column: pd.Series) -> bool:
    """A pandas string column (not object): vectorized string operations apply."""
    return isinstance(column.dtype, pd.StringDtype)


def rows_with_byte(column: pd.Series, wanted: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """True for each text value holding a UTF-8 byte for which `wanted` is true.

    One numpy pass over the column's Arrow character data: Arrow's substring kernels look at
    every value in turn and take 5-10 times as long to find that no value holds a "#". For
    a column without Arrow data, every non-missing value is reported (callers check those
    values exactly).
    """
    try:
        values = pa.array(column.array)
    except (TypeError, pa.ArrowException):
        return column.notna().to_numpy(dtype=bool)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return column.notna().to_numpy(dtype=bool)
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    found = np.zeros(len(column), dtype=bool)
    first_row = 0
    for chunk in chunks:
        _, offsets_buffer, data_buffer = chunk.buffers()
        if data_buffer is not None and len(chunk):
            width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            offsets = np.frombuffer(offsets_buffer, dtype=width)[
                chunk.offset : chunk.offset + len(chunk) + 1
            ]
            data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
            hits = np.flatnonzero(wanted(data)) + offsets[0]
            if len(hits):
                rows = np.searchsorted(offsets, hits, side="right") - 1
                found[first_row + rows] = True
        first_row += len(chunk)
    # A missing value may still span bytes in Arrow: it holds nothing.
    return found & column.notna().to_numpy(dtype=bool)


def _is_hash(data: np.ndarray) -> np.ndarray:
    return data == ord("#")


def blank_mask(column: pd.Series) -> np.ndarray:
    """True where a cell is empty: missing, or text of only spaces."""
    missing = column.isna().to_numpy(dtype=bool)
    if is_text_column(column):
        spaces = column.str.strip().str.len().eq(0)
        return missing | spaces.fillna(False).to_numpy(dtype=bool)
    if column.dtype == object:
        text = column.map(lambda v: isinstance(v, str) and not v.strip(), na_action="ignore")
        missing = missing | text.fillna(False).to_numpy(dtype=bool)
    return missing


def excel_error_mask(column: pd.Series) -> np.ndarray:
    """True where a cell holds an Excel error value (#N/A, #VALUE!...) as text or COM code."""
    if pd.api.types.is_float_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return np.zeros(len(column), dtype=bool)
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.isin(list(COM_ERRORS)).to_numpy(dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return np.zeros(len(column), dtype=bool)
    if is_text_column(column):
        # Only text with a "#" can be an error value: check those few in full.
        hashes = rows_with_byte(column, _is_hash)
        out = np.zeros(len(column), dtype=bool)
        if hashes.any():
            candidates = column[hashes].str.strip().str.upper().isin(EXCEL_ERRORS)
            out[hashes] = candidates.fillna(False).to_numpy(dtype=bool)
        return out

    def is_error(v: Any) -> bool:
        if isinstance(v, str):
            return v.strip().upper() in EXCEL_ERRORS
        return type(v) is int and v in COM_ERRORS

    return column.map(is_error, na_action="ignore").fillna(False).to_numpy(dtype=bool)


def map_distinct(column: pd.Series, parse: Callable[[Any], Any]) -> pd.Series:
    """Apply parse to each distinct non-missing value once and spread the results back."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = np.array([parse(u) for u in uniques] + [None], dtype=object)
    return pd.Series(parsed[codes], index=column.index, dtype=object)


# --- Amounts ---------------------------------------------------------------------------------

_CURRENCY = re.compile(
    r"[$€£¥₹₩₽₺₪฿₫₴₦₱]|\b(?:USD|EUR|GBP|CAD|AUD|NZD|CHF|SEK|NOK|DKK|PLN|CZK|HUF|JPY|INR|"
    r"BRL|MXN|ZAR|SGD|HKD|CNY|RUB|TRY|ILS|AED|SAR|US\$|C\$|A\$|R\$|kr|zł|Kč|Fr)\b\.?",
    re.IGNORECASE,
)
_POINT_NUMBER = re.compile(r"^(?:\d{1,3}(?:[,' ]\d{3})+|\d+)(?:\.\d+)?$|^\.\d+$")
_COMMA_NUMBER = re.compile(r"^(?:\d{1,3}(?:[.' ]\d{3})+|\d+)(?:,\d+)?$|^,\d+$")


def parse_amount_text(text: str, decimal_comma: bool) -> float | None:
    """'$1,234.50' -> 1234.5, '(15.00)' -> -15.0, '1.234,50 €' -> 1234.5 with a decimal comma."""
    t = text.strip().replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-")
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    t = _CURRENCY.sub("", t).strip()
    if t.startswith("(") and t.endswith(")"):
        negative, t = not negative, t[1:-1].strip()
    if t.endswith("-"):
        negative, t = not negative, t[:-1].strip()
    if t.startswith("-"):
        negative, t = not negative, t[1:].strip()
    elif t.startswith("+"):
        t = t[1:].strip()
    t = _CURRENCY.sub("", t).strip()
    pattern = _COMMA_NUMBER if decimal_comma else _POINT_NUMBER
    if not pattern.match(t):
        return None
    if decimal_comma:
        t = t.replace(".", "").replace(" ", "").replace("'", "").replace(",", ".")
    else:
        t = t.replace(",", "").replace(" ", "").replace("'", "")
    value = float(t)
    return -value if negative else value


def parse_amounts(column: pd.Series, decimal_comma: bool = False) -> Parsed:
    """Amounts as floats; text amounts with currency symbols, separators and (negatives)."""
    blank = blank_mask(column)
    if pd.api.types.is_bool_dtype(column.dtype):
        bad = ~blank
        return Parsed(pd.Series(np.nan, index=column.index), blank, np.zeros_like(blank), bad)
    if pd.api.types.is_numeric_dtype(column.dtype):
        # A whole-number column can carry Excel's COM error codes (#N/A = -2146826246).
        error = excel_error_mask(column)
        values = column.astype("float64").mask(error)
        bad = ~np.isfinite(values.to_numpy()) & ~blank & ~error
        return Parsed(values, blank, error, bad)

    error = excel_error_mask(column)

    def parse(v: Any) -> float | None:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float, np.integer, np.floating, Decimal)):
            f = float(v)
            return f if math.isfinite(f) else None
        if isinstance(v, str):
            return parse_amount_text(v, decimal_comma) if v.strip() else None
        return None

    parsed = map_distinct(column, parse)
    values = pd.to_numeric(parsed, errors="coerce").astype("float64")
    bad = values.isna().to_numpy() & ~blank & ~error
    hint = ""
    if bad.any() and not decimal_comma:
        sample = column[bad].astype(str)
        if sample.str.contains(r"\d,\d{1,2}\b", regex=True).any():
            hint = ' If amounts use a decimal comma (1.234,50), set "Decimal comma in amounts".'
    return Parsed(values, blank, error, bad, hint)


# --- Dates -----------------------------------------------------------------------------------

_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
    r"\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_ISO_AWARE = re.compile(r"(?:Z|UTC|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T](\d{1,2}:\d{2}(?::\d{2})?))?$")
_NUMERIC_DATE = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})"
    r"(?:[ T,]+(\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?))?$"
)
_SERIAL_TEXT = re.compile(r"^\d{4,6}(?:\.\d+)?$")


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"Time zone {name!r} is not known; use an IANA name such as UTC or Europe/Berlin."
        ) from None


def serials_to_datetimes(serials: pd.Series, date_system_1904: bool) -> pd.Series:
    """Excel serial day numbers to datetimes (1900 system with its 1900-02-29 quirk, or 1904)."""
    days = serials.astype("float64")
    # Numbers far from any date (an amount pasted into the date column, a COM error code,
    # 2958465 = 9999-12-31) become missing here and are reported as "not a date" by the
    # caller; 110,000 days is the year 2201, well inside what a timestamp can hold.
    days = days.where((days > -700_000) & (days < 110_000))
    if date_system_1904:
        base = pd.Series(pd.Timestamp("1904-01-01"), index=serials.index)
    else:
        # Excel counts a 29 February 1900 that never was: serials before 61 are one day off.
        base = pd.Series(
            np.where(
                (days < 61).to_numpy(),
                np.datetime64("1899-12-31", "ns"),
                np.datetime64("1899-12-30", "ns"),
            ),
            index=serials.index,
        ).astype("datetime64[ns]")
    out = base + pd.to_timedelta(np.round(days * 86400.0), unit="s")
    return out.astype("datetime64[ns]")


def _to_naive(stamps: pd.Series, zone: ZoneInfo) -> pd.Series:
    """Aware datetimes converted to the zone, then written without zone (wall time there)."""
    return stamps.dt.tz_convert(zone).dt.tz_localize(None).astype("datetime64[ns]")


def parse_dates(
    column: pd.Series,
    *,
    date_format: str | None = None,
    date_system_1904: bool = False,
    timezone: str = "UTC",
) -> Parsed:
    """Order dates as naive datetimes (wall time in `timezone`), from any mix of forms."""
    zone = check_timezone(timezone)
    blank = blank_mask(column)
    n = len(column)
    empty_error = np.zeros(n, dtype=bool)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        values = _to_naive(column, zone)
        return Parsed(values, blank, empty_error, _implausible(values) & ~blank)
    if pd.api.types.is_datetime64_dtype(column.dtype):
        values = column.astype("datetime64[ns]")
        return Parsed(values, blank, empty_error, _implausible(values) & ~blank)
    if pd.api.types.is_bool_dtype(column.dtype):
        return Parsed(pd.Series(pd.NaT, index=column.index), blank, empty_error, ~blank)
    if pd.api.types.is_numeric_dtype(column.dtype):
        # A whole-number column can carry Excel's COM error codes (#N/A = -2146826246).
        error = excel_error_mask(column)
        numbers = column.astype("float64").mask(error)
        values = serials_to_datetimes(numbers, date_system_1904)
        bad = (values.isna().to_numpy() | _implausible(values)) & ~blank & ~error
        return Parsed(values.where(~bad), blank, error, bad)

    error = excel_error_mask(column)
    out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    kinds = column.map(_date_kind, na_action="ignore")
    hint = ""

    stamps = (kinds == "datetime").to_numpy(dtype=bool)
    if stamps.any():
        out[stamps] = _datetimes_from_objects(column[stamps], zone)
    serial_rows = (kinds == "number").to_numpy(dtype=bool)
    if serial_rows.any():
        out[serial_rows] = serials_to_datetimes(
            column[serial_rows].astype("float64"), date_system_1904
        )
    texts = (kinds == "text").to_numpy(dtype=bool)
    if texts.any():
        parsed, hint = _parse_date_texts(
            column[texts].astype(str), date_format, date_system_1904, zone
        )
        out[texts] = parsed
    bad = (out.isna().to_numpy() | _implausible(out)) & ~blank & ~error
    return Parsed(out.where(~bad), blank, error, bad, hint)


def _implausible(values: pd.Series) -> np.ndarray:
    return ((values < EARLIEST_DATE) | (values > LATEST_DATE)).fillna(False).to_numpy(dtype=bool)


def _date_kind(v: Any) -> str:
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        return "datetime"
    if isinstance(v, bool):
        return "bad"
    if isinstance(v, (int, np.integer)):
        return "error" if int(v) in COM_ERRORS else "number"
    if isinstance(v, (float, np.floating, Decimal)):
        return "number" if math.isfinite(float(v)) else "bad"
    if isinstance(v, str):
        if v.strip().upper() in EXCEL_ERRORS:
            return "error"
        return "text" if v.strip() else "blank"
    return "bad"


def _datetimes_from_objects(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    def one(v: Any) -> pd.Timestamp:
        stamp = pd.Timestamp(v)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(zone).tz_localize(None)
        return stamp

    return values.map(one).astype("datetime64[ns]")


def _parse_date_texts(
    texts: pd.Series, date_format: str | None, date_system_1904: bool, zone: ZoneInfo
) -> tuple[pd.Series, str]:
    """Parse date text once per distinct value; ambiguous day/month order is refused."""
    codes, uniques = pd.factorize(texts.str.strip())
    uniq = pd.Series(uniques, dtype=object)
    result = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[ns]")
    hint = ""

    if date_format:
        parsed = pd.to_datetime(uniq, format=date_format, errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = _to_naive(parsed, zone)
        result = parsed.astype("datetime64[ns]")
        missing = result.isna()
        if missing.any():
            # Stated format first; ISO text and serials are still unambiguous.
            rest, _ = _parse_unambiguous(uniq[missing], date_system_1904, zone)
            result[missing] = rest
            if result.isna().any():
                hint = f" Dates are read with the format {date_format!r}."
        return pd.Series(result.to_numpy()[codes], index=texts.index), hint

    result, pending = _parse_unambiguous(uniq, date_system_1904, zone)
    if pending.any():
        numeric = uniq[pending].str.extract(_NUMERIC_DATE)
        is_numeric = numeric[0].notna()
        if is_numeric.any():
            first = numeric.loc[is_numeric, 0].astype(int)
            second = numeric.loc[is_numeric, 1].astype(int)
            day_first_ok = (second <= 12) & (first <= 31) & (first >= 1) & (second >= 1)
            month_first_ok = (first <= 12) & (second <= 31) & (first >= 1) & (second >= 1)
            if (
                bool(day_first_ok.all())
                and bool(month_first_ok.all())
                and bool((first != second).any())
            ):
                example_pos = int(np.flatnonzero((first != second).to_numpy())[0])
                example = str(uniq[pending][is_numeric].iloc[example_pos])
                raise _AmbiguousDates(example)
            if bool(day_first_ok.all()):
                fmt_day_first = True
            elif bool(month_first_ok.all()):
                fmt_day_first = False
            else:
                # Neither order reads every value; take the one that reads most, flag the rest.
                fmt_day_first = bool(day_first_ok.sum() >= month_first_ok.sum())
            chosen = uniq[pending][is_numeric]
            parsed = pd.to_datetime(chosen, dayfirst=fmt_day_first, errors="coerce", format="mixed")
            result[chosen.index] = parsed.astype("datetime64[ns]")
        others = pending & result.isna()
        others_idx = uniq[others].index
        for i in others_idx:
            text = str(uniq[i])
            if _NUMERIC_DATE.match(text):
                continue
            try:
                stamp = pd.Timestamp(pd.to_datetime(text, format="mixed"))
            except (ValueError, OverflowError, TypeError):
                continue
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert(zone).tz_localize(None)
            result[i] = stamp
    return pd.Series(result.to_numpy()[codes], index=texts.index), hint


def _parse_unambiguous(
    uniq: pd.Series, date_system_1904: bool, zone: ZoneInfo
) -> tuple[pd.Series, pd.Series]:
    """ISO text (with or without zone), yyyy/mm/dd and serial numbers written as text."""
    result = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[ns]")
    iso = uniq.str.match(_ISO)
    aware = iso & uniq.str.contains(_ISO_AWARE)
    naive = iso & ~aware
    if naive.any():
        result[naive] = pd.to_datetime(uniq[naive], format="ISO8601", errors="coerce").astype(
            "datetime64[ns]"
        )
    if aware.any():
        cleaned = uniq[aware].str.replace(r"\s*UTC$", "Z", regex=True, case=False)
        stamps = pd.to_datetime(cleaned, format="ISO8601", errors="coerce", utc=True)
        result[aware] = _to_naive(stamps, zone)
    ymd = ~iso & uniq.str.match(_YMD_SLASH)
    if ymd.any():
        normalized = uniq[ymd].str.replace(
            r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", regex=True
        )
        result[ymd] = pd.to_datetime(normalized, format="ISO8601", errors="coerce").astype(
            "datetime64[ns]"
        )
    serial = ~iso & ~ymd & uniq.str.match(_SERIAL_TEXT)
    if serial.any():
        result[serial] = serials_to_datetimes(uniq[serial].astype(float), date_system_1904)
    pending = ~iso & ~ymd & ~serial
    return result, pending


class _AmbiguousDates(Exception):
    """Raised inside parsing; the caller turns it into an AmbiguousDateError naming a cell."""

    def __init__(self, example: str) -> None:
        super().__init__(example)
        self.example = example


# --- Text, ids, yes/no -----------------------------------------------------------------------


def _clean_text_column(column: pd.Series) -> pd.Series:
    """Vectorized clean_text for a string column."""
    text = column.str.strip()
    empty = text.str.len().eq(0).fillna(False).to_numpy(dtype=bool, copy=True)
    # Every error text starts with "#": only those few values are upper-cased and looked up.
    hashed = text.str.startswith("#").fillna(False).to_numpy(dtype=bool)
    if hashed.any():
        empty[hashed] |= text[hashed].str.upper().isin(EXCEL_ERRORS).to_numpy(dtype=bool)
    return text.mask(empty) if empty.any() else text


def clean_text(column: pd.Series) -> pd.Series:
    """Text values stripped, inner runs of spaces kept; blank and errors become missing."""
    if is_text_column(column):
        return _clean_text_column(column)

    def one(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        text = str(v).strip()
        if not text or text.upper() in EXCEL_ERRORS:
            return None
        return text

    return map_distinct(column, one).astype("string")


_WHOLE_TEXT = re.compile(r"^[+-]?\d+\.0+$")


def clean_ids(column: pd.Series) -> pd.Series:
    """Ids as text: 101.0 from Excel (number or text) becomes '101'."""
    if is_text_column(column):
        text = _clean_text_column(column)
        # Only ids holding a point can be "101.0"; most columns have none.
        dotted = rows_with_byte(text, _is_point)
        if dotted.any():
            text = text.copy()
            text[dotted] = text[dotted].str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)
        return text
    if pd.api.types.is_float_dtype(column.dtype):
        values = column.to_numpy(dtype="float64")
        finite = np.isfinite(values)
        if (values[finite] == np.round(values[finite])).all() and (
            np.abs(values[finite]) < 2**53
        ).all():
            whole = pd.Series(values, index=column.index).where(finite)
            return whole.astype("Int64").astype("string")
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.astype("Int64").astype("string")

    def one(v: Any) -> str | None:
        if v is None or isinstance(v, bool):
            return None if v is None else str(v)
        if isinstance(v, (float, np.floating, Decimal)):
            if math.isnan(v):
                return None
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        text = str(v).strip()
        if not text or text.upper() in EXCEL_ERRORS:
            return None
        if _WHOLE_TEXT.match(text):
            return text.split(".")[0]
        return text

    return map_distinct(column, one).astype("string")


_SPACES = "[\\s\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+"


# RE2 (pyarrow) syntax: white space of any script, as str.split() sees it.
_SPACE_RE2 = (
    r"[\s\x{00a0}\x{1680}\x{2000}-\x{200b}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]"
)


def _arrow_text(text: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The Arrow array behind a string column (no copy), or one built from its values."""
    try:
        values = pa.array(text.array)
    except (TypeError, pa.ArrowException):
        values = pa.array(text.astype(object).where(text.notna(), None).tolist(), type=pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pa.array(text.astype(object).where(text.notna(), None).tolist(), type=pa.string())
    return values


def _contains_space(text: pd.Series) -> np.ndarray:
    # Every space character is ASCII white space or a control, or takes bytes >= 0x80 in
    # UTF-8: only values holding such a byte need the exact (and slower) search.
    maybe = rows_with_byte(text, _space_or_beyond_ascii)
    found = np.zeros(len(text), dtype=bool)
    if maybe.any():
        values = _arrow_text(text[maybe])
        exact = pc.match_substring_regex(values, _SPACE_RE2)
        found[maybe] = np.asarray(exact.fill_null(False).to_numpy(zero_copy_only=False), bool)
    return found


def _space_or_beyond_ascii(data: np.ndarray) -> np.ndarray:
    return (data <= 0x20) | (data >= 0x80)


def _is_point(data: np.ndarray) -> np.ndarray:
    return data == ord(".")


def email_keys(emails: pd.Series) -> pd.Series:
    """Emails in the form they are matched in (see settings.normalize_email), vectorized.

    Inner white space is rare, so only those few values take the slow exact path.
    """
    from xl_segments.settings import normalize_email

    text = emails.astype("string").str.strip()
    values = _arrow_text(text)
    if len(values) and pc.all(pc.string_is_ascii(values)).as_py() is not False:
        # ASCII text lower-cases the same either way, the ASCII kernel many times faster.
        lowered = pc.ascii_lower(values)
        text = pd.Series(pd.array(lowered, dtype=text.dtype), index=text.index)
    else:
        text = text.str.lower()
    inner = _contains_space(text)
    if inner.any():
        text = text.copy()
        text[inner] = text[inner].map(normalize_email)
    return text


_YES = frozenset(
    {
        "yes",
        "y",
        "true",
        "1",
        "x",
        "subscribed",
        "opted_in",
        "optedin",
        "opt-in",
        "optin",
        "accepted",
        "granted",
        "ja",
        "oui",
        "si",
        "sí",
        "sim",
        "confirmed",
        "on",
    }
)
_NO = frozenset(
    {
        "no",
        "n",
        "false",
        "0",
        "not_subscribed",
        "notsubscribed",
        "unsubscribed",
        "opted_out",
        "optedout",
        "opt-out",
        "optout",
        "declined",
        "denied",
        "pending",
        "nein",
        "non",
        "nao",
        "não",
        "off",
        "invalid",
        "redacted",
        "never_subscribed",
        "cleaned",
    }
)


def consent_of(value: Any) -> tuple[bool | None, bool]:
    """One consent cell as (consent, recognised). Blank is (None, True)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value), True
    if isinstance(value, (int, float, np.integer, np.floating)):
        if math.isnan(float(value)):
            return None, True
        return value == 1, value in (0, 1)
    text = str(value).strip().casefold().replace(" ", "_")
    if not text:
        return None, True
    if text in _YES:
        return True, True
    if text in _NO:
        return False, True
    return False, False


def parse_consent(column: pd.Series) -> tuple[pd.Series, int]:
    """Marketing consent as True/False/missing, and how many cells were not recognised.

    Unrecognised values count as no consent: a contact list must never include someone who
    may not have agreed.
    """
    if is_text_column(column):
        # A consent column holds a handful of distinct texts: judge each once, spread back.
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        text = pd.Series(uniques, dtype=column.dtype)
        text = text.str.strip().str.lower().str.replace(" ", "_", regex=False)
        blank = (text.isna() | text.eq("")).fillna(True).to_numpy(dtype=bool)
        yes = text.isin(_YES).fillna(False).to_numpy(dtype=bool)
        no = text.isin(_NO).fillna(False).to_numpy(dtype=bool)
        unknown = ~yes & ~no & ~blank
        stated = np.append(yes | no | unknown, False)[codes]
        said_yes = np.append(yes, False)[codes]
        values = pd.Series(
            pd.arrays.BooleanArray(said_yes, ~stated), index=column.index, dtype="boolean"
        )
        return values, int(np.append(unknown, False)[codes].sum())
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    results = [consent_of(u) for u in uniques]
    table = np.array([value for value, _ in results] + [None], dtype=object)
    unrecognised = [i for i, (_, known) in enumerate(results) if not known]
    values = pd.Series(table[codes], index=column.index, dtype=object)
    return values.astype("boolean"), int(np.isin(codes, unrecognised).sum())
