"""Channels (docs/definitions.md section 4): per-channel figures, ranking, repeat customers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from helpers_engine import customer_table, purchases, segments_of

from xl_segments.channels import channel_performance, repeat_customers
from xl_segments.errors import SettingsError
from xl_segments.settings import Settings

# Ads acquires a1 (2 purchase days), a2 (1) and a3 (3); Email acquires e1 (1) and e2 (two
# purchases on one day); Social acquires s1 (2). r1 only has a refund: acquired by nobody.
# A customer's later purchases through other channels still count for the first channel.
SHOP = purchases(
    ("a1", "2024-01-01", 100, "Ads"),
    ("a1", "2024-01-11", 50, "Email"),
    ("a2", "2024-01-05", 60, "Ads"),
    ("a3", "2024-01-02", 20, "Ads"),
    ("a3", "2024-01-22", 20, "Ads"),
    ("a3", "2024-02-01", 20, "Social"),
    ("e1", "2024-01-03", 200, "Email"),
    ("e2", "2024-01-04 09:00", 40, "Email"),
    ("e2", "2024-01-04 17:00", 10, "Email"),
    ("s1", "2024-01-06", 30, "Social"),
    ("s1", "2024-02-06", 30, "Social"),
    ("r1", "2024-01-07", -10, "Email"),
)


def channels_of(raw, **settings):
    settings.setdefault("min_channel_customers", 1)
    table = customer_table(raw).reset_index()
    return channel_performance(table, Settings(**settings)).set_index("channel")


def test_the_channel_figures():
    channels = channels_of(SHOP)
    ads, email, social = channels.loc["Ads"], channels.loc["Email"], channels.loc["Social"]
    # Ads: a1, a2, a3 with 2 + 1 + 3 purchases and 150 + 60 + 60 revenue.
    assert ads["customers"] == 3
    assert ads["orders"] == 6
    assert ads["revenue"] == 270
    assert ads["average_order_value"] == 45  # 270 / 6
    assert ads["repeat_rate"] == pytest.approx(2 / 3)  # a1 and a3
    assert ads["revenue_per_customer"] == 90  # 270 / 3
    # Days to second purchase: a1 1 Jan -> 11 Jan = 10, a3 2 Jan -> 22 Jan = 20; median 15.
    assert ads["median_days_to_second_purchase"] == 15
    # Email: e1 and e2 (r1 bought nothing); 200 + 50 over 1 + 2 orders.
    assert email["customers"] == 2
    assert email["orders"] == 3
    assert email["revenue"] == 250
    assert email["average_order_value"] == pytest.approx(250 / 3)  # 83.33
    assert email["repeat_rate"] == 0  # e2's two orders are one purchase day
    assert email["revenue_per_customer"] == 125
    assert math.isnan(email["median_days_to_second_purchase"])
    # Social: s1 with 30 + 30; 6 Jan -> 6 Feb = 31 days.
    assert social["customers"] == 1
    assert social["orders"] == 2
    assert social["revenue"] == 60
    assert social["average_order_value"] == 30
    assert social["repeat_rate"] == 1
    assert social["revenue_per_customer"] == 60
    assert social["median_days_to_second_purchase"] == 31


def test_customers_without_a_purchase_are_acquired_by_no_channel():
    channels = channels_of(SHOP)
    assert int(channels["customers"].sum()) == 6  # a1 a2 a3 e1 e2 s1, not r1


@pytest.mark.parametrize(
    ("metric", "order"),
    [
        ("revenue_per_customer", ["Email", "Ads", "Social"]),  # 125, 90, 60
        ("repeat_rate", ["Social", "Ads", "Email"]),  # 1, 0.67, 0
        ("average_order_value", ["Email", "Ads", "Social"]),  # 83.33, 45, 30
        ("revenue", ["Ads", "Email", "Social"]),  # 270, 250, 60
        ("customers", ["Ads", "Email", "Social"]),  # 3, 2, 1
    ],
)
def test_channels_are_ranked_by_the_chosen_metric(metric, order):
    channels = channels_of(SHOP, rank_channels_by=metric)
    assert list(channels.index) == order
    assert list(channels["rank"]) == [1, 2, 3]


def test_the_default_metric_is_revenue_per_customer():
    assert Settings().rank_channels_by == "revenue_per_customer"
    assert list(channels_of(SHOP).index) == ["Email", "Ads", "Social"]


def test_the_best_top_channels_are_flagged():
    channels = channels_of(SHOP, top_channels=2)
    assert channels["top"].to_dict() == {"Email": True, "Ads": True, "Social": False}


def test_channels_below_the_minimum_are_listed_unranked_and_never_top():
    channels = channels_of(SHOP, min_channel_customers=2)
    # Social has 1 customer: it comes last, without a rank, even though 3 top channels fit.
    assert list(channels.index) == ["Email", "Ads", "Social"]
    assert list(channels["eligible"]) == [True, True, False]
    assert channels.loc["Email", "rank"] == 1
    assert channels.loc["Ads", "rank"] == 2
    assert pd.isna(channels.loc["Social", "rank"])
    assert channels["top"].to_dict() == {"Email": True, "Ads": True, "Social": False}


def test_a_lucky_small_channel_cannot_win():
    # Social ranks first by repeat rate (100%) but has fewer than 3 customers.
    channels = channels_of(SHOP, rank_channels_by="repeat_rate", min_channel_customers=3)
    assert channels["top"].to_dict() == {"Ads": True, "Email": False, "Social": False}
    assert channels.loc["Ads", "rank"] == 1


def test_the_default_minimum_is_ten_customers():
    channels = channels_of(SHOP, min_channel_customers=10)
    assert not channels["eligible"].any()
    assert not channels["top"].any()


def test_ties_go_to_the_channel_with_more_customers_then_by_name():
    raw = purchases(
        ("x1", "2024-01-01", 100, "Xmas"),  # 100 per customer, 1 customer
        ("y1", "2024-01-01", 50, "Yelp"),  # 100 per customer, 2 customers
        ("y2", "2024-01-01", 150, "Yelp"),
        ("w1", "2024-01-01", 100, "Web"),  # 100 per customer, 1 customer: before Xmas
    )
    assert list(channels_of(raw).index) == ["Yelp", "Web", "Xmas"]


def test_blank_channels_are_grouped_as_unknown():
    raw = purchases(("a", "2024-01-01", 10, None), ("b", "2024-01-01", 20, "  "))
    channels = channels_of(raw)
    assert list(channels.index) == ["Unknown"]
    assert channels.loc["Unknown", "customers"] == 2


# --- Repeat customers by channel -----------------------------------------------------------


def repeat_of(raw, **settings):
    settings.setdefault("min_channel_customers", 1)
    table = customer_table(raw).reset_index()
    channels = channel_performance(table, Settings(**settings))
    return repeat_customers(table, channels, Settings(**settings))


def test_repeat_customers_of_the_top_channels_channel_by_channel_highest_value_first():
    # By repeat rate: Social (s1), Ads (a1 150, a3 60), Email (none repeat).
    repeat = repeat_of(SHOP, rank_channels_by="repeat_rate")
    assert list(repeat["customer_key"]) == ["s1", "a1", "a3"]
    assert list(repeat["acquisition_channel"]) == ["Social", "Ads", "Ads"]


def test_repeat_customers_leave_out_the_channels_that_are_not_top():
    # By revenue per customer with 1 top channel: Email only, and no Email customer repeats.
    assert repeat_of(SHOP, top_channels=1).empty
    # With 2: Email and Ads.
    assert list(repeat_of(SHOP, top_channels=2)["customer_key"]) == ["a1", "a3"]


def test_repeat_customers_of_one_named_channel():
    repeat = repeat_of(SHOP, repeat_channel="social")
    assert list(repeat["customer_key"]) == ["s1"]
    row = repeat.iloc[0]
    assert row["orders"] == 2
    assert row["lifetime_value"] == 60
    assert row["last_order"] == pd.Timestamp("2024-02-06")


def test_a_named_channel_is_used_even_when_it_is_too_small_to_rank():
    repeat = repeat_of(SHOP, repeat_channel="Social", min_channel_customers=5)
    assert list(repeat["customer_key"]) == ["s1"]


def test_an_unknown_named_channel_lists_the_channels():
    with pytest.raises(SettingsError, match=r'no channel "TikTok".*Email, Ads, Social'):
        repeat_of(SHOP, repeat_channel="TikTok")


def test_no_channel_column_means_no_channel_lists():
    raw = purchases(("a", "2024-01-01", 10)).drop(columns="Channel")
    segments = segments_of(raw)
    assert segments.channels is None
    assert segments.repeat_by_channel is None
    assert any("No channel column" in w for w in segments.warnings)


def test_no_eligible_channel_warns_how_to_rank_them():
    segments = segments_of(SHOP)  # default minimum 10 customers
    assert any("Minimum customers per channel" in w for w in segments.warnings)
