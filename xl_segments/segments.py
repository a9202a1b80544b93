"""The whole flow in one call: orders -> customers (once) -> every list as a view of it."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from xl_segments.channels import channel_performance, repeat_customers
from xl_segments.churn import (
    churn_risk_list,
    churn_window,
    flag_churn_risk,
    monthly_churn,
    store_average_gap,
)
from xl_segments.customers import Customers, build_customers
from xl_segments.lists import LeftOut, contact_list
from xl_segments.orders import Locator, Orders, normalize_orders
from xl_segments.settings import DEFAULTS, Settings
from xl_segments.spenders import Pareto, pareto_curve, pareto_summary, rank_spenders


@dataclass(frozen=True)
class Segments:
    """Every list of one refresh. Lists that cannot be built are None, with a warning why."""

    settings: Settings
    customers: Customers
    ranked: pd.DataFrame
    pareto: Pareto
    curve: pd.DataFrame
    top_spenders: pd.DataFrame
    channels: pd.DataFrame | None
    repeat_by_channel: pd.DataFrame | None
    store_gap: float | None
    flagged: pd.DataFrame | None
    churn_risk: pd.DataFrame | None
    window: float | None
    monthly_churn: pd.DataFrame | None
    left_out: Mapping[str, LeftOut]
    warnings: tuple[str, ...]

    @property
    def orders(self) -> Orders:
        return self.customers.orders

    @property
    def as_of(self) -> pd.Timestamp:
        return self.customers.as_of


def build_segments(
    raw: pd.DataFrame | Orders,
    settings: Settings = DEFAULTS,
    *,
    locator: Locator | None = None,
) -> Segments:
    """From an orders table as the user has it (or normalized Orders) to every list.

    The customer table is computed once; each list is a filter and sort of it. Contact lists
    (top spenders, repeat customers by channel, churn risk) leave out customers without
    marketing consent and suppressed addresses.
    """
    orders = raw if isinstance(raw, Orders) else normalize_orders(raw, settings, locator=locator)
    customers = build_customers(orders, settings)
    table = customers.frame
    notes = list(orders.warnings)
    has_consent = customers.has_consent
    left_out: dict[str, LeftOut] = {}

    ranked = rank_spenders(table, settings)
    pareto = pareto_summary(ranked, settings)
    if pareto.top_revenue_share is None:
        notes.append("Total net revenue is not above zero: revenue shares cannot be computed.")
    top_spenders, left_out["Top Spenders"] = contact_list(
        ranked[ranked["top"]], has_consent, settings
    )

    channels = repeat = None
    if customers.has_channel:
        channels = channel_performance(table, settings)
        if not channels["eligible"].any():
            notes.append(
                f"No channel has {settings.min_channel_customers} or more customers, so no "
                'channel is ranked; lower "Minimum customers per channel" to rank them.'
            )
        repeat, left_out["Repeat by Channel"] = contact_list(
            repeat_customers(table, channels, settings), has_consent, settings
        )

    store_gap = store_average_gap(table, settings)
    flagged = risk = monthly = None
    window = churn_window(store_gap, settings)
    if store_gap is None:
        notes.append(
            "No customer bought on two different days, so there is no average time between "
            "purchases: the churn-risk list is skipped."
        )
    else:
        flagged = flag_churn_risk(table, store_gap, settings)
        risk, left_out["Churn Risk"] = contact_list(churn_risk_list(flagged), has_consent, settings)
    if window is None:
        notes.append("Monthly churn needs an average time between purchases or a churn window.")
    else:
        monthly = monthly_churn(customers.purchase_days, customers.as_of, window)

    for note in notes[len(orders.warnings) :]:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Segments(
        settings=settings,
        customers=customers,
        ranked=ranked,
        pareto=pareto,
        curve=pareto_curve(ranked),
        top_spenders=top_spenders,
        channels=channels,
        repeat_by_channel=repeat,
        store_gap=store_gap,
        flagged=flagged,
        churn_risk=risk,
        window=window,
        monthly_churn=monthly,
        left_out=left_out,
        warnings=tuple(notes),
    )
