"""The command line end to end: real files in, real workbooks out, the exact words a user sees.

Every command runs through click's CliRunner on files in a temporary folder (which is also the
working directory, so messages name files as the user typed them); a few run the installed
`xl-segments` script in a subprocess. No logic of ours is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from xl_segments.cli import SETTING_OPTIONS, main
from xl_segments.sample import sample_orders
from xl_segments.segments import build_segments
from xl_segments.settings import Settings
from xl_segments.sheets import LIST_SHEETS
from xl_segments.workbook.book import template_path
from xl_segments.workbook.template import fill_orders

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("xl-segments")
CONTACT_SHEETS = ("Top Spenders", "Repeat by Channel", "Churn Risk")
TEMPLATE_SHEETS = ["How to use", "Orders", "Settings", "Suppression", *LIST_SHEETS]


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return sample_orders(customers=300)


@pytest.fixture(scope="module")
def filled_template(orders: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("filled") / "orders.xlsx"
    fill_orders(template_path(), orders, path)
    return path


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working folder: messages name files relative to it, as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def book(work: Path, filled_template: Path) -> Path:
    """A copy of the filled template in the working folder, named as a user would."""
    path = work / "orders.xlsx"
    path.write_bytes(filled_template.read_bytes())
    return path


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug, not a refusal: show the real traceback
    assert "Traceback" not in result.output
    return result


def ok(*args: object) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under folder with its hash: proves what a command left alone."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def sheet_values(path: Path, sheet: str) -> list[tuple[object, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def summary_block(path: Path, title: str) -> dict[object, tuple[object, ...]]:
    """A Summary block as {first cell: the rest of the row}, read below its title row."""
    rows = sheet_values(path, "Summary")
    start = next(i for i, row in enumerate(rows) if row and row[0] == title)
    block: dict[object, tuple[object, ...]] = {}
    for row in rows[start + 2 :]:
        cells = tuple(c for c in row if c is not None)
        if not cells:
            break
        rest = list(row[1:])
        while rest and rest[-1] is None:
            rest.pop()
        block[row[0]] = tuple(rest)
    return block


def xlsx_from_rows(path: Path, sheet: str, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


# ---------------------------------------------------------------------------------------------
# Success paths


def test_refresh_of_the_filled_template_writes_every_list_and_reports_it(
    book: Path, orders: pd.DataFrame
) -> None:
    before = sha256(book)
    result = ok("refresh", "orders.xlsx", "--out", "lists.xlsx")
    assert sha256(book) == before

    out = book.parent / "lists.xlsx"
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == TEMPLATE_SHEETS
    wb.close()
    segments = build_segments(orders, Settings())
    lines = result.stdout.splitlines()
    assert lines[0] == "Wrote lists.xlsx"
    assert lines[1] == (
        f"  300 customers, {int(segments.customers.frame['orders'].sum()):,} orders, revenue "
        f"{segments.customers.frame['lifetime_value'].sum():,.2f}, as of 2025-11-30"
    )
    assert f"  Top Spenders: {len(segments.top_spenders):,} rows (" in result.stdout
    assert re.search(r"^  Done in \d+\.\ds \(read .*\)\.$", lines[-1])
    assert "Traceback" not in result.stderr


def test_installed_command_refreshes_and_refuses_bad_input_without_a_traceback(
    book: Path,
) -> None:
    if not SCRIPT.exists():
        pytest.skip(f"the xl-segments script is not installed next to {sys.executable}")
    before = sha256(book)
    done = subprocess.run(
        [SCRIPT, "refresh", "orders.xlsx", "--out", "lists.xlsx", "--quiet"],
        capture_output=True,
        text=True,
        cwd=book.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("Wrote lists.xlsx\n  300 customers, ")
    assert sha256(book) == before

    refused = subprocess.run(
        [SCRIPT, "refresh", "lists.xlsx", "--out", "lists.xlsx"],
        capture_output=True,
        text=True,
        cwd=book.parent,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr == (
        'Error: The output is the input file "lists.xlsx". Give another --out, or --in-place '
        "to replace the lists inside it (written safely: the file is replaced only once the "
        "new one is complete).\n"
    )
    assert refused.stdout == ""


def test_installed_command_is_silent_on_stderr_when_refreshing_a_csv_made_workbook(
    work: Path, orders: pd.DataFrame
) -> None:
    if not SCRIPT.exists():
        pytest.skip(f"the xl-segments script is not installed next to {sys.executable}")
    # A CSV without a customer id: the output's Orders sheet has an empty Customer ID column.
    frame = orders[orders["Amount"] > 0].head(200)
    pd.DataFrame(
        {
            "Name": "#" + frame["Order ID"],
            "Email": frame["Email"],
            "Created at": frame["Order Date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Total": frame["Amount"].map("{:.2f}".format),
        }
    ).to_csv(work / "export.csv", index=False)
    ok("refresh", "export.csv", "--out", "first.xlsx")
    again = subprocess.run(
        [SCRIPT, "refresh", "first.xlsx", "--out", "second.xlsx", "--quiet"],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=120,
    )
    assert again.returncode == 0
    # Only our own notes (no channel, no consent column) reach stderr, never a library's log.
    assert again.stderr
    assert all(line.startswith("Note: ") for line in again.stderr.splitlines()), again.stderr


def test_in_place_is_refused_without_the_flag_and_replaces_the_file_atomically_with_it(
    book: Path,
) -> None:
    before = book.read_bytes()
    refused = invoke("refresh", "orders.xlsx", "--out", "orders.xlsx")
    assert refused.exit_code == 2
    assert refused.stderr == (
        'Error: The output is the input file "orders.xlsx". Give another --out, or --in-place '
        "to replace the lists inside it (written safely: the file is replaced only once the "
        "new one is complete).\n"
    )
    assert refused.stdout == ""
    assert book.read_bytes() == before

    # A hard link to the old file keeps the old bytes only if the file was replaced (a new
    # file renamed over it), not rewritten where it lies.
    os.link(book, book.parent / "old-link.xlsx")
    inode = book.stat().st_ino
    ok("refresh", "orders.xlsx", "--out", "orders.xlsx", "--in-place")
    assert (book.parent / "old-link.xlsx").read_bytes() == before
    assert book.stat().st_ino != inode
    assert sorted(p.name for p in book.parent.iterdir()) == ["old-link.xlsx", "orders.xlsx"]

    ok("refresh", "old-link.xlsx", "--out", "elsewhere.xlsx")
    for sheet in ("Orders", *LIST_SHEETS[1:]):
        assert sheet_values(book, sheet) == sheet_values(book.parent / "elsewhere.xlsx", sheet)
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None


def test_sheet_option_reads_orders_from_the_named_sheet(work: Path, orders: pd.DataFrame) -> None:
    rows: list[list[object]] = [list(orders.columns)]
    for record in orders.itertuples(index=False):
        rows.append([v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in record])
    source = xlsx_from_rows(work / "export.xlsx", "Read me", [["Exported from the shop"]])
    wb = openpyxl.load_workbook(source)
    data = wb.create_sheet("Export 2024")
    for row in rows:
        data.append(row)
    wb.save(source)
    before = sha256(source)

    missing = invoke("refresh", "export.xlsx", "--out", "lists.xlsx")
    assert missing.exit_code == 2
    assert missing.stderr == (
        "Error: export.xlsx has no Excel table or sheet named 'Orders'; its sheets are: "
        "'Read me', 'Export 2024'. Name the sheet that holds the orders.\n"
    )

    ok("refresh", "export.xlsx", "--out", "lists.xlsx", "--sheet", "Export 2024")
    out = work / "lists.xlsx"
    assert openpyxl.load_workbook(out, read_only=True).sheetnames == [
        "Read me",
        "Export 2024",
        *LIST_SHEETS,
    ]
    expected = build_segments(orders, Settings()).top_spenders
    top = sheet_values(out, "Top Spenders")
    assert [r[1] for r in top[1:]] == list(expected["customer_id"])
    assert sha256(source) == before


def test_overrides_beat_the_settings_sheet_and_show_in_the_settings_used(
    work: Path, filled_template: Path, orders: pd.DataFrame
) -> None:
    # The workbook's own Settings sheet asks for the top 30%.
    wb = openpyxl.load_workbook(filled_template)
    wb["Settings"]["B3"] = 0.3
    wb.save(work / "orders.xlsx")
    assert wb.defined_names["xls_top_share"].attr_text == "'Settings'!$B$3"
    before = sha256(work / "orders.xlsx")

    ok("refresh", "orders.xlsx", "--out", "sheet-settings.xlsx")
    own = build_segments(orders, Settings(top_share=0.3))
    assert len(sheet_values(work / "sheet-settings.xlsx", "Top Spenders")) - 1 == len(
        own.top_spenders
    )
    assert summary_block(work / "sheet-settings.xlsx", "Settings used")[
        "Top share of customers"
    ] == ("30%",)

    as_of = dt.date(2025, 6, 30)
    result = ok(
        "refresh", "orders.xlsx", "--out", "overridden.xlsx", "--top-share", "10%",
        "--as-of", "2025-06-30",
    )  # fmt: skip
    out = work / "overridden.xlsx"
    engine = build_segments(orders, Settings(top_share=0.1, as_of=as_of))
    top = sheet_values(out, "Top Spenders")
    assert len(top) - 1 == len(engine.top_spenders) < len(own.top_spenders)
    assert [r[1] for r in top[1:]] == list(engine.top_spenders["customer_id"])
    used = summary_block(out, "Settings used")
    assert used["Top share of customers"] == ("10%",)
    assert used["As-of date"] == ("2025-06-30",)
    figures = summary_block(out, "Headline figures")
    assert figures["As-of date"] == (dt.datetime(2025, 6, 30),)
    assert "Revenue share of the top 10% of customers" in figures
    later = int((orders["Order Date"] > pd.Timestamp("2025-07-01")).sum())
    assert later > 0
    quality = summary_block(out, "Rows read, skipped and excluded")
    assert quality["Orders after the as-of date left out"] == (
        engine.orders.quality.orders_after_as_of,
    )
    assert ", as of 2025-06-30" in result.stdout
    assert "Top 10% of customers bring" in result.stdout
    assert sha256(work / "orders.xlsx") == before


def test_csv_dir_writes_utf8_contact_lists_with_contact_columns_first(
    work: Path, orders: pd.DataFrame
) -> None:
    # Give the best consenting customer a name that only UTF-8 carries.
    best = build_segments(orders, Settings()).top_spenders["customer_id"].iloc[0]
    named = orders.copy()
    named.loc[named["Customer ID"] == best, "Name"] = "Zoë Ünal-Smith"
    fill_orders(template_path(), named, work / "orders.xlsx")
    before = sha256(work / "orders.xlsx")

    result = ok("refresh", "orders.xlsx", "--out", "lists.xlsx", "--csv-dir", "lists")
    folder = work / "lists"
    assert sorted(p.name for p in folder.iterdir()) == [
        "churn-risk.csv",
        "repeat-by-channel.csv",
        "top-spenders.csv",
    ]
    for name in ("top-spenders.csv", "repeat-by-channel.csv", "churn-risk.csv"):
        assert f"  CSV: lists/{name}" in result.stdout.splitlines()
    for sheet in CONTACT_SHEETS:
        path = folder / (sheet.lower().replace(" ", "-") + ".csv")
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert rows[0][:3] == ["Email", "First Name", "Last Name"]
        listed = sheet_values(work / "lists.xlsx", sheet)
        email = listed[0].index("Email")
        assert [r[0] for r in rows[1:]] == [r[email] for r in listed[1:]]
        # The figures of the list follow the contact columns.
        assert set(listed[0]) - {"Name"} <= set(rows[0])
    top = list(csv.reader(io.StringIO((folder / "top-spenders.csv").read_text("utf-8"))))
    assert top[1][1:3] == ["Zoë", "Ünal-Smith"]
    assert sha256(work / "orders.xlsx") == before


def test_suppressed_emails_from_a_file_and_the_suppression_sheet_are_never_listed(
    work: Path, filled_template: Path, orders: pd.DataFrame
) -> None:
    churn = build_segments(orders, Settings()).churn_risk
    first, second = churn["email"].iloc[0], churn["email"].iloc[1]
    (work / "do-not-mail.txt").write_text(first.upper() + "\n", encoding="utf-8")
    wb = openpyxl.load_workbook(filled_template)
    wb["Suppression"]["A2"] = "  " + second + " "
    wb.save(work / "orders.xlsx")
    before = sha256(work / "orders.xlsx")

    result = ok("refresh", "orders.xlsx", "--out", "lists.xlsx", "--suppress", "do-not-mail.txt")
    rows = sheet_values(work / "lists.xlsx", "Churn Risk")
    emails = [r[rows[0].index("Email")] for r in rows[1:]]
    assert first not in emails and second not in emails
    assert len(emails) == len(churn) - 2
    contacts = summary_block(work / "lists.xlsx", "Contact lists")
    assert contacts["Churn Risk"][0] == len(churn) - 2
    assert contacts["Churn Risk"][2] == 2
    assert summary_block(work / "lists.xlsx", "Settings used")["Suppressed emails"] == (
        "2 addresses",
    )
    left = build_segments(orders, Settings()).left_out["Churn Risk"].no_consent
    assert f"  Churn Risk: {len(churn) - 2:,} rows ({left + 2:,} left out" in result.stdout
    assert sha256(work / "orders.xlsx") == before


# ---------------------------------------------------------------------------------------------
# Bad input: exact message on stderr, exit code 2, nothing written, no traceback


def _na_amount(folder: Path) -> None:
    xlsx_from_rows(
        folder / "orders.xlsx",
        "Orders",
        [
            ["Order ID", "Customer ID", "Email", "Order Date", "Amount"],
            ["1", "C1", "a@example.com", dt.datetime(2024, 1, 2), 10.0],
            ["2", "C2", "b@example.com", dt.datetime(2024, 1, 3), "#N/A"],
            ["3", "C1", "a@example.com", dt.datetime(2024, 2, 3), 5.0],
        ],
    )
    assert openpyxl.load_workbook(folder / "orders.xlsx")["Orders"]["E3"].data_type == "e"


def _missing_amount(folder: Path) -> None:
    xlsx_from_rows(
        folder / "orders.xlsx",
        "Orders",
        [
            ["Order ID", "Customer ID", "Email", "Order Date"],
            ["1", "C1", "a@example.com", dt.datetime(2024, 1, 2)],
        ],
    )


def _ambiguous_dates(folder: Path) -> None:
    (folder / "orders.csv").write_text(
        "Name,Email,Created at,Total\n"
        "#1001,a@example.com,03/04/2024,10.00\n"
        "#1002,b@example.com,05/06/2024,12.00\n",
        encoding="utf-8",
    )


def _not_a_workbook(folder: Path) -> None:
    (folder / "orders.xlsx").write_text("Order ID,Amount\n1,10\n", encoding="utf-8")


def _filled(folder: Path, name: str = "orders.xlsx") -> None:
    fill_orders(template_path(), sample_orders(customers=20), folder / name)


def _nothing(folder: Path) -> None:
    pass


BAD_INPUT = [
    pytest.param(
        _nothing,
        ["refresh", "nope.xlsx", "--out", "lists.xlsx"],
        'The input file "nope.xlsx" does not exist.',
        id="missing-file",
    ),
    pytest.param(
        _not_a_workbook,
        ["refresh", "orders.xlsx", "--out", "lists.xlsx"],
        "orders.xlsx is not a valid workbook: the file is damaged, truncated or not an .xlsx "
        "file. Open it in Excel and save it again, or export the orders as CSV.",
        id="not-a-workbook",
    ),
    pytest.param(
        lambda f: (f / "orders.ods").write_bytes(b"PK\x03\x04"),
        ["refresh", "orders.ods", "--out", "lists.xlsx"],
        '"orders.ods" is a .ods; xl-segments reads .xlsx and .xlsm workbooks and .csv files. '
        "Save it as .xlsx in Excel first.",
        id="wrong-input-extension",
    ),
    pytest.param(
        _filled,
        ["refresh", "orders.xlsx", "--out", "lists.xls"],
        'The output "lists.xls" must end in .xlsx (or .xlsm for a macro workbook).',
        id="wrong-output-extension",
    ),
    pytest.param(
        lambda f: _filled(f, "macros.xlsm"),
        ["refresh", "macros.xlsm", "--out", "lists.xlsx"],
        '"macros.xlsm" holds macros; write the output as .xlsm so they are kept.',
        id="xlsm-to-xlsx",
    ),
    pytest.param(
        _filled,
        ["refresh", "orders.xlsx", "--out", "lists.xlsm"],
        '"orders.xlsx" has no macros; write the output as .xlsx (Excel refuses an .xlsm '
        "without a macro project).",
        id="xlsx-to-xlsm",
    ),
    pytest.param(
        _missing_amount,
        ["refresh", "orders.xlsx", "--out", "lists.xlsx"],
        'Column "Amount" missing (found: Order ID, Customer ID, Email, Order Date). Rename the '
        "column or give a column mapping.",
        id="missing-column",
    ),
    pytest.param(
        _na_amount,
        ["refresh", "orders.xlsx", "--out", "lists.xlsx"],
        'Sheet "Orders", cell E3, column "Amount": holds the Excel error #N/A; fix the formula '
        "or remove the row.",
        id="na-amount",
    ),
    pytest.param(
        _ambiguous_dates,
        ["refresh", "orders.csv", "--out", "lists.xlsx"],
        'Line 2, column "Created at": the date "03/04/2024" could be day/month or month/day. '
        'Set "Date format of text dates" (on the Settings sheet, or --date-format on the '
        "command line) to %d/%m/%Y (day first) or %m/%d/%Y (month first).",
        id="ambiguous-date",
    ),
    pytest.param(
        _filled,
        ["refresh", "orders.xlsx", "--out", "lists.xlsx", "--sheet", "Export"],
        "orders.xlsx has no sheet named 'Export'; its sheets are: 'How to use', 'Orders', "
        "'Settings', 'Suppression', 'Summary', 'Top Spenders', 'Channel Performance', "
        "'Repeat by Channel', 'Churn Risk', 'Monthly Churn'.",
        id="unknown-sheet",
    ),
    pytest.param(
        _filled,
        ["refresh", "orders.xlsx", "--out", "missing/lists.xlsx"],
        'The output folder "missing" does not exist.',
        id="missing-output-folder",
    ),
    pytest.param(
        _nothing,
        ["demo", "--out", "demo.xls"],
        'The demo output "demo.xls" must end in .xlsx.',
        id="demo-wrong-extension",
    ),
]


@pytest.mark.parametrize(("make", "args", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_clear_message_and_exit_code_2(
    work: Path, make, args: list[str], message: str
) -> None:
    make(work)
    before = snapshot(work)
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""
    # Inputs unchanged, no output, no temporary file left behind.
    assert snapshot(work) == before


def test_bad_input_of_the_ambiguous_date_is_settled_by_the_date_format_option(work: Path) -> None:
    _ambiguous_dates(work)
    result = ok("refresh", "orders.csv", "--out", "lists.xlsx", "--date-format", "%d/%m/%Y")
    assert "2 orders" in result.stdout
    orders = sheet_values(work / "lists.xlsx", "Orders")
    date = orders[0].index("Order Date")
    assert [r[date] for r in orders[1:]] == [dt.datetime(2024, 4, 3), dt.datetime(2024, 6, 5)]


def test_a_file_name_with_brackets_is_named_exactly_in_the_message(work: Path) -> None:
    result = invoke("refresh", "orders [copy].xlsx", "--out", "lists.xlsx")
    assert result.exit_code == 2
    assert result.stderr == 'Error: The input file "orders [copy].xlsx" does not exist.\n'


def test_a_message_that_looks_like_markup_is_still_a_clean_refusal(work: Path) -> None:
    _filled(work)
    result = CliRunner().invoke(
        main, ["refresh", "orders.xlsx", "--out", "lists.xlsx", "--sheet", "[/x]"]
    )
    assert result.exit_code == 2
    assert "no sheet named '[/x]'" in result.stderr


def test_the_summary_names_an_output_with_brackets_exactly(work: Path) -> None:
    _filled(work)
    result = ok("refresh", "orders.xlsx", "--out", "lists [v2].xlsx", "--quiet")
    assert result.stdout.splitlines()[0] == "Wrote lists [v2].xlsx"


# ---------------------------------------------------------------------------------------------
# Documentation


def _commands(group: click.Group, prefix: str = "xl-segments") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        found[path] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, path))
    return found


def _documentation() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted(REPO.glob("docs/*.md"))]
    )


def _documented_ids() -> list[object]:
    return [pytest.param(path, id=path.split(" ", 1)[1]) for path in _commands(main)]


def test_the_main_commands_exist() -> None:
    assert {"xl-segments refresh", "xl-segments demo"} <= set(_commands(main))


@pytest.mark.parametrize("path", _documented_ids())
def test_every_command_is_documented(path: str) -> None:
    assert path in _documentation()


def test_the_readme_uses_only_options_that_exist() -> None:
    commands = _commands(main)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    checked = 0
    for line in readme.splitlines():
        found = [path for path in commands if re.search(re.escape(path) + r"(\s|$)", line)]
        if not found:
            continue
        path = max(found, key=len)  # "xl-segments addin build", not "xl-segments addin"
        known = {opt for p in commands[path].params for opt in getattr(p, "opts", [])}
        used = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line.split(path, 1)[1]))
        assert used - {"--help", "--version"} <= known, (path, used - known)
        checked += 1
    assert checked >= 3


def test_every_option_has_help_text_in_the_help_output() -> None:
    for path, command in _commands(main).items():
        words = path.split()[1:]
        result = CliRunner().invoke(main, [*words, "--help"])
        assert result.exit_code == 0
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.opts)
                assert param.opts[0] in result.output, (path, param.opts)
    assert {flag for flag, *_ in SETTING_OPTIONS} <= {
        opt for p in main.commands["refresh"].params for opt in getattr(p, "opts", [])
    }
