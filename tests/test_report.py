"""The report: the six sheets a refresh writes, their Excel headers and kinds, the Summary."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from helpers_engine import purchases, segments_of, table

from xl_segments import sheets
from xl_segments.report import build_report

HEADER = (
    "Order ID",
    "Customer ID",
    "Email",
    "Name",
    "Order Date",
    "Amount",
    "Channel",
    "Accepts Marketing",
)
SHOP = table(
    [
        (1, "c1", "ann@shop.test", "Ann", "2024-01-10", 100, "Ads", "yes"),
        (2, "c1", "ann@shop.test", "Ann", "2024-02-05", 50, "Ads", "yes"),
        (3, "c2", "bob@shop.test", "Bob", "2024-01-15", 30, "Email", "no"),
        (4, "c3", "cy@shop.test", "Cy", "2024-02-20", 20, "Email", "yes"),
        (5, "c3", "cy@shop.test", "Cy", "2024-03-18", 20, "Email", "yes"),
        (6, "c4", "di@shop.test", "Di", "2024-03-31", 10, "Ads", "yes"),
    ],
    header=HEADER,
)
# c1: 150 over 2 purchase days (10 Jan -> 5 Feb = 26 days); c2: 30; c3: 40 over 2 days
# (20 Feb -> 18 Mar = 27 days); c4: 10. As of 31 Mar (the latest order).


@pytest.fixture(scope="module")
def report():
    return build_report(segments_of(SHOP, min_channel_customers=1))


def test_the_report_has_the_six_sheets_in_order(report):
    assert (sheets.SUMMARY_SHEET, *(t.sheet for t in report.tables)) == (
        "Summary",
        "Top Spenders",
        "Channel Performance",
        "Repeat by Channel",
        "Churn Risk",
        "Monthly Churn",
    )
    assert ("Summary", *(t.sheet for t in report.tables)) == sheets.LIST_SHEETS


EXPECTED_HEADERS = {
    "Top Spenders": [
        "Rank",
        "Customer ID",
        "Name",
        "Email",
        "Lifetime Value",
        "Orders",
        "Average Order Value",
        "First Order",
        "Last Order",
        "Channel",
        "Revenue Share",
        "Cumulative Revenue Share",
    ],
    "Channel Performance": [
        "Rank",
        "Channel",
        "Customers",
        "Orders",
        "Revenue",
        "Average Order Value",
        "Repeat Rate",
        "Revenue per Customer",
        "Median Days to Second Purchase",
        "Top Channel",
        "Note",
    ],
    "Repeat by Channel": [
        "Channel",
        "Customer ID",
        "Name",
        "Email",
        "Orders",
        "Purchase Days",
        "Lifetime Value",
        "Last Order",
    ],
    "Churn Risk": [
        "Customer ID",
        "Name",
        "Email",
        "Status",
        "Lifetime Value",
        "Orders",
        "Last Order",
        "Days Since Last Order",
        "Expected Gap (days)",
        "Overdue Ratio",
    ],
    "Monthly Churn": [
        "Month",
        "Active at Start",
        "New",
        "Returning",
        "Reactivated",
        "Churned",
        "Active at End",
        "Churn Rate",
        "Complete Month",
    ],
}


@pytest.mark.parametrize("sheet", list(EXPECTED_HEADERS))
def test_each_list_has_its_excel_headers(report, sheet):
    listed = report.table(sheet)
    assert list(listed.frame.columns) == EXPECTED_HEADERS[sheet]
    assert listed.table_name == sheets.TABLE_NAMES[sheet]
    assert set(listed.kinds) == set(EXPECTED_HEADERS[sheet])


@pytest.mark.parametrize(
    ("sheet", "header", "kind"),
    [
        ("Top Spenders", "Rank", "integer"),
        ("Top Spenders", "Customer ID", "text"),
        ("Top Spenders", "Lifetime Value", "money"),
        ("Top Spenders", "First Order", "date"),
        ("Top Spenders", "Revenue Share", "percent"),
        ("Channel Performance", "Repeat Rate", "percent"),
        ("Channel Performance", "Median Days to Second Purchase", "days"),
        ("Channel Performance", "Top Channel", "flag"),
        ("Churn Risk", "Expected Gap (days)", "days"),
        ("Churn Risk", "Overdue Ratio", "number"),
        ("Monthly Churn", "Month", "date"),
        ("Monthly Churn", "Churn Rate", "percent"),
        ("Monthly Churn", "Complete Month", "flag"),
    ],
)
def test_columns_have_their_kinds(report, sheet, header, kind):
    assert report.table(sheet).kind_of(header) == kind


def test_the_contact_lists_are_marked_as_contact_lists(report):
    contact = {t.sheet: t.is_contact_list for t in report.tables}
    assert contact == {
        "Top Spenders": True,
        "Channel Performance": False,
        "Repeat by Channel": True,
        "Churn Risk": True,
        "Monthly Churn": False,
    }


def test_the_list_rows(report):
    # Top 20% of 4 customers = 1: c1 with 150 of 230.
    top = report.table("Top Spenders").frame
    assert list(top["Customer ID"]) == ["c1"]
    assert top.loc[0, "Revenue Share"] == pytest.approx(150 / 230)
    # Ads: c1 + c4 = 160 / 2 = 80 per customer; Email: c2 + c3 = 70 / 2 = 35.
    channels = report.table("Channel Performance").frame
    assert list(channels["Channel"]) == ["Ads", "Email"]
    assert list(channels["Top Channel"]) == ["Yes", "Yes"]
    assert list(channels["Note"]) == ["", ""]
    repeat = report.table("Repeat by Channel").frame
    assert list(repeat["Customer ID"]) == ["c1", "c3"]
    # Store gap median(26, 27) = 26.5; c1: 5 Feb -> 31 Mar = 55 days > 26.5: at risk
    # (<= 79.5); c2 (76 days) is at risk too but has no consent.
    churn = report.table("Churn Risk").frame
    assert list(churn["Customer ID"]) == ["c1"]
    assert list(churn["Status"]) == ["At risk"]


def test_an_unranked_channel_says_why():
    segments = segments_of(SHOP, min_channel_customers=2)
    channels = build_report(segments).table("Channel Performance").frame
    assert list(channels["Note"]) == ["", ""]
    segments = segments_of(SHOP, min_channel_customers=3)
    channels = build_report(segments).table("Channel Performance").frame
    assert list(channels["Note"]) == ["Fewer than 3 customers: not ranked"] * 2
    assert list(channels["Top Channel"]) == ["No", "No"]


def figures(report) -> dict[str, object]:
    block = report.summary.block("figures").frame
    return dict(zip(block["Figure"], block["Value"], strict=True))


def test_the_summary_headline_figures(report):
    got = figures(report)
    assert got["As-of date"] == pd.Timestamp("2024-03-31")
    assert got["Customers"] == 4
    assert got["Orders"] == 6  # every order is a purchase
    assert got["Revenue (net)"] == 230  # 150 + 30 + 40 + 10
    assert got["Repeat customers (2+ purchase days)"] == 2  # c1, c3
    assert got["Revenue share of the top 20% of customers"] == pytest.approx(150 / 230)
    # Cumulative 150/230 = 65%, 190/230 = 83%: 2 of 4 customers bring 80%.
    assert got["Share of customers bringing 80% of revenue"] == pytest.approx(0.5)
    assert got["Average days between purchases (store)"] == 26.5
    assert got["Customers at risk"] == 2  # c1 (55 days), c2 (76 days)
    assert got["Customers lapsed"] == 0  # neither is past 26.5 x 3 = 79.5
    assert got["Churn window (days)"] == 79.5
    # As of 31 March, March is complete; nobody churned in it (c2 churns 15 Jan + 80 = 4 Apr).
    assert got["Churn rate, March 2024"] == 0


def test_the_summary_contacts_block_counts_listed_and_left_out(report):
    contacts = report.summary.block("contacts").frame
    assert contacts.to_dict("records") == [
        {
            "Contact List": "Top Spenders",
            "Listed": 1,
            "Left Out: No Consent": 0,
            "Left Out: Suppressed": 0,
        },
        {
            "Contact List": "Repeat by Channel",
            "Listed": 2,
            "Left Out: No Consent": 0,
            "Left Out: Suppressed": 0,
        },
        {
            "Contact List": "Churn Risk",
            "Listed": 1,
            "Left Out: No Consent": 1,
            "Left Out: Suppressed": 0,
        },
    ]


def test_the_summary_quality_block_counts_rows(report):
    quality = report.summary.block("quality").frame
    counts = dict(zip(quality["Rows"], quality["Count"], strict=True))
    assert counts["Rows read"] == 6
    assert counts["Blank rows skipped"] == 0
    assert counts["Exact duplicate rows dropped"] == 0


def test_the_summary_settings_block_shows_the_settings_used(report):
    block = report.summary.block("settings").frame
    shown = dict(zip(block["Setting"], block["Value"], strict=True))
    assert shown["Top share of customers"] == "20%"
    assert shown["Minimum customers per channel"] == "1"
    assert shown["As-of date"] == "(automatic)"


def test_the_summary_blocks_come_in_order(report):
    keys = [b.key for b in report.summary.blocks]
    assert keys[:2] == ["figures", "contacts"]
    assert keys[-3:] == ["pareto_curve", "quality", "settings"]


def test_the_summary_shows_the_churn_rate_of_the_last_complete_month():
    report = build_report(segments_of(SHOP, min_channel_customers=1, as_of=dt.date(2024, 3, 20)))
    # As of 20 March, February is the last complete month; nobody churned in it (c2 churns
    # 15 Jan + floor(26.5 x 3) + 1 = 4 Apr).
    got = figures(report)
    assert got["Churn rate, February 2024"] == 0
    assert not any(label.startswith("Churn rate, March") for label in got)


def test_a_list_without_a_channel_column_becomes_a_skipped_table():
    report = build_report(segments_of(SHOP.drop(columns="Channel")))
    for sheet in ("Channel Performance", "Repeat by Channel"):
        frame = report.table(sheet).frame
        assert list(frame.columns) == ["Note"]
        assert len(frame) == 1
        assert frame.iloc[0, 0].startswith("Skipped: ")
        assert "channel column" in frame.iloc[0, 0]


def test_churn_lists_without_repeat_customers_become_skipped_tables():
    raw = purchases(("a", "2024-01-01", 10), ("b", "2024-01-02", 20))
    report = build_report(segments_of(raw))
    for sheet in ("Churn Risk", "Monthly Churn"):
        frame = report.table(sheet).frame
        assert len(frame) == 1
        assert frame.iloc[0, 0].startswith("Skipped: ")
        assert "two different days" in frame.iloc[0, 0]
    # The other lists are still built.
    assert list(report.table("Top Spenders").frame["Customer ID"]) == ["b"]
