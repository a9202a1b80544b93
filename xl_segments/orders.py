"""Turn any orders table (a sheet, a Shopify or WooCommerce export, a CSV) into clean orders.

Transforms rows as the user has them into one row per order: order_id, customer_key,
customer_id, email, email_key, name, order_date, amount (net), channel, consent, row.
Header aliases, Excel date serials, money written as text, refunds, line items, duplicates
and blanks are dealt with here and only here.
"""

from __future__ import annotations

import string
import warnings
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from xl_segments.columns import FIELD_LABELS, OPTIONAL_FIELDS, ColumnMatch, match_columns
from xl_segments.errors import (
    AmbiguousColumnError,
    AmbiguousDateError,
    BadValueError,
    ConflictingOrderError,
    EmptyOrdersError,
)
from xl_segments.settings import DEFAULTS, Settings
from xl_segments.values import (
    Parsed,
    _AmbiguousDates,
    blank_mask,
    clean_ids,
    clean_text,
    email_keys,
    excel_error_mask,
    parse_amounts,
    parse_consent,
    parse_dates,
    rows_with_byte,
)

# Order statuses that never became a sale (Shopify financial status, WooCommerce status).
NOT_SOLD_STATUSES = frozenset(
    {
        "voided",
        "void",
        "cancelled",
        "canceled",
        "failed",
        "pending",
        "on-hold",
        "onhold",
        "on_hold",
        "draft",
        "checkout-draft",
        "trash",
        "expired",
        "abandoned",
        "pending_payment",
        "pending-payment",
        "pendingpayment",
    }
)
REFUNDED_STATUSES = frozenset({"refunded", "fully_refunded", "fully-refunded"})
PARTLY_REFUNDED_STATUSES = frozenset({"partially_refunded", "partially-refunded", "partial_refund"})
KNOWN_SOLD_STATUSES = frozenset(
    {
        "paid",
        "partially_paid",
        "partially-paid",
        "authorized",
        "completed",
        "complete",
        "processing",
        "shipped",
        "delivered",
        "fulfilled",
        "success",
        "succeeded",
        "settled",
    }
)

ORDER_COLUMNS = (
    "order_id",
    "customer_key",
    "customer_id",
    "email",
    "email_key",
    "name",
    "order_date",
    "amount",
    "channel",
    "consent",
    "row",
)


class Locator(Protocol):
    """Names a cell for error messages: position in the table and column position."""

    def cell(self, position: int, column_position: int) -> str: ...


@dataclass(frozen=True)
class TableLocator:
    """A table whose header is in `first_data_row - 1`, on an optional sheet."""

    sheet: str | None = None
    first_data_row: int = 2
    first_column: int = 1

    def cell(self, position: int, column_position: int) -> str:
        column = column_letter(self.first_column + column_position)
        address = f"cell {column}{self.first_data_row + position}"
        return f'sheet "{self.sheet}", {address}' if self.sheet else address


