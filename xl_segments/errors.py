"""Errors of our own, each with a message a store owner can act on."""

from __future__ import annotations


class SegmentsError(Exception):
    """Base class: anything xl-segments refuses, with a message meant for the user."""


class MissingColumnError(SegmentsError):
    """A required column (customer, order date, amount) is not in the orders table."""


class AmbiguousColumnError(SegmentsError):
    """Two headers both look like the same column, or a header is duplicated."""


class BadValueError(SegmentsError):
    """A cell holds a value we cannot read: blank required value, error value, text amount..."""


class AmbiguousDateError(BadValueError):
    """Date text such as 03/04/2024 could be day-first or month-first; a format is needed."""


class ConflictingOrderError(SegmentsError):
    """One order id appears on rows that disagree about date, customer or amount."""


class EmptyOrdersError(SegmentsError):
    """The orders table has no order rows."""


class SettingsError(SegmentsError):
    """A setting has a value outside what it accepts."""


class WorkbookError(SegmentsError):
    """A workbook or CSV file cannot be read or written (not a workbook, damaged, locked...)."""


class SheetNotFoundError(WorkbookError):
    """The named sheet or table is not in the workbook; the message lists those that are."""


class OutputLockedError(WorkbookError):
    """The output file cannot be replaced, usually because it is open in Excel."""
