"""Hostile and unsupported files: one clear error naming the file, in bounded time and memory.

Each file goes through the real command line in its own process, under a memory limit
(RLIMIT_AS) and a timeout: exit code 2, the file's name in the message, no traceback.
"""

from __future__ import annotations

import io
import re
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))

import make_corpus  # noqa: E402

MEMORY_LIMIT = 2 * 1024**3
TIME_LIMIT = 60.0

LOL = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(source: Path, out: Path) -> tuple[int, str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "xl_segments.cli", "refresh", str(source), "--out", str(out),
         "--quiet"],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=_limit,
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def good_xlsx() -> bytes:
    return make_corpus._book(make_corpus.good_rows())


def replace_part(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            target.writestr(name, change(body) if name == part else body)
    return out.getvalue()


def with_doctype(body: bytes) -> bytes:
    end = body.index(b"?>") + 2
    return body[:end] + LOL.encode() + body[end:]


def bomb_in(part: str, entity_in: bytes) -> bytes:
    def change(body: bytes) -> bytes:
        body = with_doctype(body)
        # Use the entity where the parser would expand it: in a text or value.
        return body.replace(entity_in, entity_in + b"&lol9;", 1)

    return replace_part(good_xlsx(), part, change)


def zip_bomb(path: Path) -> None:
    # 1 GB of zeros in the sheet part: about 1 MB compressed.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            block = b"\x00" * (16 * 1024 * 1024)
            for _ in range(64):
                part.write(block)


def many_rows() -> bytes:
    rows = make_corpus.good_rows()
    return make_corpus._book(rows, raw_rows='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')


def declared_only() -> bytes:
    return make_corpus._book(make_corpus.good_rows(), dimension="A1:XFD1048576")


def beyond_excel_rows() -> bytes:
    raw = '<row r="5000000"><c r="A5000000"><v>1</v></c></row>'
    return make_corpus._book(make_corpus.good_rows(), raw_rows=raw)


def huge_row_mid_sheet(cell: str) -> Callable[[Path, Path], None]:
    """A cell with a huge row number between ordinary rows (rows out of order): calamine
    sizes its grid by it and aborts the process unless the scan catches it."""

    def build(path: Path, tmp: Path) -> None:
        def change(body: bytes) -> bytes:
            return body.replace(b'<c r="A3"', b'<c r="' + cell.encode() + b'"', 1)

        path.write_bytes(replace_part(good_xlsx(), "xl/worksheets/sheet1.xml", change))

    return build


def huge_row_element_mid_sheet(path: Path, tmp: Path) -> None:
    """A row numbered 999,999,999 whose cells carry no reference of their own."""

    def change(body: bytes) -> bytes:
        start = body.index(b'<row r="3"')
        end = body.index(b"</row>", start)
        row = re.sub(rb' r="[A-Z]+3"', b"", body[start:end])
        row = row.replace(b'<row r="3"', b'<row r="999999999"', 1)
        return body[:start] + row + body[end:]

    path.write_bytes(replace_part(good_xlsx(), "xl/worksheets/sheet1.xml", change))


def encrypted(path: Path, tmp: Path) -> None:
    msoffcrypto = pytest.importorskip("msoffcrypto")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = tmp / "plain.xlsx"
    plain.write_bytes(good_xlsx())
    with open(plain, "rb") as source, open(path, "wb") as target:
        OOXMLFile(source).encrypt("secret", target)
    assert msoffcrypto.olefile.isOleFile(str(path))


def xlsb(path: Path) -> None:
    # No converter writes .xlsb here (LibreOffice reads it but cannot save it): a package with
    # the binary workbook's part names stands in for one.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", b"\x83\x01\x00")
        archive.writestr("xl/worksheets/sheet1.bin", b"\x81\x01\x00")


# name -> (file name, builder writing the file, words the message must hold)
HOSTILE: dict[str, tuple[str, Callable[[Path, Path], None], list[str]]] = {
    "not-a-zip": (
        "fake.xlsx",
        lambda p, t: p.write_text("Order ID,Amount\n1,2\n"),
        ["fake.xlsx", "not a valid workbook"],
    ),
    "truncated": (
        "cut.xlsx",
        lambda p, t: p.write_bytes(good_xlsx()[:1500]),
        ["cut.xlsx", "damaged"],
    ),
    "zip-bomb": ("bomb.xlsx", lambda p, t: zip_bomb(p), ["bomb.xlsx", "zip bomb"]),
    "entity-bomb-workbook": (
        "lol-book.xlsx",
        lambda p, t: p.write_bytes(bomb_in("xl/workbook.xml", b'name="Orders"')),
        ["lol-book.xlsx"],
    ),
    "entity-bomb-sheet": (
        "lol-sheet.xlsx",
        lambda p, t: p.write_bytes(bomb_in("xl/worksheets/sheet1.xml", b"<v>120.0")),
        ["lol-sheet.xlsx"],
    ),
    "entity-bomb-shared-strings": (
        "lol-sst.xlsx",
        lambda p, t: p.write_bytes(bomb_in("xl/sharedStrings.xml", b"<si><t>")),
        ["lol-sst.xlsx"],
    ),
    "value-in-the-last-cell": (
        "far.xlsx",
        lambda p, t: p.write_bytes(many_rows()),
        ["far.xlsx", "1,048,576 rows"],
    ),
    "rows-beyond-excel": (
        "five-million.xlsx",
        lambda p, t: p.write_bytes(beyond_excel_rows()),
        ["five-million.xlsx", "row 5,000,000"],
    ),
    "huge-row-mid-sheet": (
        "hidden-row.xlsx",
        huge_row_mid_sheet("A999999999"),
        ["hidden-row.xlsx", "row 999,999,999"],
    ),
    "wide-cell-mid-sheet": (
        "hidden-column.xlsx",
        huge_row_mid_sheet("XFD1000001"),
        ["hidden-column.xlsx", "16,384 columns"],
    ),
    "huge-row-element-without-cell-refs": (
        "hidden-row-element.xlsx",
        huge_row_element_mid_sheet,
        ["hidden-row-element.xlsx", "row 999,999,999"],
    ),
    "password-protected": (
        "secret.xlsx",
        lambda p, t: encrypted(p, t),
        ["secret.xlsx", "password"],
    ),
    "xlsb": ("orders.xlsb", lambda p, t: xlsb(p), ["orders.xlsb", ".xlsx"]),
    "xls-bytes-named-xlsx": (
        "old.xlsx",
        lambda p, t: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096),
        ["old.xlsx", ".xls"],
    ),
    "csv-named-xlsx-empty": ("empty.xlsx", lambda p, t: p.write_bytes(b""), ["empty.xlsx"]),
}


