"""Refreshing real workbook and CSV files through the command line, end to end.

The lists land on their sheets, the Summary agrees with the engine, and everything else in the
user's workbook (other sheets, formulas, defined names, charts, formatting, the VBA project of
an .xlsm) comes out unchanged. The input file is never modified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName

from xl_segments.addin.ovba import VbaModule, build_vba_project
from xl_segments.cli import main
from xl_segments.sample import sample_orders
from xl_segments.segments import Segments, build_segments
from xl_segments.settings import Settings
from xl_segments.sheets import LIST_SHEETS, TABLE_NAMES
from xl_segments.workbook.book import template_path
from xl_segments.workbook.package import resolve_target
from xl_segments.workbook.template import fill_orders

HERE = Path(__file__).resolve().parent
TEMPLATE_SHEETS = ["How to use", "Orders", "Settings", "Suppression", *LIST_SHEETS]
# Parts a refresh edits in place (the sheet list, relationships, content types, new styles).
EDITED_PARTS = {
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
}
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return sample_orders(customers=300)


@pytest.fixture(scope="module")
def engine(orders: pd.DataFrame) -> Segments:
    return build_segments(orders, Settings())


@pytest.fixture(scope="module")
def filled_template(orders: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("filled") / "orders.xlsx"
    fill_orders(template_path(), orders, path)
    return path


def refresh(*args: object) -> Result:
    result = CliRunner().invoke(main, ["refresh", *map(str, args), "--quiet"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def values(path: Path, sheet: str) -> list[tuple[object, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def all_values(path: Path) -> dict[str, list[tuple[object, ...]]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb}
    finally:
        wb.close()


def sheet_names(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return wb.sheetnames
    finally:
        wb.close()


def summary_block(path: Path, title: str) -> dict[object, tuple[object, ...]]:
    """A Summary block as {first cell: the rest of the row}, read below its title row."""
    rows = values(path, "Summary")
    start = next(i for i, row in enumerate(rows) if row and row[0] == title)
    block: dict[object, tuple[object, ...]] = {}
    for row in rows[start + 2 :]:
        if all(c is None for c in row):
            break
        rest = list(row[1:])
        while rest and rest[-1] is None:
            rest.pop()
        block[row[0]] = tuple(rest)
    return block


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _rels_of(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels"


def list_sheet_parts(path: Path) -> set[str]:
    """The parts that belong to the list sheets: the sheets, their rels and all they point to."""
    parts = entries(path)
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    targets = {
        rel.get("Id"): resolve_target("xl/workbook.xml", rel.get("Target"))
        for rel in ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
    }
    todo = [
        targets[sheet.get(REL)]
        for sheet in workbook.iter(f"{MAIN}sheet")
        if sheet.get("name") in LIST_SHEETS
    ]
    found: set[str] = set()
    while todo:
        part = todo.pop()
        if part in found:
            continue
        found.add(part)
        rels = _rels_of(part)
        if rels in parts:
            found.add(rels)
            for rel in ET.fromstring(parts[rels]):
                if rel.get("TargetMode") != "External":
                    todo.append(resolve_target(part, rel.get("Target")))
    return found


def assert_untouched_parts_identical(source: Path, output: Path) -> None:
    old, new = entries(source), entries(output)
    replaced = list_sheet_parts(source)
    kept = set(old) - replaced - EDITED_PARTS
    assert kept, "nothing to compare"
    for name in sorted(kept):
        assert name in new, f"{name} was dropped"
        assert new[name] == old[name], f"{name} changed"


def close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        )
    return a == b


# ---------------------------------------------------------------------------------------------
# The template


def test_the_filled_template_gets_every_list_as_a_formatted_table(
    filled_template: Path, engine: Segments, tmp_path: Path
) -> None:
    before = sha256(filled_template)
    out = tmp_path / "lists.xlsx"
    refresh(filled_template, "--out", out)
    assert sha256(filled_template) == before
    assert_untouched_parts_identical(filled_template, out)

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == TEMPLATE_SHEETS
    for sheet in LIST_SHEETS[1:]:
        ws = wb[sheet]
        (table,) = ws.tables.values()
        assert table.name == TABLE_NAMES[sheet]
        assert table.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        assert ws.freeze_panes == "A2"
        assert ws.max_row > 2, sheet
    top = wb["Top Spenders"]
    header = [c.value for c in top[1]]
    formats = {h: top.cell(2, i + 1).number_format for i, h in enumerate(header)}
    assert formats["Lifetime Value"] == "#,##0.00"
    assert formats["Revenue Share"] == "0.0%"
    assert formats["First Order"] == "yyyy-mm-dd"
    assert top.column_dimensions["D"].width > 10  # emails are wide
    assert [r[1] for r in values(out, "Top Spenders")[1:]] == list(
        engine.top_spenders["customer_id"]
    )


def test_the_summary_headline_figures_are_the_engines(
    filled_template: Path, engine: Segments, tmp_path: Path
) -> None:
    out = tmp_path / "lists.xlsx"
    refresh(filled_template, "--out", out)
    figures = {k: v[0] for k, v in summary_block(out, "Headline figures").items()}
    table = engine.customers.frame
    p = engine.pareto
    status = engine.flagged["status"]
    expected = {
        "As-of date": dt.datetime(2025, 11, 30),
        "Customers": 300,
        "Orders": int(table["orders"].sum()),
        "Revenue (net)": float(table["lifetime_value"].sum()),
        "Revenue share of the top 20% of customers": p.top_revenue_share,
        "Share of customers bringing 80% of revenue": p.customer_share_needed,
        "Average days between purchases (store)": engine.store_gap,
        "Customers at risk": int((status == "At risk").sum()),
        "Customers lapsed": int((status == "Lapsed").sum()),
    }
    for label, value in expected.items():
        assert close(figures[label], value), (label, figures[label], value)
    churn = [k for k in figures if str(k).startswith("Churn rate, ")]
    assert churn == ["Churn rate, November 2025"]
    monthly = engine.monthly_churn
    november = monthly[monthly["month"] == pd.Timestamp("2025-11-01")].iloc[0]
    assert close(figures["Churn rate, November 2025"], float(november["churn_rate"]))

    contacts = summary_block(out, "Contact lists")
    for name, frame in (
        ("Top Spenders", engine.top_spenders),
        ("Repeat by Channel", engine.repeat_by_channel),
        ("Churn Risk", engine.churn_risk),
    ):
        left = engine.left_out[name]
        assert contacts[name] == (len(frame), left.no_consent, left.suppressed)
        assert left.no_consent > 0
    assert summary_block(out, "Settings used") == {k: (v,) for k, v in Settings().describe()}


def test_the_summary_counts_rows_skipped_and_excluded_and_why(tmp_path: Path) -> None:
    orders = sample_orders(customers=60)
    n = len(orders)
    blank = pd.DataFrame([[None] * len(orders.columns)], columns=orders.columns)
    messy = pd.concat(
        [orders.iloc[:10], blank, orders.iloc[10:], orders.iloc[[3, 7]]], ignore_index=True
    )
    messy.loc[5, "Accepts Marketing"] = "maybe"
    source = tmp_path / "orders.xlsx"
    fill_orders(template_path(), messy, source)
    out = tmp_path / "lists.xlsx"
    result = refresh(source, "--out", out, "--as-of", "2025-09-30")

    quality = {k: v[0] for k, v in summary_block(out, "Rows read, skipped and excluded").items()}
    after = orders["Order Date"] >= pd.Timestamp("2025-10-01")
    assert quality["Blank rows skipped"] == 1
    assert quality["Exact duplicate rows dropped"] == 2
    assert quality["Consent values not recognised (treated as no consent)"] == 1
    assert quality["Refund rows (negative amounts)"] == int((orders["Amount"] < 0).sum()) > 0
    assert quality["Rows read"] == n + 3  # the blank row and both duplicates were read
    assert quality["Orders after the as-of date left out"] > 0
    assert quality["Orders after the as-of date left out"] <= int(after.sum())

    with pytest.warns(UserWarning, match="1 consent values were not recognised"):
        engine = build_segments(messy, Settings(as_of=dt.date(2025, 9, 30)))
    from_engine = dict(engine.orders.quality.lines())
    assert quality == from_engine
    assert "Note: 1 consent values were not recognised and count as no consent." in (result.stderr)


# ---------------------------------------------------------------------------------------------
# The rest of the user's workbook survives


@pytest.fixture(scope="module")
def decorated(filled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filled template plus the user's own sheets, formulas, name, chart and formatting."""
    wb = openpyxl.load_workbook(filled_template)
    notes = wb.create_sheet("Notes", 0)
    notes["A1"] = "Total sales"
    notes["B1"] = "=SUM(Orders[Amount])"
    notes["A2"] = "Best customer"
    notes["B2"] = "='Top Spenders'!B2"
    notes["A1"].font = Font(bold=True, color="FFFF0000")
    notes["A2"].fill = PatternFill("solid", fgColor="FFFFFF00")
    notes["B1"].number_format = "#,##0.00 [$€-x-euro2]"
    for row, (channel, goal) in enumerate([("Email", 30), ("Social", 50)], start=4):
        notes.cell(row, 1, channel)
        notes.cell(row, 2, goal)
    chart = BarChart()
    chart.title = "Goals"
    chart.add_data(Reference(notes, min_col=2, min_row=4, max_row=5))
    chart.set_categories(Reference(notes, min_col=1, min_row=4, max_row=5))
    notes.add_chart(chart, "D2")
    wb.defined_names["OrderAmounts"] = DefinedName("OrderAmounts", attr_text="Orders!$F$2:$F$1232")
    after = wb.create_sheet("After")
    after["A1"] = "=Summary!B4"
    path = tmp_path_factory.mktemp("decorated") / "store.xlsx"
    wb.save(path)
    return path


