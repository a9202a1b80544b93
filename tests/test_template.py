"""The template workbook: its sheets, table, named settings cells and validations; filling it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from xl_segments.sample import sample_orders
from xl_segments.settings import DEFAULTS, SETTING_SPECS, Settings
from xl_segments.sheets import (
    HOW_TO_SHEET,
    LIST_SHEETS,
    ORDERS_SHEET,
    SETTINGS_SHEET,
    SUPPRESSION_SHEET,
    TEMPLATE_ORDER_COLUMNS,
)
from xl_segments.workbook.reader import read_orders, read_settings, read_suppression
from xl_segments.workbook.template import (
    PLACEHOLDER_TEXT,
    TEMPLATE_PATH,
    build_template,
    fill_orders,
    template_bytes,
    write_orders_workbook,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.xlsx"
    build_template(path)
    return path


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_rebuilding_gives_identical_contents(tmp_path: Path) -> None:
    build_template(tmp_path / "a.xlsx")
    build_template(tmp_path / "b.xlsx")
    assert _entries(tmp_path / "a.xlsx") == _entries(tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_committed_template_is_what_the_script_builds() -> None:
    assert TEMPLATE_PATH.exists(), "run scripts/build_template.py"
    assert TEMPLATE_PATH.read_bytes() == template_bytes(), "run scripts/build_template.py"


def test_template_has_the_documented_sheets(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == [
        HOW_TO_SHEET, ORDERS_SHEET, SETTINGS_SHEET, SUPPRESSION_SHEET, *LIST_SHEETS
    ]  # fmt: skip
    for name in LIST_SHEETS:
        assert book[name]["A1"].value == PLACEHOLDER_TEXT
    assert book[SUPPRESSION_SHEET]["A1"].value == "Email"
    how_to = " ".join(str(c.value) for c in book[HOW_TO_SHEET]["A"] if c.value)
    assert "xl-segments refresh" in how_to
    for name in LIST_SHEETS[1:]:
        assert name in how_to


def test_orders_table_has_the_template_columns_and_formats(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    sheet = book[ORDERS_SHEET]
    table = sheet.tables["Orders"]
    assert table.ref.startswith("A1:H")
    assert [c.name for c in table.tableColumns] == list(TEMPLATE_ORDER_COLUMNS)
    assert sheet["E2"].is_date
    assert "0.00" in sheet["F2"].number_format
    assert sheet.max_row >= 4


def test_every_setting_has_a_named_value_cell_holding_its_default(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    for spec in SETTING_SPECS:
        name = book.defined_names[spec.cell_name]
        ((sheet, ref),) = list(name.destinations)
        assert sheet == SETTINGS_SHEET
        row = book[sheet][ref.replace("$", "")].row
        assert book[sheet].cell(row=row, column=1).value == spec.label
        assert book[sheet].cell(row=row, column=3).value == spec.description


def test_settings_have_data_validation(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    sheet = book[SETTINGS_SHEET]
    by_cell = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            by_cell[cell_range.coord] = validation
    kinds = {}
    for spec in SETTING_SPECS:
        ref = book.defined_names[spec.cell_name].attr_text.split("!")[1].replace("$", "")
        kinds[spec.name] = by_cell.get(ref)
    assert kinds["rank_channels_by"].type == "list"
    assert "revenue_per_customer" in kinds["rank_channels_by"].formula1
    assert kinds["include_non_consenting"].formula1 == '"Yes,No"'
    assert kinds["top_share"].type == "decimal"
    assert kinds["top_channels"].type == "whole"
    assert kinds["min_purchases_for_own_gap"].formula1 == "2"
    assert kinds["churn_multiplier"].type == "decimal"


def test_template_settings_read_back_as_the_defaults(template: Path) -> None:
    values = read_settings(template)
    assert set(values) == {spec.name for spec in SETTING_SPECS}
    assert Settings.from_values(values) == DEFAULTS
    assert read_suppression(template) == []


def test_changed_settings_are_read_from_their_named_cells(template: Path, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(template)
    sheet = book[SETTINGS_SHEET]

    def put(name: str, value: object) -> None:
        ref = book.defined_names[f"xls_{name}"].attr_text.split("!")[1].replace("$", "")
        sheet[ref] = value

    put("top_share", 0.1)
    put("include_non_consenting", "Yes")
    put("rank_channels_by", "repeat_rate")
    book[SUPPRESSION_SHEET]["A2"] = " Someone@Example.com "
    path = tmp_path / "changed.xlsx"
    book.save(path)
    settings = Settings.from_values(read_settings(path))
    assert settings.top_share == 0.1
    assert settings.include_non_consenting is True
    assert settings.rank_channels_by == "repeat_rate"
    assert read_suppression(path) == ["Someone@Example.com"]


def test_fill_orders_writes_the_rows_and_resizes_the_table(template: Path, tmp_path: Path) -> None:
    orders = sample_orders(customers=200, seed=11)
    orders.loc[0, "Name"] = '=HYPERLINK("http://evil")'
    orders.loc[1, "Channel"] = "#N/A"
    target = tmp_path / "filled.xlsx"
    fill_orders(template, orders, target)
    book = openpyxl.load_workbook(target)
    assert book[ORDERS_SHEET].tables["Orders"].ref == f"A1:H{len(orders) + 1}"
    assert book[ORDERS_SHEET]["D2"].data_type == "s"
    raw = read_orders(target)
    assert list(raw.frame.columns) == list(TEMPLATE_ORDER_COLUMNS)
    assert len(raw.frame) == len(orders)
    assert raw.frame["Name"].iloc[0] == orders["Name"].iloc[0]
    assert raw.frame["Channel"].iloc[1] == "#N/A"
    pd.testing.assert_series_equal(
        raw.frame["Order Date"].astype("datetime64[us]"), orders["Order Date"], check_names=False
    )
    assert (raw.frame["Amount"].to_numpy() == orders["Amount"].to_numpy()).all()
    assert Settings.from_values(read_settings(target)) == DEFAULTS
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_orders_workbook_gives_a_refreshable_workbook(tmp_path: Path) -> None:
    orders = sample_orders(customers=300, seed=5)
    orders.loc[2, "Email"] = "a&b<c>@example.com"
    orders.loc[3, "Name"] = " padded "
    target = tmp_path / "fast.xlsx"
    write_orders_workbook(orders, target)
    book = openpyxl.load_workbook(target)  # a valid package openpyxl can load
    assert book[ORDERS_SHEET].tables["Orders"].ref == f"A1:H{len(orders) + 1}"
    assert book[ORDERS_SHEET]["E2"].is_date
    for name in LIST_SHEETS:
        assert book[name]["A1"].value == PLACEHOLDER_TEXT
    raw = read_orders(target)
    assert len(raw.frame) == len(orders)
    for column in ("Order ID", "Customer ID", "Email", "Name", "Channel", "Accepts Marketing"):
        assert raw.frame[column].tolist() == orders[column].tolist(), column
    assert (raw.frame["Amount"].to_numpy() == orders["Amount"].to_numpy()).all()
    assert (raw.frame["Order Date"].astype("datetime64[us]") == orders["Order Date"]).all()
    assert Settings.from_values(read_settings(target)) == DEFAULTS


def test_fill_orders_refuses_frames_without_the_template_columns(
    template: Path, tmp_path: Path
) -> None:
    from xl_segments.errors import WorkbookError

    with pytest.raises(WorkbookError, match="Order Date"):
        fill_orders(template, pd.DataFrame({"Order ID": ["1"]}), tmp_path / "x.xlsx")
