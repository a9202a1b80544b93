"""The list-building step shared by every front door: segments -> named, formatted tables.

Library column names are snake_case; the Excel-facing headers ("Lifetime Value") and the
kind of each column (money, percent, date...) are made here and only here. The headless
refresh, the ribbon macros and the formulas all present lists through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from xl_segments import sheets
from xl_segments.churn import MONTHLY_CHURN_COLUMNS
from xl_segments.segments import Segments
from xl_segments.tables import Block, Chart, ColumnKind, Report, SheetTable, SummarySheet

# library column -> (Excel header, kind)
HEADERS: dict[str, tuple[str, ColumnKind]] = {
    "rank": ("Rank", "integer"),
    "customer_id": ("Customer ID", "text"),
    "name": ("Name", "text"),
    "email": ("Email", "text"),
    "lifetime_value": ("Lifetime Value", "money"),
    "orders": ("Orders", "integer"),
    "purchase_days": ("Purchase Days", "integer"),
    "average_order_value": ("Average Order Value", "money"),
    "first_order": ("First Order", "date"),
    "last_order": ("Last Order", "date"),
    "revenue_share": ("Revenue Share", "percent"),
    "cumulative_share": ("Cumulative Revenue Share", "percent"),
    "acquisition_channel": ("Channel", "text"),
    "channel": ("Channel", "text"),
    "customers": ("Customers", "integer"),
    "revenue": ("Revenue", "money"),
    "repeat_rate": ("Repeat Rate", "percent"),
    "revenue_per_customer": ("Revenue per Customer", "money"),
    "median_days_to_second_purchase": ("Median Days to Second Purchase", "days"),
    "top": ("Top Channel", "flag"),
    "note": ("Note", "text"),
    "status": ("Status", "text"),
    "days_since_last_order": ("Days Since Last Order", "integer"),
    "expected_gap": ("Expected Gap (days)", "days"),
    "overdue_ratio": ("Overdue Ratio", "number"),
    "month": ("Month", "date"),
    "active_at_start": ("Active at Start", "integer"),
    "new": ("New", "integer"),
    "returning": ("Returning", "integer"),
    "reactivated": ("Reactivated", "integer"),
    "churned": ("Churned", "integer"),
    "active_at_end": ("Active at End", "integer"),
    "churn_rate": ("Churn Rate", "percent"),
    "complete": ("Complete Month", "flag"),
}

TOP_SPENDER_COLUMNS = (
    "rank",
    "customer_id",
    "name",
    "email",
    "lifetime_value",
    "orders",
    "average_order_value",
    "first_order",
    "last_order",
    "acquisition_channel",
    "revenue_share",
    "cumulative_share",
)
CHANNEL_COLUMNS = (
    "rank",
    "channel",
    "customers",
    "orders",
    "revenue",
    "average_order_value",
    "repeat_rate",
    "revenue_per_customer",
    "median_days_to_second_purchase",
    "top",
    "note",
)
REPEAT_COLUMNS = (
    "acquisition_channel",
    "customer_id",
    "name",
    "email",
    "orders",
    "purchase_days",
    "lifetime_value",
    "last_order",
)
CHURN_RISK_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "status",
    "lifetime_value",
    "orders",
    "last_order",
    "days_since_last_order",
    "expected_gap",
    "overdue_ratio",
)
MONTHLY_COLUMNS = MONTHLY_CHURN_COLUMNS


def present(
    frame: pd.DataFrame, columns: Sequence[str], *, drop: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, ColumnKind]]:
    """Select library columns in order and give them their Excel headers and kinds."""
    chosen = [c for c in columns if c in frame.columns and c not in drop]
    out = frame[chosen].copy()
    for column in chosen:
        if HEADERS[column][1] == "flag":
            out[column] = np.where(out[column].fillna(False).astype(bool), "Yes", "No")
    out.columns = [HEADERS[c][0] for c in chosen]
    return out.reset_index(drop=True), {HEADERS[c][0]: HEADERS[c][1] for c in chosen}


def _table(
    sheet: str, frame: pd.DataFrame, columns: Sequence[str], contact: bool, drop: Sequence[str] = ()
) -> SheetTable:
    shown, kinds = present(frame, columns, drop=drop)
    return SheetTable(sheet, sheets.TABLE_NAMES[sheet], shown, kinds, is_contact_list=contact)


def _optional_columns(segments: Segments) -> list[str]:
    """Columns with nothing to show (no channel, no email, no name column) are left out."""
    orders = segments.orders
    drop = []
    if not orders.has_channel:
        drop.append("acquisition_channel")
    if not orders.columns.has("email") and segments.customers.frame["email"].isna().all():
        drop.append("email")
    if segments.customers.frame["name"].isna().all():
        drop.append("name")
    return drop


def top_spenders_table(segments: Segments) -> SheetTable:
    return _table(
        sheets.TOP_SPENDERS_SHEET,
        segments.top_spenders,
        TOP_SPENDER_COLUMNS,
        True,
        _optional_columns(segments),
    )


def channel_table(segments: Segments) -> SheetTable | None:
    if segments.channels is None:
        return None
    channels = segments.channels.copy()
    minimum = segments.settings.min_channel_customers
    channels["note"] = np.where(
        channels["eligible"], "", f"Fewer than {minimum} customers: not ranked"
    )
    return _table(sheets.CHANNEL_PERFORMANCE_SHEET, channels, CHANNEL_COLUMNS, False)


def repeat_table(segments: Segments) -> SheetTable | None:
    if segments.repeat_by_channel is None:
        return None
    return _table(
        sheets.REPEAT_BY_CHANNEL_SHEET,
        segments.repeat_by_channel,
        REPEAT_COLUMNS,
        True,
        _optional_columns(segments),
    )


def churn_risk_table(segments: Segments) -> SheetTable | None:
    if segments.churn_risk is None:
        return None
    return _table(
        sheets.CHURN_RISK_SHEET,
        segments.churn_risk,
        CHURN_RISK_COLUMNS,
        True,
        _optional_columns(segments),
    )


def monthly_churn_table(segments: Segments) -> SheetTable | None:
    if segments.monthly_churn is None:
        return None
    return _table(sheets.MONTHLY_CHURN_SHEET, segments.monthly_churn, MONTHLY_COLUMNS, False)


def pareto_table(segments: Segments) -> pd.DataFrame:
    """The Pareto summary as a two-column Figure / Value table."""
    p = segments.pareto
    return pd.DataFrame(
        {
            "Figure": [
                "Customers",
                "Revenue",
                f"Top {p.top_share:.0%} of customers",
                f"Revenue share of the top {p.top_share:.0%}",
                f"Customers bringing {p.revenue_share:.0%} of revenue",
                f"Share of customers bringing {p.revenue_share:.0%} of revenue",
            ],
            "Value": [
                p.customers,
                p.revenue,
                p.top_customers,
                p.top_revenue_share,
                p.customers_needed,
                p.customer_share_needed,
            ],
        }
    )


PARETO_KINDS: tuple[ColumnKind, ...] = (
    "integer",
    "money",
    "integer",
    "percent",
    "integer",
    "percent",
)


def last_complete_month(segments: Segments) -> pd.Series | None:
    """The latest month fully before the as-of day (the partial month if there is none)."""
    monthly = segments.monthly_churn
    if monthly is None or monthly.empty:
        return None
    complete = monthly[monthly["complete"] & monthly["active_at_start"].gt(0)]
    return complete.iloc[-1] if len(complete) else monthly.iloc[-1]


def _figures_block(segments: Segments) -> Block:
    table = segments.customers.frame
    orders = int(table["orders"].sum())
    revenue = float(table["lifetime_value"].sum())
    rows: list[tuple[str, object, ColumnKind]] = [
        ("As-of date", segments.as_of, "date"),
        ("Customers", len(table), "integer"),
        ("Orders", orders, "integer"),
        ("Revenue (net)", revenue, "money"),
        ("Average order value", revenue / orders if orders else None, "money"),
        (
            "Repeat customers (2+ purchase days)",
            int((table["purchase_days"] >= 2).sum()),
            "integer",
        ),
    ]
    p = segments.pareto
    rows += [
        (
            f"Revenue share of the top {p.top_share:.0%} of customers",
            p.top_revenue_share,
            "percent",
        ),
        (
            f"Share of customers bringing {p.revenue_share:.0%} of revenue",
            p.customer_share_needed,
            "percent",
        ),
        ("Average days between purchases (store)", segments.store_gap, "days"),
    ]
    if segments.flagged is not None:
        status = segments.flagged["status"]
        rows += [
            ("Customers at risk", int((status == "At risk").sum()), "integer"),
            ("Customers lapsed", int((status == "Lapsed").sum()), "integer"),
        ]
    month = last_complete_month(segments)
    if month is not None:
        label = pd.Timestamp(month["month"]).strftime("%B %Y")
        rows.append((f"Churn rate, {label}", month["churn_rate"], "percent"))
    if segments.window is not None:
        rows.append(("Churn window (days)", segments.window, "days"))
    return _label_value_block("figures", "Headline figures", rows)


def _label_value_block(
    key: str,
    title: str,
    rows: Sequence[tuple[str, object, ColumnKind]],
    headers: tuple[str, str] = ("Figure", "Value"),
) -> Block:
    frame = pd.DataFrame({headers[0]: [r[0] for r in rows], headers[1]: [r[1] for r in rows]})
    kinds: dict[str, ColumnKind] = {headers[0]: "text", headers[1]: "text"}
    return Block(key, title, frame, kinds, row_kinds=tuple(r[2] for r in rows))


def _contacts_block(segments: Segments) -> Block:
    listed = {
        "Top Spenders": segments.top_spenders,
        "Repeat by Channel": segments.repeat_by_channel,
        "Churn Risk": segments.churn_risk,
    }
    rows = []
    for name, frame in listed.items():
        if frame is None:
            continue
        left = segments.left_out[name]
        rows.append((name, len(frame), left.no_consent, left.suppressed))
    frame = pd.DataFrame(
        rows, columns=["Contact List", "Listed", "Left Out: No Consent", "Left Out: Suppressed"]
    )
    kinds: dict[str, ColumnKind] = {
        "Contact List": "text",
        "Listed": "integer",
        "Left Out: No Consent": "integer",
        "Left Out: Suppressed": "integer",
    }
    return Block("contacts", "Contact lists", frame, kinds)


def _quality_block(segments: Segments) -> Block:
    lines = segments.orders.quality.lines()
    frame = pd.DataFrame(lines, columns=["Rows", "Count"])
    return Block(
        "quality", "Rows read, skipped and excluded", frame, {"Rows": "text", "Count": "integer"}
    )


def _settings_block(segments: Segments) -> Block:
    frame = pd.DataFrame(segments.settings.describe(), columns=["Setting", "Value"])
    return Block("settings", "Settings used", frame, {"Setting": "text", "Value": "text"})


def _notes_block(segments: Segments) -> Block | None:
    if not segments.warnings:
        return None
    frame = pd.DataFrame({"Note": list(segments.warnings)})
    return Block("notes", "Notes", frame, {"Note": "text"})


def _curve_block(segments: Segments) -> Block:
    curve = segments.curve.rename(
        columns={"customer_share": "Share of Customers", "revenue_share": "Share of Revenue"}
    )
    return Block(
        "pareto_curve",
        "Pareto curve (customers ranked by lifetime value)",
        curve,
        {"Share of Customers": "percent", "Share of Revenue": "percent"},
    )


def _channels_block(segments: Segments) -> Block | None:
    if segments.channels is None or segments.channels.empty:
        return None
    channels = segments.channels
    frame = pd.DataFrame(
        {
            "Channel": channels["channel"].astype(str),
            "Repeat Rate": channels["repeat_rate"],
            "Average Order Value": channels["average_order_value"],
        }
    ).head(20)
    return Block(
        "channels",
        "Channels compared",
        frame,
        {"Channel": "text", "Repeat Rate": "percent", "Average Order Value": "money"},
    )


def summary_sheet(segments: Segments) -> SummarySheet:
    blocks = [
        _figures_block(segments),
        _contacts_block(segments),
        _notes_block(segments),
        _channels_block(segments),
        _curve_block(segments),
        _quality_block(segments),
        _settings_block(segments),
    ]
    present_blocks = tuple(b for b in blocks if b is not None)
    charts = [
        Chart(
            "pareto",
            "Pareto curve: share of revenue by share of customers",
            "scatter",
            "pareto_curve",
            "Share of Customers",
            ("Share of Revenue",),
            x_title="Share of customers (best first)",
            y_titles=("Share of revenue",),
        ),
    ]
    if any(b.key == "channels" for b in present_blocks):
        charts.append(
            Chart(
                "channels",
                "Channels compared: repeat rate and average order value",
                "bar_line",
                "channels",
                "Channel",
                ("Repeat Rate", "Average Order Value"),
                x_title="Acquisition channel",
                y_titles=("Repeat rate", "Average order value"),
            )
        )
    return SummarySheet(present_blocks, tuple(charts))


def orders_sheet_table(segments: Segments) -> SheetTable:
    """The clean orders in the template's Orders columns (net amounts, one row per order).

    Written when the orders came from a CSV file, so the output workbook can be refreshed
    again on its own.
    """
    orders = segments.orders.frame
    found = segments.orders.columns
    consent = orders["consent"].map({True: "Yes", False: "No"}, na_action="ignore")
    columns = {
        "Order ID": orders["order_id"] if found.has("order_id") else None,
        "Customer ID": orders["customer_id"],
        "Email": orders["email"],
        "Name": None if orders["name"].isna().all() else orders["name"],
        "Order Date": orders["order_date"],
        "Amount": orders["amount"],
        "Channel": orders["channel"] if found.has("channel") else None,
        # Without a consent column nobody said no: an empty one would read as "no" for all.
        "Accepts Marketing": consent.astype("string") if found.has("consent") else None,
    }
    frame = pd.DataFrame({k: v for k, v in columns.items() if v is not None})
    kinds: dict[str, ColumnKind] = {c: "text" for c in frame.columns}
    kinds.update({"Order Date": "date", "Amount": "money"})
    return SheetTable(sheets.ORDERS_SHEET, sheets.ORDERS_TABLE, frame, kinds)


def build_report(segments: Segments, *, include_orders: bool = False) -> Report:
    """Every sheet a refresh writes: Summary first, then each list that could be built.

    include_orders adds the clean orders as the Orders sheet (for a CSV source).
    """
    tables = [
        top_spenders_table(segments),
        channel_table(segments),
        repeat_table(segments),
        churn_risk_table(segments),
        monthly_churn_table(segments),
    ]
    sheet_order = (
        sheets.TOP_SPENDERS_SHEET,
        sheets.CHANNEL_PERFORMANCE_SHEET,
        sheets.REPEAT_BY_CHANNEL_SHEET,
        sheets.CHURN_RISK_SHEET,
        sheets.MONTHLY_CHURN_SHEET,
    )
    # A list that cannot be built still replaces its sheet, so an earlier refresh's list
    # never lingers next to fresh ones.
    return Report(
        summary=summary_sheet(segments),
        tables=tuple(
            t if t is not None else skipped_table(sheet, segments)
            for sheet, t in zip(sheet_order, tables, strict=True)
        )
        + ((orders_sheet_table(segments),) if include_orders else ()),
        warnings=segments.warnings,
    )


def skipped_table(sheet: str, segments: Segments) -> SheetTable:
    """A one-cell table saying why a list could not be built this time."""
    if sheet in (sheets.CHANNEL_PERFORMANCE_SHEET, sheets.REPEAT_BY_CHANNEL_SHEET):
        why = "Skipped: the orders have no channel column (Channel, Source or UTM Source)."
    else:
        why = (
            "Skipped: no customer bought on two different days, so there is no average "
            "time between purchases."
        )
    frame = pd.DataFrame({"Note": [why]})
    return SheetTable(sheet, sheets.TABLE_NAMES[sheet], frame, {"Note": "text"})


def report_tables(report: Report) -> Mapping[str, SheetTable]:
    return {t.sheet: t for t in report.tables}