def _build(case: str, tmp: Path) -> Path:
    name, builder, _ = HOSTILE[case]
    folder = tmp / case
    folder.mkdir()
    path = folder / name
    builder(path, folder)
    return path


def test_hostile_files_end_in_one_clear_error_naming_the_file(tmp_path: Path) -> None:
    paths = {case: _build(case, tmp_path) for case in HOSTILE}
    before = {case: p.read_bytes() for case, p in paths.items()}

    def one(case: str) -> tuple[str, int, str, float]:
        code, text, seconds = run_cli(paths[case], paths[case].parent / "out.xlsx")
        return case, code, text, seconds

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, HOSTILE))
    problems = []
    for case, code, text, seconds in results:
        words = HOSTILE[case][2]
        missing = [w for w in words if w.casefold() not in text.casefold()]
        if code != 2 or missing or "Traceback" in text:
            problems.append(f"{case}: exit {code}, missing {missing}: {text.strip()[:400]}")
        assert seconds < TIME_LIMIT
        assert paths[case].read_bytes() == before[case], case
        assert not (paths[case].parent / "out.xlsx").exists(), case
    assert not problems, "\n".join(problems)


def test_a_sheet_that_only_declares_a_huge_range_is_read(tmp_path: Path) -> None:
    # A <dimension> claiming A1:XFD1048576 over a few real rows is not a reason to refuse.
    path = tmp_path / "declared.xlsx"
    path.write_bytes(declared_only())
    code, text, _ = run_cli(path, tmp_path / "out.xlsx")
    assert code == 0, text
    assert "4 customers" in text


def test_a_billion_laughs_workbook_is_refused_in_process(tmp_path: Path) -> None:
    from xl_segments.errors import WorkbookError
    from xl_segments.workbook.reader import read_orders, read_settings

    for part, anchor in [
        ("xl/workbook.xml", b'name="Orders"'),
        ("xl/sharedStrings.xml", b"<si><t>"),
        ("xl/worksheets/sheet1.xml", b"<v>120.0"),
    ]:
        path = tmp_path / "lol.xlsx"
        path.write_bytes(bomb_in(part, anchor))
        with pytest.raises(WorkbookError, match=r"lol\.xlsx"):
            read_orders(path)
            read_settings(path)


@pytest.mark.libreoffice
def test_an_xls_saved_by_libreoffice_is_refused_with_a_hint(tmp_path: Path) -> None:
    source = tmp_path / "orders.xlsx"
    source.write_bytes(good_xlsx())
    soffice = shutil.which("soffice") or "soffice"
    subprocess.run(
        [soffice, "--headless", "--convert-to", "xls", "--outdir", str(tmp_path), str(source)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    xls = tmp_path / "orders.xls"
    assert xls.read_bytes().startswith(b"\xd0\xcf\x11\xe0")
    renamed = tmp_path / "renamed.xlsx"
    renamed.write_bytes(xls.read_bytes())
    for path, words in [(xls, ["orders.xls", ".xlsx"]), (renamed, ["renamed.xlsx", ".xls"])]:
        code, text, _ = run_cli(path, tmp_path / "out.xlsx")
        assert code == 2, text
        assert "Traceback" not in text
        for word in words:
            assert word in text
