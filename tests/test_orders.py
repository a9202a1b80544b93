"""Reading orders (docs/definitions.md section 1): headers, dates, amounts, rows, errors."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest
from helpers_engine import HEADER, normalize, only_warns, table

from xl_segments.errors import (
    AmbiguousColumnError,
    AmbiguousDateError,
    BadValueError,
    ConflictingOrderError,
    EmptyOrdersError,
    MissingColumnError,
)
from xl_segments.orders import TableLocator, normalize_orders
from xl_segments.settings import Settings


def by_order(orders, column):
    """One column of the clean orders as {order id: value}."""
    frame = orders.frame
    return dict(zip(frame["order_id"], frame[column], strict=True))


# --- Headers -------------------------------------------------------------------------------


def test_a_shopify_export_reads_name_as_the_order_number_and_merges_line_items():
    raw = pd.DataFrame(
        {
            "Name": ["#1001", "#1001", "#1002"],
            "Email": ["ann@shop.test", "ann@shop.test", "bob@shop.test"],
            "Financial Status": ["paid", None, "paid"],
            "Created at": [
                "2024-03-05 14:30:00 -0500",
                "2024-03-05 14:30:00 -0500",
                "2024-03-06 09:00:00 -0500",
            ],
            "Total": [120.0, None, 35.0],
            "Lineitem name": ["Mug", "Tea", "Mug"],
            "Source": ["web", None, "pos"],
            "Accepts Marketing": ["yes", None, "no"],
            "Billing Name": ["Ann Lee", None, "Bob Ray"],
        }
    )
    orders = normalize(raw)
    # Two line-item rows of #1001 are one order with the Total of its first row.
    assert list(orders.frame["order_id"]) == ["#1001", "#1002"]
    assert by_order(orders, "amount") == {"#1001": 120.0, "#1002": 35.0}
    assert by_order(orders, "name") == {"#1001": "Ann Lee", "#1002": "Bob Ray"}
    assert by_order(orders, "channel") == {"#1001": "web", "#1002": "pos"}
    assert by_order(orders, "consent") == {"#1001": True, "#1002": False}
    assert by_order(orders, "customer_key") == {"#1001": "ann@shop.test", "#1002": "bob@shop.test"}
    assert orders.quality.line_item_rows_merged == 1
    # 14:30 at -05:00 is 19:30 UTC, the default zone.
    assert by_order(orders, "order_date")["#1001"] == pd.Timestamp("2024-03-05 19:30")


def test_outside_a_shopify_export_name_is_the_customer_name():
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Name": ["Ann Lee"], "Date": ["2024-01-02"], "Amount": [10]}
    )
    orders = normalize(raw)
    assert orders.frame.loc[0, "name"] == "Ann Lee"
    assert pd.isna(orders.frame.loc[0, "order_id"])


def test_a_woocommerce_export_reads_its_headers_and_guests_by_email():
    raw = pd.DataFrame(
        {
            "Order ID": [501, 502, 503],
            "Customer ID": [7, 0, 0],
            "Billing Email": ["reg@shop.test", "Guest@Shop.test", " guest@shop.test"],
            "Order Date": ["2024-01-02", "2024-01-03", "2024-01-04"],
            "Order Total": ["10.00", "20.00", "30.00"],
        }
    )
    orders = normalize(raw)
    assert by_order(orders, "amount") == {"501": 10.0, "502": 20.0, "503": 30.0}
    # Customer id 0 is a guest checkout: guests are known by their normalized email.
    assert by_order(orders, "customer_key") == {
        "501": "7",
        "502": "guest@shop.test",
        "503": "guest@shop.test",
    }


def test_woocommerce_snake_case_headers_are_read_too():
    raw = pd.DataFrame(
        {
            "order_id": ["9"],
            "customer_id": ["3"],
            "date_created": ["2024-05-06"],
            "order_total": ["12.5"],
        }
    )
    orders = normalize(raw)
    assert orders.frame.loc[0, "order_id"] == "9"
    assert orders.frame.loc[0, "customer_key"] == "3"
    assert orders.frame.loc[0, "order_date"] == pd.Timestamp("2024-05-06")
    assert orders.frame.loc[0, "amount"] == 12.5


@pytest.mark.parametrize(
    ("amount_header", "channel_header"),
    [("Amount", "Channel"), ("Revenue", "UTM Source"), ("REVENUE", "utm_source")],
    ids=["amount-channel", "revenue-utm-source", "other-case-and-punctuation"],
)
def test_plain_headers_are_matched_ignoring_case_and_punctuation(amount_header, channel_header):
    raw = pd.DataFrame(
        {
            "Customer": ["c1"],
            "Date": ["2024-01-02"],
            amount_header: [10],
            channel_header: ["Ads"],
        }
    )
    orders = normalize(raw)
    assert orders.columns.headers["amount"] == amount_header
    assert orders.frame.loc[0, "customer_key"] == "c1"
    assert orders.frame.loc[0, "amount"] == 10.0
    assert orders.frame.loc[0, "channel"] == "Ads"


def test_first_and_last_name_are_joined_into_the_name():
    raw = pd.DataFrame(
        {
            "Customer ID": ["1", "2"],
            "First Name": ["Ann", "Bob"],
            "Last Name": ["Lee", None],
            "Date": ["2024-01-02", "2024-01-03"],
            "Amount": [1, 2],
        }
    )
    assert list(normalize(raw).frame["name"]) == ["Ann Lee", "Bob"]


@pytest.mark.parametrize("header", ["Accepts Marketing", "Marketing Consent", "Opt-in"])
def test_consent_headers_are_recognised(header):
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [1], header: ["yes"]})
    assert normalize(raw).columns.headers["consent"] == header


def test_an_explicit_column_mapping_overrides_the_guessing():
    raw = pd.DataFrame(
        {
            "Buyer": ["b1"],
            "Placed": ["2024-02-03"],
            "Paid": [40],
            "Amount": [999],  # would be guessed as the amount without the mapping
        }
    )
    mapping = {"customer_id": "Buyer", "order_date": "Placed", "amount": "Paid"}
    orders = normalize(raw, column_mapping=mapping)
    assert orders.frame.loc[0, "customer_key"] == "b1"
    assert orders.frame.loc[0, "order_date"] == pd.Timestamp("2024-02-03")
    assert orders.frame.loc[0, "amount"] == 40.0


def test_missing_required_columns_name_what_was_found():
    raw = pd.DataFrame({"Customer": ["c1"], "Amount": [10], "Notes": ["x"]})
    with pytest.raises(MissingColumnError, match=r"Order Date.*found: Customer, Amount, Notes"):
        normalize(raw)


def test_a_table_without_customer_id_or_email_is_missing_the_customer():
    raw = pd.DataFrame({"Date": ["2024-01-02"], "Amount": [10]})
    with pytest.raises(MissingColumnError, match=r"Customer ID.*Email.*found: Date, Amount"):
        normalize(raw)


def test_two_headers_that_read_the_same_are_ambiguous():
    raw = pd.DataFrame(
        [["c1", "2024-01-02", 10, 11]], columns=["Customer", "Date", "Amount", "amount"]
    )
    with pytest.raises(AmbiguousColumnError, match=r'"Amount" and "amount"'):
        normalize(raw)


def test_the_best_of_two_matching_date_headers_wins_with_a_warning_naming_both():
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Order Date": ["2024-02-02"], "Date": ["2024-01-01"], "Amount": [1]}
    )
    # "Order Date" comes before "Date" in the aliases of the order date.
    with only_warns('Both "Order Date" and "Date"'):
        orders = normalize_orders(raw)
    assert orders.frame.loc[0, "order_date"] == pd.Timestamp("2024-02-02")


def test_the_best_of_two_matching_amount_headers_wins_with_a_warning_naming_both():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-01-01"], "Total": [2], "Amount": [1]})
    with only_warns('Both "Amount" and "Total"'):
        orders = normalize_orders(raw)
    assert orders.frame.loc[0, "amount"] == 1


def test_customer_id_is_preferred_to_customer_without_a_warning():
    raw = pd.DataFrame(
        {"Customer": ["name"], "Customer ID": ["7"], "Date": ["2024-01-01"], "Amount": [1]}
    )
    orders = normalize(raw)
    assert orders.frame.loc[0, "customer_key"] == "7"
    assert not any("Customer" in note for note in orders.warnings)


def test_a_duplicated_header_is_ambiguous():
    raw = pd.DataFrame(
        [["c1", "2024-01-02", 10, 11]], columns=["Customer", "Date", "Amount", "Amount"]
    )
    with pytest.raises(AmbiguousColumnError, match="rename"):
        normalize(raw)


@pytest.mark.parametrize(
    "raw",
    [
        pd.DataFrame(columns=["Customer", "Date", "Amount"]),
        pd.DataFrame({"Customer": [None, " "], "Date": [None, ""], "Amount": [None, None]}),
    ],
    ids=["header-only", "only-blank-rows"],
)
def test_a_table_without_order_rows_is_empty(raw):
    with pytest.raises(EmptyOrdersError, match="no order rows"):
        normalize(raw)


def test_a_missing_channel_column_warns_that_channel_lists_are_skipped():
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [1], "Accepts Marketing": ["yes"]}
    )
    with only_warns("No channel column"):
        normalize_orders(raw)


def test_a_missing_consent_column_warns_that_lists_include_everyone():
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [1], "Channel": ["x"]}
    )
    with only_warns("consent column.*include"):
        normalize_orders(raw)


def test_a_full_table_reads_without_warnings():
    raw = table([(1, "c1", "c1@shop.test", "2024-01-02", 1, "Ads", "yes")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalize_orders(raw)


# --- Dates ---------------------------------------------------------------------------------

# The same two days, 5 January 2024 and 1 March 2024, written seven ways.
# Excel 1900 serials: 2024-01-01 is 45292, so 5 Jan = 45292 + 4 = 45296 and
# 1 Mar = 45292 + 31 (Jan) + 29 (Feb, leap year) = 45352.
# 1904 serials are 1462 smaller (1900 to 1903 is 4 x 365 days, plus 30-31 Dec 1899):
# 45296 - 1462 = 43834, 45352 - 1462 = 43890.
DATE_FORMS = [
    ([pd.Timestamp("2024-01-05 10:00"), dt.datetime(2024, 3, 1, 8, 0)], {}),
    ([45296, 45352], {}),
    (["2024-01-05", "2024-03-01T08:00:00"], {}),
    ([43834, 43890], {"date_system_1904": True}),
    # 23:30 at -05:00 is 04:30 UTC the next day; 10:00 at +09:00 is 01:00 UTC the same day.
    (["2024-01-04 23:30:00 -0500", "2024-03-01T10:00:00+09:00"], {}),
    (["05.01.2024", "01.03.2024"], {"date_format": "%d.%m.%Y"}),
    (["5 January 2024", "Mar 1, 2024"], {}),
]


@pytest.mark.parametrize(
    ("dates", "settings"),
    DATE_FORMS,
    ids=[
        "datetimes",
        "excel-serials",
        "iso-text",
        "serials-1904",
        "tz-aware-text",
        "stated-format",
        "month-names",
    ],
)
def test_every_date_form_gives_the_same_days(dates, settings):
    raw = pd.DataFrame({"Customer": ["c1", "c2"], "Date": dates, "Amount": [1, 2]})
    days = normalize(raw, **settings).frame["order_date"].dt.normalize()
    assert list(days) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-03-01")]


def test_time_zone_aware_text_is_kept_as_wall_time_in_the_chosen_zone():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-03-05 22:30:00 -0500"], "Amount": [1]})
    # UTC: 22:30 + 5 h = 03:30 on the 6th; New York (UTC-5 on 5 March): 22:30 on the 5th.
    assert normalize(raw).frame.loc[0, "order_date"] == pd.Timestamp("2024-03-06 03:30")
    in_new_york = normalize(raw, timezone="America/New_York").frame.loc[0, "order_date"]
    assert in_new_york == pd.Timestamp("2024-03-05 22:30")


def test_ambiguous_day_month_text_asks_for_the_format_and_names_the_cell():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 1, "Ads", "yes"),
            (2, "c1", "c1@shop.test", "03/04/2024", 1, "Ads", "yes"),
        ]
    )
    # Order Date is the 4th column (D); the second data row is Excel row 3.
    with pytest.raises(
        AmbiguousDateError, match=r'[Cc]ell D3, column "Order Date".*03/04/2024'
    ) as e:
        normalize(raw)
    assert "%d/%m/%Y" in str(e.value)
    assert "%m/%d/%Y" in str(e.value)


def test_a_column_with_a_day_above_12_is_read_day_first():
    raw = pd.DataFrame(
        {"Customer": ["c1", "c2"], "Date": ["13/04/2024", "03/04/2024"], "Amount": [1, 2]}
    )
    dates = list(normalize(raw).frame["order_date"])
    assert dates == [pd.Timestamp("2024-04-13"), pd.Timestamp("2024-04-03")]


def test_a_stated_format_settles_ambiguous_text():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["03/04/2024"], "Amount": [1]})
    assert normalize(raw, date_format="%m/%d/%Y").frame.loc[0, "order_date"] == pd.Timestamp(
        "2024-03-04"
    )


def test_slashed_year_first_dates_are_read():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024/03/04"], "Amount": [1]})
    assert normalize(raw).frame.loc[0, "order_date"] == pd.Timestamp("2024-03-04")


def test_a_serial_before_1970_is_not_a_date():
    # Serial 100 is 9 April 1900: a number that is not an order date.
    raw = pd.DataFrame({"Customer": ["c1", "c2"], "Date": [45296, 100], "Amount": [1, 2]})
    with pytest.raises(BadValueError, match=r'[Cc]ell B3, column "Date".*not a date'):
        normalize(raw)


@pytest.mark.parametrize("number", [100_000_000, -2146826246], ids=["huge-serial", "com-error"])
def test_a_number_far_outside_the_date_range_is_not_a_date(number):
    raw = pd.DataFrame({"Customer": ["c1", "c2"], "Date": [45296, number], "Amount": [1, 2]})
    with pytest.raises(BadValueError, match=r'[Cc]ell B3, column "Date"'):
        normalize(raw)


def test_time_zone_aware_datetimes_are_converted_to_the_chosen_zone():
    stamps = pd.Series([pd.Timestamp("2024-03-05 22:30", tz="America/New_York")])
    raw = pd.DataFrame({"Customer": ["c1"], "Date": stamps, "Amount": [1]})
    # 22:30 in New York on 5 March (UTC-5) is 03:30 UTC on the 6th.
    assert normalize(raw).frame.loc[0, "order_date"] == pd.Timestamp("2024-03-06 03:30")


def test_a_time_zone_aware_date_before_1970_is_an_error():
    stamps = pd.Series([pd.Timestamp("1960-01-01", tz="UTC")])
    raw = pd.DataFrame({"Customer": ["c1"], "Date": stamps, "Amount": [1]})
    with pytest.raises(BadValueError, match=r'[Cc]ell B2, column "Date"'):
        normalize(raw)


def test_text_that_does_not_fit_the_stated_format_is_an_error_naming_the_format():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["31/02/2024"], "Amount": [1]})
    with pytest.raises(BadValueError, match=r"[Cc]ell B2.*not a date.*%d/%m/%Y"):
        normalize(raw, date_format="%d/%m/%Y")


# --- Amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,234.50", 1234.5),
        ("(15.00)", -15.0),
        ("15.00-", -15.0),
        ("1234.5 USD", 1234.5),
        ("-€15", -15.0),
        ("12", 12.0),
    ],
    ids=[
        "dollar-thousands",
        "accounting-negative",
        "trailing-minus",
        "currency-code",
        "euro-minus",
        "plain",
    ],
)
def test_amount_text_is_read_as_money(text, value):
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [text]})
    assert normalize(raw).frame.loc[0, "amount"] == value


def test_a_decimal_comma_is_read_when_the_setting_says_so():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": ["1.234,50 €"]})
    assert normalize(raw, decimal_comma=True).frame.loc[0, "amount"] == 1234.5


def test_a_decimal_comma_without_the_setting_is_an_error_with_a_hint():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": ["12,50"]})
    # Not 1250: a thousands separator must group three digits.
    with pytest.raises(BadValueError, match=r'[Cc]ell C2, column "Amount".*"12,50"') as e:
        normalize(raw)
    assert "Decimal comma" in str(e.value)


# --- Ids and emails ------------------------------------------------------------------------


def test_whole_number_ids_from_excel_become_text():
    raw = table(
        [
            (1001.0, 101.0, "a@shop.test", "2024-01-02", 1, "Ads", "yes"),
            ("1002.0", "102.0", "b@shop.test", "2024-01-02", 1, "Ads", "yes"),
        ]
    )
    orders = normalize(raw)
    assert list(orders.frame["order_id"]) == ["1001", "1002"]
    assert list(orders.frame["customer_key"]) == ["101", "102"]


def test_emails_are_matched_stripped_and_case_folded_but_shown_as_written():
    raw = pd.DataFrame(
        {
            "Email": [" Ann@Shop.com", "ann@shop.com "],
            "Date": ["2024-01-02", "2024-01-03"],
            "Amount": [1, 2],
        }
    )
    orders = normalize(raw)
    assert list(orders.frame["customer_key"]) == ["ann@shop.com", "ann@shop.com"]
    assert list(orders.frame["email"]) == ["Ann@Shop.com", "ann@shop.com"]


# --- Rows ----------------------------------------------------------------------------------


def test_exact_duplicate_rows_are_dropped_and_counted():
    row = (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes")
    raw = table([row, row, (2, "c1", "c1@shop.test", "2024-01-03", 10, "Ads", "yes")])
    orders = normalize(raw)
    assert list(orders.frame["order_id"]) == ["1", "2"]
    assert orders.quality.duplicate_rows == 1


def test_blank_rows_are_skipped_and_counted():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (None, None, " ", None, None, "", None),
            (2, "c2", "c2@shop.test", "2024-01-03", 20, "Ads", "yes"),
        ]
    )
    orders = normalize(raw)
    assert list(orders.frame["order_id"]) == ["1", "2"]
    assert orders.quality.blank_rows == 1
    assert orders.quality.rows_read == 3


def test_one_order_id_with_conflicting_amounts_is_an_error_listing_the_cells():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (2, "c2", "c2@shop.test", "2024-01-02", 5, "Ads", "yes"),
            (1, "c1", "c1@shop.test", "2024-01-02", 12, "Ads", "yes"),
        ]
    )
    # Order ID is column A; order 1 is on Excel rows 2 and 4.
    with pytest.raises(ConflictingOrderError, match=r'order "1" \(cells A2, A4\).*Amount'):
        normalize(raw)


def test_one_order_id_with_two_customers_is_an_error():
    raw = table(
        [
            (7, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (7, "c2", "c2@shop.test", "2024-01-02", 10, "Ads", "yes"),
        ]
    )
    with pytest.raises(ConflictingOrderError, match=r'order "7" \(cells A2, A3\).*Customer ID'):
        normalize(raw)


def test_a_negative_row_sharing_an_order_id_is_a_refund_not_a_conflict():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 50, "Ads", "yes"),
            (1, "c1", "c1@shop.test", "2024-01-09", -20, "Ads", "yes"),
        ]
    )
    orders = normalize(raw)
    assert list(orders.frame["amount"]) == [50.0, -20.0]
    assert orders.quality.refund_rows == 1


# --- Bad values ----------------------------------------------------------------------------


def test_a_blank_amount_names_the_cell_and_counts_the_other_rows():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (2, "c1", "c1@shop.test", "2024-01-03", None, "Ads", "yes"),
            (3, "c1", "c1@shop.test", "2024-01-04", None, "Ads", "yes"),
            (4, "c1", "c1@shop.test", "2024-01-05", None, "Ads", "yes"),
        ]
    )
    # Amount is column E; the first blank is the second data row, Excel row 3; 2 more follow.
    with pytest.raises(BadValueError, match=r'[Cc]ell E3, column "Amount".*blank.*2 more rows'):
        normalize(raw)


def test_a_blank_date_names_the_cell():
    raw = pd.DataFrame({"Customer": ["c1", "c2"], "Date": ["2024-01-02", None], "Amount": [1, 2]})
    with pytest.raises(BadValueError, match=r'[Cc]ell B3, column "Date".*blank'):
        normalize(raw)


def test_an_order_without_customer_id_or_email_names_the_cell():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (2, None, None, "2024-01-03", 10, "Ads", "yes"),
        ]
    )
    with pytest.raises(BadValueError, match=r'[Cc]ell B3, column "Customer ID".*no customer'):
        normalize(raw)


def test_an_excel_error_text_names_the_sheet_cell_and_column():
    raw = table(
        [
            (1, "c1", "c1@shop.test", "2024-01-02", 10, "Ads", "yes"),
            (2, "c1", "c1@shop.test", "2024-01-03", 10, "Ads", "yes"),
            (3, "c1", "c1@shop.test", "2024-01-04", 10, "Ads", "yes"),
            (4, "c1", "c1@shop.test", "2024-01-05", "#N/A", "Ads", "yes"),
        ]
    )
    with (
        warnings.catch_warnings(),
        pytest.raises(BadValueError, match=r'^Sheet "Orders", cell E5, column "Amount":.*#N/A'),
    ):
        warnings.simplefilter("ignore", UserWarning)
        normalize_orders(raw, Settings(), locator=TableLocator(sheet="Orders"))


def test_an_excel_error_code_from_com_is_an_error_value():
    # xlwings hands Excel's #N/A over as the COM error code -2146826246 in a mixed column.
    raw = pd.DataFrame(
        {
            "Customer": ["c1", "c2"],
            "Date": ["2024-01-02", "2024-01-03"],
            "Amount": ["10", -2146826246],
        }
    )
    with pytest.raises(BadValueError, match=r'[Cc]ell C3, column "Amount".*#N/A'):
        normalize(raw)


def test_an_excel_error_code_in_a_whole_number_column_is_an_error_value():
    raw = pd.DataFrame(
        {
            "Customer": ["c1", "c2"],
            "Date": ["2024-01-02", "2024-01-03"],
            "Amount": [10, -2146826246],
        }
    )
    with pytest.raises(BadValueError, match=r'[Cc]ell C3, column "Amount".*#N/A'):
        normalize(raw)


def test_a_non_number_amount_names_the_value_and_how_many_more_rows():
    raw = pd.DataFrame(
        {
            "Customer": ["c1", "c2", "c3", "c4"],
            "Date": ["2024-01-02"] * 4,
            "Amount": ["10", "ten", "12", "n/a"],
        }
    )
    with pytest.raises(BadValueError, match=r'[Cc]ell C3, column "Amount".*"ten".*1 more row\b'):
        normalize(raw)


def test_the_excel_row_of_a_bad_value_counts_blank_rows_above_it():
    raw = pd.DataFrame(
        {
            "Customer": ["c1", None, "c3"],
            "Date": ["2024-01-02", None, "2024-01-03"],
            "Amount": [1, None, "x"],
        }
    )
    # Data rows are Excel rows 2, 3 (blank) and 4.
    with pytest.raises(BadValueError, match=r'[Cc]ell C4, column "Amount"'):
        normalize(raw)


def test_text_that_is_not_a_date_is_an_error():
    raw = pd.DataFrame({"Customer": ["c1"], "Date": ["soon"], "Amount": [1]})
    with pytest.raises(BadValueError, match=r'[Cc]ell B2, column "Date".*"soon".*not a date'):
        normalize(raw)


# --- Statuses and refunds ------------------------------------------------------------------

STATUS_HEADER = ("Order ID", "Customer ID", "Order Date", "Amount", "Financial Status")


def test_unsold_statuses_are_left_out_and_counted_per_status():
    raw = table(
        [
            (1, "a", "2024-01-02", 100, "paid"),
            (2, "a", "2024-01-03", 50, "voided"),
            (3, "b", "2024-01-04", 20, "cancelled"),
            (4, "b", "2024-01-05", 30, "pending"),
            (5, "b", "2024-01-06", 40, "Pending"),
        ],
        header=STATUS_HEADER,
    )
    orders = normalize(raw)
    assert list(orders.frame["order_id"]) == ["1"]
    assert orders.quality.not_sold_orders == {"voided": 1, "cancelled": 1, "pending": 2}


@pytest.mark.parametrize(
    "status", ["voided", "cancelled", "failed", "pending", "on-hold", "draft", "trash", "expired"]
)
def test_every_documented_unsold_status_is_left_out(status):
    raw = table(
        [(1, "a", "2024-01-02", 100, "paid"), (2, "a", "2024-01-03", 50, status)],
        header=("Order ID", "Customer ID", "Order Date", "Amount", "Status"),
    )
    orders = normalize(raw)
    assert list(orders.frame["order_id"]) == ["1"]
    assert orders.quality.not_sold_orders == {status: 1}


def test_refunded_orders_count_amount_less_the_refunded_amount():
    raw = table(
        [
            (1, "a", "2024-01-02", 100, "paid", None),
            (2, "a", "2024-01-03", 40, "refunded", 40),
            (3, "b", "2024-01-04", 60, "partially_refunded", 15),
        ],
        header=(*STATUS_HEADER, "Refunded Amount"),
    )
    orders = normalize(raw)
    # 40 - 40 = 0; 60 - 15 = 45.
    assert by_order(orders, "amount") == {"1": 100.0, "2": 0.0, "3": 45.0}
    assert orders.quality.refunded_orders == 2


def test_without_a_refunded_amount_refunded_is_zero_and_partly_refunded_is_full_with_a_warning():
    raw = table(
        [
            (1, "a", "2024-01-03", 40, "refunded"),
            (2, "b", "2024-01-04", 60, "partially_refunded"),
        ],
        header=STATUS_HEADER,
    )
    with only_warns("partially refunded"):
        orders = normalize_orders(raw)
    assert by_order(orders, "amount") == {"1": 0.0, "2": 60.0}


def test_unknown_statuses_count_as_sales_and_are_listed_in_a_warning():
    raw = table([(1, "a", "2024-01-02", 100, "mystery")], header=STATUS_HEADER)
    with only_warns('"mystery"'):
        orders = normalize_orders(raw)
    assert by_order(orders, "amount") == {"1": 100.0}


def test_every_order_unsold_leaves_no_orders():
    raw = table([(1, "a", "2024-01-02", 100, "voided")], header=STATUS_HEADER)
    with pytest.raises(EmptyOrdersError):
        normalize(raw)


# --- Consent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "consent"),
    [
        ("yes", True),
        ("TRUE", True),
        (1, True),
        ("x", True),
        ("subscribed", True),
        ("opted in", True),
        ("no", False),
        ("false", False),
        (0, False),
        ("unsubscribed", False),
        ("pending", False),
        (None, None),
    ],
)
def test_consent_values_are_read(cell, consent):
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [1], "Accepts Marketing": [cell]},
        dtype=object,
    )
    value = normalize(raw).frame.loc[0, "consent"]
    assert (pd.isna(value) and consent is None) or value == consent


def test_unrecognised_consent_is_no_consent_with_a_warning():
    raw = pd.DataFrame(
        {"Customer": ["c1"], "Date": ["2024-01-02"], "Amount": [1], "Accepts Marketing": ["maybe"]}
    )
    with only_warns("not recognised"):
        orders = normalize_orders(raw)
    assert not orders.frame.loc[0, "consent"]
    assert orders.quality.unrecognised_consent == 1


def test_the_template_headers_are_all_recognised():
    raw = table([(1, "c1", "c1@shop.test", "2024-01-02", 1, "Ads", "yes")], header=HEADER)
    assert set(normalize(raw).columns.headers) == {
        "order_id",
        "customer_id",
        "email",
        "order_date",
        "amount",
        "channel",
        "consent",
    }
