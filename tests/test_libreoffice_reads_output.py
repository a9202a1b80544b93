"""A second spreadsheet application reads what we write: LibreOffice Calc opens the refreshed
demo workbook and saves it again; what it read must be what we wrote.

LibreOffice runs headless with its own throwaway profile, so a desktop LibreOffice (or another
test run) does not interfere. Marked `libreoffice`: skipped locally without `soffice`, never
skipped in CI.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from click.testing import CliRunner

from xl_segments.cli import main
from xl_segments.sheets import LIST_SHEETS, TABLE_NAMES

pytestmark = pytest.mark.libreoffice

CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
DRAWING = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

Rows = list[tuple[object, ...]]


class Converted:
    def __init__(self, ours: Path, theirs: Path) -> None:
        self.ours = ours
        self.theirs = theirs


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    folder = tmp_path_factory.mktemp("libreoffice")
    ours = folder / "demo.xlsx"
    result = CliRunner().invoke(main, ["demo", "--out", str(ours), "--quiet"])
    assert result.exit_code == 0, result.output
    outdir = folder / "converted"
    outdir.mkdir()
    soffice = shutil.which("soffice")
    assert soffice is not None
    done = subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            str(ours),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    theirs = outdir / "demo.xlsx"
    assert done.returncode == 0 and theirs.exists(), done.stdout + done.stderr
    return Converted(ours, theirs)


def read_sheets(path: Path, sheets: tuple[str, ...]) -> dict[str, Rows]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        out = {}
        for name in sheets:
            rows = [tuple(r) for r in wb[name].iter_rows(values_only=True)]
            # Writers differ in trailing empty rows and cells; the values are what count.
            rows = [tuple(_trim(r)) for r in rows]
            while rows and not rows[-1]:
                rows.pop()
            out[name] = rows
        return out
    finally:
        wb.close()


def _trim(row: tuple[object, ...]) -> list[object]:
    cells = list(row)
    while cells and cells[-1] in (None, ""):
        cells.pop()
    return cells


def same_value(ours: object, theirs: object) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours == theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        return abs(ours - theirs) <= 1e-9 * max(1.0, abs(ours))
    if isinstance(ours, (dt.datetime, dt.date)):
        return ours == theirs
    return ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("sheet", LIST_SHEETS)
def test_libreoffice_reads_every_cell_of_the_list_sheets_as_we_wrote_it(
    converted: Converted, sheet: str
) -> None:
    ours = read_sheets(converted.ours, (sheet,))[sheet]
    theirs = read_sheets(converted.theirs, (sheet,))[sheet]
    assert len(theirs) == len(ours) > 2
    kinds = {"number": 0, "date": 0, "text": 0}
    for r, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        assert len(b) == len(a), (sheet, r)
        for c, (x, y) in enumerate(zip(a, b, strict=True), start=1):
            assert same_value(x, y), (sheet, r, c, x, y)
            if isinstance(x, dt.datetime):
                kinds["date"] += 1
            elif isinstance(x, (int, float)):
                kinds["number"] += 1
            elif isinstance(x, str):
                kinds["text"] += 1
    assert kinds["number"] > 0 and kinds["text"] > 0
    if sheet != "Channel Performance":
        assert kinds["date"] > 0


def _header_and_formats(path: Path, sheet: str) -> tuple[list[object], list[str]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        header, first = wb[sheet].iter_rows(min_row=1, max_row=2)
        return [c.value for c in header], [c.number_format for c in first]
    finally:
        wb.close()


def test_libreoffice_keeps_our_number_formats(converted: Converted) -> None:
    headers, ours = _header_and_formats(converted.ours, "Top Spenders")
    same_headers, theirs = _header_and_formats(converted.theirs, "Top Spenders")
    assert same_headers == headers
    # LibreOffice escapes literal characters (yyyy\-mm\-dd); the format is the same.
    read = {h: f.replace("\\", "") for h, f in zip(headers, theirs, strict=False)}
    wrote = dict(zip(headers, ours, strict=False))
    assert wrote["Revenue Share"] == read["Revenue Share"] == "0.0%"
    assert wrote["First Order"] == read["First Order"].lower() == "yyyy-mm-dd"
    assert read["Lifetime Value"].startswith("#,##0.00")


def test_libreoffice_understands_our_tables_and_both_summary_charts(converted: Converted) -> None:
    with zipfile.ZipFile(converted.theirs) as z:
        names = z.namelist()
        tables = {
            ET.fromstring(z.read(n)).get("name")
            for n in names
            if n.startswith("xl/tables/") and n.endswith(".xml")
        }
        charts = {}
        for n in names:
            if n.startswith("xl/charts/chart") and n.endswith(".xml"):
                root = ET.fromstring(z.read(n))
                plot = root.find(f"{CHART}chart/{CHART}plotArea")
                kinds = sorted(c.tag.removeprefix(CHART) for c in plot if c.tag.endswith("Chart"))
                title = "".join(
                    t.text or "" for t in root.find(f"{CHART}chart").iter(f"{DRAWING}t")
                )
                charts[title.split(":")[0]] = kinds
                refs = [f.text for f in root.iter(f"{CHART}f")]
                assert refs and all(r.lstrip("'").startswith("Summary") for r in refs), refs
    assert {TABLE_NAMES[s] for s in LIST_SHEETS[1:]} <= tables
    assert charts == {
        "Pareto curve": ["scatterChart"],
        "Channels compared": ["barChart", "lineChart"],
    }
