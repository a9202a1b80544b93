"""The refresh every front door runs: read a book's orders and settings, build lists, write.

A "book" is anything that can hand over its orders table and settings and put named tables
on sheets: the workbook file adapter (headless refresh, CLI) and the xlwings adapter (ribbon
macros) both are. The logic lives here once; the adapters only read and write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from xl_segments import sheets
from xl_segments.orders import Locator
from xl_segments.report import build_report
from xl_segments.segments import Segments, build_segments
from xl_segments.settings import Settings
from xl_segments.tables import Report


@dataclass(frozen=True)
class OrdersInput:
    """An orders table as a book holds it, with where it came from for error messages."""

    frame: pd.DataFrame
    locator: Locator
    date_system_1904: bool = False


class Book(Protocol):
    """What a refresh needs from a workbook, whatever holds it."""

    def read_orders(self) -> OrdersInput: ...

    def read_settings(self) -> Mapping[str, Any]: ...

    def read_suppression(self) -> list[str]: ...

    def write_report(self, report: Report) -> None: ...


# Which sheets each ribbon button rebuilds (the Summary always comes along).
LIST_GROUPS: dict[str, tuple[str, ...]] = {
    "all": sheets.LIST_SHEETS,
    "top_spenders": (sheets.SUMMARY_SHEET, sheets.TOP_SPENDERS_SHEET),
    "channels": (
        sheets.SUMMARY_SHEET,
        sheets.CHANNEL_PERFORMANCE_SHEET,
        sheets.REPEAT_BY_CHANNEL_SHEET,
    ),
    "churn": (sheets.SUMMARY_SHEET, sheets.CHURN_RISK_SHEET, sheets.MONTHLY_CHURN_SHEET),
}


def book_settings(book: Book, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings from the book's Settings sheet and suppression list, then the overrides."""
    values = dict(book.read_settings())
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings.from_values(values)
    suppressed = book.read_suppression()
    if suppressed:
        settings = settings.replace(suppressed_emails=settings.suppressed_emails | set(suppressed))
    return settings


def segments_of_book(book: Book, overrides: Mapping[str, Any] | None = None) -> Segments:
    """Read the book's orders and settings and build every list."""
    settings = book_settings(book, overrides)
    orders = book.read_orders()
    if orders.date_system_1904 and not settings.date_system_1904:
        settings = settings.replace(date_system_1904=True)
    return build_segments(orders.frame, settings, locator=orders.locator)


def only_sheets(report: Report, wanted: Collection[str]) -> Report:
    """The report cut down to some sheets (a ribbon button that rebuilds one list)."""
    return Report(
        summary=report.summary,
        tables=tuple(t for t in report.tables if t.sheet in wanted),
        warnings=report.warnings,
    )


def refresh_book(
    book: Book, group: str = "all", overrides: Mapping[str, Any] | None = None
) -> tuple[Segments, Report]:
    """Rebuild a group of lists in a book: read, build once, write the group's sheets."""
    if group not in LIST_GROUPS:
        raise ValueError(f"Unknown list group {group!r}; one of {', '.join(LIST_GROUPS)}.")
    segments = segments_of_book(book, overrides)
    # A book without a workbook of its own (a CSV file) also gets its orders as a sheet.
    with_orders = bool(getattr(book, "wants_orders_sheet", False))
    wanted = LIST_GROUPS[group] + ((sheets.ORDERS_SHEET,) if with_orders else ())
    report = only_sheets(build_report(segments, include_orders=with_orders), wanted)
    book.write_report(report)
    return segments, report
