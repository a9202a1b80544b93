"""Customers at risk of churning: expected gaps, overdue customers and churn month by month."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from xl_segments.customers import sorted_by_keys
from xl_segments.settings import DEFAULTS, Settings

ACTIVE, AT_RISK, LAPSED = "Active", "At risk", "Lapsed"

MONTHLY_CHURN_COLUMNS = (
    "month",
    "active_at_start",
    "new",
    "returning",
    "reactivated",
    "churned",
    "active_at_end",
    "churn_rate",
    "complete",
)


def store_average_gap(customers: pd.DataFrame, settings: Settings = DEFAULTS) -> float | None:
    """The store's average days between purchases.

    The median (or mean, by setting) of repeat customers' own averages; None when no customer
    bought on two different days.
    """
    own = customers.loc[customers["purchase_days"] >= 2, "avg_days_between_purchases"]
    if own.empty:
        return None
    value = own.median() if settings.store_gap_statistic == "median" else own.mean()
    return float(value)


def flag_churn_risk(
    customers: pd.DataFrame, store_gap: float, settings: Settings = DEFAULTS
) -> pd.DataFrame:
    """Each buying customer's expected gap, how overdue they are, and their status.

    Transforms the customer table (customers with at least one purchase) adding expected_gap
    (own average from `min_purchases_for_own_gap` purchase days on, else the store's),
    overdue_ratio (days since last order / expected gap) and status: Lapsed past
    expected gap x lapsed_multiplier, At risk past expected gap x churn_multiplier, else Active.
    """
    bought = customers[customers["orders"] > 0]
    own = bought["purchase_days"] >= settings.min_purchases_for_own_gap
    expected = bought["avg_days_between_purchases"].where(own, store_gap).astype("float64")
    days = bought["days_since_last_order"].astype("float64")
    ratio = days / expected
    status = np.select(
        [days > expected * settings.lapsed_multiplier, days > expected * settings.churn_multiplier],
        [LAPSED, AT_RISK],
        default=ACTIVE,
    )
    return bought.assign(expected_gap=expected, overdue_ratio=ratio, status=status)


def churn_risk_list(flagged: pd.DataFrame) -> pd.DataFrame:
    """Customers at risk or lapsed, most valuable first (then longest overdue, then key)."""
    risky = flagged[flagged["status"] != ACTIVE]
    ordered = sorted_by_keys(risky, [("lifetime_value", False), ("overdue_ratio", False)])
    return ordered.reset_index(drop=True)


def churn_window(store_gap: float | None, settings: Settings = DEFAULTS) -> float | None:
    """Days without a purchase after which a customer counts as churned (monthly churn)."""
    if settings.churn_window_days is not None:
        return float(settings.churn_window_days)
    if store_gap is None:
        return None
    return store_gap * settings.lapsed_multiplier


def monthly_churn(purchase_days: pd.DataFrame, as_of: pd.Timestamp, window: float) -> pd.DataFrame:
    """Month by month: active customers, new, returning, reactivated, churned, churn rate.

    A customer is active at the end of day t when their last purchase on or before t is at
    most `window` days earlier (whole days). A customer churns on the first day after that
    window with no purchase in it. Per month (up to the as-of day): active_at_start (active at
    the end of the day before the month), new (first purchase), returning (customers who
    bought again), reactivated (bought after having churned), churned (churn days in the
    month), active_at_end, churn_rate = churned / active_at_start. Always
    active_at_end = active_at_start + new + reactivated - churned.
    """
    if purchase_days.empty:
        return pd.DataFrame(columns=list(MONTHLY_CHURN_COLUMNS))
    code = purchase_days["code"].to_numpy()
    day = purchase_days["day"].to_numpy().astype("int64")
    whole = math.floor(window)
    same_next = np.append(code[1:] == code[:-1], False)
    same_prev = np.insert(code[1:] == code[:-1], 0, False)
    next_day = np.where(same_next, np.append(day[1:], 0), np.iinfo("int64").max)
    prev_day = np.where(same_prev, np.insert(day[:-1], 0, 0), np.iinfo("int64").min)
    churn_day = day + whole + 1
    churns = next_day >= churn_day
    activity_end = np.minimum(next_day, churn_day)
    is_new = ~same_prev
    reactivation = same_prev & (day - prev_day > whole)

    as_of_day = as_of.value // (86_400 * 10**9)
    first = pd.Timestamp(int(day.min()) * 86_400 * 10**9).to_period("M").to_timestamp()
    starts = pd.date_range(first, as_of.normalize(), freq="MS")
    start_days = starts.to_numpy().astype("datetime64[D]").astype("int64")
    next_starts = np.append(start_days[1:], as_of_day + 1)
    ends = np.minimum(next_starts - 1, as_of_day)

    def active_at_end_of(t: np.ndarray) -> np.ndarray:
        return _count_at_most(day, t) - _count_at_most(activity_end, t)

    def count_in_month(values: np.ndarray) -> np.ndarray:
        counts = _count_at_most(values, np.concatenate([ends, start_days - 1]))
        return counts[: len(ends)] - counts[len(ends) :]

    month_of_pair = np.searchsorted(start_days, day, side="right") - 1
    # Customers buying again in each month, each counted once: pairs are in (customer, day)
    # order, so a customer's repeat purchases in one month are consecutive, and the first of
    # them is a repeat whose previous pair is not a repeat of the same month. No sort needed.
    same_month_prev = np.insert(month_of_pair[1:] == month_of_pair[:-1], 0, False)
    repeat_prev = np.insert(same_prev[:-1], 0, False)
    first_repeat = same_prev & ~(repeat_prev & same_month_prev)
    returning = np.bincount(month_of_pair[first_repeat].astype("int64"), minlength=len(starts))

    active_start = active_at_end_of(start_days - 1)
    churned = count_in_month(churn_day[churns])
    table = pd.DataFrame(
        {
            "month": starts,
            "active_at_start": active_start,
            "new": count_in_month(day[is_new]),
            "returning": returning[: len(starts)],
            "reactivated": count_in_month(day[reactivation]),
            "churned": churned,
            "active_at_end": active_at_end_of(ends),
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table["churn_rate"] = np.where(
            active_start > 0, churned / np.maximum(active_start, 1), np.nan
        )
    calendar_ends = (starts + pd.offsets.MonthBegin(1)).to_numpy().astype("datetime64[D]")
    table["complete"] = calendar_ends.astype("int64") - 1 <= as_of_day
    return table


def _count_at_most(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each whole-day point t, how many values are <= t (a counting sort: no sorting).

    Values outside the points' span are clipped just outside it, so a churn window of any
    size costs a histogram as wide as the months only.
    """
    if len(points) == 0:
        return np.zeros(0, dtype="int64")
    low = int(points.min()) - 1
    high = int(points.max()) + 1
    clipped = np.clip(values.astype("int64"), low, high) - low
    at_most = np.cumsum(np.bincount(clipped, minlength=high - low + 1))
    return at_most[points.astype("int64") - low]
