"""Biggest spenders: customers ranked by lifetime value, and the Pareto cut."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xl_segments.customers import sorted_by_keys
from xl_segments.settings import DEFAULTS, Settings

# Shares are compared with a little slack so 0.1 * 30 counts as 3 customers, not 4.
_EPSILON = 1e-9


def top_count(customers: int, top_share: float) -> int:
    """How many customers make the top share: the share of all customers, rounded up."""
    return min(customers, math.ceil(customers * top_share - _EPSILON)) if customers else 0


def rank_spenders(customers: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Rank customers by lifetime value.

    Transforms the customer table into one row per customer, best first, adding rank,
    revenue_share, cumulative_share, customer_share (cumulative share of customers) and top.
    Ties: earlier first order first, then customer key.
    """
    ranked = sorted_by_keys(
        customers, [("lifetime_value", False), ("first_order", True)]
    ).reset_index(drop=True)
    n = len(ranked)
    value = ranked["lifetime_value"].to_numpy(dtype="float64")
    total = float(value.sum())
    rank = np.arange(1, n + 1)
    if total > 0:
        revenue_share = value / total
        cumulative_share = np.cumsum(value) / total
    else:
        revenue_share = np.full(n, np.nan)
        cumulative_share = np.full(n, np.nan)
    return ranked.assign(
        rank=rank,
        revenue_share=revenue_share,
        cumulative_share=cumulative_share,
        customer_share=rank / n if n else rank.astype(float),
        top=rank <= top_count(n, settings.top_share),
    )


@dataclass(frozen=True)
class Pareto:
    """Which top share of customers brings which share of revenue."""

    customers: int
    revenue: float
    top_share: float
    top_customers: int
    top_revenue_share: float | None
    revenue_share: float
    customers_needed: int | None
    customer_share_needed: float | None


def pareto_summary(ranked: pd.DataFrame, settings: Settings = DEFAULTS) -> Pareto:
    """The Pareto cut from the ranked spenders.

    top_revenue_share: revenue share of the top `top_share` of customers. customers_needed:
    the fewest customers (best first) whose lifetime value reaches `revenue_share` of revenue.
    Undefined (None) when total revenue is not positive.
    """
    n = len(ranked)
    revenue = float(ranked["lifetime_value"].sum())
    k = top_count(n, settings.top_share)
    if n == 0 or revenue <= 0:
        return Pareto(n, revenue, settings.top_share, k, None, settings.revenue_share, None, None)
    cumulative = ranked["cumulative_share"].to_numpy()
    top_revenue_share = float(cumulative[k - 1]) if k else 0.0
    needed = int(np.searchsorted(cumulative, settings.revenue_share - _EPSILON, side="left")) + 1
    needed = min(needed, n)
    return Pareto(
        customers=n,
        revenue=revenue,
        top_share=settings.top_share,
        top_customers=k,
        top_revenue_share=top_revenue_share,
        revenue_share=settings.revenue_share,
        customers_needed=needed,
        customer_share_needed=needed / n,
    )


def pareto_curve(ranked: pd.DataFrame, step: float = 0.05) -> pd.DataFrame:
    """Points of the Pareto curve: cumulative share of customers -> share of revenue.

    One point every `step` of customers (0%, 5%, ... 100%), for a chart.
    """
    n = len(ranked)
    shares = np.round(np.arange(0, 1 + step / 2, step), 10)
    if n == 0 or ranked["lifetime_value"].sum() <= 0:
        return pd.DataFrame({"customer_share": shares, "revenue_share": np.nan})
    cumulative = np.concatenate([[0.0], ranked["cumulative_share"].to_numpy()])
    counts = np.round(shares * n).astype(int)
    # Rounded so float noise (1.0000000000000002) does not stretch a chart axis past 100%.
    return pd.DataFrame(
        {"customer_share": shares, "revenue_share": np.round(cumulative[counts], 12)}
    )