def _assert_user_parts_survive(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Notes", *TEMPLATE_SHEETS, "After"]
    notes = wb["Notes"]
    assert notes["B1"].value == "=SUM(Orders[Amount])"
    assert notes["B2"].value == "='Top Spenders'!B2"
    assert notes["A1"].font.b and notes["A1"].font.color.rgb == "FFFF0000"
    assert notes["A2"].fill.fgColor.rgb == "FFFFFF00"
    assert notes["B1"].number_format == "#,##0.00 [$€-x-euro2]"
    assert wb["After"]["A1"].value == "=Summary!B4"
    assert wb.defined_names["OrderAmounts"].attr_text == "Orders!$F$2:$F$1232"
    assert wb.defined_names["xls_top_share"].attr_text == "'Settings'!$B$3"
    (chart,) = notes._charts
    assert chart.tagname == "barChart"
    assert wb["Orders"].tables["Orders"].ref == "A1:H1232"


def test_extra_sheets_formulas_names_charts_and_formatting_survive_byte_for_byte(
    decorated: Path, tmp_path: Path
) -> None:
    before = sha256(decorated)
    out = tmp_path / "lists.xlsx"
    refresh(decorated, "--out", out)
    assert sha256(decorated) == before
    assert_untouched_parts_identical(decorated, out)
    _assert_user_parts_survive(out)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        # The user's chart part is still there next to the two Summary charts.
        assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) == 3


