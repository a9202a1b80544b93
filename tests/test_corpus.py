"""The messy-input corpus: each realistic bad workbook or CSV is handled as documented or
stopped with a clear error naming the sheet, cell and column (tests/data/corpus/expected.json).
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from xl_segments.errors import SegmentsError
from xl_segments.workbook.files import refresh_file

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
sys.path.insert(0, str(DATA))
sys.path.insert(0, str(DATA.parents[1] / "benchmarks"))

import make_corpus  # noqa: E402
import robustness  # noqa: E402

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "expected.json").read_text(encoding="utf-8")
)


def _cases() -> list[Any]:
    params = []
    for name, entry in EXPECTED.items():
        marks = []
        if entry.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=entry["xfail"]))
        params.append(pytest.param(name, entry, id=name, marks=marks))
    return params


def check(path: Path, entry: dict[str, Any], tmp_path: Path) -> None:
    output = tmp_path / "out.xlsx"
    before = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if entry["outcome"] == "error":
                with pytest.raises(SegmentsError) as caught:
                    refresh_file(path, output, overrides=entry.get("settings"))
                message = str(caught.value).casefold()
                missing = [w for w in entry["words"] if w.casefold() not in message]
                assert not missing, f"{missing} not in the message: {caught.value}"
                assert not output.exists()
            else:
                result = refresh_file(path, output, overrides=entry.get("settings"))
                got = robustness.figures(result)
                wanted = entry["figures"]
                assert {k: got.get(k) for k in wanted} == wanted
                assert robustness.formula_cells(output) == 0
    finally:
        assert path.read_bytes() == before


@pytest.mark.parametrize(("name", "entry"), _cases())
def test_each_corpus_file_is_handled_or_refused_as_expected(
    name: str, entry: dict[str, Any], tmp_path: Path
) -> None:
    check(CORPUS / name, entry, tmp_path)


def test_the_corpus_on_disk_is_what_the_script_generates(tmp_path: Path) -> None:
    expected = make_corpus.write_corpus(tmp_path)
    assert expected == EXPECTED
    for name in expected:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name
    committed = {p.name for p in CORPUS.iterdir()} - {"expected.json"}
    assert committed == set(expected)


def test_every_error_in_the_corpus_names_where_it_is() -> None:
    # A clear error names the file's sheet or line, or the column it could not find.
    for name, entry in EXPECTED.items():
        if entry["outcome"] != "error" or entry.get("xfail"):
            continue
        words = " ".join(entry["words"])
        places = ("line", "orders", "missing", "no order rows", "rename")
        assert any(w in words.casefold() for w in places) or re.search(r"\b[A-Z]+\d+\b", words), (
            name
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", make_corpus.LARGE)
def test_large_inputs_are_handled(name: str, tmp_path: Path) -> None:
    path, entry = make_corpus.build_large(name, tmp_path)
    check(path, entry, tmp_path)
