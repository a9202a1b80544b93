"""What the list-building step hands to a writer: named tables with column kinds, and charts.

Writers (the workbook file writer, the xlwings macros, the CSV export) know nothing of how a
list is computed; they put these objects on sheets. Column headers here are the Excel-facing
ones ("Lifetime Value"); the kind of each column decides its number format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

# text: written as text, never a formula. integer: 0 decimals. number: 2 decimals.
# money: currency-like #,##0.00. percent: 0.0%. date: yyyy-mm-dd. days: 0.0 (a duration).
ColumnKind = Literal["text", "integer", "number", "money", "percent", "date", "days", "flag"]


@dataclass(frozen=True)
class SheetTable:
    """One list as a formatted Excel table: header in row 1, one row per record."""

    sheet: str
    table_name: str
    frame: pd.DataFrame
    kinds: Mapping[str, ColumnKind]
    # Columns that hold contact data (used by the CSV export): email, first and last name.
    is_contact_list: bool = False

    def kind_of(self, column: str) -> ColumnKind:
        return self.kinds.get(column, "text")


@dataclass(frozen=True)
class Block:
    """A small titled table on the Summary sheet (headline figures, Pareto points, settings)."""

    key: str
    title: str
    frame: pd.DataFrame
    kinds: Mapping[str, ColumnKind]
    # For a two-column label/value block whose values differ in kind row by row.
    row_kinds: tuple[ColumnKind, ...] | None = None


@dataclass(frozen=True)
class Chart:
    """A chart on the Summary sheet drawn from one block's columns.

    kind "scatter": x_column against each y column, lines without markers (the Pareto curve).
    kind "bar_line": the first y column as bars on the primary axis, the second as a line on a
    secondary axis (channels compared: repeat rate and average order value).
    """

    key: str
    title: str
    kind: Literal["scatter", "bar_line"]
    block: str
    x_column: str
    y_columns: tuple[str, ...]
    x_title: str = ""
    y_titles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SummarySheet:
    """The Summary sheet: blocks stacked top to bottom, charts to their right."""

    blocks: tuple[Block, ...]
    charts: tuple[Chart, ...] = ()

    def block(self, key: str) -> Block:
        for b in self.blocks:
            if b.key == key:
                return b
        raise KeyError(key)


@dataclass(frozen=True)
class Report:
    """Everything a refresh writes: the Summary and the list sheets, in workbook order."""

    summary: SummarySheet
    tables: tuple[SheetTable, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def table(self, sheet: str) -> SheetTable:
        for t in self.tables:
            if t.sheet == sheet:
                return t
        raise KeyError(sheet)
