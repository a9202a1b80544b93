"""Small orders tables for the engine tests, written as a few tuples, and quiet shortcuts."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
import pytest

from xl_segments.customers import Customers, build_customers
from xl_segments.orders import Orders, normalize_orders
from xl_segments.segments import Segments, build_segments
from xl_segments.settings import Settings

# The template's headers: every optional column present, so nothing warns.
HEADER = (
    "Order ID",
    "Customer ID",
    "Email",
    "Order Date",
    "Amount",
    "Channel",
    "Accepts Marketing",
)


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] = HEADER) -> pd.DataFrame:
    """An orders table exactly as written: one tuple per row under `header`."""
    return pd.DataFrame([list(r) for r in rows], columns=list(header))


def purchases(*rows: Sequence[Any], first_order_id: int = 1001) -> pd.DataFrame:
    """(customer, date, amount[, channel[, consent]]) -> a full orders table.

    Order ids count up from `first_order_id`; each customer's email is <customer>@shop.test;
    the channel defaults to "Web" and consent to "yes".
    """
    out = []
    for i, row in enumerate(rows):
        customer, date, amount, *rest = row
        channel = rest[0] if len(rest) > 0 else "Web"
        consent = rest[1] if len(rest) > 1 else "yes"
        out.append(
            (
                first_order_id + i,
                customer,
                f"{customer}@shop.test",
                date,
                amount,
                channel,
                consent,
            )
        )
    return table(out)


def normalize(raw: pd.DataFrame, **settings: Any) -> Orders:
    """normalize_orders without the notes about missing optional columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return normalize_orders(raw, Settings(**settings))


def customers_of(raw: pd.DataFrame, **settings: Any) -> Customers:
    orders = normalize(raw, **settings)
    return build_customers(orders, Settings(**settings))


def customer_table(raw: pd.DataFrame, **settings: Any) -> pd.DataFrame:
    """The customer table indexed by customer key, for `table.loc["ann", "orders"]`."""
    return customers_of(raw, **settings).frame.set_index("customer_key")


def segments_of(raw: pd.DataFrame, **settings: Any) -> Segments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_segments(raw, Settings(**settings))


@contextlib.contextmanager
def only_warns(match: str) -> Iterator[None]:
    """Expect a UserWarning matching `match`; other notes (no email column...) stay quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(UserWarning, match=match):
            yield
