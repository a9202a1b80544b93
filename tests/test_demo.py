"""`xl-segments demo`: the bundled sample store refreshed into a workbook a store owner can use.

The demo runs twice at once, in this process through click and as the installed script in a
subprocess, and the two workbooks are compared cell by cell: the demo is deterministic.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from xl_segments.cli import main
from xl_segments.sample import sample_orders
from xl_segments.sheets import LIST_SHEETS
from xl_segments.workbook.package import resolve_target

SCRIPT = Path(sys.executable).with_name("xl-segments")
TEMPLATE_SHEETS = ["How to use", "Orders", "Settings", "Suppression", *LIST_SHEETS]
CONTACT_SHEETS = ("Top Spenders", "Repeat by Channel", "Churn Risk")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"

Values = dict[str, list[tuple[object, ...]]]


def read_values(path: Path) -> Values:
    """Every sheet's cells (calamine: fast, blanks as "", numbers as floats)."""
    wb = CalamineWorkbook.from_path(str(path))
    return {
        name: [tuple(row) for row in wb.get_sheet_by_name(name).to_python()]
        for name in wb.sheet_names
    }


class Demo:
    def __init__(self, folder: Path, stdout: str, stderr: str, twin: Path) -> None:
        self.path = folder / "tmp" / "demo.xlsx"
        self.stdout = stdout
        self.stderr = stderr
        self.twin = twin
        self.values = read_values(self.path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    here = tmp_path_factory.mktemp("demo")
    there = tmp_path_factory.mktemp("twin")
    twin = there / "tmp" / "demo.xlsx"
    process = None
    if SCRIPT.exists():
        process = subprocess.Popen(
            [SCRIPT, "demo", "--out", "tmp/demo.xlsx", "--quiet"],
            cwd=there,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        result = CliRunner().invoke(main, ["demo", "--out", "tmp/demo.xlsx"])
        if process is None:
            patch.chdir(there)
            second = CliRunner().invoke(main, ["demo", "--out", "tmp/demo.xlsx"])
            assert second.exit_code == 0, second.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    if process is not None:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "Traceback" not in err
        assert out.startswith("Wrote tmp/demo.xlsx\n")
    return Demo(here, result.stdout, result.stderr, twin)


def frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows[1:], columns=rows[0])


def summary_block(rows: list[tuple[object, ...]], title: str) -> dict[object, object]:
    start = next(i for i, row in enumerate(rows) if row and row[0] == title)
    block = {}
    for row in rows[start + 2 :]:
        if all(c in (None, "") for c in row):
            break
        block[row[0]] = row[1]
    return block


def test_the_demo_writes_the_workbook_where_asked_and_says_so(demo: Demo) -> None:
    assert demo.path.exists()
    assert demo.stdout.startswith("Wrote tmp/demo.xlsx\n  4,000 customers, ")
    assert "Traceback" not in demo.stdout + demo.stderr
    assert list(demo.values) == TEMPLATE_SHEETS
    with zipfile.ZipFile(demo.path) as z:
        assert z.testzip() is None
        assert not [n for n in demo.path.parent.iterdir() if n.name != "demo.xlsx"]


def test_every_list_sheet_has_rows(demo: Demo) -> None:
    for sheet in LIST_SHEETS[1:]:
        rows = demo.values[sheet]
        assert len(rows) > 5, sheet
        assert rows[0] != ("Note",), f"{sheet} was skipped: {rows[1:2]}"
    channels = frame(demo.values["Channel Performance"])
    assert len(channels) == 6
    assert channels["Top Channel"].tolist().count("Yes") == 3


def test_the_sample_store_looks_like_a_real_one(demo: Demo) -> None:
    figures = summary_block(demo.values["Summary"], "Headline figures")
    assert figures["Customers"] == 4000
    assert 15_000 <= figures["Orders"] <= 30_000
    quality = summary_block(demo.values["Summary"], "Rows read, skipped and excluded")
    assert quality["Refund rows (negative amounts)"] > 0
    orders = frame(demo.values["Orders"])
    dates = pd.to_datetime(orders["Order Date"])  # calamine gives midnight as a date
    span = dates.max() - dates.min()
    assert pd.Timedelta(days=2 * 365) <= span <= pd.Timedelta(days=3 * 366)
    top = figures["Revenue share of the top 20% of customers"]
    assert 0.5 < top < 0.9  # heavy-tailed spend, not uniform
    consent = orders.groupby("Customer ID")["Accepts Marketing"].last()
    assert 0.25 < (consent == "No").mean() < 0.42


def test_the_summary_has_both_charts(demo: Demo) -> None:
    with zipfile.ZipFile(demo.path) as z:
        names = set(z.namelist())
        workbook = ET.fromstring(z.read("xl/workbook.xml"))
        targets = {
            r.get("Id"): resolve_target("xl/workbook.xml", r.get("Target"))
            for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        }
        (summary,) = [
            targets[s.get(REL)] for s in workbook.iter(f"{MAIN}sheet") if s.get("name") == "Summary"
        ]

        def related(part: str) -> list[str]:
            folder, _, name = part.rpartition("/")
            rels = f"{folder}/_rels/{name}.rels"
            if rels not in names:
                return []
            return [resolve_target(part, r.get("Target")) for r in ET.fromstring(z.read(rels))]

        (drawing,) = [p for p in related(summary) if "/drawings/" in p]
        charts = [p for p in related(drawing) if "/charts/" in p]
        assert len(charts) == 2 and set(charts) <= names
        kinds = []
        for part in charts:
            plot = ET.fromstring(z.read(part)).find(f"{CHART}chart/{CHART}plotArea")
            kinds.append(
                sorted(child.tag.removeprefix(CHART) for child in plot if "Chart" in child.tag)
            )
            refs = [f.text for f in ET.fromstring(z.read(part)).iter(f"{CHART}f")]
            assert refs and all(
                r.startswith("Summary!") or r.startswith("'Summary'!") for r in refs
            )
    assert sorted(kinds) == [["barChart", "lineChart"], ["scatterChart"]]


def test_contact_lists_hold_only_customers_who_accepted_marketing(demo: Demo) -> None:
    orders = sample_orders()
    consent = orders.groupby("Customer ID")["Accepts Marketing"].agg(set)
    assert consent.map(len).eq(1).all()  # the sample gives each customer one answer
    said = consent.map(lambda s: next(iter(s)))
    assert (said == "No").sum() > 1000
    contacts = summary_block(demo.values["Summary"], "Contact lists")
    for sheet in CONTACT_SHEETS:
        listed = frame(demo.values[sheet])
        assert len(listed) > 0
        assert set(said[listed["Customer ID"]]) == {"Yes"}, sheet
        assert listed["Customer ID"].is_unique
        assert contacts[sheet] == len(listed)


def test_the_demo_is_deterministic(demo: Demo) -> None:
    twin = read_values(demo.twin)
    assert list(twin) == list(demo.values)
    for sheet in demo.values:
        assert twin[sheet] == demo.values[sheet], sheet
