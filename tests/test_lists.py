"""Contact lists, consent and suppression (docs/definitions.md section 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_engine import customer_table, purchases, segments_of, table

from xl_segments.lists import LeftOut, contact_list
from xl_segments.settings import Settings

# Five customers, all in the top (top_share 100%): total 500 + 300 + 200 + 100 + 50 = 1150.
FIVE = purchases(
    ("a", "2024-01-01", 500, "Web", "yes"),
    ("b", "2024-01-02", 300, "Web", "no"),
    ("c", "2024-01-03", 200, "Web", None),  # consent unknown
    ("d", "2024-01-04", 100, "Web", "yes"),  # suppressed below
    ("e", "2024-01-05", 50, "Web", "yes"),
)
SUPPRESS_D = frozenset({"  D@Shop.Test "})


def test_customers_without_consent_are_left_out_of_contact_lists():
    segments = segments_of(FIVE, top_share=1.0)
    assert list(segments.top_spenders["customer_key"]) == ["a", "d", "e"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=2, suppressed=0)  # b, c


def test_including_non_consenting_customers_is_an_opt_in():
    segments = segments_of(FIVE, top_share=1.0, include_non_consenting=True)
    assert list(segments.top_spenders["customer_key"]) == ["a", "b", "c", "d", "e"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=0, suppressed=0)


def test_suppressed_emails_are_matched_case_insensitively_without_spaces():
    segments = segments_of(FIVE, top_share=1.0, suppressed_emails=SUPPRESS_D)
    assert list(segments.top_spenders["customer_key"]) == ["a", "e"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=2, suppressed=1)


def test_suppression_applies_even_when_non_consenting_customers_are_included():
    segments = segments_of(
        FIVE, top_share=1.0, suppressed_emails=SUPPRESS_D, include_non_consenting=True
    )
    assert list(segments.top_spenders["customer_key"]) == ["a", "b", "c", "e"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=0, suppressed=1)


def test_suppression_matches_an_email_written_with_capitals_and_spaces_in_the_orders():
    raw = table(
        [(1, "d", " D@Shop.TEST", "2024-01-01", 10, "Web", "yes")],
    )
    segments = segments_of(raw, suppressed_emails=frozenset({"d@shop.test"}))
    assert segments.top_spenders.empty
    assert segments.left_out["Top Spenders"].suppressed == 1


def test_without_a_consent_column_everyone_may_be_listed_but_suppression_holds():
    raw = FIVE.drop(columns="Accepts Marketing")
    segments = segments_of(raw, top_share=1.0, suppressed_emails=SUPPRESS_D)
    assert list(segments.top_spenders["customer_key"]) == ["a", "b", "c", "e"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=0, suppressed=1)


def test_ranks_and_shares_are_computed_over_all_customers():
    segments = segments_of(FIVE, top_share=1.0, suppressed_emails=SUPPRESS_D)
    listed = segments.top_spenders.set_index("customer_key")
    assert listed.loc["a", "rank"] == 1
    assert listed.loc["e", "rank"] == 5  # b, c and d are ranked though not listed
    assert listed.loc["e", "revenue_share"] == pytest.approx(50 / 1150)
    assert listed.loc["e", "cumulative_share"] == pytest.approx(1.0)
    assert segments.pareto.customers == 5
    assert segments.pareto.revenue == 1150


def test_the_top_is_chosen_before_consent_is_applied():
    # 40% of 5 = 2: a and b are the top; b has no consent, so only a is listed (not d).
    segments = segments_of(FIVE, top_share=0.4)
    assert list(segments.top_spenders["customer_key"]) == ["a"]
    assert segments.left_out["Top Spenders"] == LeftOut(no_consent=1, suppressed=0)


CHURN = purchases(
    # a: 1 Jan, 11 Jan: store gap 10; as of 1 Mar, 50 days > 30: lapsed.
    ("a", "2024-01-01", 10, "Ads", "yes"),
    ("a", "2024-01-11", 10, "Ads", "yes"),
    # b: repeat through Ads too, without consent; 1 Jan -> 11 Jan, lapsed too.
    ("b", "2024-01-01", 20, "Ads", "no"),
    ("b", "2024-01-11", 20, "Ads", "no"),
    # c: one-time 1 Jan, 60 days: lapsed, no consent.
    ("c", "2024-01-01", 50, "Ads", "no"),
    # n: bought on the as-of day.
    ("n", "2024-03-01", 5, "Ads", "yes"),
)


def test_the_churn_risk_list_leaves_out_non_consenting_customers_but_counts_them():
    segments = segments_of(CHURN, min_channel_customers=1)
    assert list(segments.churn_risk["customer_key"]) == ["a"]
    assert segments.left_out["Churn Risk"] == LeftOut(no_consent=2, suppressed=0)
    # The statuses are computed over everyone.
    statuses = segments.flagged.set_index("customer_key")["status"]
    assert statuses.to_dict() == {"a": "Lapsed", "b": "Lapsed", "c": "Lapsed", "n": "Active"}


def test_the_repeat_by_channel_list_leaves_out_non_consenting_customers():
    segments = segments_of(CHURN, min_channel_customers=1)
    assert list(segments.repeat_by_channel["customer_key"]) == ["a"]
    assert segments.left_out["Repeat by Channel"] == LeftOut(no_consent=1, suppressed=0)
    # The channel figures count b: Ads has 4 customers, 2 of them repeat.
    ads = segments.channels.set_index("channel").loc["Ads"]
    assert ads["customers"] == 4
    assert ads["repeat_rate"] == 0.5


def test_contact_list_on_a_customer_table():
    customers = customer_table(FIVE).reset_index()
    listed, left_out = contact_list(customers, True, Settings(suppressed_emails=SUPPRESS_D))
    assert list(listed["customer_key"]) == ["a", "e"]
    assert left_out.total == 3  # b and c without consent, d suppressed


def test_the_latest_stated_consent_decides_who_is_listed():
    raw = purchases(
        ("a", "2024-01-01", 10, "Web", "no"),
        ("a", "2024-02-01", 10, "Web", "yes"),
        ("b", "2024-01-01", 10, "Web", "yes"),
        ("b", "2024-02-01", 10, "Web", "unsubscribed"),
    )
    segments = segments_of(raw, top_share=1.0, as_of=dt.date(2024, 2, 1))
    assert list(segments.top_spenders["customer_key"]) == ["a"]
