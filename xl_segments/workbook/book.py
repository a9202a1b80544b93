"""The file adapter: a workbook or CSV file on disk seen as a Book the refresh can run on."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xl_segments.refresh import OrdersInput
from xl_segments.tables import Report
from xl_segments.workbook import reader
from xl_segments.workbook.writer import write_report

TEXT_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
TEMPLATE_NAME = "segments_template.xlsx"

Progress = Callable[[str], None]


def is_text_file(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES


def template_path() -> Path:
    """The bundled template workbook (built into a cache folder if the repo copy is absent)."""
    repo_copy = Path(__file__).resolve().parents[2] / "workbook_templates" / TEMPLATE_NAME
    if repo_copy.exists():
        return repo_copy
    from xl_segments.workbook.template import build_template

    cached = Path(tempfile.gettempdir()) / "xl-segments" / TEMPLATE_NAME
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        build_template(cached)
    return cached


class FileBook:
    """Orders and settings read from `source`; lists written into `target`.

    Everything in the source workbook that is not a list sheet is carried into the target
    unchanged. A CSV source has no workbook to carry: its orders are put into a copy of the
    template, so the output can be refreshed again. The source is never modified.
    """

    def __init__(
        self,
        source: Path,
        target: Path,
        sheet: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.source = Path(source)
        self.target = Path(target)
        self.sheet = sheet
        self.progress = progress or (lambda stage: None)
        self._raw: reader.RawOrders | None = None
        self._small: tuple[dict[str, Any], list[str]] | None = None
        # Seconds spent reading and writing, for the refresh summary and benchmarks.
        self.timings: dict[str, float] = {}

    def read_orders(self) -> OrdersInput:
        self.progress("Reading orders")
        started = time.perf_counter()
        self._raw = reader.read_orders(self.source, self.sheet)
        self.timings["read"] = time.perf_counter() - started
        self.progress("Building lists")
        return OrdersInput(self._raw.frame, self._raw.origin, self._raw.date_system_1904)

    def read_settings(self) -> Mapping[str, Any]:
        return self._settings_and_suppression()[0]

    def read_suppression(self) -> list[str]:
        return self._settings_and_suppression()[1]

    def _settings_and_suppression(self) -> tuple[dict[str, Any], list[str]]:
        # Both from one opening of the workbook (it reads all shared strings), read once.
        if self._small is None:
            self._small = (
                ({}, [])
                if is_text_file(self.source)
                else reader.read_settings_and_suppression(self.source)
            )
        return self._small

    def write_report(self, report: Report) -> None:
        self.progress("Writing lists")
        started = time.perf_counter()
        try:
            self._write(report)
        finally:
            self.timings["write"] = time.perf_counter() - started

    @property
    def wants_orders_sheet(self) -> bool:
        """A CSV source has no workbook: its clean orders become the output's Orders sheet."""
        return is_text_file(self.source)

    def _write(self, report: Report) -> None:
        base = template_path() if is_text_file(self.source) else self.source
        write_report(report, self.target, base=base)


def copy_template(target: Path) -> Path:
    """A fresh copy of the template workbook at target."""
    shutil.copyfile(template_path(), target)
    return target