def test_a_rerun_over_a_refreshed_workbook_replaces_the_lists_in_place(
    decorated: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.xlsx"
    second = tmp_path / "second.xlsx"
    refresh(decorated, "--out", first)
    before = sha256(first)
    refresh(first, "--out", second)
    assert sha256(first) == before

    old, new = all_values(first), all_values(second)
    assert list(new) == list(old)
    assert not any(name.endswith("1") for name in new)
    for sheet in old:
        assert new[sheet] == old[sheet], sheet
    assert_untouched_parts_identical(first, second)
    _assert_user_parts_survive(second)
    assert set(entries(second)) == set(entries(first))
    wb = openpyxl.load_workbook(second)
    assert [t for s in LIST_SHEETS[1:] for t in wb[s].tables] == [
        TABLE_NAMES[s] for s in LIST_SHEETS[1:]
    ]


def test_a_failed_refresh_leaves_the_previous_output_intact(
    filled_template: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lists.xlsx"
    refresh(filled_template, "--out", out)
    before = sha256(out)
    bad = tmp_path / "bad.csv"
    bad.write_text("Email,Created at\na@example.com,2024-01-02\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["refresh", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Column ")
    assert sha256(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "lists.xlsx"]


# ---------------------------------------------------------------------------------------------
# An .xlsm keeps its VBA project


def _built_vba_project() -> bytes:
    modules = [
        VbaModule.from_bas((HERE / "data" / "vba" / name).read_bytes().decode("cp1252"))
        for name in ("XLSegmentsRibbon.bas", "XLSegmentsUdfs.bas")
    ]
    return build_vba_project(modules)


def _excel_vba_project() -> bytes:
    xlwings = pytest.importorskip("xlwings")
    quickstart = Path(xlwings.__file__).parent / "quickstart.xlsm"
    if not quickstart.exists():
        pytest.skip("xlwings' quickstart.xlsm (made by Excel) is not installed")
    with zipfile.ZipFile(quickstart) as z:
        return z.read("xl/vbaProject.bin")


def make_xlsm(xlsx: Path, vba_project: bytes, target: Path) -> Path:
    """The workbook as a macro-enabled one: main part content type, vbaProject.bin, its rel."""
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            data = source.read(name)
            if name == "[Content_Types].xml":
                text = data.decode().replace(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                text = text.replace(
                    "</Types>",
                    '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                    "</Types>",
                )
                assert "macroEnabled" in text
                data = text.encode()
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba1" Target="vbaProject.bin" Type="http://schemas.'
                    b'microsoft.com/office/2006/relationships/vbaProject"/></Relationships>',
                )
            z.writestr(name, data)
        z.writestr("xl/vbaProject.bin", vba_project)
    return target


def _vba_modules(data: bytes) -> dict[str, str]:
    olevba = pytest.importorskip("oletools.olevba")
    parser = olevba.VBA_Parser("book.xlsm", data=data)
    try:
        return {s.split("/")[-1]: code for _, s, _, code in parser.extract_macros() if s}
    finally:
        parser.close()


@pytest.mark.parametrize(
    "project", [_built_vba_project, _excel_vba_project], ids=["built", "made-by-excel"]
)
def test_an_xlsm_keeps_its_vba_project_byte_for_byte(
    project, decorated: Path, tmp_path: Path
) -> None:
    vba = project()
    source = make_xlsm(decorated, vba, tmp_path / "store.xlsm")
    before = sha256(source)
    out = tmp_path / "lists.xlsm"
    refresh(source, "--out", out)
    assert sha256(source) == before

    new = entries(out)
    assert new["xl/vbaProject.bin"] == vba
    assert_untouched_parts_identical(source, out)
    types = new["[Content_Types].xml"].decode()
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    assert "application/vnd.ms-office.vbaProject" in types
    rels = ET.fromstring(new["xl/_rels/workbook.xml.rels"])
    assert [r.get("Target") for r in rels if r.get("Type").endswith("/vbaProject")] == [
        "vbaProject.bin"
    ]
    modules = _vba_modules(new["xl/vbaProject.bin"])
    assert modules == _vba_modules(vba) and modules
    wb = openpyxl.load_workbook(out, keep_vba=True)
    assert wb.vba_archive is not None
    _assert_user_parts_survive(out)


# ---------------------------------------------------------------------------------------------
# A CSV export


def shopify_export(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders as a Shopify export: #names, local times with offsets, line-item rows."""
    sold = orders[orders["Amount"] > 0].reset_index(drop=True)
    local = sold["Order Date"].dt.tz_localize(
        "America/New_York", ambiguous=True, nonexistent="shift_forward"
    )
    frame = pd.DataFrame(
        {
            "Name": "#" + sold["Order ID"],
            "Email": sold["Email"],
            "Financial Status": "paid",
            "Created at": local.dt.strftime("%Y-%m-%d %H:%M:%S %z"),
            "Total": sold["Amount"].map("{:.2f}".format),
            "Refunded Amount": "0.00",
            "Lineitem name": "Mug",
            "Accepts Marketing": sold["Accepts Marketing"].str.lower(),
            "Billing Name": sold["Name"],
            "Source": sold["Channel"].str.lower(),
        }
    )
    frame.loc[:4, "Refunded Amount"] = "5.00"
    frame.loc[:4, "Financial Status"] = "partially_refunded"
    items = frame.iloc[5:10].copy()
    for column in ("Financial Status", "Total", "Refunded Amount", "Accepts Marketing",
                   "Billing Name", "Source"):  # fmt: skip
        items[column] = ""
    items["Lineitem name"] = "Tea"
    return pd.concat([frame, items]).sort_index(kind="stable").reset_index(drop=True)


def test_a_csv_export_becomes_a_workbook_that_refreshes_to_the_same_lists(
    orders: pd.DataFrame, tmp_path: Path
) -> None:
    export = shopify_export(orders)
    source = tmp_path / "orders_export.csv"
    export.to_csv(source, index=False)
    before = sha256(source)
    first = tmp_path / "first.xlsx"
    refresh(source, "--out", first)
    assert sha256(source) == before

    assert sheet_names(first) == TEMPLATE_SHEETS
    sold = orders[orders["Amount"] > 0].reset_index(drop=True)
    rows = values(first, "Orders")
    header = rows[0]
    assert header == (
        "Order ID", "Customer ID", "Email", "Name", "Order Date", "Amount", "Channel",
        "Accepts Marketing",
    )  # fmt: skip
    clean = pd.DataFrame(rows[1:], columns=header)
    assert len(clean) == len(sold)  # one row per order: line items merged
    assert list(clean["Order ID"]) == list("#" + sold["Order ID"])
    assert list(clean["Email"]) == list(sold["Email"])
    assert list(clean["Accepts Marketing"]) == list(sold["Accepts Marketing"])
    # Net of refunds, times converted from New York to UTC.
    assert (
        clean["Amount"].iloc[:5].round(2).tolist()
        == (sold["Amount"].iloc[:5] - 5).round(2).tolist()
    )
    assert clean["Amount"].iloc[5:].tolist() == sold["Amount"].iloc[5:].tolist()
    first_local = sold["Order Date"].iloc[0]
    assert clean["Order Date"].iloc[0] == first_local + pd.Timedelta(hours=4)  # EDT in March
    quality = {k: v[0] for k, v in summary_block(first, "Rows read, skipped and excluded").items()}
    assert quality["Line-item rows merged into their order"] == 5
    assert quality["Refunded orders (net amount reduced)"] == 5
    assert quality["Rows read"] == len(export)

    second = tmp_path / "second.xlsx"
    refresh(first, "--out", second)
    old, new = all_values(first), all_values(second)
    assert list(new) == list(old)
    for sheet in ("Orders", *LIST_SHEETS[1:]):
        assert new[sheet] == old[sheet], sheet
    # The Summary too, but for the rows read: the second run reads clean orders.
    for title in ("Headline figures", "Contact lists", "Channels compared", "Settings used"):
        assert summary_block(second, title) == summary_block(first, title), title
