"""The customer table (docs/definitions.md section 2), pinned on small hand-computed tables."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from helpers_engine import HEADER, customer_table, customers_of, purchases, table

from xl_segments.errors import SettingsError

T = pd.Timestamp

# The example of docs/definitions.md: Ann buys 100, 80 and 30 and returns 20.
ANN = purchases(
    ("ann", "2024-01-01", 100, "Ads"),
    ("ann", "2024-02-01", 80, "Ads"),
    ("ann", "2024-03-01", 30, "Email"),
    ("ann", "2024-03-05", -20, "Email"),
)


def test_the_documented_example_of_ann():
    ann = customer_table(ANN, as_of=dt.date(2024, 6, 30)).loc["ann"]
    assert ann["lifetime_value"] == 190  # 100 + 80 + 30 - 20
    assert ann["orders"] == 3  # the refund row is not a purchase
    assert ann["purchase_days"] == 3
    assert ann["average_order_value"] == pytest.approx(190 / 3)  # 63.33
    assert ann["acquisition_channel"] == "Ads"
    # 1 Jan -> 1 Mar 2024 = 31 + 29 = 60 days over 3 - 1 gaps.
    assert ann["avg_days_between_purchases"] == 30
    assert ann["days_to_second_purchase"] == 31  # 1 Jan -> 1 Feb
    # 1 Mar -> 30 Jun = 30 (rest of March) + 30 + 31 + 30 = 121; the refund day does not count.
    assert ann["days_since_last_order"] == 121
    assert ann["first_order"] == T("2024-01-01")
    assert ann["last_order"] == T("2024-03-01")


# Every other column, one customer per edge case.
MIXED = purchases(
    # bob: two purchases on one day, 09:00 through Email and 18:00 through Ads.
    ("bob", "2024-02-10 09:00", 50, "Email"),
    ("bob", "2024-02-10 18:00", 70, "Ads"),
    # cat: only a refund.
    ("cat", "2024-03-01", -30, "Ads"),
    # dan: a zero order, then a purchase.
    ("dan", "2024-01-10", 0, "Social"),
    ("dan", "2024-02-20", 40, "Email"),
    # eve: the latest order in the data, with a blank channel.
    ("eve", "2024-03-10", 25, None),
)


@pytest.fixture(scope="module")
def mixed():
    return customer_table(MIXED)


def test_every_customer_is_one_row(mixed):
    assert sorted(mixed.index) == ["bob", "cat", "dan", "eve"]


def test_same_day_orders_are_two_orders_but_one_purchase_day(mixed):
    bob = mixed.loc["bob"]
    assert bob["orders"] == 2
    assert bob["purchase_days"] == 1
    assert bob["lifetime_value"] == 120  # 50 + 70
    assert bob["average_order_value"] == 60  # 120 / 2
    assert math.isnan(bob["avg_days_between_purchases"])  # one purchase day
    assert math.isnan(bob["days_to_second_purchase"])
    assert bob["first_order"] == T("2024-02-10 09:00")
    assert bob["last_order"] == T("2024-02-10 18:00")
    assert bob["acquisition_channel"] == "Email"  # the 09:00 purchase came first


def test_a_customer_with_only_refunds_has_a_negative_value_and_no_purchases(mixed):
    cat = mixed.loc["cat"]
    assert cat["lifetime_value"] == -30
    assert cat["orders"] == 0
    assert cat["purchase_days"] == 0
    assert math.isnan(cat["average_order_value"])
    assert math.isnan(cat["avg_days_between_purchases"])
    # No purchase: first and last order are the first and last row.
    assert cat["first_order"] == T("2024-03-01")
    assert cat["last_order"] == T("2024-03-01")


def test_a_zero_amount_order_is_not_a_purchase(mixed):
    dan = mixed.loc["dan"]
    assert dan["orders"] == 1  # only the 40
    assert dan["purchase_days"] == 1
    assert dan["lifetime_value"] == 40  # 0 + 40
    assert dan["first_order"] == T("2024-02-20")  # the first purchase, not the zero order
    assert dan["acquisition_channel"] == "Email"  # channel of the first purchase


def test_a_blank_channel_is_unknown(mixed):
    assert mixed.loc["eve", "acquisition_channel"] == "Unknown"


def test_as_of_defaults_to_the_latest_order_date(mixed):
    # Latest order: eve on 10 Mar 2024.
    assert mixed.loc["eve", "days_since_last_order"] == 0
    # bob: 10 Feb -> 10 Mar = 19 + 10 = 29 days (2024 is a leap year).
    assert mixed.loc["bob", "days_since_last_order"] == 29
    # dan: 20 Feb -> 10 Mar = 9 + 10 = 19 days.
    assert mixed.loc["dan", "days_since_last_order"] == 19
    assert customers_of(MIXED).as_of == T("2024-03-10")


def test_refunds_larger_than_the_orders_leave_a_negative_lifetime_value():
    raw = purchases(("fay", "2024-01-01", 30), ("fay", "2024-01-05", -50))
    fay = customer_table(raw).loc["fay"]
    assert fay["lifetime_value"] == -20  # 30 - 50
    assert fay["orders"] == 1
    assert fay["average_order_value"] == -20  # -20 / 1


def test_the_acquisition_channel_tie_is_broken_by_the_smallest_order_id():
    raw = table(
        [
            (2002, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Social", "yes"),
            (2001, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Web", "yes"),
        ]
    )
    assert customer_table(raw).loc["eve", "acquisition_channel"] == "Web"


def test_the_smallest_order_id_is_compared_as_a_number_when_ids_are_numbers():
    raw = table(
        [
            (9, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Social", "yes"),
            (10, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Ads", "yes"),
        ]
    )
    # Order 9 is the smaller id: its channel is the acquisition channel.
    assert customer_table(raw).loc["eve", "acquisition_channel"] == "Social"


def test_the_acquisition_channel_tie_without_order_ids_is_the_first_channel_by_name():
    raw = table(
        [
            ("eve", "2024-01-15 12:00", 10, "Social"),
            ("eve", "2024-01-15 12:00", 10, "Email"),
        ],
        header=("Customer ID", "Order Date", "Amount", "Channel"),
    )
    assert customer_table(raw).loc["eve", "acquisition_channel"] == "Email"


def test_the_acquisition_channel_does_not_depend_on_row_order():
    rows = [
        (2002, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Social", "yes"),
        (2001, "eve", "eve@shop.test", "2024-01-15 12:00", 10, "Web", "yes"),
    ]
    assert customer_table(table(rows[::-1])).loc["eve", "acquisition_channel"] == "Web"


def test_email_and_name_shown_are_the_most_recent_non_blank_ones():
    raw = table(
        [
            ("c1", "Old@Shop.test", "Ann", "2024-01-01", 10),
            ("c1", "new@shop.test", None, "2024-02-01", 10),
            ("c1", None, None, "2024-03-01", 10),
        ],
        header=("Customer ID", "Email", "Name", "Order Date", "Amount"),
    )
    c1 = customer_table(raw).loc["c1"]
    assert c1["email"] == "new@shop.test"
    assert c1["name"] == "Ann"


def test_consent_is_the_latest_stated_one():
    raw = purchases(
        ("yes_then_no", "2024-01-01", 10, "Web", "yes"),
        ("yes_then_no", "2024-02-01", 10, "Web", "no"),
        ("yes_then_no", "2024-03-01", 10, "Web", None),
        ("no_then_yes", "2024-01-01", 10, "Web", "no"),
        ("no_then_yes", "2024-03-01", 10, "Web", "yes"),
        ("never_said", "2024-01-01", 10, "Web", None),
        ("same_moment", "2024-02-01 10:00", 10, "Web", "yes"),
        ("same_moment", "2024-02-01 10:00", 20, "Web", "no"),
    )
    consent = customer_table(raw)["consent"]
    assert consent.to_dict() == {
        "yes_then_no": False,  # Feb said no; March said nothing
        "no_then_yes": True,
        "never_said": None,  # unknown
        "same_moment": False,  # a yes and a no at one moment is a no
    }


def test_an_as_of_date_leaves_out_later_orders_and_counts_them():
    customers = customers_of(ANN, as_of=dt.date(2024, 2, 15))
    ann = customers.frame.set_index("customer_key").loc["ann"]
    assert ann["lifetime_value"] == 180  # 100 + 80; 1 Mar and 5 Mar are after the as-of day
    assert ann["orders"] == 2
    assert ann["days_since_last_order"] == 14  # 1 Feb -> 15 Feb
    assert customers.orders.quality.orders_after_as_of == 2


def test_orders_on_the_as_of_day_count():
    customers = customers_of(ANN, as_of=dt.date(2024, 3, 1))
    ann = customers.frame.set_index("customer_key").loc["ann"]
    assert ann["lifetime_value"] == 210  # 100 + 80 + 30; the 5 Mar refund is later
    assert ann["days_since_last_order"] == 0


def test_an_as_of_date_before_the_first_order_is_an_error():
    with pytest.raises(SettingsError, match="before the first order"):
        customers_of(ANN, as_of=dt.date(2023, 12, 31))


def test_customers_are_keyed_by_id_else_by_normalized_email():
    raw = table(
        [
            (1, "7", "ann@shop.test", "2024-01-01", 10, "Web", "yes"),
            (2, None, " Guest@Shop.test", "2024-01-02", 20, "Web", "yes"),
            (3, None, "guest@shop.test ", "2024-01-03", 30, "Web", "yes"),
        ],
        header=HEADER,
    )
    customers = customer_table(raw)
    assert sorted(customers.index) == ["7", "guest@shop.test"]
    assert customers.loc["guest@shop.test", "lifetime_value"] == 50  # 20 + 30
    assert customers.loc["guest@shop.test", "orders"] == 2


def test_a_customer_id_that_is_an_email_matches_like_an_email():
    raw = table(
        [
            ("Ann@Shop.test", "2024-01-01", 10),
            (" ann@shop.test", "2024-01-02", 20),
        ],
        header=("Customer", "Order Date", "Amount"),
    )
    customers = customer_table(raw)
    assert list(customers.index) == ["ann@shop.test"]
    assert customers.loc["ann@shop.test", "lifetime_value"] == 30
