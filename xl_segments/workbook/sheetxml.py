"""Serialize report tables to SpreadsheetML: worksheet, table and style XML, built per column."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from numbers import Integral, Real

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from xl_segments.errors import WorkbookError
from xl_segments.tables import ColumnKind, SheetTable, SummarySheet
from xl_segments.workbook.package import (
    MAIN_NS,
    REL_NS,
    ElementSpan,
    find_element,
    find_elements,
    set_attribute,
    xml_attr,
)

# Excel refuses longer cell text; we cut rather than fail a whole refresh on one odd cell.
MAX_CELL_CHARS = 32767
# Rows per serialized chunk: big enough for the vector kernels, small enough to bound memory.
CHUNK_ROWS = 50_000
MAX_COLUMN_WIDTH = 60.0
MIN_COLUMN_WIDTH = 8.0

_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_LS = pa.large_string()

# ---------------------------------------------------------------------------------------------
# Text escaping

# XML 1.0 cannot carry these; CR is included because parsers turn it into LF.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_CHARS_RE2 = r"[\x00-\x08\x0B\x0C\x0D\x0E-\x1F\x{FFFE}\x{FFFF}]"
# An underscore that would start an _xHHHH_ escape; lookahead so overlapping ones all count.
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPE_LIKE_RE2 = r"_x[0-9A-Fa-f]{4}_"


def ooxml_escape(text: str) -> str:
    """Make text storable in a cell so readers decode it back to exactly `text`.

    Literal `_xHHHH_` gets its underscore escaped first, then characters XML cannot carry
    become `_xHHHH_` (the OOXML ST_Xstring escape).
    """
    if "_x" in text:
        text = _ESCAPE_LIKE.sub("_x005F_", text)
    return _BAD_CHARS.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell_text(text: str) -> str:
    """Escaped XML content for one string cell's <t> element."""
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS]
    return xml_text(ooxml_escape(text))


def _needs_preserve(text: str) -> bool:
    return bool(text) and (text[0].isspace() or text[-1].isspace())


def inline_string_cell(ref: str, text: str, style: int) -> str:
    space = ' xml:space="preserve"' if _needs_preserve(text) else ""
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{cell_text(text)}</t></is></c>'


# ---------------------------------------------------------------------------------------------
# Cell references, dates


