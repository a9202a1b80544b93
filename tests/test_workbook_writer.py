"""The headless workbook writer: report sheets in, every other part of the base carried over."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table
from python_calamine import CalamineWorkbook

from xl_segments.errors import OutputLockedError, WorkbookError
from xl_segments.tables import Block, Chart, Report, SheetTable, SummarySheet
from xl_segments.workbook import package, sheetxml
from xl_segments.workbook.package import read_raw
from xl_segments.workbook.writer import write_report

QUICKSTART_XLSM = Path(openpyxl.__file__).parent.parent / "xlwings" / "quickstart.xlsm"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

# ---------------------------------------------------------------------------------------------
# Reports and base workbooks


TOP_KINDS = {
    "Customer ID": "text",
    "Email": "text",
    "Name": "text",
    "Orders": "integer",
    "Lifetime Value": "money",
    "Revenue Share": "percent",
    "First Order": "date",
    "Average Gap": "days",
    "Score": "number",
    "Accepts Marketing": "flag",
}


def top_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Customer ID": ["C001", "C002", "C003", None],
            "Email": ["ann@example.com", '=HYPERLINK("http://evil")', "zoë@例え.jp", "+1 555"],
            "Name": ["Ann Lee", "Bob", "Zoë Ünal-Smith", "@handle"],
            "Orders": pd.array([12, 3, None, 1], dtype="Int64"),
            "Lifetime Value": [1234.5, 99.99, np.nan, -12.5],
            "Revenue Share": [0.5, 0.125, 0.0, np.nan],
            "First Order": pd.to_datetime(["2023-01-15", "2024-02-29", None, "1999-12-31"]),
            "Average Gap": [30.5, np.nan, 0.0, 365.25],
            "Score": [1.0 / 3.0, 2.0, 1e-7, 12345678.125],
            "Accepts Marketing": ["Yes", "No", "", "Yes"],
        }
    )


def channel_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Channel": ["Web", "Shop", "Email & SMS"],
            "Customers": [120, 40, 15],
            "Repeat Rate": [0.25, 0.4, 0.6],
            "Average Order Value": [55.0, 72.5, 61.25],
        }
    )


def make_report(top: pd.DataFrame | None = None, *, charts: bool = True) -> Report:
    top = top_frame() if top is None else top
    headline = pd.DataFrame(
        {
            "Figure": ["Customers", "Revenue", "Repeat rate", "Data up to"],
            "Value": [175, 12345.67, 0.314, pd.Timestamp("2024-06-30")],
        }
    )
    pareto = pd.DataFrame(
        {
            "Share of Customers": [0.0, 0.1, 0.2, 0.5, 1.0],
            "Share of Revenue": [0.0, 0.45, 0.62, 0.88, 1.0],
        }
    )
    blocks = (
        Block(
            "headline", "Headline figures", headline, {}, ("integer", "money", "percent", "date")
        ),
        Block(
            "pareto",
            "Pareto curve",
            pareto,
            {"Share of Customers": "percent", "Share of Revenue": "percent"},
        ),
        Block(
            "channels",
            "Channels",
            channel_frame(),
            {"Customers": "integer", "Repeat Rate": "percent", "Average Order Value": "money"},
        ),
    )
    chart_list = (
        Chart(
            "pareto",
            "Revenue by share of customers",
            "scatter",
            "pareto",
            "Share of Customers",
            ("Share of Revenue",),
            "Share of customers",
            ("Share of revenue",),
        ),
        Chart(
            "channels",
            "Channels compared",
            "bar_line",
            "channels",
            "Channel",
            ("Repeat Rate", "Average Order Value"),
            "Channel",
            ("Repeat rate", "Average order value"),
        ),
    )
    channel_kinds = {
        "Customers": "integer",
        "Repeat Rate": "percent",
        "Average Order Value": "money",
    }
    return Report(
        SummarySheet(blocks, chart_list if charts else ()),
        (
            SheetTable("Top Spenders", "TopSpenders", top, TOP_KINDS, is_contact_list=True),
            SheetTable("Channel Performance", "ChannelPerformance", channel_frame(), channel_kinds),
            SheetTable("Churn Risk", "ChurnRisk", top.iloc[:0], TOP_KINDS, is_contact_list=True),
        ),
    )


def make_base(path: Path, *, with_lists: bool = False, orders: int = 200) -> Path:
    """An openpyxl workbook like a user's: Orders table, formulas, styles, a name, a chart."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append(["Order ID", "Customer ID", "Order Date", "Amount", "Channel"])
    for i in range(orders):
        ws.append(
            [
                1000 + i,
                f"C{i % 37:03d}",
                dt.datetime(2024, 1, 1) + dt.timedelta(days=i % 300),
                round(10 + (i * 7.31) % 200, 2),
                ["Web", "Shop", "Email"][i % 3],
            ]
        )
    ws.add_table(Table(displayName="Orders", ref=f"A1:E{orders + 1}"))
    ws["A1"].font = Font(bold=True, color="FF0000")
    notes = wb.create_sheet("Notes")
    notes["A1"] = "Total"
    notes["B1"] = f"=SUM(Orders!D2:D{orders + 1})"
    notes["A2"] = "First top spender"
    notes["B2"] = "='Top Spenders'!A2"
    notes["A3"].fill = PatternFill("solid", fgColor="FFFF00")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=11), titles_from_data=True)
    notes.add_chart(chart, "D2")
    wb.defined_names["OrderAmounts"] = DefinedName(
        "OrderAmounts", attr_text=f"Orders!$D$2:$D${orders + 1}"
    )
    if with_lists:
        old = wb.create_sheet("Top Spenders")
        old.append(["Old", "Stuff"])
        old.append([1, 2])
        old.add_table(Table(displayName="TopSpenders", ref="A1:B2"))
        old["A2"].comment = Comment("old comment", "someone")
        old_chart = BarChart()
        old_chart.add_data(Reference(old, min_col=2, min_row=1, max_row=2), titles_from_data=True)
        old.add_chart(old_chart, "D2")
        wb.create_sheet("Summary")["A1"] = "old summary"
        wb.create_sheet("After")["A1"] = "=Summary!A1"
    wb.save(path)
    return path


