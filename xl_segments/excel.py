"""The xlwings side of xl-segments: formula helpers and the live-workbook Book for the macros.

Two halves, both thin over the engine:

* Formulas (``udfs.py`` calls these): one short error text instead of a traceback
  (:func:`safely`), a small cache so many formulas over the same unchanged orders range
  normalize and build once (:class:`SegmentsCache`), and engine tables turned into cells
  Excel can show (:func:`to_cells`).
* Macros (``macros.py`` uses this): :class:`XlwingsBook`, the ``refresh.Book`` of a workbook
  open in Excel. Everything it decides - number formats, which cells are text, where each
  Summary block goes - is a pure function (:func:`plan_table`, :func:`plan_summary`, ...)
  tested on its own; the class only carries the plan out with xlwings calls.

This and ``udfs.py`` are the only modules that import xlwings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import xlwings as xw

from xl_segments import sheets
from xl_segments.errors import (
    EmptyOrdersError,
    SegmentsError,
    SheetNotFoundError,
    WorkbookError,
)
from xl_segments.orders import Orders, TableLocator, normalize_orders
from xl_segments.refresh import OrdersInput
from xl_segments.report import (
    channel_table,
    churn_risk_table,
    monthly_churn_table,
    pareto_table,
    repeat_table,
    top_spenders_table,
)
from xl_segments.segments import Segments, build_segments
from xl_segments.settings import (
    DEFAULTS,
    SETTING_SPECS,
    SETTING_SPECS_BY_NAME,
    Settings,
    normalize_email,
)
from xl_segments.tables import Block, Chart, ColumnKind, Report, SheetTable, SummarySheet

log = logging.getLogger(__name__)

T = TypeVar("T")

CATEGORY = "xl-segments"
ERROR_PREFIX = "#xl-segments: "
# A cell answer should stay readable; Excel itself would take up to 32,767 characters.
ERROR_LIMIT = 255

Cells = list[list[Any]]


class ArgumentError(SegmentsError):
    """A formula argument cannot be used: wrong kind of value, unknown customer..."""


class ListUnavailableError(SegmentsError):
    """The orders cannot give this list (no channel column, no repeat purchases...)."""


# --------------------------------------------------------------------------- error text


def error_text(message: str) -> str:
    """A user-facing message as one cell text: '#xl-segments: column "Order Date" missing...'."""
    text = " ".join(str(message).split())
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    text = ERROR_PREFIX + text
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def safely(fn: Callable[[], T]) -> T | str:
    """Run a formula body; a refusal or a crash becomes one short cell text, never a traceback.

    SegmentsError (bad orders, bad settings, bad arguments) carries a message meant for the
    user. Anything else is a bug: the cell says so briefly and the traceback goes to the log.
    """
    try:
        return fn()
    except SegmentsError as exc:
        return error_text(str(exc))
    except Exception as exc:
        log.exception("xl-segments formula failed")
        return error_text(f"unexpected error: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the cache


def content_key(frame: pd.DataFrame) -> str | None:
    """A digest of everything in an orders range: headers, dtypes and every value.

    Equal content gives an equal key; any changed cell, header or value type gives another.
    None when the values cannot be hashed (then nothing is cached).
    """
    digest = hashlib.blake2b(digest_size=20)
    header = (tuple(str(c) for c in frame.columns), tuple(str(d) for d in frame.dtypes))
    digest.update(repr((header, frame.shape)).encode())
    try:
        for position in range(len(frame.columns)):
            digest.update(column_digest(frame.iloc[:, position]))
    except (TypeError, ValueError, pa.ArrowException):
        return None
    return digest.hexdigest()


def column_digest(column: pd.Series) -> bytes:
    """A digest of one column's values, as cheap as its storage allows.

    numpy numbers and dates: their bytes. Arrow-backed text (pandas' default str): the
    Arrow buffers with offset and length, which pin the values down exactly. Anything else
    through pandas' hashing, which hashes object values by their text (1.0 and "1.0"
    collide), so the type of each object value is hashed too.
    """
    digest = hashlib.blake2b(digest_size=20)
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iufbMm":
        digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    elif getattr(dtype, "storage", None) == "pyarrow":
        array = pa.array(column)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        digest.update(repr((array.offset, len(array), array.null_count)).encode())
        for buffer in array.buffers():
            digest.update(b"-" if buffer is None else buffer)
    else:
        digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
        if pd.api.types.is_object_dtype(dtype):
            kinds = column.map(lambda v: type(v).__name__).to_numpy(dtype=object)
            digest.update(pd.util.hash_array(kinds).tobytes())
    return digest.digest()


# Settings that change what normalizing reads; the rest only change the lists.
READING_SETTINGS = ("date_format", "decimal_comma", "date_system_1904", "timezone")


def settings_key(settings: Settings, names: Iterable[str] | None = None) -> tuple[Any, ...]:
    """A hashable key of some settings (all by default)."""
    chosen = list(names) if names is not None else [f.name for f in fields(settings)]
    key: list[Any] = []
    for name in chosen:
        value = getattr(settings, name)
        if isinstance(value, Mapping):
            value = tuple(sorted(value.items()))
        key.append((name, value))
    if names is not None:
        key.append(("column_mapping", tuple(sorted(settings.column_mapping.items()))))
    return tuple(key)


class CacheInfo(NamedTuple):
    normalized: int  # orders ranges normalized (cache misses on orders)
    built: int  # segments built
    hits: int  # calls answered from the cache without building anything
    entries: int  # segments held now


class SegmentsCache:
    """Normalized orders and built segments for the last few orders ranges (a small LRU).

    Keyed on the range's content, so eight formulas over one unchanged ``Orders[#All]`` cost
    one normalize and one build: each later call only hashes the range and picks its list.
    Orders are kept per (content, reading settings) and segments per (content, all
    settings), so a formula with another top share reuses the normalized orders. Refusals
    (a SegmentsError) are kept too: a bad range is not re-read by every formula.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._orders: OrderedDict[Hashable, Orders | SegmentsError] = OrderedDict()
        self._segments: OrderedDict[Hashable, Segments | SegmentsError] = OrderedDict()
        self._lock = threading.RLock()
        self._normalized = self._built = self._hits = 0

    def segments(self, orders: Any, settings: Settings = DEFAULTS) -> Segments:
        """The segments of an orders range, built once per content and settings.

        `orders` is the range as xlwings hands it over unconverted (rows of values), or a
        DataFrame. Raw rows are hashed as they are and converted to a DataFrame by xlwings'
        own conversion code only on a miss, so a cache hit skips that conversion too.
        """
        key: Hashable | None
        if isinstance(orders, pd.DataFrame):
            key = content_key(orders)

            def frame() -> pd.DataFrame:
                return excel_frame(orders)
        else:
            key = raw_key(orders)

            def frame() -> pd.DataFrame:
                return excel_frame(frame_from_raw(orders))

        if key is None:
            return build_segments(
                normalize_orders(frame(), settings, locator=RANGE_LOCATOR), settings
            )
        with self._lock:
            segments_key = (key, settings_key(settings))
            cached = self._get(self._segments, segments_key)
            if cached is not None:
                self._hits += 1
                return _result(cached)
            orders_key = (key, settings_key(settings, READING_SETTINGS))
            normalized = self._get(self._orders, orders_key)
            if normalized is None:
                self._normalized += 1
                normalized = _attempt(
                    lambda: normalize_orders(frame(), settings, locator=RANGE_LOCATOR)
                )
                self._put(self._orders, orders_key, normalized)
            if isinstance(normalized, SegmentsError):
                self._put(self._segments, segments_key, normalized)
                return _result(normalized)
            built_from = normalized
            self._built += 1
            segments = _attempt(lambda: build_segments(built_from, settings))
            self._put(self._segments, segments_key, segments)
            return _result(segments)

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._normalized, self._built, self._hits, len(self._segments))

    def clear(self) -> None:
        with self._lock:
            self._orders.clear()
            self._segments.clear()
            self._normalized = self._built = self._hits = 0

    def _get(self, store: OrderedDict[Hashable, Any], key: Hashable) -> Any:
        if key in store:
            store.move_to_end(key)
            return store[key]
        return None

    def _put(self, store: OrderedDict[Hashable, Any], key: Hashable, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.size:
            store.popitem(last=False)


def _attempt(build: Callable[[], T]) -> T | SegmentsError:
    """Build quietly (notes are for the Summary sheet, not the formula log); keep refusals."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            return build()
    except SegmentsError as exc:
        return exc


def _result(value: T | SegmentsError) -> T:
    if isinstance(value, SegmentsError):
        raise value.with_traceback(None)
    return value


CACHE = SegmentsCache()


@dataclass(frozen=True)
class RangeLocator:
    """Names a cell of a formula's orders range by its place in the range (row 1: header).

    A formula gets the range's values, not its address; for Orders[#All] on a sheet that
    starts in A1 the range row is also the sheet row.
    """

    def cell(self, position: int, column_position: int) -> str:
        return f"row {position + 2} of the orders range"


RANGE_LOCATOR = RangeLocator()


def excel_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """An orders range as xlwings read it, made ready for the normalizer.

    pywin32 hands currency-formatted cells over as decimal.Decimal; they become floats.
    The input frame is not changed.
    """
    out = frame
    for position, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_object_dtype(dtype):
            continue
        column = frame.iloc[:, position]
        if not column.map(lambda v: isinstance(v, decimal.Decimal)).any():
            continue
        if out is frame:
            out = frame.copy()
        floats = column.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v)
        out.isetitem(position, floats.to_numpy(dtype=object))
    return out


# --------------------------------------------------------------------------- arguments


# How the formulas read an orders range: a DataFrame with a header row, Excel errors as text
# ("#N/A"), so an error cell is named in a message rather than read as a blank.
ORDERS_OPTIONS: dict[str, Any] = {
    "convert": pd.DataFrame,
    "index": False,
    "header": True,
    "err_to_str": True,
}


def raw_key(rows: Any) -> Hashable | None:
    """A key for a raw orders range (rows of cell values) from Python's own tuple hash.

    Hashing the rows runs in C (about 0.05 s for 100,000 x 8 cells) where pickling them
    costs ten times more. Python treats TRUE and 1 as equal, so a cell changed from one to
    the other alone keeps the earlier result; neither is a valid orders value in any column.
    """
    try:
        if not isinstance(rows, tuple):
            rows = tuple(tuple(r) if isinstance(r, (list, tuple)) else r for r in rows)
        return ("raw", len(rows), hash(rows))
    except TypeError:  # an unhashable value: just do not cache
        return None


def frame_from_raw(rows: Any) -> pd.DataFrame:
    """A raw orders range converted exactly as an `@xw.arg(pd.DataFrame, ...)` argument is."""
    if not isinstance(rows, (list, tuple)):
        raise ArgumentError(
            "the first argument must be the orders range with its header row, e.g. Orders[#All]"
        )
    return xw.conversion.read(None, rows, dict(ORDERS_OPTIONS))


def orders_frame(orders: Any) -> Any:
    """The orders argument: raw rows from xlwings, or a DataFrame (from Python callers)."""
    if isinstance(orders, (pd.DataFrame, list, tuple)):
        return orders
    raise ArgumentError(
        "the first argument must be the orders range with its header row, e.g. Orders[#All]"
    )


def udf_settings(**values: Any) -> Settings:
    """Settings from formula arguments; None or a blank cell keeps the engine default."""
    return Settings.from_values({k: v for k, v in values.items() if v is not None})


def _churn_settings(as_of: Any, multiplier: Any) -> Settings:
    settings = udf_settings(as_of=as_of)
    if multiplier is None or (isinstance(multiplier, str) and not multiplier.strip()):
        return settings
    at_risk = SETTING_SPECS_BY_NAME["churn_multiplier"].coerce(multiplier)
    # The formula has no lapsed multiplier; a higher at-risk multiplier lifts it along.
    return settings.replace(
        churn_multiplier=at_risk, lapsed_multiplier=max(DEFAULTS.lapsed_multiplier, at_risk)
    )


def _segments(orders: Any, settings: Settings = DEFAULTS) -> Segments:
    return CACHE.segments(orders_frame(orders), settings)


# --------------------------------------------------------------------------- values to cells


def excel_value(value: Any) -> Any:
    """One value as a cell gets it: datetimes for dates, None (blank) for missing, plain types."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return None
        return stamp.tz_localize(None).to_pydatetime() if stamp.tzinfo else stamp.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _column_values(column: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = column.dt.tz_localize(None) if column.dt.tz is not None else column
        return [None if pd.isna(v) else v for v in stamps.dt.to_pydatetime().tolist()]
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return column.tolist()  # numpy ints and bools: Python ints and bools, never missing
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]  # NaN != NaN
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return column.astype(object).where(column.notna(), None).tolist()
    return [excel_value(v) for v in column.tolist()]


def to_cells(frame: pd.DataFrame, header: bool = True) -> Cells:
    """A table as rows of cell values, header row first: what a formula spills."""
    columns = [_column_values(frame.iloc[:, i]) for i in range(len(frame.columns))]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    if header:
        rows.insert(0, [str(c) for c in frame.columns])
    return rows


# --------------------------------------------------------------------------- formulas

NO_CHANNEL = (
    "the orders have no channel column (Channel, Source or UTM Source), so there are no "
    "channel figures"
)
NO_REPEAT = (
    "no customer bought on two different days, so there is no average time between purchases"
)


def top_spenders(orders: Any, top_share: Any = None, as_of: Any = None) -> Cells:
    """TOP_SPENDERS: the Top Spenders list as the sheet shows it."""
    segments = _segments(orders, udf_settings(top_share=top_share, as_of=as_of))
    return to_cells(top_spenders_table(segments).frame)


def pareto(orders: Any, revenue_share: Any = None) -> Cells:
    """PARETO: the Pareto summary, Figure / Value."""
    segments = _segments(orders, udf_settings(revenue_share=revenue_share))
    return to_cells(pareto_table(segments))


def customer_ltv(orders: Any, customer: Any) -> float:
    """CUSTOMER_LTV: one customer's lifetime value (net of refunds), by id or email."""
    customers = _segments(orders).customers.frame
    return float(customers["lifetime_value"].iloc[find_customer(customers, customer)])


def find_customer(customers: pd.DataFrame, customer: Any) -> int:
    """Row of a customer named by customer id (exact, then ignoring case) or email."""
    text = _customer_text(customer)
    if not text:
        raise ArgumentError("give a customer id or email as the second argument")
    folded = normalize_email(text)
    candidates = (
        ("customer_id", text, False),
        ("customer_key", text, False),
        ("customer_id", folded, True),
        ("email_key", folded, False),
        ("customer_key", folded, True),
    )
    for column, wanted, fold in candidates:
        values = customers[column].astype(object)
        if fold:
            values = values.map(normalize_email, na_action="ignore")
        hits = np.flatnonzero(values.eq(wanted).fillna(False).to_numpy(dtype=bool))
        if len(hits):
            return int(hits[0])
    raise ArgumentError(f'there is no customer "{text}" (by customer id or email) in the orders')


def _customer_text(value: Any) -> str:
    value = excel_value(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def channel_performance(orders: Any, rank_by: Any = None, min_customers: Any = None) -> Cells:
    """CHANNEL_PERFORMANCE: figures per acquisition channel, ranked."""
    settings = udf_settings(rank_channels_by=rank_by, min_channel_customers=min_customers)
    table = channel_table(_segments(orders, settings))
    if table is None:
        raise ListUnavailableError(NO_CHANNEL)
    return to_cells(table.frame)


def repeat_customers(orders: Any, channel: Any = None) -> Cells:
    """REPEAT_CUSTOMERS: repeat buyers from the top channels, or from one channel."""
    name = _customer_text(channel) or None
    table = repeat_table(_segments(orders, udf_settings(repeat_channel=name)))
    if table is None:
        raise ListUnavailableError(NO_CHANNEL)
    return to_cells(table.frame)


def avg_days_between_purchases(orders: Any) -> float:
    """AVG_DAYS_BETWEEN_PURCHASES: the store's typical days between purchases."""
    gap = _segments(orders).store_gap
    if gap is None:
        raise ListUnavailableError(NO_REPEAT)
    return gap


def churn_risk(orders: Any, as_of: Any = None, multiplier: Any = None) -> Cells:
    """CHURN_RISK: customers at risk or lapsed, most valuable first."""
    table = churn_risk_table(_segments(orders, _churn_settings(as_of, multiplier)))
    if table is None:
        raise ListUnavailableError(NO_REPEAT)
    return to_cells(table.frame)


def monthly_churn(orders: Any) -> Cells:
    """MONTHLY_CHURN: active, new, returning, reactivated and churned customers per month."""
    table = monthly_churn_table(_segments(orders))
    if table is None:
        raise ListUnavailableError(NO_REPEAT)
    return to_cells(table.frame)


# --------------------------------------------------------------------------- writing plans

TEXT_FORMAT = "@"
NUMBER_FORMATS: dict[str, str] = {
    "text": TEXT_FORMAT,
    "flag": TEXT_FORMAT,
    "integer": "0",
    "number": "0.00",
    "money": "#,##0.00",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "days": "0.0",
}


def number_format(kind: ColumnKind | str) -> str:
    """The Excel number format of a column kind (the file writer uses the same codes)."""
    return NUMBER_FORMATS.get(kind, "General")


def is_text_kind(kind: ColumnKind | str) -> bool:
    return number_format(kind) == TEXT_FORMAT


def cell_for_kind(value: Any, kind: ColumnKind | str) -> Any:
    """A value for a cell of a kind, safe to assign to Range.value.

    Excel parses text assigned to a cell as if typed: "=A1" becomes a formula and "00123" a
    number, unless the cell is formatted as text first. Text kinds are formatted "@" before
    writing (see the plans); a stray text value in a number column gets Excel's text prefix
    (an apostrophe), which Excel stores as a flag, not as part of the text.
    """
    value = excel_value(value)
    if isinstance(value, str) and not is_text_kind(kind) and value:
        return "'" + value
    return value


@dataclass(frozen=True)
class Area:
    """A rectangle of cells, 1-based and inclusive."""

    top: int
    left: int
    bottom: int
    right: int


@dataclass(frozen=True)
class Step:
    """One thing to do on a sheet, in order.

    format: set the number format of the area (always before values land in it).
    values: write rows of values with their top-left cell at the area's corner.
    bold: make the area bold. table: turn the area into an Excel table named `name`.
    chart: draw `chart` from `sources` (header + data areas, one per column of the chart).
    """

    action: Literal["format", "values", "bold", "table", "chart"]
    area: Area
    number_format: str = ""
    rows: Cells | None = None
    name: str = ""
    chart: Chart | None = None
    sources: tuple[Area, ...] = ()


def plan_table(table: SheetTable) -> list[Step]:
    """How a list sheet is written: formats first, then the values, then the Excel table."""
    frame = table.frame
    width = max(len(frame.columns), 1)
    last = len(frame) + 1
    steps = [Step("format", Area(1, 1, 1, width), TEXT_FORMAT)]
    for j, column in enumerate(frame.columns, start=1):
        if len(frame):
            steps.append(Step("format", Area(2, j, last, j), number_format(table.kind_of(column))))
    rows = [[str(c) for c in frame.columns]]
    columns = [
        [cell_for_kind(v, table.kind_of(c)) for v in _column_values(frame[c])]
        for c in frame.columns
    ]
    rows += [list(r) for r in zip(*columns, strict=True)] if columns else []
    steps.append(Step("values", Area(1, 1, last, width), rows=rows))
    # An Excel table needs a data row; an empty list gets one blank row.
    steps.append(Step("table", Area(1, 1, max(last, 2), width), name=table.table_name))
    return steps


@dataclass(frozen=True)
class BlockPlace:
    """Where a Summary block lands: its header row, data rows and column per header."""

    title_row: int
    header_row: int
    first_row: int
    last_row: int  # == header_row when the block has no rows
    columns: Mapping[str, int]  # header -> 1-based column

    def column_area(self, header: str, with_header: bool = True) -> Area:
        column = self.columns[header]
        top = self.header_row if with_header else self.first_row
        return Area(top, column, max(self.last_row, top), column)


CHART_WIDTH = 480.0  # points
CHART_HEIGHT = 270.0
CHART_GAP_ROWS = 2
CHART_ROWS = 18  # rows a chart covers at the default row height


def place_blocks(summary: SummarySheet) -> dict[str, BlockPlace]:
    """The Summary layout of the file writer (one layout for both, so they never drift)."""
    from xl_segments.workbook.sheetxml import summary_layout

    return {
        key: BlockPlace(
            title_row=layout.header_row - 1,
            header_row=layout.header_row,
            first_row=layout.first_row,
            last_row=layout.last_row,
            # The file writer counts columns from 0, cells here from 1.
            columns={header: j + 1 for header, j in layout.columns.items()},
        )
        for key, layout in summary_layout(summary).blocks.items()
    }


def block_kind(block: Block, row: int, column: int) -> ColumnKind:
    """The kind of one value cell of a block (0-based row and column)."""
    if block.row_kinds is not None and column > 0 and row < len(block.row_kinds):
        return block.row_kinds[row]
    return block.kinds.get(str(block.frame.columns[column]), "text")


def plan_summary(summary: SummarySheet) -> list[Step]:
    """How the Summary sheet is written: blocks top to bottom, charts to their right."""
    places = place_blocks(summary)
    steps: list[Step] = []
    width = 1
    for block in summary.blocks:
        place = places[block.key]
        frame = block.frame
        columns = len(frame.columns)
        width = max(width, columns)
        steps.append(
            Step("format", Area(place.title_row, 1, place.header_row, max(columns, 1)), TEXT_FORMAT)
        )
        values = frame.to_numpy(dtype=object)
        for j in range(columns):
            kinds = [block_kind(block, i, j) for i in range(len(frame))]
            for i, kind in enumerate(kinds):
                # Runs of the same kind share one format call.
                if i == 0 or kinds[i - 1] != kind:
                    end = i
                    while end + 1 < len(kinds) and kinds[end + 1] == kind:
                        end += 1
                    row = place.first_row + i
                    steps.append(
                        Step(
                            "format",
                            Area(row, j + 1, place.first_row + end, j + 1),
                            number_format(kind),
                        )
                    )
        rows: Cells = [[block.title], [str(c) for c in frame.columns]]
        rows += [
            [cell_for_kind(values[i, j], block_kind(block, i, j)) for j in range(columns)]
            for i in range(len(frame))
        ]
        steps.append(
            Step("values", Area(place.title_row, 1, place.last_row, max(columns, 1)), rows=rows)
        )
        steps.append(Step("bold", Area(place.title_row, 1, place.title_row, 1)))
        steps.append(Step("bold", Area(place.header_row, 1, place.header_row, max(columns, 1))))
    chart_column = width + 2
    chart_row = 1
    for chart in summary.charts:
        found = places.get(chart.block)
        headers = (chart.x_column, *chart.y_columns)
        if found is None or any(h not in found.columns for h in headers):
            continue
        sources = tuple(found.column_area(h) for h in headers)
        steps.append(
            Step(
                "chart",
                Area(chart_row, chart_column, chart_row + CHART_ROWS - 1, chart_column),
                chart=chart,
                sources=sources,
            )
        )
        chart_row += CHART_ROWS + CHART_GAP_ROWS
    return steps


def insert_after(existing: Sequence[str], new_sheet: str) -> str | None:
    """Which sheet a new list sheet goes after: the list sheet before it, else the last."""
    if not existing:
        return None
    order = sheets.LIST_SHEETS
    if new_sheet in order:
        earlier = order[: order.index(new_sheet)]
        present = [s for s in existing if s in earlier]
        if present:
            return present[-1]
    return existing[-1]


# --------------------------------------------------------------------------- reading helpers


def settings_from_cells(cells: Mapping[str, Any]) -> dict[str, Any]:
    """Setting values from the book's defined names (xls_<setting>), keyed by setting name."""
    wanted = {spec.cell_name.casefold(): spec.name for spec in SETTING_SPECS}
    values: dict[str, Any] = {}
    for name, value in cells.items():
        setting = wanted.get(name.rsplit("!", 1)[-1].casefold())
        if setting is None:
            continue
        if isinstance(value, list) and SETTING_SPECS_BY_NAME[setting].kind != "emails":
            value = next((v for v in _flatten(value) if v is not None), None)
        values[setting] = excel_value(value) if not isinstance(value, list) else value
    return values


def suppression_from_values(values: Any) -> list[str]:
    """Emails in the first column of a Suppression sheet (a header such as Email is skipped)."""
    if not isinstance(values, list):
        values = [values]
    emails = []
    for row in values:
        first = row[0] if isinstance(row, list) and row else row
        if not isinstance(first, str) or not first.strip():
            continue
        text = first.strip()
        if "@" not in text and text.casefold().replace("-", "") in ("email", "emails"):
            continue
        emails.append(text)
    return emails


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def folder_of_workbook(fullname: str) -> Path:
    """The folder a saved workbook is in (for exports next to it)."""
    if fullname.casefold().startswith(("http://", "https://")):
        raise WorkbookError(
            "The workbook is stored online (OneDrive or SharePoint); save a copy on this "
            "computer to export the contact lists next to it."
        )
    for flavour in (PureWindowsPath, PurePosixPath):
        path = flavour(fullname)
        if path.is_absolute():
            return Path(str(path.parent))
    raise WorkbookError("Save the workbook first: the contact lists are written next to it.")


def orders_locator(sheet: str, header_row: int, first_column: int) -> TableLocator:
    """Names cells of an orders range whose header row and first column are given (1-based)."""
    return TableLocator(sheet=sheet, first_data_row=header_row + 1, first_column=first_column)


# --------------------------------------------------------------------------- the live book


class XlwingsBook:
    """A workbook open in Excel as a refresh Book (the ribbon macros' side of refresh_book).

    Reads the Orders table (an Excel table named Orders, else the Orders sheet), the
    Settings sheet's named cells and the Suppression sheet; writes each list sheet and the
    Summary, never touching other sheets. This needs Excel and cannot run in CI: keep it
    a thin executor of the tested plans above.
    """

    def __init__(self, book: xw.Book) -> None:
        self.book = book

    # reading -----------------------------------------------------------------------------

    def read_orders(self) -> OrdersInput:
        sheet_name, rng = self._orders_range()
        frame = rng.options(pd.DataFrame, index=False, header=True, err_to_str=True).value
        if not isinstance(frame, pd.DataFrame) or not len(frame.columns):
            raise EmptyOrdersError(
                f'The sheet "{sheet_name}" has no orders table: put a header row (Order Date, '
                "Amount, Customer ID or Email...) and your orders below it."
            )
        locator = orders_locator(sheet_name, rng.row, rng.column)
        return OrdersInput(excel_frame(frame), locator, self._date_system_1904())

    def _orders_range(self) -> tuple[str, Any]:
        for sheet in self.book.sheets:
            for table in _tables_of(sheet):
                if str(table.name).casefold() == sheets.ORDERS_TABLE.casefold():
                    return sheet.name, table.range
        names = [s.name for s in self.book.sheets]
        for sheet in self.book.sheets:
            if sheet.name.casefold() == sheets.ORDERS_SHEET.casefold():
                return sheet.name, sheet.used_range
        raise SheetNotFoundError(
            f'No "{sheets.ORDERS_TABLE}" table or "{sheets.ORDERS_SHEET}" sheet in this '
            f"workbook (sheets: {', '.join(names)})."
        )

    def _date_system_1904(self) -> bool:
        for read in (lambda: self.book.api.Date1904, lambda: self.book.api.date_1904.get()):
            try:
                return bool(read())
            except Exception:
                continue
        return False

    def read_settings(self) -> Mapping[str, Any]:
        cells: dict[str, Any] = {}
        for name in _safe_list(lambda: self.book.names):
            try:
                short = str(name.name).rsplit("!", 1)[-1]
                if short.casefold().startswith("xls_"):
                    cells[short] = name.refers_to_range.value
            except Exception:  # a name that refers to no cells (a constant, #REF!)
                log.debug("setting name %r skipped", name, exc_info=True)
        return settings_from_cells(cells)

    def read_suppression(self) -> list[str]:
        sheet = self._sheet(sheets.SUPPRESSION_SHEET)
        if sheet is None:
            return []
        used = sheet.used_range
        column = sheet.range((1, 1), (used.last_cell.row, 1))
        return suppression_from_values(column.options(ndim=2).value)

    # writing -----------------------------------------------------------------------------

    def write_report(self, report: Report) -> None:
        app = self.book.app
        updating = _try(lambda: app.screen_updating, True)
        _try(lambda: setattr(app, "screen_updating", False))
        try:
            self._write_sheet(sheets.SUMMARY_SHEET, plan_summary(report.summary))
            for table in report.tables:
                self._write_sheet(table.sheet, plan_table(table))
        finally:
            _try(lambda: setattr(app, "screen_updating", updating))

    def _write_sheet(self, name: str, steps: Sequence[Step]) -> None:
        sheet = self._fresh_sheet(name)
        for step in steps:
            self._apply(sheet, step)
        _try(lambda: sheet.autofit("columns"))

    def _fresh_sheet(self, name: str) -> Any:
        sheet = self._sheet(name)
        if sheet is None:
            existing = [s.name for s in self.book.sheets]
            after = insert_after(existing, name)
            if after is None:
                return self.book.sheets.add(name)
            return self.book.sheets.add(name, after=self.book.sheets[after])
        for chart in _safe_list(lambda: sheet.charts):
            chart.delete()
        for table in _tables_of(sheet):
            table.delete()
        sheet.clear()
        return sheet

    def _apply(self, sheet: Any, step: Step) -> None:
        a = step.area
        rng = sheet.range((a.top, a.left), (a.bottom, a.right))
        if step.action == "format":
            rng.number_format = step.number_format
        elif step.action == "values":
            sheet.range((a.top, a.left)).value = step.rows
        elif step.action == "bold":
            rng.font.bold = True
        elif step.action == "table":
            try:
                sheet.tables.add(source=rng, name=step.name)
            except Exception:  # the name is taken elsewhere in the book: keep Excel's name
                log.warning("table name %s unavailable", step.name, exc_info=True)
                sheet.tables.add(source=rng)
        elif step.action == "chart" and step.chart is not None:
            _try(lambda: self._draw_chart(sheet, step))

    def _draw_chart(self, sheet: Any, step: Step) -> None:
        """Charts through xlwings' chart API; the bar+line combination needs xlwings 0.37.5+."""
        chart_spec = step.chart
        assert chart_spec is not None
        corner = sheet.range((step.area.top, step.area.left))
        first, last = step.sources[0], step.sources[-1]
        source = sheet.range((first.top, first.left), (last.bottom, last.right))
        chart = sheet.charts.add(corner.left, corner.top, CHART_WIDTH, CHART_HEIGHT)
        chart.set_source_data(source)
        if chart_spec.kind == "scatter":
            chart.chart_type = "xy_scatter_lines_no_markers"
        else:
            chart.chart_type = "column_clustered"
            _try(lambda: _secondary_line(chart))
        _try(lambda: setattr(chart, "title", chart_spec.title))

    def _sheet(self, name: str) -> Any:
        for sheet in self.book.sheets:
            if sheet.name.casefold() == name.casefold():
                return sheet
        return None

    # for the macros ----------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return folder_of_workbook(str(self.book.fullname))

    def activate_sheet(self, name: str) -> None:
        sheet = self._sheet(name)
        if sheet is None:
            names = ", ".join(s.name for s in self.book.sheets)
            raise SheetNotFoundError(f'There is no "{name}" sheet in this workbook ({names}).')
        sheet.activate()

    def alert(self, message: str, critical: bool = True) -> None:
        self.book.app.alert(message, title="xl-segments", mode="critical" if critical else "info")


def _secondary_line(chart: Any) -> None:
    series = chart.series[1]
    series.chart_type = "line"
    series.axis_group = "secondary"


def _tables_of(sheet: Any) -> list[Any]:
    return _safe_list(lambda: sheet.tables)


def _safe_list(get: Callable[[], Any]) -> list[Any]:
    """A collection as a list; empty when this Excel or platform does not offer it."""
    try:
        return list(get())
    except Exception:
        log.debug("collection unavailable", exc_info=True)
        return []


def _try(action: Callable[[], T], default: Any = None) -> Any:
    """Cosmetics (autofit, screen updating, charts) never fail a refresh."""
    try:
        return action()
    except Exception:
        log.debug("cosmetic step failed", exc_info=True)
        return default


__all__ = [
    "CACHE",
    "CATEGORY",
    "ArgumentError",
    "ListUnavailableError",
    "SegmentsCache",
    "XlwingsBook",
    "error_text",
    "safely",
    "to_cells",
]
