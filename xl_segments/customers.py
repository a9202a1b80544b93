"""The one per-customer table every list is a view of, computed once per refresh."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xl_segments.errors import SettingsError
from xl_segments.orders import Orders
from xl_segments.settings import DEFAULTS, Settings

UNKNOWN_CHANNEL = "Unknown"
_DAY_NS = 86_400 * 10**9

CUSTOMER_COLUMNS = (
    "customer_key",
    "customer_id",
    "email",
    "email_key",
    "name",
    "first_order",
    "last_order",
    "orders",
    "purchase_days",
    "lifetime_value",
    "average_order_value",
    "acquisition_channel",
    "avg_days_between_purchases",
    "days_to_second_purchase",
    "days_since_last_order",
    "consent",
)


@dataclass(frozen=True)
class Customers:
    """One row per customer, with the orders it was built from and the as-of date."""

    frame: pd.DataFrame
    orders: Orders
    as_of: pd.Timestamp
    # Each customer's distinct purchase days (code = row of `frame`), sorted: for monthly churn.
    purchase_days: pd.DataFrame

    @property
    def has_channel(self) -> bool:
        return self.orders.has_channel

    @property
    def has_consent(self) -> bool:
        return self.orders.has_consent


def resolve_as_of(orders: Orders, settings: Settings) -> pd.Timestamp:
    """The as-of day: the setting, or the latest order date in the data (never today)."""
    dates = orders.frame["order_date"]
    first_day = dates.min().normalize()
    if settings.as_of is None:
        return dates.max().normalize()
    as_of = pd.Timestamp(settings.as_of)
    if as_of < first_day:
        raise SettingsError(
            f"The as-of date {as_of.date()} is before the first order "
            f"({first_day.date()}); choose a later date or leave it blank."
        )
    return as_of


def build_customers(orders: Orders, settings: Settings = DEFAULTS) -> Customers:
    """Transforms orders into one row per customer.

    Columns: customer_key, customer_id, email, email_key, name, first_order, last_order,
    orders, purchase_days, lifetime_value, average_order_value, acquisition_channel,
    avg_days_between_purchases, days_to_second_purchase, days_since_last_order, consent.
    Orders after the as-of day are left out. Vectorized: no Python loop per customer.
    """
    as_of = resolve_as_of(orders, settings)
    frame = orders.frame
    after = (frame["order_date"] >= as_of + pd.Timedelta(days=1)).to_numpy()
    if after.any():
        frame = frame[~after].reset_index(drop=True)
        quality = dataclasses.replace(orders.quality, orders_after_as_of=int(after.sum()))
        orders = dataclasses.replace(orders, frame=frame, quality=quality)

    codes, keys = pd.factorize(frame["customer_key"], sort=True)
    n = len(keys)
    amount = frame["amount"].to_numpy(dtype="float64")
    stamps = frame["order_date"].to_numpy(dtype="datetime64[ns]").view("int64")
    day = stamps // _DAY_NS

    purchase = amount > 0
    p_codes = codes[purchase]
    p_stamps = stamps[purchase]

    lifetime_value = np.bincount(codes, weights=amount, minlength=n)
    order_count = np.bincount(p_codes, minlength=n)

    first_any = _group_min(codes, stamps, n)
    last_any = _group_max(codes, stamps, n)
    first_purchase = _group_min(p_codes, p_stamps, n)
    last_purchase = _group_max(p_codes, p_stamps, n)
    bought = order_count > 0
    first_order = np.where(bought, first_purchase, first_any)
    last_order = np.where(bought, last_purchase, last_any)

    # Distinct (customer, day) pairs: purchase days, gaps and the second purchase.
    pairs = sorted_unique(p_codes.astype("int64") * (1 << 32) + day[purchase])
    pair_codes = (pairs >> 32).astype("int64")
    pair_days = pairs - (pair_codes << 32)
    purchase_days = np.bincount(pair_codes, minlength=n)
    first_idx = np.searchsorted(pair_codes, np.arange(n), side="left")
    has_second = purchase_days >= 2
    second_day = np.full(n, np.nan)
    second_day[has_second] = pair_days[first_idx[has_second] + 1]
    first_day = np.full(n, np.nan)
    first_day[bought] = pair_days[first_idx[bought]]
    last_day = np.where(bought, last_order // _DAY_NS, np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        avg_gap = np.where(has_second, (last_day - first_day) / (purchase_days - 1), np.nan)
        average_order_value = np.where(bought, lifetime_value / np.maximum(order_count, 1), np.nan)
    days_to_second = second_day - first_day
    as_of_day = as_of.value // _DAY_NS
    days_since = as_of_day - last_order // _DAY_NS

    # Acquisition channel: the channel of the first purchase (first row if none), ties
    # broken by order id, then channel name, so row order never changes the answer.
    first_rows = np.where(bought[codes], purchase, True) & (stamps == first_order[codes])
    channel = _pick(frame, codes, first_rows, n, "channel", by=("order_id", "channel"))
    channel = channel.fillna(UNKNOWN_CHANNEL) if orders.has_channel else channel

    customer_id = _latest(frame, codes, stamps, n, "customer_id")
    email = _latest(frame, codes, stamps, n, "email")
    email_key = _latest(frame, codes, stamps, n, "email_key")
    name = _latest(frame, codes, stamps, n, "name")
    consent = _latest_consent(frame, codes, stamps, n)

    table = pd.DataFrame(
        {
            "customer_key": pd.Series(keys, dtype="string"),
            "customer_id": customer_id.fillna(email).astype("string"),
            "email": email.astype("string"),
            "email_key": email_key.astype("string"),
            "name": name.astype("string"),
            "first_order": pd.to_datetime(first_order, unit="ns"),
            "last_order": pd.to_datetime(last_order, unit="ns"),
            "orders": order_count.astype("int64"),
            "purchase_days": purchase_days.astype("int64"),
            "lifetime_value": np.round(lifetime_value, 10),
            "average_order_value": average_order_value,
            "acquisition_channel": channel.astype("string"),
            "avg_days_between_purchases": avg_gap,
            "days_to_second_purchase": days_to_second,
            "days_since_last_order": days_since.astype("int64"),
            "consent": consent,
        }
    )
    days = pd.DataFrame({"code": pair_codes, "day": pair_days})
    return Customers(table, orders, as_of, days)


def _group_min(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(out, codes, values)
    return out


def _group_max(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo("int64").min, dtype="int64")
    np.maximum.at(out, codes, values)
    return out


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's hash-based unique is several times slower here)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def sorted_by_keys(
    frame: pd.DataFrame, numeric: list[tuple[str, bool]], key: str = "customer_key"
) -> pd.DataFrame:
    """frame sorted (stable) by numeric columns (name, ascending), then by the key column.

    The customer table is built in key order, so when the frame is still in key order the
    key tie-break is the row position and the whole sort is one numpy lexsort, without
    comparing strings. Otherwise (or with missing values) pandas sorts as before.
    """
    columns = [name for name, _ in numeric]
    n = len(frame)
    arrays: list[np.ndarray] = []
    usable = n > 1 and frame[key].notna().all() and frame[key].is_monotonic_increasing
    for name, ascending in numeric if usable else ():
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            if values.isna().any() or isinstance(values.dtype, pd.DatetimeTZDtype):
                usable = False
                break
            array = values.to_numpy().view("int64")
        elif pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(
            values.dtype
        ):
            if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
                usable = False
                break
            array = values.to_numpy(dtype="float64")
        else:
            usable = False
            break
        # Descending: negate. NaN stays NaN and sorts last either way, as pandas puts it.
        arrays.append(array if ascending else -array)
    if not usable:
        return frame.sort_values(
            [*columns, key],
            ascending=[a for _, a in numeric] + [True],
            kind="stable",
        )
    order = np.lexsort([np.arange(n), *reversed(arrays)])
    return frame.take(order)


def _pick(
    frame: pd.DataFrame,
    codes: np.ndarray,
    candidates: np.ndarray,
    n: int,
    column: str,
    by: tuple[str, ...],
) -> pd.Series:
    """One value per customer among candidate rows: the first by the `by` columns.

    Most customers have a single candidate row, taken as it is; only ties are sorted.
    """
    rows = np.flatnonzero(candidates)
    owner = codes[rows]
    counts = np.bincount(owner, minlength=n)
    single = counts[owner] == 1
    values = frame[column]
    # Which row each customer's value comes from (-1: none), then one take of the column.
    source = np.full(n, -1, dtype="int64")
    source[owner[single]] = rows[single]
    tied = rows[~single]
    if len(tied):
        subset = frame.iloc[tied][list(dict.fromkeys([*by, column]))].assign(
            code=codes[tied], position=tied
        )
        keys = ["code", *by]
        if "order_id" in by:
            # Order ids that are numbers compare as numbers: order 9 comes before order 10.
            subset["order_number"] = pd.to_numeric(subset["order_id"], errors="coerce")
            keys.insert(keys.index("order_id"), "order_number")
        subset = subset.sort_values(keys, kind="stable", na_position="last")
        first = subset.drop_duplicates("code", keep="first")
        source[first["code"].to_numpy()] = first["position"].to_numpy()
    if isinstance(values.dtype, pd.StringDtype):
        taken = values.array.take(source, allow_fill=True)
        return pd.Series(taken, index=pd.RangeIndex(n), dtype=values.dtype)
    taken = pd.api.extensions.take(
        values.to_numpy(dtype=object), source, allow_fill=True, fill_value=pd.NA
    )
    return pd.Series(taken, index=pd.RangeIndex(n), dtype=object)


def _latest(
    frame: pd.DataFrame, codes: np.ndarray, stamps: np.ndarray, n: int, column: str
) -> pd.Series:
    """Each customer's most recent non-blank value of a column (ties: the smallest value)."""
    present = frame[column].notna().to_numpy()
    if not present.any():
        return pd.Series([pd.NA] * n, dtype="string")
    latest = _group_max(codes[present], stamps[present], n)
    rows = present & (stamps == latest[codes])
    return _pick(frame, codes, rows, n, column, by=(column,))


def _latest_consent(
    frame: pd.DataFrame, codes: np.ndarray, stamps: np.ndarray, n: int
) -> pd.Series:
    """Consent as of each customer's latest order that states it; a tie with a no is a no."""
    consent = frame["consent"]
    present = consent.notna().to_numpy()
    if not present.any():
        return pd.Series([pd.NA] * n, dtype="boolean")
    latest = _group_max(codes[present], stamps[present], n)
    rows = present & (stamps == latest[codes])
    said_yes = consent[rows].astype(bool).to_numpy()
    all_yes = np.ones(n, dtype=bool)
    np.logical_and.at(all_yes, codes[rows], said_yes)
    stated = np.zeros(n, dtype=bool)
    stated[codes[rows]] = True
    return pd.Series(pd.array(np.where(stated, all_yes, False), dtype="boolean")).where(
        stated, pd.NA
    )
