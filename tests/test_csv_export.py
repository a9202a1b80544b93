"""Contact lists as CSV files: contact columns first, names split, formula injection defused."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xl_segments.errors import MissingColumnError, WorkbookError
from xl_segments.tables import Report, SheetTable, SummarySheet
from xl_segments.workbook import csv_export
from xl_segments.workbook.csv_export import csv_name, write_contact_csvs

KINDS = {"Lifetime Value": "money", "Orders": "integer", "Last Order": "date", "Share": "percent"}


def spenders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Customer ID": ["C1", "C2", "C3", "C4", "C5"],
            "Email": ["ann@example.com", "=cmd|' /C calc'!A0", "zoë@example.jp", None, "x@y.z"],
            "Name": ["Ann Lee", "  Mary  Ann Jones ", "Zoë", None, "@admin -boss"],
            "Lifetime Value": [1234.5, -12.5, np.nan, 0.1, 3.0],
            "Orders": pd.array([3, 1, None, 2, 1], dtype="Int64"),
            "Last Order": pd.to_datetime(
                ["2024-01-02", None, "2023-12-31", "2024-02-29", "2020-01-01"]
            ),
            "Share": [0.5, 0.25, 0.125, 0.0625, 0.0625],
            "Note": ["+1 555 0100", "-12.5", "\tindented", "\rcr", "plain"],
        }
    )


def report(**extra: SheetTable) -> Report:
    return Report(
        SummarySheet(()),
        (
            SheetTable("Top Spenders", "TopSpenders", spenders(), KINDS, is_contact_list=True),
            SheetTable("Channel Performance", "ChannelPerformance", pd.DataFrame({"A": [1]}), {}),
            SheetTable("Churn Risk", "ChurnRisk", spenders().iloc[:0], KINDS, is_contact_list=True),
            *extra.values(),
        ),
    )


def read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_each_contact_list_becomes_a_csv_named_after_its_sheet(tmp_path: Path) -> None:
    paths = write_contact_csvs(report(), tmp_path)
    assert paths == [tmp_path / "top-spenders.csv", tmp_path / "churn-risk.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn-risk.csv", "top-spenders.csv"]
    header = ["Email", "First Name", "Last Name", "Customer ID", "Lifetime Value", "Orders",
              "Last Order", "Share", "Note"]  # fmt: skip
    assert read(paths[1]) == [header]
    rows = read(paths[0])
    assert rows[0] == header
    assert rows[1] == ["ann@example.com", "Ann", "Lee", "C1", "1234.5", "3", "2024-01-02", "0.5",
                       "'+1 555 0100"]  # fmt: skip


def test_names_split_into_first_word_and_the_rest(tmp_path: Path) -> None:
    rows = read(write_contact_csvs(report(), tmp_path)[0])
    assert [r[1:3] for r in rows[1:]] == [
        ["Ann", "Lee"],
        ["Mary", "Ann Jones"],
        ["Zoë", ""],
        ["", ""],
        ["'@admin", "'-boss"],
    ]


def test_formula_like_text_gets_a_quote_but_numbers_stay_numbers(tmp_path: Path) -> None:
    rows = read(write_contact_csvs(report(), tmp_path)[0])
    assert rows[2][0] == "'=cmd|' /C calc'!A0"
    assert rows[2][4] == "-12.5"  # a number: left alone
    assert rows[2][8] == "'-12.5"  # the same characters as text: defused
    assert rows[3][8] == "'\tindented"
    assert rows[4][8] == "'\rcr"
    assert rows[4][0] == "" and rows[3][4] == ""  # blanks, never "nan"


def test_a_contact_list_without_email_is_refused_by_name(tmp_path: Path) -> None:
    bad = SheetTable("Churn Risk", "ChurnRisk", pd.DataFrame({"Name": ["A"]}), {}, True)
    with pytest.raises(
        MissingColumnError, match=r"'Churn Risk' has no 'Email' column; it has 'Name'"
    ):
        write_contact_csvs(Report(SummarySheet(()), (bad,)), tmp_path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="does not exist"):
        write_contact_csvs(report(), tmp_path / "nope")


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_contact_csvs(report(), tmp_path)[0]
    previous = first.read_bytes()

    def broken(frame: pd.DataFrame, out) -> None:  # type: ignore[no-untyped-def]
        out.write(b"Email,First")
        raise OSError("disk full")

    monkeypatch.setattr(csv_export, "_write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_contact_csvs(report(), tmp_path)
    assert first.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn-risk.csv", "top-spenders.csv"]


def test_file_names_are_slugs_of_sheet_names() -> None:
    assert csv_name("Top Spenders") == "top-spenders.csv"
    assert csv_name("Repeat by Channel") == "repeat-by-channel.csv"
    assert csv_name("Churn Risk!") == "churn-risk.csv"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(note=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_any_text_comes_back_exactly_or_with_one_defusing_quote(note: str, tmp_path: Path) -> None:
    frame = pd.DataFrame({"Email": ["a@b.c"], "Name": ["A B"], "Note": [note]})
    table = SheetTable("Top Spenders", "TopSpenders", frame, {}, is_contact_list=True)
    path = write_contact_csvs(Report(SummarySheet(()), (table,)), tmp_path)[0]
    got = read(path)[1][3]
    assert got == ("'" + note if note.startswith(csv_export.FORMULA_TRIGGERS) else note)
