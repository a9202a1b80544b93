"""Churn risk and monthly churn (docs/definitions.md sections 5 and 6)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from helpers_engine import customer_table, purchases, segments_of

from xl_segments.churn import (
    churn_risk_list,
    churn_window,
    flag_churn_risk,
    store_average_gap,
)
from xl_segments.settings import Settings

AS_OF = dt.date(2024, 7, 15)

# The example of docs/definitions.md, as of 15 Jul 2024.
SHOP = purchases(
    # t: 3 purchase days 30 days apart (16 Jan -> 15 Feb -> 16 Mar); 16 Mar -> 15 Jul = 121.
    ("t", "2024-01-16", 40),
    ("t", "2024-02-15", 40),
    ("t", "2024-03-16", 40),
    # q: 1 Jan -> 1 Mar (60) -> 26 Jun (117): 177 / 2 = 88.5; 26 Jun -> 15 Jul = 19.
    ("q", "2024-01-01", 10),
    ("q", "2024-03-01", 10),
    ("q", "2024-06-26", 10),
    # r: 1 Feb -> 23 Mar = 51 days, 2 purchase days; 23 Mar -> 15 Jul = 8+30+31+30+15 = 114.
    ("r", "2024-02-01", 50),
    ("r", "2024-03-23", 50),
    # s: the one-time buyer 107 days ago (30 Mar -> 15 Jul = 1+30+31+30+15).
    ("s", "2024-03-30", 100),
    # u: bought 5 days ago.
    ("u", "2024-07-10", 20),
    # w: one-time, exactly 51 days ago (25 May -> 15 Jul = 6+30+15): not past the gap.
    ("w", "2024-05-25", 10),
    # x: one-time, exactly 153 = 51 x 3 days ago (13 Feb -> 15 Jul = 16+31+30+31+30+15).
    ("x", "2024-02-13", 10),
    # v: only a refund: no purchase, no status.
    ("v", "2024-05-01", -5),
)


def flagged_of(raw=SHOP, **settings):
    settings.setdefault("as_of", AS_OF)
    chosen = Settings(**settings)
    customers = customer_table(raw, **settings).reset_index()
    gap = store_average_gap(customers, chosen)
    return flag_churn_risk(customers, gap, chosen).set_index("customer_key")


def test_the_store_gap_is_the_median_of_repeat_customers_own_averages():
    customers = customer_table(SHOP, as_of=AS_OF).reset_index()
    # Own averages 30 (t), 88.5 (q), 51 (r): median 51.
    assert store_average_gap(customers, Settings()) == 51


def test_the_store_gap_can_be_the_mean():
    customers = customer_table(SHOP, as_of=AS_OF).reset_index()
    # (30 + 88.5 + 51) / 3 = 169.5 / 3 = 56.5
    assert store_average_gap(customers, Settings(store_gap_statistic="mean")) == 56.5


def test_without_repeat_customers_there_is_no_store_gap_and_no_churn_list():
    raw = purchases(("a", "2024-01-01", 10), ("b", "2024-02-01", 10), ("b", "2024-02-01", 5))
    customers = customer_table(raw).reset_index()
    assert store_average_gap(customers, Settings()) is None
    segments = segments_of(raw)
    assert segments.flagged is None
    assert segments.churn_risk is None
    assert segments.monthly_churn is None
    assert any("two different days" in w for w in segments.warnings)


def test_expected_gaps_ratios_and_statuses_of_the_documented_example():
    flagged = flagged_of()
    expected = {
        # key: (expected gap, days since, status)
        "t": (30, 121, "Lapsed"),  # own gap (3 purchase days); 121 > 30 x 3 = 90
        "q": (88.5, 19, "Active"),  # own gap
        "r": (51, 114, "At risk"),  # 2 purchase days < 3: the store's; 51 < 114 <= 153
        "s": (51, 107, "At risk"),  # one-time buyer: 107 > 51 but <= 153
        "u": (51, 5, "Active"),
        "w": (51, 51, "Active"),  # 51 is not more than 51
        "x": (51, 153, "At risk"),  # 153 is not more than 153
    }
    assert sorted(flagged.index) == sorted(expected)  # v has no purchase: no status
    for key, (gap, days, status) in expected.items():
        row = flagged.loc[key]
        assert row["expected_gap"] == gap, key
        assert row["days_since_last_order"] == days, key
        assert row["overdue_ratio"] == pytest.approx(days / gap), key
        assert row["status"] == status, key
    assert flagged.loc["s", "overdue_ratio"] == pytest.approx(2.10, abs=0.005)  # 107 / 51
    assert flagged.loc["t", "overdue_ratio"] == pytest.approx(4.03, abs=0.005)  # 121 / 30


def test_own_gap_needs_min_purchases_for_own_gap_purchase_days():
    # With 4 needed, t's 3 purchase days are not enough: expected 51, 121 <= 153: at risk.
    t = flagged_of(min_purchases_for_own_gap=4).loc["t"]
    assert t["expected_gap"] == 51
    assert t["status"] == "At risk"
    # With 2, r uses its own 51 days, and q still its own 88.5.
    flagged = flagged_of(min_purchases_for_own_gap=2)
    assert flagged.loc["r", "expected_gap"] == 51
    assert flagged.loc["q", "expected_gap"] == 88.5


def test_the_mean_store_gap_changes_the_expected_gap_of_short_histories():
    flagged = flagged_of(store_gap_statistic="mean")
    assert flagged.loc["s", "expected_gap"] == 56.5
    assert flagged.loc["s", "overdue_ratio"] == pytest.approx(107 / 56.5)
    assert flagged.loc["t", "expected_gap"] == 30  # own gap unchanged


def test_the_churn_multiplier_moves_the_at_risk_line():
    # x 2.2: the line is 51 x 2.2 = 112.2 days for the store-gap customers.
    status = flagged_of(churn_multiplier=2.2)["status"]
    assert status["r"] == "At risk"
    assert status["s"] == "Active"  # 107 <= 112.2
    assert status["x"] == "At risk"  # 153 > 112.2
    assert status["t"] == "Lapsed"


def test_the_lapsed_multiplier_moves_the_lapsed_line():
    # x 4.1: t 121 <= 30 x 4.1 = 123: at risk, not lapsed.
    assert flagged_of(lapsed_multiplier=4.1).loc["t", "status"] == "At risk"
    # x 2.5: x 153 > 51 x 2.5 = 127.5: lapsed; r 114 <= 127.5: at risk.
    status = flagged_of(lapsed_multiplier=2.5)["status"]
    assert status["x"] == "Lapsed"
    assert status["r"] == "At risk"


def test_the_churn_risk_list_is_most_valuable_first_then_most_overdue():
    risky = churn_risk_list(flagged_of().reset_index())
    # t 120 (lapsed); r and s 100 each: r 114/51 = 2.24 before s 107/51 = 2.10; x 10.
    assert list(risky["customer_key"]) == ["t", "r", "s", "x"]
    assert list(risky["status"]) == ["Lapsed", "At risk", "At risk", "At risk"]


def test_the_churn_risk_list_breaks_full_ties_by_customer_key():
    raw = purchases(
        ("rep", "2024-01-01", 10),
        ("rep", "2024-01-11", 10),  # store gap 10; 11 Jan -> 1 Mar = 50 days: lapsed
        ("bb", "2024-01-01", 50),  # aa and bb: 60 days, ratio 6, value 50: a full tie
        ("aa", "2024-01-01", 50),
        ("now", "2024-03-01", 1),
    )
    risky = churn_risk_list(flagged_of(raw, as_of=dt.date(2024, 3, 1)).reset_index())
    assert list(risky["customer_key"]) == ["aa", "bb", "rep"]


def test_the_churn_window_is_the_store_gap_times_the_lapsed_multiplier():
    assert churn_window(51, Settings()) == 153  # 51 x 3
    assert churn_window(51, Settings(lapsed_multiplier=2)) == 102
    assert churn_window(51, Settings(churn_window_days=45)) == 45
    assert churn_window(None, Settings()) is None
    assert segments_of(SHOP, as_of=AS_OF).window == 153


# --- Monthly churn -------------------------------------------------------------------------

# A churn window of 30 days: active at the end of day t when the last purchase is at most
# 30 days before t; churned on last purchase day + 31.
HISTORY = purchases(
    # A: 10 Jan, 5 Feb (26 days later: still active), churns 5 Feb + 31 = 7 Mar,
    # comes back 20 Apr (a reactivation).
    ("A", "2024-01-10", 10),
    ("A", "2024-02-05", 10),
    ("A", "2024-04-20", 10),
    # B: 15 Jan only; churns 15 Jan + 31 = 15 Feb.
    ("B", "2024-01-15", 10),
    # C: 20 Feb, 18 Mar (27 days later); churns 18 Mar + 31 = 18 Apr.
    ("C", "2024-02-20", 10),
    ("C", "2024-03-18", 10),
    # D: new on 25 Apr, the as-of day.
    ("D", "2024-04-25", 10),
)

MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
EXPECTED_MONTHS = {
    # Jan: A and B new; both active on 31 Jan.
    "active_at_start": [0, 2, 2, 1],
    "new": [2, 1, 0, 1],  # A, B | C | - | D
    "returning": [0, 1, 1, 1],  # - | A (5 Feb) | C (18 Mar) | A (20 Apr)
    "reactivated": [0, 0, 0, 1],  # A on 20 Apr, 75 days after 5 Feb
    "churned": [0, 1, 1, 1],  # - | B 15 Feb | A 7 Mar | C 18 Apr
    # 31 Jan: A, B | 29 Feb: A, C | 31 Mar: C | 25 Apr: A, D
    "active_at_end": [2, 2, 1, 2],
}


@pytest.fixture(scope="module")
def history():
    return segments_of(HISTORY, churn_window_days=30).monthly_churn


def test_monthly_churn_has_one_row_per_month_up_to_the_as_of_day(history):
    assert list(history["month"]) == [pd.Timestamp(m) for m in MONTHS]


@pytest.mark.parametrize("column", list(EXPECTED_MONTHS))
def test_monthly_churn_counts_on_a_hand_computed_history(history, column):
    assert list(history[column]) == EXPECTED_MONTHS[column]


def test_monthly_churn_rate_is_churned_over_active_at_start(history):
    rate = list(history["churn_rate"])
    assert math.isnan(rate[0])  # nobody active at the start of January
    assert rate[1:] == [0.5, 0.5, 1.0]  # 1/2, 1/2, 1/1


def test_the_months_before_the_as_of_month_are_complete(history):
    assert list(history["complete"])[:3] == [True, True, True]


def test_the_as_of_month_is_incomplete_unless_the_as_of_day_ends_it(history):
    # As of 25 April: April is not complete.
    assert not history["complete"].iloc[-1]


def test_the_as_of_month_is_complete_on_its_last_day():
    monthly = segments_of(HISTORY, churn_window_days=30, as_of=dt.date(2024, 4, 30)).monthly_churn
    assert bool(monthly["complete"].iloc[-1])


def test_active_at_end_is_active_at_start_plus_new_plus_reactivated_minus_churned(history):
    identity = (
        history["active_at_start"] + history["new"] + history["reactivated"] - history["churned"]
    )
    assert list(identity) == list(history["active_at_end"])


def test_churn_days_after_the_as_of_day_are_not_counted():
    # As of 10 Apr, C (churn day 18 Apr) is still active and nothing churned in April.
    monthly = segments_of(HISTORY, churn_window_days=30, as_of=dt.date(2024, 4, 10)).monthly_churn
    april = monthly.iloc[-1]
    assert april["churned"] == 0
    assert april["active_at_end"] == 1  # C; A and D come later
    assert april["new"] == 0


def test_a_short_window_can_churn_a_customer_twice_in_one_month():
    # Window 5: E churns 1 Jan + 6 = 7 Jan, is back 10 Jan, churns again 10 + 6 = 16 Jan.
    raw = purchases(("E", "2024-01-01", 10), ("E", "2024-01-10", 10))
    monthly = segments_of(raw, churn_window_days=5, as_of=dt.date(2024, 1, 31)).monthly_churn
    jan = monthly.iloc[0]
    assert jan["new"] == 1
    assert jan["reactivated"] == 1
    assert jan["churned"] == 2
    assert jan["active_at_end"] == 0  # 0 + 1 + 1 - 2


def test_the_default_window_is_the_store_gap_times_the_lapsed_multiplier():
    # Own averages: A (10 Jan -> 20 Apr, 3 days) 101 / 2 = 50.5; C 27: median 38.75; x 3.
    segments = segments_of(HISTORY)
    assert segments.store_gap == pytest.approx((50.5 + 27) / 2)
    assert segments.window == pytest.approx(38.75 * 3)