def column_letter(number: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters


@dataclass(frozen=True)
class DataQuality:
    """What normalizing did to the rows, for the Summary sheet."""

    rows_read: int = 0
    blank_rows: int = 0
    duplicate_rows: int = 0
    line_item_rows_merged: int = 0
    not_sold_orders: Mapping[str, int] = field(default_factory=dict)
    refunded_orders: int = 0
    refund_rows: int = 0
    unrecognised_consent: int = 0
    orders_after_as_of: int = 0

    def lines(self) -> list[tuple[str, int]]:
        """(what happened, how many rows) for everything that was not a plain order row."""
        out = [
            ("Rows read", self.rows_read),
            ("Blank rows skipped", self.blank_rows),
            ("Exact duplicate rows dropped", self.duplicate_rows),
            ("Line-item rows merged into their order", self.line_item_rows_merged),
        ]
        for status, count in sorted(self.not_sold_orders.items()):
            out.append((f'Orders left out with status "{status}"', count))
        out += [
            ("Refunded orders (net amount reduced)", self.refunded_orders),
            ("Refund rows (negative amounts)", self.refund_rows),
            ("Consent values not recognised (treated as no consent)", self.unrecognised_consent),
            ("Orders after the as-of date left out", self.orders_after_as_of),
        ]
        return out


@dataclass(frozen=True)
class Orders:
    """Clean orders plus what we learned reading them."""

    frame: pd.DataFrame
    columns: ColumnMatch
    quality: DataQuality
    warnings: tuple[str, ...] = ()

    @property
    def has_channel(self) -> bool:
        return self.columns.has("channel")

    @property
    def has_consent(self) -> bool:
        return self.columns.has("consent")


def normalize_orders(
    raw: pd.DataFrame,
    settings: Settings = DEFAULTS,
    *,
    locator: Locator | None = None,
) -> Orders:
    """Clean, typed orders from a table as the user has it.

    Transforms rows of any export (headers matched by alias, values of any form) into one row
    per order with net amounts; raises a SegmentsError naming the cell for anything it cannot
    read.
    """
    locator = locator or TableLocator()
    headers = [str(h) if h is not None else "" for h in raw.columns]
    match = match_columns(headers, settings.column_mapping)
    frame = raw.copy()
    frame.columns = pd.RangeIndex(len(headers))
    frame.index = pd.RangeIndex(len(frame))
    _refuse_duplicate_headers(headers, match)
    notes: list[str] = list(match.notes)

    # Blank rows are skipped; exact duplicate rows are dropped and counted.
    blank_row = _blank_rows(frame)
    frame = frame[~blank_row]
    duplicated = _duplicated_rows(frame, [match.positions["order_date"], match.positions["amount"]])
    frame = frame[~duplicated]
    if frame.empty:
        raise EmptyOrdersError(
            "The orders table has no order rows"
            + (" (only blank rows)." if blank_row.any() else ".")
            + " Paste your orders below the header row."
        )

    def col(field_name: str) -> pd.Series:
        return frame[match.positions[field_name]]

    def fail(field_name: str, parsed_mask: np.ndarray, problem: str, hint: str = "") -> None:
        positions = np.flatnonzero(parsed_mask)
        if len(positions) == 0:
            return
        first = int(frame.index[positions[0]])
        where = locator.cell(first, match.positions[field_name])
        more = len(positions) - 1
        extra = f" ({more} more row{'s' if more != 1 else ''} in this column too)" if more else ""
        raise BadValueError(f"{_place(where, match.label(field_name))}: {problem}{extra}." + hint)

    def check_errors(field_name: str, errors: np.ndarray) -> None:
        if errors.any():
            pos = np.flatnonzero(errors)[0]
            value = str(col(field_name).iloc[pos]).strip()
            value = _COM_NAMES.get(value, value)
            fail(
                field_name,
                errors,
                f"holds the Excel error {value}; fix the formula or remove the row",
            )

    def check(field_name: str, parsed: Parsed, what: str) -> None:
        check_errors(field_name, parsed.error)
        if parsed.bad.any():
            pos = np.flatnonzero(parsed.bad)[0]
            raw_value = col(field_name).iloc[pos]
            # Quote the value to help find it, unless it is an email (never repeat one).
            shown = "" if "@" in str(raw_value) else f' "{_short(raw_value)}"'
            fail(field_name, parsed.bad, f"the value{shown} is not {what}", parsed.hint)

    # An error value in any column we read stops the refresh: #N/A in Customer ID must not
    # quietly turn into "no id" (and move the order to another customer).
    # (The refunded amount is parsed as an amount below, which names its error cells too.)
    for field_name in OPTIONAL_FIELDS:
        if field_name != "refunded_amount" and match.has(field_name):
            check_errors(field_name, excel_error_mask(col(field_name)))

    # Dates and amounts: required, parsed strictly.
    try:
        dates = parse_dates(
            col("order_date"),
            date_format=settings.date_format,
            date_system_1904=settings.date_system_1904,
            timezone=settings.timezone,
        )
    except _AmbiguousDates as ambiguous:
        texts = col("order_date").astype(str).str.strip()
        pos = int(np.flatnonzero((texts == ambiguous.example).to_numpy())[0])
        where = locator.cell(int(frame.index[pos]), match.positions["order_date"])
        raise AmbiguousDateError(
            f"{_place(where, match.label('order_date'))}: the date "
            f'"{ambiguous.example}" could be day/month or month/day. Set "Date format of text '
            'dates" (on the Settings sheet, or --date-format on the command line) to %d/%m/%Y '
            "(day first) or %m/%d/%Y (month first)."
        ) from None
    check("order_date", dates, "a date")
    amounts = parse_amounts(col("amount"), decimal_comma=settings.decimal_comma)
    check("amount", amounts, "an amount")

    rows = pd.DataFrame(
        {
            "row": frame.index.to_numpy(),
            "order_date": dates.values.to_numpy(),
            "amount": amounts.values.to_numpy(),
            "date_blank": dates.blank,
            "amount_blank": amounts.blank,
        },
        index=frame.index,
    )
    rows["order_id"] = clean_ids(col("order_id")) if match.has("order_id") else None
    ids_repeat = (
        _BESIDE.submit(
            _order_ids_repeat, rows["order_id"], rows["amount"].to_numpy(dtype="float64")
        )
        if match.has("order_id")
        else None
    )
    rows["customer_id"] = clean_ids(col("customer_id")) if match.has("customer_id") else None
    if match.has("customer_id"):
        # WooCommerce writes customer id 0 for guest checkouts: they are known by email.
        guests = (rows["customer_id"] == "0").fillna(False).to_numpy(dtype=bool)
        if guests.any():
            rows.loc[guests, "customer_id"] = None
    if match.has("email"):
        email = clean_text(col("email"))
    elif match.has("customer_id") and _mostly_emails(rows["customer_id"]):
        # A plain "Customer" column holding email addresses serves as the email too.
        email = rows["customer_id"].where(rows["customer_id"].str.contains("@", na=False))
    else:
        email = None
    if email is not None:
        rows["email"] = email
        rows["email_key"] = email_keys(email)
    else:
        rows["email"] = None
        rows["email_key"] = None
    rows["name"] = _names(frame, match)
    rows["channel"] = clean_text(col("channel")) if match.has("channel") else None
    unrecognised = 0
    if match.has("consent"):
        rows["consent"], unrecognised = parse_consent(col("consent"))
    else:
        rows["consent"] = None
    rows["status"] = (
        clean_text(col("financial_status")).str.lower() if match.has("financial_status") else None
    )
    if match.has("refunded_amount"):
        refunded = parse_amounts(col("refunded_amount"), decimal_comma=settings.decimal_comma)
        check("refunded_amount", refunded, "an amount")
        rows["refunded"] = refunded.values.fillna(0.0).abs().to_numpy()
    else:
        rows["refunded"] = 0.0

    rows, merged = _merge_line_items(rows, match, locator, ids_repeat)
    _require(rows, match, locator)

    # Statuses: unsold orders leave, refunds reduce the net amount.
    not_sold: Counter[str] = Counter()
    refunded_orders = 0
    if match.has("financial_status"):
        status = rows["status"].fillna("")
        unsold = status.isin(NOT_SOLD_STATUSES).to_numpy()
        not_sold = Counter(status[unsold].tolist())
        rows = rows[~unsold]
        status = rows["status"].fillna("")
        full = status.isin(REFUNDED_STATUSES).to_numpy()
        partial = status.isin(PARTLY_REFUNDED_STATUSES).to_numpy()
        has_amount = rows["refunded"].to_numpy() > 0
        # A refunded order with no refunded amount given is refunded in full.
        # Rounded to a millionth: 20.00 - 4.13 is 15.87, not 15.870000000000001.
        net = np.round(rows["amount"].to_numpy() - rows["refunded"].to_numpy(), 6)
        net = np.where(full & ~has_amount, 0.0, net)
        if (partial & ~has_amount).any():
            notes.append(
                f"{int((partial & ~has_amount).sum())} partially refunded orders have no "
                "refunded amount column; their full amount is counted."
            )
        refunded_orders = int((full | (partial & has_amount)).sum())
        rows = rows.assign(amount=net)
        unknown = sorted(
            set(status.unique())
            - KNOWN_SOLD_STATUSES
            - REFUNDED_STATUSES
            - PARTLY_REFUNDED_STATUSES
            - {""}
        )
        if unknown:
            notes.append(
                "Order statuses counted as sales: "
                + ", ".join(f'"{s}"' if "@" not in s else "(an email address)" for s in unknown[:8])
                + ("..." if len(unknown) > 8 else "")
                + "."
            )
    elif match.has("refunded_amount"):
        refunded_orders = int((rows["refunded"] > 0).sum())
        rows = rows.assign(amount=np.round(rows["amount"] - rows["refunded"], 6))

    if rows.empty:
        raise EmptyOrdersError(
            "No sold orders are left: every order has a status such as voided, cancelled or "
            "pending."
        )

    customer_key = _customer_keys(rows)
    out = pd.DataFrame(
        {
            "order_id": rows["order_id"].astype("string"),
            "customer_key": customer_key.astype("string"),
            "customer_id": rows["customer_id"].astype("string"),
            "email": rows["email"].astype("string"),
            "email_key": rows["email_key"].astype("string"),
            "name": rows["name"].astype("string"),
            "order_date": pd.to_datetime(rows["order_date"]).astype("datetime64[ns]"),
            "amount": rows["amount"].astype("float64"),
            "channel": rows["channel"].astype("string"),
            "consent": rows["consent"].astype("boolean"),
            "row": rows["row"].astype("int64"),
        }
    ).reset_index(drop=True)

    quality = DataQuality(
        rows_read=len(raw),
        blank_rows=int(blank_row.sum()),
        duplicate_rows=int(duplicated.sum()),
        line_item_rows_merged=merged,
        not_sold_orders=dict(not_sold),
        refunded_orders=refunded_orders,
        refund_rows=int((out["amount"] < 0).sum()),
        unrecognised_consent=unrecognised,
    )
    if not match.has("channel"):
        notes.append(
            'No channel column (e.g. "Channel", "Source", "UTM Source"): the channel lists '
            "(Channel Performance, Repeat by Channel) are skipped."
        )
    if not match.has("consent"):
        notes.append(
            'No marketing consent column (e.g. "Accepts Marketing"): contact lists include '
            "every customer; make sure you may email them."
        )
    if out["email"].isna().all():
        notes.append("No email column: contact lists carry customer ids and names only.")
    if unrecognised:
        notes.append(f"{unrecognised} consent values were not recognised and count as no consent.")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Orders(out, match, quality, tuple(notes))


_COM_NAMES = {
    "-2146826281": "#DIV/0!",
    "-2146826246": "#N/A",
    "-2146826259": "#NAME?",
    "-2146826288": "#NULL!",
    "-2146826252": "#NUM!",
    "-2146826265": "#REF!",
    "-2146826273": "#VALUE!",
}


def _place(where: str, column: str) -> str:
    """'sheet "Orders", cell D17' -> 'Sheet "Orders", cell D17, column "Amount"'."""
    if 'column "' not in where:
        where = f'{where}, column "{column}"'
    return where[0].upper() + where[1:]


def _short(value: object, limit: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank. Each column is checked only on rows still blank so
    far, so a full table costs about one column's check."""
    candidates = np.arange(len(frame))
    for column in frame.columns:
        if not len(candidates):
            break
        blank = blank_mask(frame[column].iloc[candidates])
        candidates = candidates[blank]
    out = np.zeros(len(frame), dtype=bool)
    out[candidates] = True
    return out


def _refuse_duplicate_headers(headers: list[str], match: ColumnMatch) -> None:
    """Two columns with the header we read from would make the choice arbitrary."""
    counts = Counter(h.strip().casefold() for h in headers if h.strip())
    for field_name, header in match.headers.items():
        if counts[header.strip().casefold()] > 1:
            raise AmbiguousColumnError(
                f'The header "{header}" ({FIELD_LABELS[field_name]}) appears '
                f"{counts[header.strip().casefold()]} times; rename or remove the extra columns."
            )


def _duplicated_rows(frame: pd.DataFrame, key_columns: list[int]) -> np.ndarray:
    """Rows identical to an earlier row in every column.

    Only rows whose date and amount repeat can be duplicates; those few are compared in full.
    """
    if frame.empty:
        return np.zeros(0, dtype=bool)
    hashes = pd.util.hash_pandas_object(frame[key_columns], index=False)
    maybe = hashes.duplicated(keep=False).to_numpy()
    out = np.zeros(len(frame), dtype=bool)
    if maybe.any():
        out[maybe] = frame[maybe].duplicated(keep="first").to_numpy()
    return out


def _mostly_emails(values: pd.Series) -> bool:
    present = values.dropna().astype(str)
    return bool(len(present)) and bool(present.str.contains("@").mean() > 0.5)


def _customer_keys(rows: pd.DataFrame) -> pd.Series:
    """Who placed each order: the customer id, else the email.

    Ids that are email addresses are matched like emails (case and spaces ignored), so a
    registered customer and their guest orders under the same address are one customer.
    """
    keys = rows["customer_id"].astype("string")
    looks_like_email = rows_with_byte(keys, _is_at)
    if looks_like_email.any():
        keys = keys.copy()
        keys[looks_like_email] = email_keys(keys[looks_like_email])
    return keys.fillna(rows["email_key"].astype("string"))


def _is_at(data: np.ndarray) -> np.ndarray:
    return data == ord("@")


def _names(frame: pd.DataFrame, match: ColumnMatch) -> pd.Series:
    """Display names: the name column, or first and last name joined."""
    if match.has("name"):
        return clean_text(frame[match.positions["name"]])
    parts = [
        clean_text(frame[match.positions[f]]) for f in ("first_name", "last_name") if match.has(f)
    ]
    if not parts:
        return pd.Series(None, index=frame.index, dtype=object)
    joined = parts[0].fillna("")
    for part in parts[1:]:
        joined = joined.str.cat(part.fillna(""), sep=" ")
    joined = joined.str.strip()
    return joined.where(joined != "", None)


_ORDER_LEVEL = ("order_date", "amount", "customer_id", "email_key")


def _order_ids_repeat(order_ids: pd.Series, amounts: np.ndarray) -> bool:
    """Whether two rows that are not refunds share an order id."""
    codes, uniques = pd.factorize(order_ids, use_na_sentinel=True)
    wanted = ~(amounts < 0) & (codes >= 0)
    return bool((np.bincount(codes[wanted], minlength=len(uniques)) > 1).any())


# One thread for work that overlaps the cleaning of other columns (Arrow's hashing releases
# the GIL): a million order ids take 0.1-0.2 s to hash.
_BESIDE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xl-segments-orders")


def _merge_line_items(
    rows: pd.DataFrame, match: ColumnMatch, locator: Locator, ids_repeat: Future[bool] | None
) -> tuple[pd.DataFrame, int]:
    """Rows sharing an order id are one order (Shopify writes a row per line item).

    Each order keeps its first non-blank value of every column. Rows of one order that
    disagree on date, amount or customer are an error listing them. Negative-amount rows are
    refunds and are never merged.
    """
    # Most tables have one row per order: found out from the ids alone (on another thread,
    # while the other columns were cleaned), without copying the rows.
    if ids_repeat is None or not ids_repeat.result():
        return rows, 0
    candidate = rows["order_id"].notna() & ~(rows["amount"] < 0)
    keyed = rows[candidate]
    dup = keyed["order_id"].duplicated(keep=False)
    multi = keyed[dup]
    grouped = multi.groupby("order_id", sort=False)
    distinct = grouped[list(_ORDER_LEVEL)].nunique(dropna=True)
    conflicts = distinct[(distinct > 1).any(axis=1)]
    if len(conflicts):
        lines = []
        for order_id in conflicts.index[:5]:
            members = multi[multi["order_id"] == order_id]
            fields = [
                FIELD_LABELS[f] if f != "email_key" else "Email"
                for f in _ORDER_LEVEL
                if conflicts.loc[order_id, f] > 1
            ]
            cells = ", ".join(
                locator.cell(int(r), match.positions["order_id"]).split("cell ")[-1]
                for r in members["row"].tolist()[:6]
            )
            lines.append(f'order "{order_id}" (cells {cells}) has different {", ".join(fields)}')
        more = len(conflicts) - len(lines)
        raise ConflictingOrderError(
            "One order id must have one date, customer and amount, but "
            + "; ".join(lines)
            + (f"; and {more} more orders" if more > 0 else "")
            + ". Fix or remove the conflicting rows."
        )
    first = grouped.first()
    first["row"] = grouped["row"].min()
    first["date_blank"] = first["order_date"].isna()
    first["amount_blank"] = first["amount"].isna()
    first = first.reset_index()
    merged = pd.concat([rows[~candidate], keyed[~dup], first], ignore_index=True)
    merged = merged.sort_values("row", kind="stable").reset_index(drop=True)
    return merged, int(len(multi) - len(first))


def _require(rows: pd.DataFrame, match: ColumnMatch, locator: Locator) -> None:
    """Every order needs a date, an amount and a customer; name the first cell missing one."""
    for field_name, mask in (
        ("order_date", rows["order_date"].isna().to_numpy()),
        ("amount", rows["amount"].isna().to_numpy()),
    ):
        if mask.any():
            _raise_blank(rows, mask, field_name, match, locator)
    no_customer = (rows["customer_id"].isna() & rows["email_key"].isna()).to_numpy()
    if no_customer.any():
        field_name = "customer_id" if match.has("customer_id") else "email"
        _raise_blank(
            rows, no_customer, field_name, match, locator, what="has no customer id or email"
        )


_NEEDS = {
    "order_date": "an order date",
    "amount": "an amount",
    "customer_id": "a customer id or an email",
    "email": "a customer id or an email",
}


def _raise_blank(
    rows: pd.DataFrame,
    mask: np.ndarray,
    field_name: str,
    match: ColumnMatch,
    locator: Locator,
    what: str = "is blank",
) -> None:
    positions = np.flatnonzero(mask)
    first_row = int(rows["row"].iloc[positions[0]])
    where = locator.cell(first_row, match.positions[field_name])
    more = len(positions) - 1
    extra = f" ({more} more row{'s' if more != 1 else ''} too)" if more else ""
    raise BadValueError(
        f"{_place(where, match.label(field_name))}: the order {what}; every order needs "
        f"{_NEEDS[field_name]}{extra}."
    )