def rebuild_zip(path: Path, add: dict[str, bytes], edit: dict[str, bytes] | None = None) -> None:
    """Rewrite a zip with some parts added or replaced (to plant a calc chain and the like)."""
    edit = edit or {}
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            z.writestr(name, edit.get(name, data))
        for name, data in add.items():
            z.writestr(name, data)


def plant_calc_chain(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    types = types.replace(
        "</Types>",
        '<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.calcChain+xml"/></Types>',
    )
    rels = rels.replace(
        "</Relationships>",
        '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/calcChain" Target="calcChain.xml"/></Relationships>',
    )
    chain = (
        '<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<c r="B1" i="2"/><c r="B2"/><c r="A1" i="5"/></calcChain>'
    )
    rebuild_zip(
        path,
        {"xl/calcChain.xml": chain.encode()},
        {"[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": rels.encode()},
    )


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return make_base(tmp_path / "base.xlsx")


@pytest.fixture
def base_with_lists(tmp_path: Path) -> Path:
    path = make_base(tmp_path / "base_lists.xlsx", with_lists=True)
    plant_calc_chain(path)
    return path


# ---------------------------------------------------------------------------------------------
# Helpers to look inside the output


def sheet_rows(path: Path, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def raw_entries(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """Each entry's CRC, method and compressed bytes, as stored."""
    out = {}
    with open(path, "rb") as f, zipfile.ZipFile(f) as z:
        for info in z.infolist():
            out[info.filename] = (info.CRC, info.compress_type, read_raw(info, f))
    return out


def part_of_sheet(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    rid = next(
        s.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        for s in wb.iter(f"{MAIN}sheet")
        if s.get("name") == sheet
    )
    target = next(r.get("Target") for r in rels if r.get("Id") == rid)
    return package.resolve_target("xl/workbook.xml", target)


def workbook_sheets(path: Path) -> list[tuple[str, str, str]]:
    with zipfile.ZipFile(path) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return [(s.get("name"), s.get("sheetId"), s.get(rid)) for s in wb.iter(f"{MAIN}sheet")]


# ---------------------------------------------------------------------------------------------
# Values


def test_values_read_back_the_same_with_openpyxl_and_calamine(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)

    wb = openpyxl.load_workbook(out)
    ws = wb["Top Spenders"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == list(TOP_KINDS)
    assert rows[1] == [
        "C001", "ann@example.com", "Ann Lee", 12, 1234.5, 0.5,
        dt.datetime(2023, 1, 15), 30.5, 1.0 / 3.0, "Yes",
    ]  # fmt: skip
    assert rows[2][1] == '=HYPERLINK("http://evil")'
    assert rows[2][3:6] == [3, 99.99, 0.125]
    assert rows[2][6] == dt.datetime(2024, 2, 29)
    assert rows[3][:3] == ["C003", "zoë@例え.jp", "Zoë Ünal-Smith"]
    assert rows[3][3] is None and rows[3][4] is None and rows[3][6] is None
    assert rows[3][9] is None  # empty string: an empty cell
    assert rows[4][0] is None and rows[4][5] is None
    assert rows[4][1:3] == ["+1 555", "@handle"]
    assert rows[4][4] == -12.5 and rows[4][6] == dt.datetime(1999, 12, 31)
    assert rows[4][8] == 12345678.125
    # Nothing is a formula: formula-looking text stays text.
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"

    cal = sheet_rows(out, "Top Spenders")
    assert cal[1][:6] == ["C001", "ann@example.com", "Ann Lee", 12.0, 1234.5, 0.5]
    assert cal[1][6] == dt.date(2023, 1, 15)
    assert cal[2][1] == '=HYPERLINK("http://evil")'
    assert cal[3][3] == "" and cal[3][4] == ""
    assert cal[3][8] == 1e-7


def test_no_cell_formulas_anywhere_in_written_sheets(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    with zipfile.ZipFile(out) as z:
        for sheet in ("Summary", "Top Spenders", "Channel Performance", "Churn Risk"):
            xml = z.read(part_of_sheet(out, sheet)).decode()
            assert not re.search(r"<(\w+:)?f[ >/]", xml), sheet
            ET.fromstring(xml)


def test_number_formats_follow_column_kinds(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    ws = openpyxl.load_workbook(out)["Top Spenders"]
    formats = {ws.cell(1, j).value: ws.cell(2, j).number_format for j in range(1, 11)}
    assert formats["Orders"] == "0"
    assert formats["Lifetime Value"] == "#,##0.00"
    assert formats["Revenue Share"] == "0.0%"
    assert formats["First Order"] == "yyyy-mm-dd"
    assert formats["Average Gap"] == "0.0"
    assert formats["Score"] == "0.00"
    assert formats["Email"] == "@"
    assert ws.freeze_panes == "A2"
    assert 8 <= ws.column_dimensions["B"].width <= 60


def test_summary_blocks_are_titled_and_formatted_by_row_kind(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    ws = openpyxl.load_workbook(out)["Summary"]
    assert ws["A1"].value == "Headline figures" and ws["A1"].font.b
    assert [ws["A2"].value, ws["B2"].value] == ["Figure", "Value"]
    assert ws["B3"].value == 175 and ws["B3"].number_format == "0"
    assert ws["B4"].value == 12345.67 and ws["B4"].number_format == "#,##0.00"
    assert ws["B5"].value == 0.314 and ws["B5"].number_format == "0.0%"
    assert ws["B6"].value == dt.datetime(2024, 6, 30) and ws["B6"].number_format == "yyyy-mm-dd"
    assert ws["A8"].value == "Pareto curve"


def test_dates_use_the_1904_system_when_the_base_does(tmp_path: Path) -> None:
    path = tmp_path / "b1904.xlsx"
    wb = openpyxl.Workbook()
    wb.epoch = openpyxl.utils.datetime.MAC_EPOCH
    wb.save(path)
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=path)
    with zipfile.ZipFile(out) as z:
        xml = z.read(part_of_sheet(out, "Top Spenders")).decode()
    serial = float(re.search(r'<c r="G2" s="\d+"><v>([^<]+)</v>', xml).group(1))
    assert serial == (dt.date(2023, 1, 15) - dt.date(1904, 1, 1)).days
    assert openpyxl.load_workbook(out)["Top Spenders"]["G2"].value == dt.datetime(2023, 1, 15)
    assert sheet_rows(out, "Top Spenders")[1][6] == dt.date(2023, 1, 15)


def test_excel_serials_skip_the_phantom_leap_day_of_1900() -> None:
    days = np.array(
        ["1900-01-01", "1900-02-28", "1900-03-01", "2024-01-01"], dtype="datetime64[us]"
    )
    assert sheetxml.excel_serials(days, False).tolist() == [1.0, 59.0, 61.0, 45292.0]
    before = np.array(["1899-12-31"], dtype="datetime64[us]")
    assert np.isnan(sheetxml.excel_serials(before, False)[0])


# ---------------------------------------------------------------------------------------------
# Strings that must survive exactly


TRICKY = [
    "bell\x07and\x00nul",
    "carriage\rreturn",
    "line\nbreak\ttab",
    "_x0041_ looks escaped",
    "_x005F_x0041_",
    "_x0041_x0042_",
    "  padded  ",
    "<b>&amp;</b>",
    "=1+2",
    "emoji 😀 and 中文",
]


def test_control_characters_and_escape_lookalikes_round_trip(base: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame({"Customer ID": [f"C{i}" for i in range(len(TRICKY))], "Note": TRICKY})
    report = Report(SummarySheet(()), (SheetTable("Top Spenders", "TopSpenders", frame, {}),))
    out = tmp_path / "out.xlsx"
    write_report(report, out, base=base)
    got = [row[1] for row in sheet_rows(out, "Top Spenders")[1:]]
    assert got == TRICKY


def test_noncharacters_are_escaped_since_xml_cannot_carry_them() -> None:
    # U+FFFE and U+FFFF are not XML characters; calamine leaves their escapes undecoded, so
    # this checks the escape itself rather than a read-back.
    assert sheetxml.cell_text("a\ufffe\uffffb") == "a_xFFFE__xFFFF_b"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_arbitrary_strings_round_trip_exactly(texts: list[str], base: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame({"Customer ID": ["x"] * len(texts), "Text": texts})
    report = Report(
        SummarySheet((Block("b", "Texts", frame[["Text"]], {}),)),
        (SheetTable("Top Spenders", "TopSpenders", frame, {}),),
    )
    out = tmp_path / "hyp.xlsx"
    write_report(report, out, base=base)
    assert [row[1] for row in sheet_rows(out, "Top Spenders")[1:]] == texts
    assert [row[0] for row in sheet_rows(out, "Summary")[2:]] == texts


def test_ooxml_escape_is_what_readers_undo() -> None:
    # Readers decode _xHHHH_ left to right; escaping must make that give back the original.
    decode = re.compile(r"_x([0-9A-Fa-f]{4})_")
    for text in TRICKY:
        escaped = sheetxml.ooxml_escape(text)
        assert decode.sub(lambda m: chr(int(m.group(1), 16)), escaped) == text
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\r]", escaped)


# ---------------------------------------------------------------------------------------------
# Tables


def test_tables_are_valid_with_unique_names_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "clash.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append(["A", "B"])
    ws.append([1, 2])
    ws.add_table(Table(displayName="TopSpenders", ref="A1:B2"))  # a user table with our name
    wb.save(path)
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=path)

    wb = openpyxl.load_workbook(out)
    names = {name: ws.title for ws in wb for name in ws.tables}
    assert names == {
        "TopSpenders": "Orders",
        "TopSpenders_2": "Top Spenders",
        "ChannelPerformance": "Channel Performance",
        "ChurnRisk": "Churn Risk",
    }
    top = wb["Top Spenders"].tables["TopSpenders_2"]
    assert top.ref == "A1:J5"
    assert top.tableStyleInfo.name == "TableStyleMedium2"
    assert top.autoFilter.ref == "A1:J5"
    assert [c.name for c in top.tableColumns] == list(TOP_KINDS)
    ids = []
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/tables/"):
                ids.append(ET.fromstring(z.read(name)).get("id"))
    assert len(ids) == len(set(ids)) == 4


def test_an_empty_list_still_gets_a_two_row_table(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    ws = openpyxl.load_workbook(out)["Churn Risk"]
    assert ws.tables["ChurnRisk"].ref == "A1:J2"
    assert [c.value for c in ws[1]] == list(TOP_KINDS)
    assert sheet_rows(out, "Churn Risk")[0] == list(TOP_KINDS)


def test_duplicate_and_blank_headers_become_valid_table_columns() -> None:
    assert sheetxml.unique_headers(["Name", "name", "", "A\nB"]) == [
        "Name",
        "name2",
        "Column3",
        "A B",
    ]


# ---------------------------------------------------------------------------------------------
# The rest of the workbook is carried over untouched


def test_untouched_parts_are_copied_byte_for_byte(base: Path, tmp_path: Path) -> None:
    before = base.read_bytes()
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    assert base.read_bytes() == before

    old, new = raw_entries(base), raw_entries(out)
    changed = {
        "[Content_Types].xml",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
    }
    for name, entry in old.items():
        if name in changed:
            continue
        assert new[name] == entry, name
    assert set(old) - set(new) == set()
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert z.namelist()[0] == "[Content_Types].xml"


def test_formulas_defined_names_styles_and_charts_of_the_base_survive(
    base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [
        "Orders", "Notes", "Summary", "Top Spenders", "Channel Performance", "Churn Risk",
    ]  # fmt: skip
    assert wb["Notes"]["B1"].value == "=SUM(Orders!D2:D201)"
    assert wb["Notes"]["B2"].value == "='Top Spenders'!A2"
    assert wb["Orders"]["A1"].font.b and wb["Orders"]["A1"].font.color.rgb == "00FF0000"
    assert wb["Notes"]["A3"].fill.fgColor.rgb == "00FFFF00"
    assert wb.defined_names["OrderAmounts"].attr_text == "Orders!$D$2:$D$201"
    assert len(wb["Notes"]._charts) == 1
    assert wb["Orders"].tables["Orders"].ref == "A1:E201"


def test_rerun_replaces_sheets_in_place_and_drops_their_old_parts(
    base_with_lists: Path, tmp_path: Path
) -> None:
    before = workbook_sheets(base_with_lists)
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base_with_lists)
    after = workbook_sheets(out)
    # Same position, id and relationship for the replaced sheets; new ones appended.
    assert after[: len(before)] == before
    assert [s[0] for s in after[len(before) :]] == ["Channel Performance", "Churn Risk"]

    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        types = z.read("[Content_Types].xml").decode()
        wb_rels = z.read("xl/_rels/workbook.xml.rels").decode()
        wb_xml = z.read("xl/workbook.xml").decode()
    assert "xl/calcChain.xml" not in names and "calcChain" not in types + wb_rels
    assert 'fullCalcOnLoad="1"' in wb_xml
    # The old Top Spenders table, comments and chart are gone, with their content types.
    assert not any("comments" in n or "vmlDrawing" in n for n in names)
    for override in re.findall(r'PartName="/([^"]+)"', types):
        assert override in names, override
    wb = openpyxl.load_workbook(out)
    assert list(wb["Top Spenders"].tables) == ["TopSpenders"]
    assert wb["Top Spenders"]["A1"].value == "Customer ID"
    assert len(wb["Top Spenders"]._charts) == 0 and len(wb["Notes"]._charts) == 1
    assert wb["After"]["A1"].value == "=Summary!A1"

    # A second refresh of the refreshed book changes nothing structural and adds no sheets.
    again = tmp_path / "again.xlsx"
    write_report(make_report(), again, base=out)
    assert workbook_sheets(again) == after
    assert set(zipfile.ZipFile(again).namelist()) == names
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(again) as b:
        assert a.read("xl/styles.xml") == b.read("xl/styles.xml")  # styles reused, not re-added
    assert openpyxl.load_workbook(again).sheetnames == wb.sheetnames


def test_every_part_is_reachable_and_every_relationship_resolves(
    base_with_lists: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base_with_lists)
    with zipfile.ZipFile(out) as z:
        names = {n.lower() for n in z.namelist()}
        for name in z.namelist():
            if name.endswith(".rels"):
                source = name.replace("_rels/", "")[: -len(".rels")]
                for rel in ET.fromstring(z.read(name)):
                    if rel.get("TargetMode") == "External":
                        continue
                    target = package.resolve_target(source, rel.get("Target"))
                    assert target.lower() in names, (name, target)
            if name.endswith(".xml") or name.endswith(".rels"):
                ET.fromstring(z.read(name))


def test_vba_project_and_excel_markup_survive_in_an_xlsm(tmp_path: Path) -> None:
    if not QUICKSTART_XLSM.exists():
        pytest.skip("xlwings' quickstart.xlsm (an Excel-made .xlsm) is not installed")
    base = tmp_path / "macro.xlsm"
    shutil.copy(QUICKSTART_XLSM, base)
    out = tmp_path / "out.xlsm"
    write_report(make_report(), out, base=base)
    old, new = raw_entries(base), raw_entries(out)
    assert new["xl/vbaProject.bin"] == old["xl/vbaProject.bin"]
    with zipfile.ZipFile(out) as z:
        wb_xml = z.read("xl/workbook.xml").decode()
    # Edited as text: Excel's mc:Ignorable prefixes are still declared and used as they were.
    assert 'mc:Ignorable="x15 xr xr6 xr10 xr2"' in wb_xml
    assert "xmlns:xr6=" in wb_xml
    wb = openpyxl.load_workbook(out, keep_vba=True)
    assert wb.vba_archive is not None
    assert "Top Spenders" in wb.sheetnames


def test_macros_cannot_go_into_an_xlsx(tmp_path: Path) -> None:
    if not QUICKSTART_XLSM.exists():
        pytest.skip("xlwings' quickstart.xlsm is not installed")
    with pytest.raises(WorkbookError, match=r"macros.*\.xlsm"):
        write_report(make_report(), tmp_path / "out.xlsx", base=QUICKSTART_XLSM)
    assert not list(tmp_path.iterdir())


def test_entries_with_data_descriptors_are_copied(tmp_path: Path) -> None:
    # zipfile writes data descriptors (flag bit 3) when its output cannot seek.
    plain = make_base(tmp_path / "plain.xlsx", orders=20)

    class NoSeek(io.RawIOBase):
        def __init__(self, f: io.BufferedWriter) -> None:
            self.f = f

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            return self.f.write(b)

    streamed = tmp_path / "streamed.xlsx"
    with (
        zipfile.ZipFile(plain) as src,
        open(streamed, "wb") as raw,
        zipfile.ZipFile(NoSeek(raw), "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            with dst.open(info.filename, "w") as f:
                f.write(src.read(info))
    assert all(i.flag_bits & 0x08 for i in zipfile.ZipFile(streamed).infolist())
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=streamed)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
    assert (
        raw_entries(out)["xl/worksheets/sheet1.xml"][2]
        == raw_entries(streamed)["xl/worksheets/sheet1.xml"][2]
    )
    assert openpyxl.load_workbook(out)["Orders"]["A2"].value == 1000


def test_zip64_records_are_written_when_limits_are_crossed(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lowered limits make every offset and the entry count "large", exercising ZIP64 records.
    monkeypatch.setattr(package, "ZIP64_LIMIT", 2000)
    monkeypatch.setattr(package, "ZIP64_COUNT_LIMIT", 5)
    out = tmp_path / "out.xlsx"
    with pytest.raises(WorkbookError, match="larger than 4 GB"):
        write_report(make_report(), out, base=base)
    # New parts above the limit are refused; raw copies of big parts get ZIP64 headers.
    monkeypatch.setattr(package.ZipWriter, "_check_size", staticmethod(lambda entry: None))
    write_report(make_report(), out, base=base)
    data = out.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert z.read("xl/worksheets/sheet1.xml") == zipfile.ZipFile(base).read(
            "xl/worksheets/sheet1.xml"
        )


# ---------------------------------------------------------------------------------------------
# Charts


def test_summary_charts_are_real_drawingml_charts_on_block_cells(
    base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    wb = openpyxl.load_workbook(out)
    assert len(wb["Summary"]._charts) == 2
    with zipfile.ZipFile(out) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        xml = {n: z.read(n).decode() for n in charts}
        drawing_rels = [n for n in z.namelist() if n.startswith("xl/drawings/_rels/")]
        types = z.read("[Content_Types].xml").decode()
    ours = [x for x in xml.values() if "Summary" in x]
    scatter = next(x for x in ours if "<c:scatterChart>" in x)
    bar = next(x for x in ours if "<c:barChart>" in x)
    # Pareto block: title row 8, header row 9, five rows 10-14, columns A and B.
    assert "<c:f>'Summary'!$A$10:$A$14</c:f>" in scatter
    assert "<c:f>'Summary'!$B$10:$B$14</c:f>" in scatter
    assert '<c:pt idx="1"><c:v>0.45</c:v></c:pt>' in scatter
    assert '<c:numFmt formatCode="0%" sourceLinked="0"/>' in scatter
    # Channels: bars for repeat rate, a line on a secondary axis for order value.
    assert (
        "<c:lineChart>" in bar and '<c:crosses val="max"/>' in bar and '<c:axPos val="r"/>' in bar
    )
    assert "<c:f>'Summary'!$A$18:$A$20</c:f>" in bar
    assert "<c:v>Email &amp; SMS</c:v>" in bar
    assert len(drawing_rels) == 2
    assert types.count("drawingml.chart+xml") == 3


# ---------------------------------------------------------------------------------------------
# Failures


def test_failure_mid_write_keeps_the_old_target_and_leaves_no_temp_file(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.xlsx"
    write_report(make_report(), out, base=base)
    previous = out.read_bytes()
    base_bytes = base.read_bytes()

    def broken(*args: object, **kwargs: object):
        yield b'<?xml version="1.0"?><worksheet>'
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sheetxml, "table_sheet_chunks", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(make_report(), out, base=base)
    assert out.read_bytes() == previous
    assert base.read_bytes() == base_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.xlsx", "out.xlsx"]


def test_a_locked_target_asks_the_user_to_close_it(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"open in Excel")

    def locked(src: object, dst: object) -> None:
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(OutputLockedError, match="Close the file"):
        write_report(make_report(), out, base=base)
    assert out.read_bytes() == b"open in Excel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.xlsx", "out.xlsx"]


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", b"PK\x03\x04 truncated", b""],
    ids=["text", "truncated-zip", "empty"],
)
def test_a_base_that_is_not_a_workbook_is_named_in_the_error(
    tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "orders.xlsx"
    bad.write_bytes(content)
    with pytest.raises(WorkbookError, match=r"orders\.xlsx is not an Excel workbook"):
        write_report(make_report(), tmp_path / "out.xlsx", base=bad)
    assert [p.name for p in tmp_path.iterdir()] == ["orders.xlsx"]


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("photo.jpg", b"...")
    with pytest.raises(WorkbookError, match=r"photos\.xlsx"):
        write_report(make_report(), tmp_path / "out.xlsx", base=bad)


def test_a_missing_base_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match=r"nowhere\.xlsx does not exist"):
        write_report(make_report(), tmp_path / "out.xlsx", base=tmp_path / "nowhere.xlsx")


def test_writing_over_the_base_itself_replaces_it_whole(base: Path) -> None:
    write_report(make_report(), base, base=base)
    assert "Top Spenders" in openpyxl.load_workbook(base).sheetnames


# ---------------------------------------------------------------------------------------------
# Speed


@pytest.mark.slow
def test_a_quarter_million_row_list_writes_in_seconds(base: Path, tmp_path: Path) -> None:
    n = 250_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "Customer ID": pd.Series([f"C{i:07d}" for i in range(n)], dtype="str"),
            "Email": pd.Series([f"user{i}@example.com" for i in range(n)], dtype="str"),
            "Name": pd.Series([f"First{i} Last{i}" for i in range(n)], dtype="str"),
            "Orders": rng.integers(1, 50, n),
            "Lifetime Value": rng.random(n) * 5000,
            "Revenue Share": rng.random(n) / n,
            "Cumulative Share": np.linspace(0, 1, n),
            "First Order": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "Average Gap": rng.random(n) * 100,
            "Channel": pd.Series(rng.choice(["Web", "Shop", "Email & SMS"], n), dtype="str"),
        }
    )
    kinds = {"Lifetime Value": "money", "Revenue Share": "percent", "First Order": "date"}
    report = Report(SummarySheet(()), (SheetTable("Top Spenders", "TopSpenders", frame, kinds),))
    out = tmp_path / "big.xlsx"
    start = time.perf_counter()
    write_report(report, out, base=base)
    elapsed = time.perf_counter() - start
    assert elapsed < 8, f"250,000 x 10 took {elapsed:.1f} s"
    rows = sheet_rows(out, "Top Spenders")
    assert len(rows) == n + 1
    assert rows[-1][0] == f"C{n - 1:07d}" and rows[-1][4] == frame["Lifetime Value"].iloc[-1]
    assert rows[1234][7] == frame["First Order"].iloc[1233].date()


# ---------------------------------------------------------------------------------------------
# LibreOffice reads it


def soffice_convert(source: Path, fmt: str, outdir: Path, profile: Path) -> None:
    outdir.mkdir(exist_ok=True)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


# CSV filter options: comma, double quotes, UTF-8, from line 1, and -1 = every sheet to its own
# file (LibreOffice 7.2+).
LO_CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_same_values_and_the_charts(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    report = make_report()
    tricky = pd.DataFrame({"Customer ID": [f"C{i}" for i in range(len(TRICKY))], "Note": TRICKY})
    report = Report(
        report.summary,
        (*report.tables, SheetTable("Repeat by Channel", "RepeatByChannel", tricky, {})),
    )
    write_report(report, out, base=base)
    profile = tmp_path / "profile"

    # Text exactly as LibreOffice reads it (its CSV export adds no escaping of its own).
    soffice_convert(out, LO_CSV_ALL_SHEETS, tmp_path / "csv", profile)
    with open(tmp_path / "csv" / "out-Repeat by Channel.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert [r[1] for r in rows[1:]] == TRICKY

    # Numbers, dates and the charts, through LibreOffice's own .xlsx export.
    soffice_convert(out, "xlsx", tmp_path / "lo", profile)
    again = tmp_path / "lo" / "out.xlsx"
    ours = CalamineWorkbook.from_path(str(out))
    theirs = CalamineWorkbook.from_path(str(again))
    for sheet in ("Top Spenders", "Channel Performance", "Summary", "Orders"):
        # LibreOffice saves numbers with 15 significant digits, as Excel shows them.
        expected = [
            [pytest.approx(v, rel=1e-14) if isinstance(v, float) else v for v in row]
            for row in ours.get_sheet_by_name(sheet).to_python()
        ]
        assert theirs.get_sheet_by_name(sheet).to_python() == expected, sheet
    wb = openpyxl.load_workbook(again)
    assert len(wb["Summary"]._charts) == 2
    assert wb["Notes"]["B2"].value == "='Top Spenders'!A2"
    assert "TopSpenders" in wb["Top Spenders"].tables
