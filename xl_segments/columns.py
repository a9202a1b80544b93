"""Find our fields among the user's headers: Shopify, WooCommerce and plain-English aliases."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xl_segments.errors import AmbiguousColumnError, MissingColumnError

# Our fields, in the order they are reported.
REQUIRED_FIELDS = ("order_date", "amount")
OPTIONAL_FIELDS = (
    "order_id",
    "customer_id",
    "email",
    "name",
    "first_name",
    "last_name",
    "channel",
    "consent",
    "financial_status",
    "refunded_amount",
)
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

# What a field is called in messages.
FIELD_LABELS = {
    "order_id": "Order ID",
    "customer_id": "Customer ID",
    "email": "Email",
    "name": "Name",
    "first_name": "First Name",
    "last_name": "Last Name",
    "order_date": "Order Date",
    "amount": "Amount",
    "channel": "Channel",
    "consent": "Accepts Marketing",
    "financial_status": "Financial Status",
    "refunded_amount": "Refunded Amount",
}

# Header aliases, best first, written as header_key() gives them (lower case, letters and
# digits only). The first alias present wins, so "Customer ID" beats "Customer".
ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": (
        "orderid",
        "ordernumber",
        "orderno",
        "ordernum",
        "order",
        "ordername",
        "orderref",
        "orderreference",
        "transactionid",
        "invoiceid",
        "invoicenumber",
        "id",
    ),
    "customer_id": (
        "customerid",
        "customernumber",
        "customerno",
        "clientid",
        "userid",
        "customeruser",
        "customer",
        "client",
        "buyerid",
        "shopperid",
    ),
    "email": (
        "email",
        "emailaddress",
        "customeremail",
        "billingemail",
        "buyeremail",
        "mail",
        "contactemail",
    ),
    "name": (
        "customername",
        "name",
        "fullname",
        "billingname",
        "buyername",
        "clientname",
        "contactname",
        "shippingname",
    ),
    "first_name": ("firstname", "billingfirstname", "givenname", "customerfirstname"),
    "last_name": ("lastname", "billinglastname", "surname", "familyname", "customerlastname"),
    "order_date": (
        "orderdate",
        "date",
        "createdat",
        "datecreated",
        "orderedat",
        "purchasedate",
        "orderdatetime",
        "orderdategmt",
        "datecreatedgmt",
        "ordercreatedat",
        "transactiondate",
        "invoicedate",
        "processedat",
        "datum",
        "fecha",
    ),
    "amount": (
        "amount",
        "total",
        "ordertotal",
        "ordertotalamount",
        "revenue",
        "totalamount",
        "grandtotal",
        "netamount",
        "net",
        "totalprice",
        "ordervalue",
        "value",
        "sales",
        "totalsales",
        "netsales",
        "price",
        "betrag",
        "importe",
    ),
    "channel": (
        "channel",
        "acquisitionchannel",
        "marketingchannel",
        "utmsource",
        "source",
        "sourcename",
        "ordersource",
        "trafficsource",
        "referrer",
        "medium",
    ),
    "consent": (
        "acceptsmarketing",
        "acceptsemailmarketing",
        "marketingconsent",
        "emailconsent",
        "consent",
        "optin",
        "marketingoptin",
        "newsletter",
        "subscribed",
    ),
    "financial_status": ("financialstatus", "paymentstatus", "orderstatus", "status"),
    "refunded_amount": ("refundedamount", "amountrefunded", "refundamount", "refunds", "refunded"),
}

# Shopify's orders export calls the order number "Name" and the customer "Billing Name".
SHOPIFY_MARKERS = frozenset({"createdat", "financialstatus", "billingname", "paidat"})


def header_key(header: object) -> str:
    """A header reduced to lower-case letters and digits: "Order Date " -> "orderdate"."""
    return re.sub(r"[^0-9a-z]", "", str(header).casefold())


@dataclass(frozen=True)
class ColumnMatch:
    """Which of the user's headers feeds each of our fields."""

    headers: Mapping[str, str]  # field -> the user's header, as written
    positions: Mapping[str, int]  # field -> 0-based column position in the table
    dialect: str  # "shopify" or "generic"
    notes: tuple[str, ...] = ()  # choices made between several matching headers

    def has(self, field: str) -> bool:
        return field in self.headers

    def label(self, field: str) -> str:
        return self.headers.get(field, FIELD_LABELS[field])


