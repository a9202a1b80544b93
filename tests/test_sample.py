"""Sample orders: deterministic, shaped like the template's Orders table, plausible."""

from __future__ import annotations

import pandas as pd
import pytest

from xl_segments.sample import sample_orders
from xl_segments.sheets import TEMPLATE_ORDER_COLUMNS


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return sample_orders()


def test_same_arguments_give_the_same_orders() -> None:
    pd.testing.assert_frame_equal(sample_orders(300, seed=3), sample_orders(300, seed=3))
    assert not sample_orders(300, seed=3).equals(sample_orders(300, seed=4))


def test_columns_and_types_match_the_template(orders: pd.DataFrame) -> None:
    assert tuple(orders.columns) == TEMPLATE_ORDER_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(orders["Order Date"])
    assert orders["Amount"].dtype == "float64"
    for column in ("Order ID", "Customer ID", "Email", "Name", "Channel", "Accepts Marketing"):
        assert pd.api.types.is_string_dtype(orders[column]), column
    assert isinstance(orders.index, pd.RangeIndex)
    assert not orders.isna().any().any()


def test_default_size_is_a_few_thousand_customers_and_15_to_30_thousand_orders(
    orders: pd.DataFrame,
) -> None:
    assert orders["Customer ID"].nunique() == 4000
    assert 15_000 <= len(orders) <= 30_000


def test_order_count_scales_with_customers() -> None:
    small, large = sample_orders(1000, seed=1), sample_orders(8000, seed=1)
    assert 3.5 <= len(large) / 8000 <= 6
    assert 6 <= len(large) / len(small) <= 10


def test_six_channels_that_differ_in_order_value_and_repeat_rate(orders: pd.DataFrame) -> None:
    sales = orders[orders["Amount"] > 0]
    assert sales["Channel"].nunique() == 6
    per_customer = sales.groupby("Customer ID").agg(
        channel=("Channel", "first"), orders=("Order ID", "size")
    )
    repeat_rate = (per_customer["orders"] > 1).groupby(per_customer["channel"]).mean()
    average_value = sales.groupby("Channel")["Amount"].mean()
    assert repeat_rate.max() - repeat_rate.min() > 0.2
    assert average_value.max() / average_value.min() > 1.5


def test_about_a_third_of_customers_do_not_accept_marketing(orders: pd.DataFrame) -> None:
    consent = orders.drop_duplicates("Customer ID")["Accepts Marketing"]
    assert set(consent) == {"Yes", "No"}
    assert 0.28 <= (consent == "No").mean() <= 0.39
    # Consent belongs to the customer: one answer each.
    assert (orders.groupby("Customer ID")["Accepts Marketing"].nunique() == 1).all()


def test_refunds_are_negative_rows_referring_to_an_order_of_the_same_customer(
    orders: pd.DataFrame,
) -> None:
    refunds = orders[orders["Amount"] < 0]
    assert 0.01 <= len(refunds) / len(orders) <= 0.06
    assert refunds["Order ID"].str.fullmatch(r"R-\d+").all()
    sales = orders[orders["Amount"] > 0].set_index("Order ID")
    original = sales.loc[refunds["Order ID"].str[2:]]
    assert (original["Customer ID"].to_numpy() == refunds["Customer ID"].to_numpy()).all()
    assert (-refunds["Amount"].to_numpy() <= original["Amount"].to_numpy() + 1e-9).all()


def test_values_are_plausible(orders: pd.DataFrame) -> None:
    assert orders["Order Date"].max() <= pd.Timestamp("2025-11-30 23:59:59")
    assert orders["Order Date"].min() >= pd.Timestamp("2023-01-01")
    assert (orders["Order Date"].dt.time != pd.Timestamp("2024-01-01").time()).mean() > 0.9
    assert ((orders["Amount"] * 100).round(6) % 1 == 0).all()
    assert orders["Order ID"][orders["Amount"] > 0].str.fullmatch(r"1\d{5,}").all()
    assert orders["Customer ID"].str.fullmatch(r"C\d{6}").all()
    emails = orders.drop_duplicates("Customer ID")["Email"]
    assert emails.is_unique
    assert (emails == emails.str.lower()).all()
    assert emails.str.fullmatch(r"[a-z._]+\d+@[a-z.]+").all()
    assert (orders.groupby("Customer ID")["Email"].nunique() == 1).all()
    # Heavy tail: the top fifth of customers bring well over half the revenue.
    value = orders.groupby("Customer ID")["Amount"].sum().sort_values(ascending=False)
    assert value.iloc[: len(value) // 5].sum() / value.sum() > 0.5
    # Many one-time buyers.
    counts = orders[orders["Amount"] > 0].groupby("Customer ID").size()
    assert 0.3 <= (counts == 1).mean() <= 0.7


def test_customers_are_acquired_and_lost_across_the_period(orders: pd.DataFrame) -> None:
    last = orders.groupby("Customer ID")["Order Date"].max()
    # Some customers stop buying long before the end: churn exists.
    assert (last < pd.Timestamp("2025-05-31")).mean() > 0.2


@pytest.mark.slow
def test_a_quarter_million_customers_give_about_a_million_orders() -> None:
    orders = sample_orders(customers=250_000)
    assert 800_000 <= len(orders) <= 1_300_000