def col_letter(index: int) -> str:
    """Column letters for a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _epoch(date1904: bool) -> np.datetime64:
    return np.datetime64("1904-01-01") if date1904 else np.datetime64("1899-12-30")


def excel_serials(values: np.ndarray, date1904: bool) -> np.ndarray:
    """Excel serial numbers for datetime64 values; NaN where Excel has no serial."""
    days = (values - _epoch(date1904)) / np.timedelta64(1, "D")
    days = np.asarray(days, dtype="float64")
    if date1904:
        days[days < 0] = np.nan
    else:
        # Excel's 1900 system counts a 29 February 1900 that never was: serials before
        # 1 March 1900 are one lower than the plain day count, and 1900-01-01 is serial 1.
        early = days < 61
        days[early] -= 1
        days[days < 1] = np.nan
    return days


def _scalar_serial(value: dt.datetime | dt.date, date1904: bool) -> float | None:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    serial = excel_serials(np.array([stamp.to_datetime64()]), date1904)[0]
    return None if math.isnan(serial) else float(serial)


# ---------------------------------------------------------------------------------------------
# Styles


# Number formats by column kind: built-in ids where Excel has one, custom codes otherwise.
_BUILTIN_FORMATS: dict[str, int] = {"integer": 1, "number": 2, "money": 4, "text": 49, "flag": 49}
_CUSTOM_FORMATS: dict[str, str] = {"percent": "0.0%", "date": "yyyy-mm-dd", "days": "0.0"}
_KINDS: tuple[ColumnKind, ...] = (
    "text",
    "integer",
    "number",
    "money",
    "percent",
    "date",
    "days",
    "flag",
)

_MINIMAL_STYLES = (
    _XML_DECL + f'<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


@dataclass(frozen=True)
class StyleIds:
    """cellXfs indices our cells use."""

    by_kind: Mapping[str, int]
    bold: int

    def of(self, kind: str) -> int:
        return self.by_kind.get(kind, self.by_kind["text"])


def minimal_styles() -> str:
    return _MINIMAL_STYLES


def _insert_children(
    text: str, container: ElementSpan, child: str, children: str, added: int
) -> str:
    """Append children to a container element and set its count attribute to match."""
    open_tag = text[container.start : container.open_end]
    local = re.match(r"<([\w.:-]+)", open_tag)
    assert local is not None
    name = local.group(1)
    existing = (
        0
        if container.self_closing
        else len(find_elements(text, child, container.open_end, container.close_start))
    )
    new_tag = set_attribute(open_tag, "count", str(existing + added))
    if container.self_closing:
        new_tag = new_tag[:-2].rstrip() + ">"
        return text[: container.start] + new_tag + children + f"</{name}>" + text[container.end :]
    return (
        text[: container.start]
        + new_tag
        + text[container.open_end : container.close_start]
        + children
        + text[container.close_start :]
    )


def add_styles(text: str | None) -> tuple[str, StyleIds]:
    """Append the number formats, bold font and cell formats we need to a styles part.

    Existing entries are never renumbered, so every cell of the base keeps its look; entries
    an earlier refresh added are found and reused rather than appended again.
    """
    if text is None:
        text = _MINIMAL_STYLES
    root = find_element(text, "styleSheet")
    if root is None or root.self_closing:
        raise WorkbookError("The workbook's styles part is damaged (no styleSheet).")
    p = root.prefix

    # Number formats.
    numfmts = find_element(text, "numFmts")
    existing_fmts = (
        find_elements(text, "numFmt", numfmts.open_end, numfmts.close_start) if numfmts else []
    )
    code_to_id: dict[str, int] = {}
    ids_in_use = [163]
    for f in existing_fmts:
        try:
            fid = int(f.attrs.get("numFmtId", ""))
        except ValueError:
            continue
        ids_in_use.append(fid)
        code_to_id.setdefault(f.attrs.get("formatCode", ""), fid)
    fmt_ids: dict[str, int] = dict(_BUILTIN_FORMATS)
    new_fmts = []
    next_id = max(ids_in_use) + 1
    for kind, code in _CUSTOM_FORMATS.items():
        if code in code_to_id:
            fmt_ids[kind] = code_to_id[code]
        else:
            fmt_ids[kind] = next_id
            new_fmts.append(f'<{p}numFmt numFmtId="{next_id}" formatCode="{xml_attr(code)}"/>')
            next_id += 1
    if new_fmts:
        if numfmts is not None:
            text = _insert_children(text, numfmts, "numFmt", "".join(new_fmts), len(new_fmts))
        else:
            block = f'<{p}numFmts count="{len(new_fmts)}">{"".join(new_fmts)}</{p}numFmts>'
            text = text[: root.open_end] + block + text[root.open_end :]

    # A bold version of the workbook's default font.
    fonts = find_element(text, "fonts")
    if fonts is None or fonts.self_closing:
        raise WorkbookError("The workbook's styles part is damaged (no fonts).")
    font_spans = find_elements(text, "font", fonts.open_end, fonts.close_start)
    if not font_spans:
        raise WorkbookError("The workbook's styles part is damaged (no fonts).")
    f0 = font_spans[0]
    if f0.self_closing:
        bold_font = f"<{f0.prefix}font><{f0.prefix}b/></{f0.prefix}font>"
    else:
        bold_font = (
            text[f0.start : f0.open_end]
            + f"<{f0.prefix}b/>"
            + text[f0.open_end : f0.close_start]
            + text[f0.close_start : f0.end]
        )
    font_texts = [text[f.start : f.end] for f in font_spans]
    if bold_font in font_texts:
        bold_id = font_texts.index(bold_font)
    else:
        bold_id = len(font_spans)
        text = _insert_children(text, fonts, "font", bold_font, 1)

    # Cell formats.
    cellxfs = find_element(text, "cellXfs")
    if cellxfs is None:
        raise WorkbookError("The workbook's styles part is damaged (no cellXfs).")
    xfs = find_elements(text, "xf", cellxfs.open_end, cellxfs.close_start)
    wanted: list[tuple[str, dict[str, str], str]] = []
    for kind in _KINDS:
        attrs = {
            "numFmtId": str(fmt_ids[kind]),
            "fontId": "0",
            "fillId": "0",
            "borderId": "0",
            "xfId": "0",
        }
        wanted.append((kind, attrs, "applyNumberFormat"))
    bold_attrs = {
        "numFmtId": "0",
        "fontId": str(bold_id),
        "fillId": "0",
        "borderId": "0",
        "xfId": "0",
    }
    wanted.append(("__bold__", bold_attrs, "applyFont"))
    keys = ("numFmtId", "fontId", "fillId", "borderId", "xfId")
    index_of: dict[str, int] = {}
    appended: list[str] = []
    total = len(xfs)
    for label, attrs, apply in wanted:
        found = None
        for i, xf in enumerate(xfs):
            if xf.self_closing and all(xf.attrs.get(k, "0") == attrs[k] for k in keys):
                found = i
                break
        if found is None:
            found = total + len(appended)
            attr_text = " ".join(f'{k}="{v}"' for k, v in attrs.items())
            appended.append(f'<{cellxfs.prefix}xf {attr_text} {apply}="1"/>')
        index_of[label] = found
    if appended:
        text = _insert_children(text, cellxfs, "xf", "".join(appended), len(appended))
    bold = index_of.pop("__bold__")
    return text, StyleIds(by_kind=index_of, bold=bold)


# ---------------------------------------------------------------------------------------------
# Vectorized column -> cell XML


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _LS)


def _join(*parts: pa.Array | str) -> pa.Array:
    args = [_s(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, _s(""))


def _escape_array(values: pa.Array) -> pa.Array:
    """Escape a large_string array for <t> content; rare special cases go through Python."""
    lengths = pc.utf8_length(values)
    if len(values) and (pc.max(lengths).as_py() or 0) > MAX_CELL_CHARS:
        values = pc.utf8_slice_codeunits(values, 0, MAX_CELL_CHARS)
    special = pc.or_(
        pc.match_substring_regex(values, _ESCAPE_LIKE_RE2),
        pc.match_substring_regex(values, _BAD_CHARS_RE2),
    )
    if pc.any(special).as_py():
        py = values.to_pylist()
        mask = special.to_pylist()
        values = pa.array(
            [ooxml_escape(v) if m and v is not None else v for v, m in zip(py, mask, strict=True)],
            _LS,
        )
    for raw, esc in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if pc.any(pc.match_substring(values, raw)).as_py():
            values = pc.replace_substring(values, raw, esc)
    return values


@dataclass
class _ColumnPlan:
    """How one frame column becomes cells: a function of the row-number array."""

    letter: str
    kind: str
    series: pd.Series
    style: int
    date_style: int
    date1904: bool
    width_chars: float = 0.0
    mode: str = field(default="")


def _to_arrow_strings(values: pd.Series) -> pa.Array | None:
    """Strings as a large_string array (nulls for missing), or None when not all strings."""
    if isinstance(values.dtype, pd.StringDtype):
        return pa.array(values, type=_LS, from_pandas=True)
    if values.dtype == object:
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in ("string", "empty"):
            try:
                return pa.array(values.to_numpy(dtype=object), type=_LS, from_pandas=True)
            except (pa.ArrowInvalid, UnicodeEncodeError, pa.ArrowTypeError):
                # Lone surrogates cannot be UTF-8; let the Python path escape them.
                return None
    return None


def _number_strings(values: np.ndarray | pa.Array) -> pa.Array:
    arr = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    if pa.types.is_floating(arr.type):
        arr = pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, arr.type))
    return pc.cast(arr, _LS)


def _string_cells(letter: str, rows: pa.Array, values: pa.Array, style: int) -> pa.Array:
    values = _escape_array(values)
    # An empty string is written like a missing value: no cell.
    values = pc.if_else(pc.equal(values, _s("")), pa.scalar(None, _LS), values)
    preserve = pc.match_substring_regex(values, r"^\s|\s$")
    s = f' s="{style}"' if style else ""
    if pc.any(preserve).as_py():
        topen = pc.if_else(preserve, _s('<t xml:space="preserve">'), _s("<t>"))
        return _join(
            f'<c r="{letter}', rows, f'"{s} t="inlineStr"><is>', topen, values, "</t></is></c>"
        )
    return _join(f'<c r="{letter}', rows, f'"{s} t="inlineStr"><is><t>', values, "</t></is></c>")


def _value_cells(
    letter: str, rows: pa.Array, values: pa.Array, style: int, t: str = ""
) -> pa.Array:
    s = f' s="{style}"' if style else ""
    return _join(f'<c r="{letter}', rows, f'"{s}{t}><v>', values, "</v></c>")


def value_cell(
    ref: str, value: object, kind: str, styles: StyleIds, date1904: bool, text_style: int = -1
) -> str:
    """One cell of any Python value (the Summary sheet, and columns of mixed types)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    style = styles.of(kind)
    if isinstance(value, str):
        if value == "":
            return ""
        return inline_string_cell(ref, value, text_style if text_style >= 0 else style)
    if isinstance(value, bool | np.bool_):
        return f'<c r="{ref}" s="{style}" t="b"><v>{int(bool(value))}</v></c>'
    if isinstance(value, dt.datetime | dt.date | np.datetime64):
        stamp = pd.Timestamp(value)
        serial = _scalar_serial(stamp, date1904)
        if serial is None:
            return inline_string_cell(ref, stamp.isoformat(), styles.of("text"))
        return f'<c r="{ref}" s="{styles.of("date")}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.timedelta | np.timedelta64):
        days = pd.Timedelta(value) / pd.Timedelta(days=1)
        return f'<c r="{ref}" s="{style}"><v>{days!r}</v></c>'
    if isinstance(value, Integral):
        if kind in ("text", "flag"):
            style = 0
        return f'<c r="{ref}" s="{style}"><v>{int(value)}</v></c>'
    if isinstance(value, Real | Decimal):
        number = float(value)
        if not math.isfinite(number):
            return ""
        if kind in ("text", "flag"):
            style = 0
        return f'<c r="{ref}" s="{style}"><v>{number!r}</v></c>'
    if isinstance(value, float) and math.isnan(value):
        return ""
    return inline_string_cell(ref, str(value), style)