def match_columns(
    headers: Sequence[object], mapping: Mapping[str, str] | None = None
) -> ColumnMatch:
    """Match the user's headers to our fields; an explicit mapping overrides the guessing."""
    mapping = dict(mapping or {})
    shown = [str(h) if h is not None else "" for h in headers]
    keys = [header_key(h) for h in shown]
    # A "header" that is an email address is a customer's data (no header row): never repeat it.
    found_text = (
        ", ".join("(an email address)" if "@" in h else h for h in shown if h.strip())
        or "no headers"
    )

    unknown = set(mapping) - set(FIELDS)
    if unknown:
        raise MissingColumnError(
            f"Unknown field(s) in the column mapping: {', '.join(sorted(unknown))}. "
            f"Fields are: {', '.join(FIELDS)}."
        )

    dialect = "shopify" if SHOPIFY_MARKERS & set(keys) else "generic"
    aliases = dict(ALIASES)
    if dialect == "shopify":
        # In Shopify's export "Name" is the order number (#1001), never the customer.
        aliases["order_id"] = ("name", *aliases["order_id"])
        aliases["name"] = tuple(a for a in aliases["name"] if a != "name")

    positions_by_key: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        if key:
            positions_by_key.setdefault(key, []).append(position)

    headers_out: dict[str, str] = {}
    positions_out: dict[str, int] = {}
    taken: set[int] = set()
    passed_over: dict[str, list[str]] = {}

    for field, user_header in mapping.items():
        matches = [i for i, h in enumerate(shown) if h == user_header]
        if not matches:
            matches = positions_by_key.get(header_key(user_header), [])
        if not matches:
            raise MissingColumnError(
                f'The column mapping names "{user_header}" for {FIELD_LABELS[field]}, but there '
                f"is no such column (found: {found_text})."
            )
        if len(matches) > 1:
            raise AmbiguousColumnError(
                f'The column "{user_header}" appears {len(matches)} times; rename one of them.'
            )
        headers_out[field] = shown[matches[0]]
        positions_out[field] = matches[0]
        taken.add(matches[0])

    for field in FIELDS:
        if field in headers_out:
            continue
        for alias in aliases[field]:
            candidates = [p for p in positions_by_key.get(alias, []) if p not in taken]
            if not candidates:
                continue
            if len(candidates) > 1:
                names = " and ".join(f'"{shown[p]}"' for p in candidates)
                raise AmbiguousColumnError(
                    f"Columns {names} both look like {FIELD_LABELS[field]}; rename or remove "
                    "one, or give a column mapping."
                )
            headers_out[field] = shown[candidates[0]]
            positions_out[field] = candidates[0]
            taken.add(candidates[0])
            if field in REQUIRED_FIELDS:
                later = aliases[field][aliases[field].index(alias) + 1 :]
                others = [
                    shown[p] for a in later for p in positions_by_key.get(a, []) if p not in taken
                ]
                if others:
                    passed_over[field] = others
            break

    for field in REQUIRED_FIELDS:
        if field not in headers_out:
            raise MissingColumnError(
                f'Column "{FIELD_LABELS[field]}" missing (found: {found_text}). Rename the '
                "column or give a column mapping."
            )
    if "customer_id" not in headers_out and "email" not in headers_out:
        raise MissingColumnError(
            f'No customer column: add a "Customer ID" or "Email" column (found: {found_text}).'
        )
    notes = tuple(
        f'Both "{headers_out[field]}" and "{others[0]}" look like the {FIELD_LABELS[field]} '
        f'column; using "{headers_out[field]}". Give a column mapping to use the other.'
        for field, others in passed_over.items()
    )
    return ColumnMatch(headers_out, positions_out, dialect, notes)
