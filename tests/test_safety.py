"""Writing safely: text never becomes a formula, outputs are atomic, inputs are never changed,
and the same input gives the same cells every run (docs/safety.md)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import shutil
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from xl_segments.cli import main
from xl_segments.workbook import atomic, csv_export, writer
from xl_segments.workbook.book import template_path
from xl_segments.workbook.files import refresh_file

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
sys.path.insert(0, str(DATA.parents[1] / "benchmarks"))

import make_corpus  # noqa: E402
import robustness  # noqa: E402

BASELINE = DATA / "corpus" / "baseline.xlsx"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Text that spreadsheets, XML or our own escaping could get wrong.
NASTY = st.sampled_from(
    [
        '=HYPERLINK("http://evil.example","click")',
        "=1+1",
        "+1",
        "-2",
        "@x",
        "@SUM(A1:A2)",
        "\t=tab",
        "\r=cr",
        "\n=lf",
        "_x0041_",
        "_x000D_",
        "a\x01b\x1fc",
        "x" * 5000,
        "Zoë 😀 \u202e",
        "'quoted",
        "&<>\"'",
    ]
)
TEXT = st.one_of(
    NASTY,
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
)


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def xstring(value: Any) -> Any:
    """A cell's text as Excel shows it: OOXML _xHHHH_ escapes undone (ST_Xstring).

    openpyxl undoes them in shared strings but not in inline strings, which we write."""
    if not isinstance(value, str):
        return value
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def read_sheets(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        return {
            name: [tuple(xstring(v) for v in row) for row in book[name].iter_rows(values_only=True)]
            for name in book.sheetnames
        }
    finally:
        book.close()


def column(rows: list[tuple[Any, ...]], header: str) -> list[Any]:
    """A column's values; a column the list leaves out (every name blank) reads as blanks."""
    if header not in rows[0]:
        return [None] * (len(rows) - 1)
    i = list(rows[0]).index(header)
    return [r[i] for r in rows[1:]]


def orders_book(names: list[str], channels: list[str], ids: list[str], emails: list[str]) -> bytes:
    """Two orders on different days per customer, so every list has everyone in it."""
    rows: list[list[Any]] = [make_corpus.HEADER]
    for i, (name, channel, cid, email) in enumerate(zip(names, channels, ids, emails, strict=True)):
        for k in range(2):
            rows.append(
                [
                    f"{i}-{k}",
                    make_corpus.Inline(cid),
                    make_corpus.Inline(email),
                    make_corpus.Inline(name),
                    dt.datetime(2024, 1, 1 + i, 10) + dt.timedelta(days=40 * k),
                    100.0 + i,
                    make_corpus.Inline(channel),
                    "yes",
                ]
            )
    return make_corpus.xlsx_bytes(
        make_corpus.Book([make_corpus.Sheet("Orders", rows)], shared_strings=False)
    )


