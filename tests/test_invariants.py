"""Properties that hold for every orders table, checked with Hypothesis on generated tables."""

from __future__ import annotations

import pandas as pd
from helpers_engine import normalize, segments_of, table
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xl_segments.churn import churn_risk_list, flag_churn_risk, monthly_churn, store_average_gap
from xl_segments.customers import build_customers
from xl_segments.lists import contact_list
from xl_segments.settings import Settings
from xl_segments.spenders import rank_spenders

BASE = pd.Timestamp("2024-01-01")
AMOUNTS = (-30.0, 0.0, 5.0, 10.5, 20.0, 99.99)
CHANNELS = ("Ads", "Email", None)
CONSENTS = ("yes", "no", None)

# One row: customer, day, hour, amount, channel, consent.
ROW = st.tuples(
    st.integers(0, 6),
    st.integers(0, 150),
    st.sampled_from((0, 12)),
    st.sampled_from(AMOUNTS),
    st.sampled_from(CHANNELS),
    st.sampled_from(CONSENTS),
)
ROWS = st.lists(ROW, min_size=1, max_size=30)
FAST = settings(max_examples=50, deadline=None)


def raw_of(rows) -> pd.DataFrame:
    return table(
        (
            1001 + i,
            f"c{customer}",
            f"C{customer}@Shop.test",
            BASE + pd.Timedelta(days=d, hours=h),
            amount,
            channel,
            consent,
        )
        for i, (customer, d, h, amount, channel, consent) in enumerate(rows)
    )


def customers_frame(raw: pd.DataFrame, **chosen) -> pd.DataFrame:
    return build_customers(normalize(raw, **chosen), Settings(**chosen)).frame


@FAST
@given(ROWS)
def test_every_customer_appears_exactly_once(rows):
    frame = customers_frame(raw_of(rows))
    assert frame["customer_key"].is_unique
    assert set(frame["customer_key"]) == {f"c{r[0]}" for r in rows}


@FAST
@given(ROWS)
def test_total_lifetime_value_equals_total_net_amount(rows):
    frame = customers_frame(raw_of(rows))
    total = sum(r[3] for r in rows)
    assert abs(frame["lifetime_value"].sum() - total) < 1e-6


@FAST
@given(ROWS)
def test_revenue_shares_sum_to_one_when_revenue_is_positive(rows):
    frame = customers_frame(raw_of(rows))
    assume(frame["lifetime_value"].sum() > 0)
    ranked = rank_spenders(frame)
    assert abs(ranked["revenue_share"].sum() - 1) < 1e-9
    assert abs(ranked["cumulative_share"].iloc[-1] - 1) < 1e-9


@FAST
@given(ROWS, st.integers(1, 100))
def test_the_top_count_is_the_top_share_of_customers_rounded_up(rows, percent):
    frame = customers_frame(raw_of(rows))
    ranked = rank_spenders(frame, Settings(top_share=percent / 100))
    n = len(frame)
    # ceil(percent x n / 100) in whole numbers, free of float rounding.
    assert int(ranked["top"].sum()) == -(-percent * n // 100)
    assert list(ranked["top"]) == sorted(ranked["top"], reverse=True)  # the top comes first


def _at_risk_or_lapsed(frame: pd.DataFrame, multiplier: float) -> set[str]:
    chosen = Settings(churn_multiplier=multiplier, lapsed_multiplier=10.0)
    gap = store_average_gap(frame, chosen)
    assume(gap is not None)
    flagged = flag_churn_risk(frame, gap, chosen)
    return set(flagged.loc[flagged["status"] != "Active", "customer_key"])


MULTIPLIERS = st.floats(0.1, 10.0, allow_nan=False)


@FAST
@given(ROWS, MULTIPLIERS, MULTIPLIERS)
def test_raising_the_churn_multiplier_never_grows_the_at_risk_or_lapsed_set(rows, m1, m2):
    low, high = sorted((m1, m2))
    frame = customers_frame(raw_of(rows))
    assert _at_risk_or_lapsed(frame, high) <= _at_risk_or_lapsed(frame, low)


@FAST
@given(ROWS, MULTIPLIERS, MULTIPLIERS)
def test_lowering_the_churn_multiplier_never_shrinks_the_churn_risk_list(rows, m1, m2):
    low, high = sorted((m1, m2))
    customers = build_customers(normalize(raw_of(rows)))

    def churn_list(multiplier: float) -> set[str]:
        chosen = Settings(churn_multiplier=multiplier, lapsed_multiplier=10.0)
        gap = store_average_gap(customers.frame, chosen)
        assume(gap is not None)
        risky = churn_risk_list(flag_churn_risk(customers.frame, gap, chosen))
        listed, _ = contact_list(risky, customers.has_consent, chosen)
        return set(listed["customer_key"])

    assert churn_list(high) <= churn_list(low)


@settings(max_examples=40, deadline=None)
@given(ROWS, st.data())
def test_results_do_not_depend_on_row_order(rows, data):
    order = data.draw(st.permutations(range(len(rows))))
    raw = raw_of(rows)
    shuffled = raw.iloc[list(order)].reset_index(drop=True)
    one = segments_of(raw, min_channel_customers=1, churn_window_days=20)
    two = segments_of(shuffled, min_channel_customers=1, churn_window_days=20)

    def by_key(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("customer_key").reset_index(drop=True)

    pd.testing.assert_frame_equal(by_key(one.customers.frame), by_key(two.customers.frame))
    pd.testing.assert_frame_equal(one.ranked, two.ranked)
    pd.testing.assert_frame_equal(one.channels, two.channels)
    pd.testing.assert_frame_equal(one.monthly_churn, two.monthly_churn)


@FAST
@given(ROWS, st.integers(1, 90))
def test_the_monthly_churn_identity_holds_for_every_month(rows, window):
    frame = build_customers(normalize(raw_of(rows)))
    monthly = monthly_churn(frame.purchase_days, frame.as_of, window)
    assume(not monthly.empty)
    identity = monthly["active_at_start"] + monthly["new"] + monthly["reactivated"]
    assert list(identity - monthly["churned"]) == list(monthly["active_at_end"])
    # Each month starts with the customers active at the end of the month before.
    assert list(monthly["active_at_start"].iloc[1:]) == list(monthly["active_at_end"].iloc[:-1])


@FAST
@given(ROWS, st.sets(st.integers(0, 6), max_size=3))
def test_no_non_consenting_or_suppressed_customer_is_ever_in_a_contact_list(rows, suppressed):
    emails = frozenset(f"c{i}@shop.test" for i in suppressed)
    segments = segments_of(
        raw_of(rows), top_share=1.0, min_channel_customers=1, suppressed_emails=emails
    )
    consent = segments.customers.frame.set_index("customer_key")["consent"]
    for listed in (segments.top_spenders, segments.repeat_by_channel, segments.churn_risk):
        if listed is None:
            continue
        for key in listed["customer_key"]:
            assert pd.notna(consent[key]) and bool(consent[key])
            assert f"{key}@shop.test" not in emails
