"""The ribbon buttons: macros the xl-segments tab runs through xlwings' RunPython.

Each works on the calling workbook (``xw.Book.caller()``) unless given a book: an
``xw.Book``, or any ``refresh.Book`` such as the file adapter (the headless refresh runs
the very same ``refresh_book``). Problems reach the user as a message box with the
engine's message, never as a traceback; a book that cannot show message boxes (the file
adapter) gets the error raised instead.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import xlwings as xw

from xl_segments import sheets
from xl_segments.errors import SegmentsError, WorkbookError
from xl_segments.excel import XlwingsBook
from xl_segments.refresh import Book, refresh_book, segments_of_book
from xl_segments.report import build_report
from xl_segments.tables import Report

log = logging.getLogger(__name__)

T = TypeVar("T")
TITLE = "xl-segments"
NEW_WORKBOOK_NAME = "Customer segments"


def refresh_all(book: Any = None) -> Report | None:
    """Refresh every list and the Summary."""
    return _refresh(book, "all")


def build_top_spenders(book: Any = None) -> Report | None:
    """Rebuild the Top Spenders list and the Summary."""
    return _refresh(book, "top_spenders")


def build_channel_lists(book: Any = None) -> Report | None:
    """Rebuild Channel Performance, Repeat by Channel and the Summary."""
    return _refresh(book, "channels")


def build_churn_risk(book: Any = None) -> Report | None:
    """Rebuild Churn Risk, Monthly Churn and the Summary."""
    return _refresh(book, "churn")


def export_contact_lists(book: Any = None, folder: Path | None = None) -> list[Path] | None:
    """Write the contact lists as CSV files next to the workbook (or into `folder`).

    The sheets are not changed: the lists are built from the book's current orders and
    settings, as a refresh would build them.
    """

    def export(target: Book) -> list[Path]:
        from xl_segments.workbook.csv_export import write_contact_csvs

        where = Path(folder) if folder is not None else _folder_of(target)
        report = build_report(segments_of_book(target))
        written = write_contact_csvs(report, where)
        paths = [Path(p) for p in written] if written is not None else []
        _inform(target, f"Contact lists written to {where}" + _count(paths))
        return paths

    return _run(book, export)


def open_settings(book: Any = None) -> None:
    """Show the Settings sheet."""

    def activate(target: Book) -> None:
        activate_sheet = getattr(target, "activate_sheet", None)
        if activate_sheet is None:
            raise WorkbookError("This book has no window to show the Settings sheet in.")
        activate_sheet(sheets.SETTINGS_SHEET)

    _run(book, activate)


def new_workbook_from_template(folder: Path | None = None) -> Path | None:
    """Open a copy of the xl-segments template (saved as a new file, never the template)."""
    try:
        from xl_segments.workbook.book import template_path

        target = new_workbook_path(folder or default_folder())
        shutil.copyfile(template_path(), target)
        xw.Book(str(target))
        return target
    except SegmentsError as exc:
        _alert_app(str(exc))
    except Exception as exc:
        log.exception("xl-segments: opening the template failed")
        _alert_app(unexpected_message(exc))
    return None


# --------------------------------------------------------------------------- plumbing


def as_book(book: Any = None) -> Book:
    """The refresh Book a macro works on: the calling workbook by default."""
    if book is None:
        return XlwingsBook(xw.Book.caller())
    if isinstance(book, xw.Book):
        return XlwingsBook(book)
    return book  # already a Book (the file adapter, a test book)


def _refresh(book: Any, group: str) -> Report | None:
    return _run(book, lambda target: refresh_book(target, group)[1])


def _run(book: Any, action: Callable[[Book], T]) -> T | None:
    try:
        target = as_book(book)
    except Exception as exc:  # not started from a workbook, or Excel went away
        log.exception("xl-segments: no calling workbook")
        _alert_app(f"xl-segments needs a workbook to work on ({type(exc).__name__}: {exc}).")
        return None
    try:
        return action(target)
    except SegmentsError as exc:
        _alert_or_raise(target, str(exc), exc)
    except Exception as exc:
        log.exception("xl-segments macro failed")
        _alert_or_raise(target, unexpected_message(exc), exc)
    return None


def unexpected_message(exc: BaseException) -> str:
    return (
        f"Something went wrong that xl-segments did not expect ({type(exc).__name__}: {exc}). "
        "Your workbook was not changed further; please report this with the xl-segments log."
    )


def _alert_or_raise(target: Book, message: str, exc: BaseException) -> None:
    alert = getattr(target, "alert", None)
    if alert is None:
        raise exc
    try:
        alert(message)
    except Exception:  # no message box possible: the message must not be lost
        log.error("xl-segments: %s", message)


def _inform(target: Book, message: str) -> None:
    alert = getattr(target, "alert", None)
    if alert is not None:
        try:
            alert(message, critical=False)
        except Exception:
            log.info("xl-segments: %s", message)


def _alert_app(message: str) -> None:
    try:
        app = xw.apps.active
        if app is not None:
            app.alert(message, title=TITLE, mode="critical")
            return
    except Exception:
        log.debug("no Excel to show the message in", exc_info=True)
    log.error("xl-segments: %s", message)


def _folder_of(target: Book) -> Path:
    folder = getattr(target, "folder", None)
    if folder is None:
        raise WorkbookError("Give a folder to export the contact lists to.")
    return Path(folder)


def _count(paths: list[Path]) -> str:
    return f" ({len(paths)} file{'s' if len(paths) != 1 else ''})." if paths else "."


def default_folder() -> Path:
    """Where new workbooks go: Documents if there is one, else the home folder."""
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() else Path.home()


def new_workbook_path(folder: Path, name: str = NEW_WORKBOOK_NAME) -> Path:
    """A free file name in folder: 'Customer segments.xlsx', then '... (2).xlsx'..."""
    candidate = folder / f"{name}.xlsx"
    number = 2
    while candidate.exists():
        candidate = folder / f"{name} ({number}).xlsx"
        number += 1
    return candidate
