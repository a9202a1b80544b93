"""Headless refresh of files: check the paths, run the shared refresh, export CSVs, time it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xl_segments.errors import WorkbookError
from xl_segments.memory import reuse_freed_memory
from xl_segments.refresh import refresh_book
from xl_segments.segments import Segments
from xl_segments.tables import Report
from xl_segments.workbook.book import (
    TEXT_SUFFIXES,
    WORKBOOK_SUFFIXES,
    FileBook,
    Progress,
    template_path,
)


@dataclass
class RefreshResult:
    """What a refresh wrote, with its segments and how long each stage took (seconds)."""

    segments: Segments
    report: Report
    output: Path
    csv_files: list[Path] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.stages.values())


def check_paths(source: Path, output: Path, in_place: bool) -> None:
    """Refuse what would lose work: a missing input, writing over it, dropping macros."""
    if not source.exists():
        raise WorkbookError(f'The input file "{source}" does not exist.')
    if source.is_dir():
        raise WorkbookError(f'"{source}" is a folder; give an orders workbook or CSV file.')
    suffix = source.suffix.lower()
    if suffix not in WORKBOOK_SUFFIXES | TEXT_SUFFIXES:
        raise WorkbookError(
            f'"{source.name}" is a {suffix or "file without extension"}; xl-segments reads '
            ".xlsx and .xlsm workbooks and .csv files. Save it as .xlsx in Excel first."
        )
    out_suffix = output.suffix.lower()
    if out_suffix not in WORKBOOK_SUFFIXES:
        raise WorkbookError(
            f'The output "{output.name}" must end in .xlsx (or .xlsm for a macro workbook).'
        )
    if suffix == ".xlsm" and out_suffix != ".xlsm":
        raise WorkbookError(
            f'"{source.name}" holds macros; write the output as .xlsm so they are kept.'
        )
    if suffix == ".xlsx" and out_suffix == ".xlsm":
        raise WorkbookError(
            f'"{source.name}" has no macros; write the output as .xlsx (Excel refuses an .xlsm '
            "without a macro project)."
        )
    if suffix in TEXT_SUFFIXES and out_suffix != ".xlsx":
        raise WorkbookError("A refresh of a CSV file writes an .xlsx workbook.")
    same = output.exists() and os.path.samefile(source, output)
    if same and not in_place:
        raise WorkbookError(
            f'The output is the input file "{source.name}". Give another --out, or --in-place '
            "to replace the lists inside it (written safely: the file is replaced only once "
            "the new one is complete)."
        )
    if not output.parent.exists():
        raise WorkbookError(f'The output folder "{output.parent}" does not exist.')


def refresh_file(
    source: Path,
    output: Path,
    *,
    sheet: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    csv_dir: Path | None = None,
    in_place: bool = False,
    progress: Progress | None = None,
) -> RefreshResult:
    """Read orders and settings from source, write every list into output (atomically).

    The process's allocators are tuned for big tables first (`memory.reuse_freed_memory`).
    """
    source, output = Path(source), Path(output)
    check_paths(source, output, in_place)
    reuse_freed_memory()
    book = FileBook(source, output, sheet=sheet, progress=progress)
    started = time.perf_counter()
    segments, report = refresh_book(book, "all", overrides)
    total = time.perf_counter() - started
    stages = {
        "read": book.timings.get("read", 0.0),
        "build": total - book.timings.get("read", 0.0) - book.timings.get("write", 0.0),
        "write": book.timings.get("write", 0.0),
    }
    csv_files: list[Path] = []
    if csv_dir is not None:
        from xl_segments.workbook.csv_export import write_contact_csvs

        if progress:
            progress("Writing CSV files")
        started = time.perf_counter()
        csv_dir.mkdir(parents=True, exist_ok=True)
        csv_files = write_contact_csvs(report, csv_dir)
        stages["csv"] = time.perf_counter() - started
    return RefreshResult(segments, report, output, csv_files, stages)


def make_demo(output: Path, progress: Progress | None = None) -> RefreshResult:
    """The template filled with the bundled sample store's orders, refreshed into output."""
    from xl_segments.sample import sample_orders
    from xl_segments.workbook.template import write_orders_workbook

    output = Path(output)
    if output.suffix.lower() != ".xlsx":
        raise WorkbookError(f'The demo output "{output.name}" must end in .xlsx.')
    output.parent.mkdir(parents=True, exist_ok=True)
    if progress:
        progress("Making sample orders")
    orders = sample_orders()
    with tempfile.TemporaryDirectory(dir=output.parent) as folder:
        filled = Path(folder) / "demo-orders.xlsx"
        write_orders_workbook(orders, filled, template=template_path())
        return refresh_file(filled, output, progress=progress)
