"""Customers from top-performing channels: per acquisition channel figures and repeat buyers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xl_segments.errors import SettingsError
from xl_segments.settings import DEFAULTS, Settings

CHANNEL_COLUMNS = (
    "channel",
    "customers",
    "orders",
    "revenue",
    "average_order_value",
    "repeat_rate",
    "revenue_per_customer",
    "median_days_to_second_purchase",
    "eligible",
    "rank",
    "top",
)


def buyers(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers with at least one purchase: the ones a channel acquired."""
    return customers[customers["orders"] > 0]


def channel_performance(customers: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Figures per acquisition channel, ranked.

    Transforms the customer table into one row per channel: customers acquired, their orders
    and revenue (all their orders, ever), average order value, repeat rate (share with 2 or
    more purchase days), revenue per customer, median days to second purchase. Channels with
    at least `min_channel_customers` customers are ranked by `rank_channels_by`; the best
    `top_channels` of them are flagged top.
    """
    acquired = buyers(customers).assign(
        repeat=lambda c: (c["purchase_days"] >= 2).astype("float64")
    )
    grouped = acquired.groupby("acquisition_channel", sort=True, dropna=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "orders": grouped["orders"].sum(),
            "revenue": grouped["lifetime_value"].sum(),
            "repeat_rate": grouped["repeat"].mean(),
            "median_days_to_second_purchase": grouped["days_to_second_purchase"].median(),
        }
    )
    table.index = table.index.astype("string").rename("channel")
    table = table.reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        table["average_order_value"] = table["revenue"] / table["orders"].where(table["orders"] > 0)
        table["revenue_per_customer"] = table["revenue"] / table["customers"]
    table["eligible"] = table["customers"] >= settings.min_channel_customers
    metric = settings.rank_channels_by
    ordered = table.sort_values(
        ["eligible", metric, "customers", "channel"],
        ascending=[False, False, False, True],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    eligible = ordered["eligible"].to_numpy()
    rank = np.where(eligible, np.cumsum(eligible), 0)
    ordered["rank"] = pd.array(np.where(eligible, rank, 0), dtype="Int64").astype("Int64")
    ordered.loc[~eligible, "rank"] = pd.NA
    ordered["top"] = eligible & (rank <= settings.top_channels)
    return ordered[list(CHANNEL_COLUMNS)]


def repeat_customers(
    customers: pd.DataFrame, channels: pd.DataFrame, settings: Settings = DEFAULTS
) -> pd.DataFrame:
    """Repeat customers (2 or more purchase days) from the top channels, or one named channel.

    One row per customer, channel by channel in rank order, most valuable first within each.
    """
    if settings.repeat_channel:
        wanted = settings.repeat_channel.strip().casefold()
        names = channels["channel"].astype(str)
        chosen = channels[names.str.casefold() == wanted]
        if chosen.empty:
            raise SettingsError(
                f'There is no channel "{settings.repeat_channel}"; channels are: '
                + ", ".join(names.tolist()[:20])
                + ("..." if len(names) > 20 else "")
                + "."
            )
    else:
        chosen = channels[channels["top"]]
    order = {name: i for i, name in enumerate(chosen["channel"].tolist())}
    repeat = customers[
        (customers["purchase_days"] >= 2) & customers["acquisition_channel"].isin(list(order))
    ]
    return (
        repeat.assign(channel_order=repeat["acquisition_channel"].map(order))
        .sort_values(
            ["channel_order", "lifetime_value", "customer_key"],
            ascending=[True, False, True],
            kind="stable",
        )
        .drop(columns="channel_order")
        .reset_index(drop=True)
    )
