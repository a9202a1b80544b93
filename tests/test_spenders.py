"""Biggest spenders (docs/definitions.md section 3): ranking, shares, top count, Pareto."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_engine import customer_table, purchases, segments_of

from xl_segments.settings import Settings
from xl_segments.spenders import pareto_curve, pareto_summary, rank_spenders, top_count

# The example of docs/definitions.md: LTVs 500, 210, 150, 30, 5 (total 895).
FIVE = purchases(
    ("d", "2024-01-04", 30),
    ("a", "2024-01-01", 500),
    ("e", "2024-01-05", 5),
    ("c", "2024-01-03", 150),
    ("b", "2024-01-02", 200),
    ("b", "2024-02-02", 10),
)


def ranked_of(raw, **settings):
    return rank_spenders(customer_table(raw).reset_index(), Settings(**settings))


def test_customers_are_ranked_by_lifetime_value():
    ranked = ranked_of(FIVE)
    assert list(ranked["customer_key"]) == ["a", "b", "c", "d", "e"]
    assert list(ranked["rank"]) == [1, 2, 3, 4, 5]
    assert list(ranked["lifetime_value"]) == [500, 210, 150, 30, 5]


def test_revenue_and_cumulative_shares_of_the_documented_example():
    ranked = ranked_of(FIVE)
    # 500/895, 210/895, 150/895, 30/895, 5/895
    assert list(ranked["revenue_share"]) == pytest.approx(
        [0.558659, 0.234637, 0.167598, 0.033520, 0.005587], abs=1e-6
    )
    # 500/895, 710/895, 860/895, 890/895, 895/895
    assert list(ranked["cumulative_share"]) == pytest.approx(
        [0.558659, 0.793296, 0.960894, 0.994413, 1.0], abs=1e-6
    )


def test_ties_go_to_the_earlier_first_order_then_the_customer_key():
    raw = purchases(
        ("zed", "2024-01-01", 100),  # same value and first order as amy: key decides
        ("amy", "2024-01-01", 100),
        ("bea", "2023-12-31", 100),  # same value, earlier first order: first
        ("cid", "2024-01-02", 300),
    )
    assert list(ranked_of(raw)["customer_key"]) == ["cid", "bea", "amy", "zed"]


def test_the_top_is_the_top_share_of_customers_rounded_up():
    assert top_count(7, 0.2) == 2  # 20% of 7 = 1.4 -> 2
    assert top_count(30, 0.1) == 3  # 10% of 30 = 3 exactly, not 4
    assert top_count(5, 0.2) == 1  # 20% of 5 = 1
    assert top_count(1, 0.01) == 1  # 1% of 1 = 0.01 -> 1
    assert top_count(0, 0.2) == 0


def test_the_top_flag_marks_the_first_ceil_top_share_customers():
    seven = purchases(*[(f"c{i}", "2024-01-01", 100 - i) for i in range(7)])
    assert list(ranked_of(seven)["top"]) == [True, True, False, False, False, False, False]
    thirty = purchases(*[(f"c{i:02}", "2024-01-01", 100 - i) for i in range(30)])
    assert int(ranked_of(thirty, top_share=0.1)["top"].sum()) == 3


def test_the_pareto_summary_of_the_documented_example():
    ranked = ranked_of(FIVE)
    pareto = pareto_summary(ranked, Settings())
    assert pareto.customers == 5
    assert pareto.revenue == 895
    assert pareto.top_customers == 1  # 20% of 5
    assert pareto.top_revenue_share == pytest.approx(500 / 895)  # 55.9%
    # Cumulative 55.9%, 79.3%, 96.1%: the third customer reaches 80%.
    assert pareto.customers_needed == 3
    assert pareto.customer_share_needed == pytest.approx(0.6)


def test_a_revenue_share_reached_exactly_needs_no_extra_customer():
    # LTVs 60, 20, 20: the top two bring exactly 80%.
    raw = purchases(("a", "2024-01-01", 60), ("b", "2024-01-02", 20), ("c", "2024-01-03", 20))
    pareto = pareto_summary(ranked_of(raw), Settings())
    assert pareto.customers_needed == 2
    assert pareto.customer_share_needed == pytest.approx(2 / 3)


def test_the_pareto_curve_gives_the_cumulative_share_every_5_percent_of_customers():
    curve = pareto_curve(ranked_of(FIVE))
    assert list(curve["customer_share"]) == pytest.approx([i * 0.05 for i in range(21)])
    # With 5 customers, every 20% of customers is one whole customer.
    at = {
        round(s, 2): r for s, r in zip(curve["customer_share"], curve["revenue_share"], strict=True)
    }
    assert at[0.0] == 0
    assert at[0.2] == pytest.approx(500 / 895)
    assert at[0.4] == pytest.approx(710 / 895)
    assert at[0.6] == pytest.approx(860 / 895)
    assert at[0.8] == pytest.approx(890 / 895)
    assert at[1.0] == pytest.approx(1.0)


def test_the_pareto_curve_of_twenty_customers_steps_one_customer_at_a_time():
    # LTVs 20, 19, ... 1: total 210; the top k bring (20 + 21 - k) * k / 2.
    raw = purchases(*[(f"c{i:02}", "2024-01-01", 20 - i) for i in range(20)])
    curve = pareto_curve(ranked_of(raw))
    expected = [(41 - k) * k / 2 / 210 for k in range(21)]
    assert list(curve["revenue_share"]) == pytest.approx(expected)


def test_shares_and_pareto_are_blank_when_total_revenue_is_not_above_zero():
    raw = purchases(("a", "2024-01-01", 50), ("b", "2024-01-02", 30), ("b", "2024-01-03", -110))
    ranked = ranked_of(raw)  # LTVs 50 and -80: total -30
    assert ranked["revenue_share"].isna().all()
    assert ranked["cumulative_share"].isna().all()
    pareto = pareto_summary(ranked, Settings())
    assert pareto.top_revenue_share is None
    assert pareto.customers_needed is None
    assert pareto.customer_share_needed is None
    assert np.isnan(pareto_curve(ranked)["revenue_share"]).all()


def test_a_zero_total_revenue_warns_when_building_the_lists():
    raw = purchases(("a", "2024-01-01", 50), ("a", "2024-01-02", -50))
    segments = segments_of(raw)
    assert any("not above zero" in w for w in segments.warnings)
    assert segments.pareto.top_revenue_share is None


def test_the_top_spenders_list_holds_the_top_customers():
    segments = segments_of(FIVE, top_share=0.4)
    # 40% of 5 = 2 customers.
    assert list(segments.top_spenders["customer_key"]) == ["a", "b"]