def column_cells(
    series: pd.Series,
    kind: str,
    letter: str,
    rows: pa.Array,
    first_row: int,
    styles: StyleIds,
    date1904: bool,
) -> pa.Array:
    """Cell XML for one column slice (nulls where a cell is missing), built without a row loop."""
    style = styles.of(kind)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype if len(dtype.categories) else object)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(series, type=pa.bool_(), from_pandas=True)
        vals = pc.if_else(arr, _s("1"), _s("0"))
        return _value_cells(letter, rows, vals, style, ' t="b"')
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        raw = series.to_numpy(dtype="datetime64[us]")
        missing = np.isnat(raw)
        serials = excel_serials(raw, date1904)
        cells = _value_cells(letter, rows, _number_strings(serials), styles.of("date"))
        out_of_range = np.isnan(serials) & ~missing
        if out_of_range.any():
            # Before Excel's first date: keep the value as ISO text rather than lose it.
            iso = series.astype(str).to_numpy(dtype=object)
            iso[~out_of_range] = None
            texts = pa.array(iso, _LS)
            cells = pc.if_else(
                pa.array(out_of_range), _string_cells(letter, rows, texts, styles.of("text")), cells
            )
        return cells
    if pd.api.types.is_timedelta64_dtype(dtype):
        days = series.to_numpy(dtype="timedelta64[us]") / np.timedelta64(1, "D")
        return _value_cells(letter, rows, _number_strings(np.asarray(days, dtype=float)), style)
    if pd.api.types.is_numeric_dtype(dtype):
        num_style = 0 if kind in ("text", "flag") else style
        return _value_cells(
            letter, rows, _number_strings(pa.array(series, from_pandas=True)), num_style
        )
    strings = _to_arrow_strings(series)
    if strings is not None:
        return _string_cells(letter, rows, strings, style)
    # Mixed object column: per-value dispatch. Rare (a column whose values differ in type).
    refs = [f"{letter}{first_row + i}" for i in range(len(series))]
    cells = [
        value_cell(r, v, kind, styles, date1904)
        for r, v in zip(refs, series.to_numpy(dtype=object), strict=True)
    ]
    return pa.array([c or None for c in cells], _LS)