@settings(
    max_examples=25,
    deadline=None,
    # Shrinking a failing refresh takes minutes; the failing example is printed as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.lists(st.tuples(TEXT, TEXT, TEXT, TEXT), min_size=1, max_size=4),
)
def test_any_text_is_written_as_exactly_that_text_and_never_a_formula(
    data: list[tuple[str, str, str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("text")
    # Distinct customers: make ids unique without changing what makes them nasty.
    names = [d[0] for d in data]
    channels = [d[1] for d in data]
    ids = [f"{d[2]}#{i}" for i, d in enumerate(data)]
    emails = [f"{d[3]}{i}@x.example" for i, d in enumerate(data)]
    source = tmp / "orders.xlsx"
    source.write_bytes(orders_book(names, channels, ids, emails))
    output = tmp / "out.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = refresh_file(
            source, output, csv_dir=tmp / "csv", overrides={"min_channel_customers": 1}
        )

    # The documented value of each field is the engine's clean one: trimmed text, one per
    # customer. What the workbook shows must be exactly that, as text.
    table = result.segments.customers.frame.set_index("customer_id")
    sheets = read_sheets(output)
    for sheet in ("Top Spenders", "Churn Risk", "Repeat by Channel"):
        rows = sheets.get(sheet)
        if not rows or "Customer ID" not in rows[0]:
            continue
        for cid, name, email in zip(
            column(rows, "Customer ID"), column(rows, "Name"), column(rows, "Email"), strict=True
        ):
            assert isinstance(cid, str)
            expected = table.loc[cid]
            assert name == (expected["name"] if isinstance(expected["name"], str) else None)
            assert email == expected["email"]
    # The test's input book is written by openpyxl, which stores CR raw; XML readers turn a raw
    # CR (and CRLF) into LF, so that is what the input holds (Excel itself writes _x000D_).
    assert set(table.index) == {i.replace("\r\n", "\n").replace("\r", "\n").strip() for i in ids}
    # No formula anywhere in the written sheets.
    assert robustness.formula_cells(output) == 0
    with zipfile.ZipFile(output) as archive:
        for part in archive.namelist():
            if part.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(part) and b"<f " not in archive.read(part)

    # The CSV files: every text cell is the written value, with one ' before a trigger.
    for path in result.csv_files:
        sheet_rows = sheets[_sheet_of(path)]
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        emails_written = column(sheet_rows, "Email") if sheet_rows else []
        assert len(records) == len(emails_written)
        for record, email in zip(records, emails_written, strict=True):
            assert record["Email"] == _defused(email)
            cid = record["Customer ID"]
            original = cid[1:] if cid.startswith("'") and cid[1:2] in TRIGGERS else cid
            assert cid == _defused(original)


def _sheet_of(path: Path) -> str:
    return {
        "top-spenders.csv": "Top Spenders",
        "repeat-by-channel.csv": "Repeat by Channel",
        "churn-risk.csv": "Churn Risk",
    }[path.name]


def _defused(text: str | None) -> str:
    if text is None:
        return ""
    return "'" + text if text.startswith(TRIGGERS) else text


def test_csv_neutralization_is_documented() -> None:
    text = (DATA.parents[1] / "docs" / "safety.md").read_text(encoding="utf-8")
    assert "OWASP" in text
    for trigger in ("`=`", "`+`", "`-`", "`@`", "tab", "carriage return", "line feed"):
        assert trigger in text
    assert set(csv_export.FORMULA_TRIGGERS) == set(TRIGGERS)


# --- atomic output --------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failure_while_writing_the_workbook_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.xlsx"
    refresh_file(BASELINE, output)
    previous = output.read_bytes()
    real = writer._write_package

    def fail_midway(plan: Any, pkg: Any, out: Any) -> None:
        real(plan, pkg, out)  # a full package is in the temporary file...
        out.write(b"more")
        raise OSError(28, "No space left on device")  # ...and then the disk fills up

    monkeypatch.setattr(writer, "_write_package", fail_midway)
    with pytest.raises(OSError, match="No space left"):
        refresh_file(BASELINE, output)
    assert output.read_bytes() == previous
    assert _leftovers(tmp_path) == []


def test_a_failure_while_writing_a_csv_keeps_the_previous_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_dir = tmp_path / "csv"
    refresh_file(BASELINE, tmp_path / "out.xlsx", csv_dir=csv_dir)
    before = {p.name: p.read_bytes() for p in csv_dir.iterdir()}

    def fail_midway(frame: Any, out: Any) -> None:
        out.write(b"Email,First Name\r\nhalf")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(csv_export, "_write_csv", fail_midway)
    with pytest.raises(RuntimeError, match="interrupted"):
        refresh_file(BASELINE, tmp_path / "out.xlsx", csv_dir=csv_dir)
    assert {p.name: p.read_bytes() for p in csv_dir.iterdir()} == before
    assert _leftovers(csv_dir) == []


def test_a_locked_output_asks_to_close_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.xlsx"
    refresh_file(BASELINE, output)
    previous = output.read_bytes()

    def locked(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(atomic.os, "replace", locked)
    result = CliRunner().invoke(main, ["refresh", str(BASELINE), "--out", str(output), "--quiet"])
    assert result.exit_code == 2
    assert "Close the file" in result.output or "close it" in result.output
    assert "Traceback" not in result.output
    assert output.read_bytes() == previous
    assert _leftovers(tmp_path) == []


# --- inputs are never modified --------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source", ["baseline.xlsx", "baseline.csv"])
def test_the_input_is_unchanged_by_refresh_and_csv_export(source: str, tmp_path: Path) -> None:
    path = tmp_path / source
    shutil.copy(DATA / "corpus" / source, path)
    before = _digest(path)
    runner = CliRunner()
    for args in (
        ["--out", str(tmp_path / "a.xlsx")],
        ["--out", str(tmp_path / "b.xlsx"), "--csv-dir", str(tmp_path / "csv")],
    ):
        result = runner.invoke(main, ["refresh", str(path), *args, "--quiet"])
        assert result.exit_code == 0, result.output
        assert _digest(path) == before


def test_in_place_on_a_copy_leaves_the_original_and_the_orders_part_untouched(
    tmp_path: Path,
) -> None:
    original = DATA / "corpus" / "baseline.xlsx"
    before = _digest(original)
    copy = tmp_path / "copy.xlsx"
    shutil.copy(original, copy)
    with zipfile.ZipFile(copy) as archive:
        orders_part = archive.read("xl/worksheets/sheet1.xml")
    result = CliRunner().invoke(
        main, ["refresh", str(copy), "--out", str(copy), "--in-place", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert _digest(original) == before
    with zipfile.ZipFile(copy) as archive:
        assert archive.read("xl/worksheets/sheet1.xml") == orders_part
    assert "Top Spenders" in read_sheets(copy)


def test_demo_leaves_the_template_unchanged(tmp_path: Path) -> None:
    template = template_path()
    before = _digest(template)
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo.xlsx"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert _digest(template) == before
    assert _leftovers(tmp_path) == []


# --- reproducible ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["baseline.xlsx", "shopify_export.csv"])
def test_the_same_input_gives_the_same_cells_every_run(source: str, tmp_path: Path) -> None:
    path = DATA / "corpus" / source
    first, second = tmp_path / "1.xlsx", tmp_path / "2.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refresh_file(path, first, csv_dir=tmp_path / "csv1")
        refresh_file(path, second, csv_dir=tmp_path / "csv2")
    assert read_sheets(first) == read_sheets(second)
    for one in (tmp_path / "csv1").iterdir():
        assert one.read_bytes() == (tmp_path / "csv2" / one.name).read_bytes()
