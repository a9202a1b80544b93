"""Names users see in workbooks: sheets, Excel tables and the Orders columns of the template."""

from __future__ import annotations

ORDERS_SHEET = "Orders"
ORDERS_TABLE = "Orders"
SETTINGS_SHEET = "Settings"
SUPPRESSION_SHEET = "Suppression"
SUMMARY_SHEET = "Summary"
HOW_TO_SHEET = "How to use"

TOP_SPENDERS_SHEET = "Top Spenders"
CHANNEL_PERFORMANCE_SHEET = "Channel Performance"
REPEAT_BY_CHANNEL_SHEET = "Repeat by Channel"
CHURN_RISK_SHEET = "Churn Risk"
MONTHLY_CHURN_SHEET = "Monthly Churn"

# Sheets a refresh writes (and replaces), in workbook order.
LIST_SHEETS: tuple[str, ...] = (
    SUMMARY_SHEET,
    TOP_SPENDERS_SHEET,
    CHANNEL_PERFORMANCE_SHEET,
    REPEAT_BY_CHANNEL_SHEET,
    CHURN_RISK_SHEET,
    MONTHLY_CHURN_SHEET,
)

# Excel table name for each list sheet (table names cannot contain spaces).
TABLE_NAMES: dict[str, str] = {
    SUMMARY_SHEET: "SummaryFigures",
    TOP_SPENDERS_SHEET: "TopSpenders",
    CHANNEL_PERFORMANCE_SHEET: "ChannelPerformance",
    REPEAT_BY_CHANNEL_SHEET: "RepeatByChannel",
    CHURN_RISK_SHEET: "ChurnRisk",
    MONTHLY_CHURN_SHEET: "MonthlyChurn",
}

# The Orders table of the template, in column order.
TEMPLATE_ORDER_COLUMNS: tuple[str, ...] = (
    "Order ID",
    "Customer ID",
    "Email",
    "Name",
    "Order Date",
    "Amount",
    "Channel",
    "Accepts Marketing",
)