def _buffer_bytes(arr: pa.Array) -> memoryview:
    """The concatenated UTF-8 of a large_string array without nulls, without copying it."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    if data_buf is None:
        return memoryview(b"")
    return memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])]


# ---------------------------------------------------------------------------------------------
# Column widths


def _text_width(values: pd.Series) -> float:
    strings = _to_arrow_strings(values)
    if strings is None or len(strings) == 0:
        return 0.0
    longest = pc.max(pc.utf8_length(strings)).as_py()
    return float(longest or 0)


def _column_width(header: str, series: pd.Series, kind: str) -> float:
    # Header text plus room for the filter button; content estimated from its longest value.
    chars = len(header) + 3.0
    dtype = series.dtype
    if len(series):
        if pd.api.types.is_datetime64_any_dtype(dtype) or kind == "date":
            chars = max(chars, 10.0)
        elif pd.api.types.is_bool_dtype(dtype):
            chars = max(chars, 5.0)
        elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            if pd.api.types.is_timedelta64_dtype(dtype):
                nums = pd.Series(series.to_numpy(dtype="timedelta64[us]") / np.timedelta64(1, "D"))
            else:
                nums = series.astype("float64")
            finite = nums[np.isfinite(nums)]
            biggest = float(finite.abs().max()) if len(finite) else 0.0
            digits = len(f"{biggest:.0f}") if biggest < 1e15 else 15
            if kind == "money":
                digits += (digits - 1) // 3 + 3
            elif kind in ("percent",):
                digits = len(f"{biggest * 100:.0f}") + 3
            elif kind in ("number", "days"):
                digits += 3
            chars = max(chars, digits + 1.0)
        else:
            chars = max(chars, _text_width(series))
    return max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, chars + 1.0))


# ---------------------------------------------------------------------------------------------
# Worksheets


def unique_headers(columns: Sequence[object]) -> list[str]:
    """Header texts Excel accepts as table column names: non-empty, one line, unique."""
    out: list[str] = []
    seen: set[str] = set()
    for i, col in enumerate(columns):
        name = re.sub(r"[\x00-\x1f]+", " ", str(col)).strip() or f"Column{i + 1}"
        name = name[:255]
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate = f"{name}{n}"
            n += 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _sheet_view(tab_selected: bool, frozen: bool) -> str:
    sel = ' tabSelected="1"' if tab_selected else ""
    if not frozen:
        return f'<sheetViews><sheetView{sel} workbookViewId="0"/></sheetViews>'
    return (
        f'<sheetViews><sheetView{sel} workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        "</sheetView></sheetViews>"
    )


def _cols_xml(widths: Sequence[float]) -> str:
    if not widths:
        return ""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:.2f}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    return f"<cols>{cols}</cols>"


_SHEET_OPEN = f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
_PAGE_MARGINS = (
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
)


def table_ref(ncols: int, nrows: int) -> str:
    """The range a table covers: header plus data, at least one (empty) data row."""
    return f"A1:{col_letter(max(ncols, 1) - 1)}{max(nrows, 1) + 1}"


def table_sheet_chunks(
    table: SheetTable,
    headers: Sequence[str],
    styles: StyleIds,
    date1904: bool,
    table_rel_id: str | None,
    tab_selected: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """Worksheet XML for one list table, in chunks of UTF-8 bytes."""
    frame = table.frame
    ncols = len(frame.columns)
    nrows = len(frame)
    kinds = [table.kind_of(str(c)) for c in frame.columns]
    widths = [_column_width(h, frame.iloc[:, j], kinds[j]) for j, h in enumerate(headers)]
    dimension = table_ref(ncols, nrows) if ncols else "A1"
    head = (
        _XML_DECL
        + _SHEET_OPEN
        + f'<dimension ref="{dimension}"/>'
        + _sheet_view(tab_selected, frozen=True)
        + '<sheetFormatPr defaultRowHeight="15"/>'
        + _cols_xml(widths)
        + "<sheetData>"
    )
    if ncols:
        header_cells = "".join(
            inline_string_cell(f"{col_letter(j)}1", h, 0) for j, h in enumerate(headers)
        )
        head += f'<row r="1">{header_cells}</row>'
    yield head.encode("utf-8")
    letters = [col_letter(j) for j in range(ncols)]
    for start in range(0, nrows if ncols else 0, chunk_rows):
        stop = min(start + chunk_rows, nrows)
        first_row = start + 2
        rows = pc.cast(pa.array(np.arange(first_row, stop + 2, dtype=np.int64)), _LS)
        cells = []
        for j in range(ncols):
            col = column_cells(
                frame.iloc[start:stop, j],
                kinds[j],
                letters[j],
                rows,
                first_row,
                styles,
                date1904,
            )
            cells.append(pc.fill_null(col, _s("")))
        row_xml = _join('<row r="', rows, '">', *cells, "</row>")
        yield bytes(_buffer_bytes(row_xml))
    tail = "</sheetData>" + _PAGE_MARGINS
    if table_rel_id is not None:
        tail += f'<tableParts count="1"><tablePart r:id="{table_rel_id}"/></tableParts>'
    tail += "</worksheet>"
    yield tail.encode("utf-8")


def table_part_xml(table_id: int, name: str, headers: Sequence[str], nrows: int) -> bytes:
    ref = table_ref(len(headers), nrows)
    columns = "".join(
        f'<tableColumn id="{i}" name="{xml_attr(h)}"/>' for i, h in enumerate(headers, start=1)
    )
    return (
        _XML_DECL + f'<table xmlns="{MAIN_NS}" id="{table_id}" name="{xml_attr(name)}" '
        f'displayName="{xml_attr(name)}" ref="{ref}" totalsRowShown="0">'
        f'<autoFilter ref="{ref}"/>'
        f'<tableColumns count="{len(headers)}">{columns}</tableColumns>'
        '<tableStyleInfo name="TableStyleMedium2" showFirstColumn="0" showLastColumn="0" '
        'showRowStripes="1" showColumnStripes="0"/>'
        "</table>"
    ).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# The Summary sheet


@dataclass(frozen=True)
class BlockLayout:
    """Where a block landed: 1-based rows of its header and data, 0-based column per header."""

    header_row: int
    first_row: int
    last_row: int  # == header_row when the block has no rows
    columns: Mapping[str, int]


@dataclass(frozen=True)
class SummaryLayout:
    blocks: Mapping[str, BlockLayout]
    width: int  # columns the blocks use
    last_row: int


def summary_layout(summary: SummarySheet) -> SummaryLayout:
    """Where each block goes: a title row, a header row, its rows, then a blank row."""
    layouts: dict[str, BlockLayout] = {}
    row = 1
    for block in summary.blocks:
        header_row = row + 1
        last_row = header_row + len(block.frame)
        layouts[block.key] = BlockLayout(
            header_row=header_row,
            first_row=header_row + 1,
            last_row=last_row,
            columns={str(h): j for j, h in enumerate(block.frame.columns)},
        )
        row = last_row + 2
    width = max((len(b.frame.columns) for b in summary.blocks), default=0)
    return SummaryLayout(blocks=layouts, width=width, last_row=max(row - 2, 1))


def summary_sheet_xml(
    summary: SummarySheet,
    styles: StyleIds,
    date1904: bool,
    drawing_rel_id: str | None,
    tab_selected: bool = False,
) -> bytes:
    """The Summary sheet: each block as a bold title, a bold header and its rows."""
    layout = summary_layout(summary)
    rows_xml: list[str] = []
    widths: dict[int, float] = {}
    for block in summary.blocks:
        place = layout.blocks[block.key]
        frame = block.frame
        headers = [str(c) for c in frame.columns]
        title_row = place.header_row - 1
        title = inline_string_cell(f"A{title_row}", block.title, styles.bold)
        rows_xml.append(f'<row r="{title_row}">{title}</row>')
        # Titles may run over empty neighbours, so they count only a little for the width.
        widths[0] = max(widths.get(0, 0.0), min(len(block.title) * 0.6, 30.0))
        cells = "".join(
            inline_string_cell(f"{col_letter(j)}{place.header_row}", h, styles.bold)
            for j, h in enumerate(headers)
        )
        rows_xml.append(f'<row r="{place.header_row}">{cells}</row>')
        for j, h in enumerate(headers):
            widths[j] = max(widths.get(j, 0.0), len(h) + 2.0)
        values = frame.to_numpy(dtype=object)
        for i in range(len(frame)):
            row = place.first_row + i
            row_kind = block.row_kinds[i] if block.row_kinds and i < len(block.row_kinds) else None
            cells_list = []
            for j, h in enumerate(headers):
                kind = block.kinds.get(h, "text")
                if row_kind is not None and j > 0:
                    kind = row_kind
                value = values[i, j]
                if isinstance(value, float) and math.isnan(value):
                    value = None
                cells_list.append(
                    value_cell(f"{col_letter(j)}{row}", value, kind, styles, date1904)
                )
                widths[j] = max(widths.get(j, 0.0), _shown_length(value, kind) + 2.0)
            rows_xml.append(f'<row r="{row}">{"".join(cells_list)}</row>')
    col_widths = [
        max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, widths.get(j, 0.0)))
        for j in range(layout.width)
    ]
    xml = (
        _XML_DECL
        + _SHEET_OPEN
        + f'<dimension ref="A1:{col_letter(max(layout.width, 1) - 1)}{layout.last_row}"/>'
        + _sheet_view(tab_selected, frozen=False)
        + '<sheetFormatPr defaultRowHeight="15"/>'
        + _cols_xml(col_widths)
        + "<sheetData>"
        + "".join(rows_xml)
        + "</sheetData>"
        + _PAGE_MARGINS
        + (f'<drawing r:id="{drawing_rel_id}"/>' if drawing_rel_id else "")
        + "</worksheet>"
    )
    return xml.encode("utf-8")


def _shown_length(value: object, kind: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):
        return float(min(len(value), MAX_COLUMN_WIDTH))
    if isinstance(value, dt.date | dt.datetime | np.datetime64) or kind == "date":
        return 10.0
    if isinstance(value, Real) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            return 0.0
        if kind == "percent":
            return len(f"{number * 100:.1f}") + 1.0
        digits = len(f"{abs(number):.0f}") if abs(number) < 1e15 else 15
        if kind == "money":
            return digits + (digits - 1) // 3 + 4.0
        return digits + 3.0
    return float(min(len(str(value)), MAX_COLUMN_WIDTH))
