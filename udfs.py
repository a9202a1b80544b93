"""xl-segments formulas for Excel: register this module with xlwings ("UDF Modules": udfs).

Each formula takes the orders range with its header row (typically ``Orders[#All]``) and
spills a table with a header row, or returns one number. Optional arguments left out (or
pointing at a blank cell) use the engine's defaults. A range the engine refuses gives one
cell text starting with ``#xl-segments:`` that says what to fix. The work lives in
``xl_segments.excel``; this module only declares the formulas to Excel.

No type hints on arguments: xlwings reads hints as converters (and a union hint breaks it).
The orders range arrives raw (rows of values): the formulas share one cache keyed on those
values, and xlwings' DataFrame conversion (`excel.ORDERS_OPTIONS`) runs only on a miss, so
eight formulas over one unchanged range do the conversion once.
"""

import xlwings as xw

from xl_segments import excel
from xl_segments.settings import DEFAULTS

ORDERS_DOC = "The orders range with its header row, e.g. Orders[#All]"


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg("top_share", doc="Share of customers to list, e.g. 20% (default 20%)")
@xw.arg("as_of", doc="Date the lists are computed for (default: the latest order date)")
def TOP_SPENDERS(orders, top_share=DEFAULTS.top_share, as_of=None):
    """Customers ranked by lifetime value: the top share of them, with consent. Spills a table."""
    return excel.safely(lambda: excel.top_spenders(orders, top_share, as_of))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg("revenue_share", doc="Revenue share for the Pareto point, e.g. 80% (default 80%)")
def PARETO(orders, revenue_share=DEFAULTS.revenue_share):
    """Pareto summary: revenue share of the top customers, customers bringing 80% of revenue."""
    return excel.safely(lambda: excel.pareto(orders, revenue_share))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg("customer", doc="The customer's id or email address")
def CUSTOMER_LTV(orders, customer):
    """One customer's lifetime value: all their orders, net of refunds."""
    return excel.safely(lambda: excel.customer_ltv(orders, customer))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg(
    "rank_by",
    doc="revenue_per_customer (default), repeat_rate, average_order_value, revenue or customers",
)
@xw.arg("min_customers", doc="Smallest channel that is ranked (default 10 customers)")
def CHANNEL_PERFORMANCE(
    orders,
    rank_by=DEFAULTS.rank_channels_by,
    min_customers=DEFAULTS.min_channel_customers,
):
    """Figures per acquisition channel (customers, revenue, repeat rate...), ranked. Spills."""
    return excel.safely(lambda: excel.channel_performance(orders, rank_by, min_customers))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg("channel", doc="One acquisition channel (default: the top 3 channels)")
def REPEAT_CUSTOMERS(orders, channel=None):
    """Customers who bought on two or more days, from the top channels or one channel. Spills."""
    return excel.safely(lambda: excel.repeat_customers(orders, channel))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
def AVG_DAYS_BETWEEN_PURCHASES(orders):
    """The store's typical days between purchases: the median of repeat customers' averages."""
    return excel.safely(lambda: excel.avg_days_between_purchases(orders))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
@xw.arg("as_of", doc="Date the lists are computed for (default: the latest order date)")
@xw.arg("multiplier", doc="At risk past this many times the expected gap (default 1)")
def CHURN_RISK(orders, as_of=None, multiplier=DEFAULTS.churn_multiplier):
    """Customers overdue for their next order (at risk or lapsed), most valuable first. Spills."""
    return excel.safely(lambda: excel.churn_risk(orders, as_of, multiplier))


@xw.func(category=excel.CATEGORY)
@xw.arg("orders", "raw", doc=ORDERS_DOC)
def MONTHLY_CHURN(orders):
    """Month by month: active, new, returning, reactivated and churned customers. Spills."""
    return excel.safely(lambda: excel.monthly_churn(orders))
