"""Generate a deterministic, realistic-looking store's orders for the demo, tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xl_segments.sheets import TEMPLATE_ORDER_COLUMNS

# (channel, share of new customers, median order value, chance of ever buying again,
#  mean further orders of a repeat buyer, median days between orders).
# Email and Referral buyers come back most and spend more; Social and Marketplace buyers are
# cheap to win but rarely return: the contrast the channel lists are meant to reveal.
_CHANNELS: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("Organic Search", 0.27, 62.0, 0.58, 12.5, 45.0),
    ("Paid Search", 0.22, 55.0, 0.48, 10.5, 50.0),
    ("Email", 0.11, 74.0, 0.74, 17.0, 35.0),
    ("Social", 0.17, 41.0, 0.38, 7.5, 60.0),
    ("Referral", 0.10, 86.0, 0.66, 15.0, 40.0),
    ("Marketplace", 0.13, 48.0, 0.33, 6.5, 65.0),
)

_FIRST_NAMES = (  # noqa: SIM905 - a word list reads better as text
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Emily Andrew Donna Paul "
    "Michelle Joshua Carol Kenneth Amanda Kevin Melissa Brian Deborah George Stephanie Timothy "
    "Rebecca Sofia Lukas Emma Noah Olivia Liam Mia Elias Hannah Mateo Lucia Hugo Chloe Leon "
    "Amelie Jonas Ines Ravi Priya Arjun Ananya Wei Mei Hiroshi Yuki Omar Layla Kwame Amara"
).split()
_LAST_NAMES = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Muller Schmidt "
    "Schneider Fischer Weber Rossi Russo Ferrari Dubois Moreau Laurent Jansen Visser Novak "
    "Kowalski Nowak Silva Santos Pereira Patel Sharma Kumar Chen Wang Tanaka Sato Kim Park "
    "Okafor Mensah OBrien Murphy Kelly"
).split()
# Reserved example domains (RFC 2606): demo lists imported into an email tool reach nobody.
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "shop.example.net")

_REFUND_SHARE = 0.035
_NO_CONSENT_SHARE = 1 / 3


def sample_orders(
    customers: int = 4000,
    seed: int = 7,
    start: str = "2023-01-01",
    end: str = "2025-11-30",
) -> pd.DataFrame:
    """Orders of a made-up store: one row per order or refund, columns TEMPLATE_ORDER_COLUMNS.

    About 4 rows per customer (4000 customers give about 16,000 rows; 250,000 about a million),
    the same frame for the same arguments, no order after `end`, amounts with two decimals,
    refunds as negative rows with order ids like "R-100123" referring to the refunded order.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    rng = np.random.default_rng(seed)
    start_ts = pd.Timestamp(start)
    end_ts = pd.Timestamp(end) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    span_days = max((end_ts - start_ts).total_seconds() / 86400, 1.0)

    names = np.array([c[0] for c in _CHANNELS])
    weights = np.array([c[1] for c in _CHANNELS])
    median_value, repeat_chance, more_orders, median_gap = (
        np.array([c[i] for c in _CHANNELS]) for i in range(2, 6)
    )

    # --- customers ------------------------------------------------------------------------
    channel = rng.choice(len(names), size=customers, p=weights / weights.sum())
    # Acquisition skews later: a growing store gains more customers each month.
    first_day = span_days * rng.uniform(0.0, 1.0, customers) ** 0.6
    first_day = np.minimum(first_day, span_days - 1e-6)
    repeats = rng.uniform(size=customers) < repeat_chance[channel]
    # Repeat buyers place 1 + a geometric number of further orders: a long tail of loyalists.
    further = rng.geometric(1.0 / (1.0 + more_orders[channel])) * repeats
    order_count = 1 + further
    # Each customer keeps a rhythm of their own around the channel's typical gap.
    own_gap = median_gap[channel] * rng.lognormal(0.0, 0.5, customers)
    # Spend level per customer: lognormal, so a few whales carry much of the revenue.
    spend_level = median_value[channel] * rng.lognormal(0.0, 0.55, customers)
    consent = np.where(rng.uniform(size=customers) < _NO_CONSENT_SHARE, "No", "Yes")

    first = rng.integers(0, len(_FIRST_NAMES), customers)
    last = rng.integers(0, len(_LAST_NAMES), customers)
    first_names = np.array(_FIRST_NAMES)[first]
    last_names = np.array(_LAST_NAMES)[last]
    number = np.arange(1, customers + 1)
    customer_ids = pd.Series(number).map("C{:06d}".format).to_numpy()
    full_names = pd.Series(first_names) + " " + pd.Series(last_names)
    # The customer number keeps every address unique; the pattern varies like real addresses.
    style = rng.integers(0, 3, customers)
    lower_first = pd.Series(np.char.lower(first_names), dtype=str)
    lower_last = pd.Series(np.char.lower(last_names), dtype=str)
    local = np.select(
        [style == 0, style == 1],
        [
            (lower_first + "." + lower_last).to_numpy(),
            (lower_first.str[0] + lower_last).to_numpy(),
        ],
        (lower_first + "_" + lower_last.str[0]).to_numpy(),
    )
    domains = np.array(_DOMAINS)[rng.integers(0, len(_DOMAINS), customers)]
    emails = pd.Series(local) + pd.Series(number).astype(str) + "@" + pd.Series(domains)

    # --- orders ---------------------------------------------------------------------------
    owner = np.repeat(np.arange(customers), order_count)
    starts = np.cumsum(order_count) - order_count
    nth = np.arange(owner.size) - starts[owner]
    gaps = rng.gamma(2.0, own_gap[owner] / 2.0)
    gaps[nth == 0] = 0.0
    day = first_day[owner] + _cumsum_by_group(gaps, starts, owner)
    keep = day < span_days
    owner, day = owner[keep], day[keep]
    # Daytime-heavy order times, each within its own day.
    day = np.floor(day) + np.clip(rng.normal(14.5, 4.0, owner.size), 0.0, 23.99) / 24.0
    day = np.minimum(day, span_days - 1 / 86400)
    value = spend_level[owner] * rng.lognormal(0.0, 0.35, owner.size)
    amount = np.maximum(np.round(value, 2), 1.0)

    order_frame = pd.DataFrame({"owner": owner, "day": day, "amount": amount})
    order_frame = order_frame.sort_values(["day", "owner"], kind="stable", ignore_index=True)
    order_numbers = 100001 + np.arange(len(order_frame))

    # --- refunds: a few orders come back, fully or in part, within a month ------------------
    refunded = rng.uniform(size=len(order_frame)) < _REFUND_SHARE
    ref = order_frame[refunded]
    ref_day = ref["day"].to_numpy() + rng.uniform(1.0, 30.0, len(ref))
    partial = np.where(rng.uniform(size=len(ref)) < 0.7, 1.0, rng.uniform(0.2, 0.8, len(ref)))
    refund_frame = pd.DataFrame(
        {
            "owner": ref["owner"].to_numpy(),
            "day": ref_day,
            "amount": -np.round(ref["amount"].to_numpy() * partial, 2),
            "order_id": "R-" + pd.Series(order_numbers[refunded]).astype(str).to_numpy(),
        }
    )
    refund_frame = refund_frame[refund_frame["day"] < span_days]
    order_frame["order_id"] = order_numbers.astype(str)

    rows = pd.concat([order_frame, refund_frame], ignore_index=True)
    rows = rows.sort_values(["day", "order_id"], kind="stable", ignore_index=True)
    who = rows["owner"].to_numpy()
    # Whole seconds, so the dates survive a round trip through a workbook unchanged.
    seconds = np.round(rows["day"].to_numpy() * 86400).astype("int64")
    return pd.DataFrame(
        {
            "Order ID": rows["order_id"].astype(str),
            "Customer ID": pd.Series(customer_ids[who], dtype=str),
            "Email": pd.Series(emails.to_numpy()[who], dtype=str),
            "Name": pd.Series(full_names.to_numpy()[who], dtype=str),
            "Order Date": start_ts + pd.to_timedelta(seconds, unit="s"),
            "Amount": rows["amount"].to_numpy(dtype="float64"),
            "Channel": pd.Series(names[channel[who]], dtype=str),
            "Accepts Marketing": pd.Series(consent[who], dtype=str),
        },
        columns=list(TEMPLATE_ORDER_COLUMNS),
    )


def _cumsum_by_group(values: np.ndarray, starts: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Running sum of `values` restarting at each group's first element (groups contiguous)."""
    total = np.cumsum(values)
    before = np.concatenate(([0.0], total))[starts]
    return total - before[owner]
