"""Robustness report: the messy-input corpus plus a seeded mutation fuzz, through the refresh.

Every input runs in its own process (forked from a server that has the library loaded) under a
memory limit and a time limit. Each outcome is one of: handled (a workbook written), a clear
error (a SegmentsError with a message), or a crash (any other exception, a signal, running out
of memory or time). For every input the script also checks that the input's bytes did not
change, that no written sheet holds a formula, and that no customer without consent (or on the
suppression list) is in a contact list sheet or CSV. It prints one line:

    612 inputs: 431 handled, 181 clear errors, 0 crashes, 0 inputs modified, ...

Usage: python benchmarks/robustness.py [--mutations 560] [--seed 7] [--jobs 2] [--verbose]
                                       [--small-parts]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))

import make_corpus as corpus  # noqa: E402

MEMORY_LIMIT = 3 * 1024**3  # bytes of address space per input
TIME_LIMIT = 60.0  # seconds per input

# --- checking one input (in the child process) ----------------------------------------------


@dataclasses.dataclass
class Outcome:
    name: str
    status: str  # handled | error | crash
    message: str = ""
    seconds: float = 0.0
    peak_mb: float = 0.0
    input_modified: bool = False
    formula_cells: int = 0
    forbidden_contacts: int = 0
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s/>]")


def formula_cells(workbook: Path) -> int:
    """How many formula elements (<f>) the worksheets of a workbook hold."""
    count = 0
    with zipfile.ZipFile(workbook) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                count += len(_FORMULA.findall(archive.read(name)))
    return count


def list_sheet_formula_cells(workbook: Path, sheets: Sequence[str]) -> int:
    """Formula elements in the named sheets only (a user's own Orders sheet may hold some)."""
    from xl_segments.workbook.reader import _read_structure

    count = 0
    with zipfile.ZipFile(workbook) as archive:
        parts = _read_structure(workbook, archive).sheet_parts or {}
        for sheet in sheets:
            if sheet in parts:
                count += len(_FORMULA.findall(archive.read(parts[sheet])))
    return count


CONTACT_SHEETS = ("Top Spenders", "Repeat by Channel", "Churn Risk")


def listed_contacts(output: Path, csv_files: Sequence[Path]) -> list[tuple[str, str, str]]:
    """(where, customer id, email) of every row of every contact list sheet and CSV written."""
    import openpyxl

    rows: list[tuple[str, str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(output, read_only=True, data_only=True)
    try:
        for sheet in CONTACT_SHEETS:
            if sheet not in book.sheetnames:
                continue
            values = list(book[sheet].iter_rows(values_only=True))
            if not values:
                continue
            header = [str(h) for h in values[0]]
            for row in values[1:]:
                record = dict(zip(header, row, strict=False))
                rows.append((sheet, _text(record.get("Customer ID")), _text(record.get("Email"))))
    finally:
        book.close()
    for path in csv_files:
        with open(path, newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                rows.append(
                    (
                        path.name,
                        _uncsv(record.get("Customer ID", "")),
                        _uncsv(record.get("Email", "")),
                    )
                )
    return rows


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _uncsv(text: str | None) -> str:
    # The CSV export puts a ' before text that starts like a formula.
    text = text or ""
    if text.startswith("'") and text[1:2] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return text[1:]
    return text


def forbidden_contacts(result: Any, output: Path) -> int:
    """Listed rows of customers without consent (when a consent column exists and the user did
    not opt in) or with a suppressed address."""
    from xl_segments.settings import normalize_email

    segments = result.segments
    settings = segments.settings
    table = segments.customers.frame
    check_consent = segments.customers.has_consent and not settings.include_non_consenting
    bad_ids: set[str] = set()
    bad_emails: set[str] = set()
    if check_consent:
        refused = table[table["consent"].fillna(False).astype(bool) == False]  # noqa: E712
        bad_ids = {str(v) for v in refused["customer_id"].dropna()}
        bad_emails = {
            str(v) for v in refused.loc[refused["customer_id"].isna(), "email_key"].dropna()
        }
    count = 0
    for _, customer_id, email in listed_contacts(output, result.csv_files):
        key = normalize_email(email) if email else ""
        if (
            (key and key in settings.suppressed_emails)
            or (customer_id and customer_id in bad_ids)
            or (not customer_id and key and key in bad_emails)
        ):
            count += 1
    return count


def check_one(
    path: Path, workdir: Path, settings: dict[str, Any] | None = None, name: str | None = None
) -> Outcome:
    """Refresh one input into workdir and judge everything the report counts."""
    from xl_segments.errors import SegmentsError
    from xl_segments.workbook.files import refresh_file

    path = Path(path)
    outcome = Outcome(name or path.name, "crash")
    before = digest(path)
    output = workdir / "out.xlsx"
    csv_dir = workdir / "csv"
    started = time.perf_counter()
    result = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = refresh_file(path, output, overrides=settings, csv_dir=csv_dir)
        outcome.status = "handled"
        outcome.warnings = sorted({str(w.message) for w in caught})
    except SegmentsError as error:
        outcome.status = "error"
        outcome.message = str(error)
    except BaseException as error:
        outcome.status = "crash"
        outcome.message = "".join(traceback.format_exception(error))[-4000:]
    outcome.seconds = time.perf_counter() - started
    outcome.input_modified = digest(path) != before
    if result is not None:
        try:
            outcome.figures = figures(result)
            outcome.formula_cells = list_sheet_formula_cells(
                output, [t.sheet for t in result.report.tables]
            )
            outcome.forbidden_contacts = forbidden_contacts(result, output)
        except BaseException as error:
            outcome.status = "crash"
            outcome.message = (
                "while checking the output: " + "".join(traceback.format_exception(error))[-4000:]
            )
    outcome.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return outcome


def figures(result: Any) -> dict[str, Any]:
    """Key figures of a refresh, as expected.json names them."""
    segments = result.segments
    table = segments.customers.frame
    quality = segments.orders.quality
    out: dict[str, Any] = {
        "customers": len(table),
        "orders": int(table["orders"].sum()),
        "revenue": round(float(table["lifetime_value"].sum()), 2),
        "as_of": str(segments.as_of.date()),
        "blank_rows": quality.blank_rows,
        "duplicate_rows": quality.duplicate_rows,
        "not_sold": int(sum(quality.not_sold_orders.values())),
    }
    if len(table):
        out["first_order"] = str(table["first_order"].min().date())
    if segments.channels is not None:
        out["channels"] = len(segments.channels)
    return out


# --- isolation: a process per input with limits ---------------------------------------------


def _small_parts() -> None:
    """Cut every sheet into parts of a few hundred bytes (as tests/test_sheet_parts.py does),
    so that the fuzz also runs through the reader's parallel, part-by-part load."""
    from xl_segments.workbook import reader, sheet_parts

    reader._CHUNK = 600
    sheet_parts.SPLIT_ABOVE_BYTES = 1
    sheet_parts.MIN_PART_BYTES = 1
    sheet_parts.SHARED_STRINGS_WEIGHT = 0
    sheet_parts.LOAD_WORKERS = 2


def _child(
    conn: Any,
    path: str,
    settings: dict[str, Any] | None,
    name: str,
    limit: int,
    small_parts: bool = False,
) -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if small_parts:
        _small_parts()
    workdir = Path(tempfile.mkdtemp(prefix="xls-robust-"))
    try:
        outcome = check_one(Path(path), workdir, settings, name)
    except BaseException as error:
        outcome = Outcome(name, "crash", "".join(traceback.format_exception(error))[-4000:])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    conn.send(dataclasses.asdict(outcome))
    conn.close()


_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(
            ["xl_segments.workbook.files", "xl_segments.workbook.csv_export", "openpyxl"]
        )
    return _CONTEXT


def run_isolated(
    path: Path,
    settings: dict[str, Any] | None = None,
    name: str | None = None,
    timeout: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
    small_parts: bool = False,
) -> Outcome:
    """check_one in a fresh process: a hang, a signal or running out of memory is a crash."""
    ctx = _context()
    name = name or Path(path).name
    before = digest(Path(path))
    receive, send = ctx.Pipe(duplex=False)
    started = time.perf_counter()
    process = ctx.Process(
        target=_child, args=(send, str(path), settings, name, memory, small_parts)
    )
    process.start()
    send.close()
    got = None
    if receive.poll(timeout):
        with contextlib.suppress(EOFError):
            got = receive.recv()
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join()
    elapsed = time.perf_counter() - started
    if got is not None:
        return Outcome(**got)
    why = (
        f"no answer within {timeout:.0f} s"
        if elapsed >= timeout
        else f"the process died (exit code {process.exitcode})"
    )
    return Outcome(
        name,
        "crash",
        why,
        seconds=elapsed,
        input_modified=digest(Path(path)) != before,
    )


# --- the mutation fuzz ----------------------------------------------------------------------

ERRORS = ["#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA"]
ODD_STRINGS = [
    "", " ", "\t", "=1+1", '=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\r\nx",
    "_x0041_", "\x00", "\x01\x02", "NaN", "None", "null", "TRUE", "false", "1e5", "0x10",
    "١٢٣", "12,50", "1,2,3", "(", ")", "$", "€ -", "--5", "5-", "(5)", "1.234.567,89",
    "😀" * 10, "\u202e" + "gnp.exe", "x" * 40_000, "Ann\nLee", "  ", "0", "-0", "1/0",
    "2024-02-30", "2024-13-01", "31/12/1899", "0000-00-00", "9999-12-31", "1899-12-30",
    "yes", "no", "maybe", "Ja", "oui", "ann@example.com", " ANN@EXAMPLE.COM ", "a@b",
]  # fmt: skip
HUGE = [1e308, -1e308, 1e20, -1e20, 2.0**63, 1e-300, 99_999_999.0, -1.0, 0.0, 2_958_465.0,
        2_958_466.0, 60.0, 59.0, 61.0, 25_569.0, 73_051.0, 73_052.0]  # fmt: skip
DATE_FORMS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d %B %Y", "%b %d, %Y",
              "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S -0500", "%d.%m.%Y", "%Y%m%d"]  # fmt: skip
HEADERS = ["Date", "Created at", "Total", "Revenue", "Customer", "E-mail", "Source", "Status",
           "Financial Status", "Refunded Amount", "Opt-in", "Name", "First Name", "", None,
           "Amount", "Order Date", "Betrag", "Datum", "Order\nDate", "ORDER_ID"]  # fmt: skip
STATUSES = ["paid", "refunded", "partially_refunded", "voided", "pending", "completed", "weird"]


def base_rows(rng: random.Random, n: int) -> list[list[Any]]:
    """A valid orders table of n rows with repeat customers, channels and consent."""
    rows: list[list[Any]] = [list(corpus.HEADER)]
    start = dt.datetime(2023, 1, 1, 9, 0)
    customers = max(2, n // 3)
    for i in range(n):
        c = rng.randrange(customers)
        rows.append(
            [
                5000 + i,
                f"C{c}",
                f"user{c}@example.com",
                f"First{c} Last{c}",
                start + dt.timedelta(days=rng.randrange(700), minutes=rng.randrange(1440)),
                round(rng.uniform(-20, 300), 2) if rng.random() < 0.95 else 0.0,
                rng.choice(["Email", "Ads", "Social", "Organic", "Referral"]),
                rng.choice(["yes", "no", "", "Subscribed", "unsubscribed", "TRUE", "0"]),
            ]
        )
    return rows


def mutate_cells(rng: random.Random, rows: list[list[Any]], as_csv: bool) -> str:
    """Apply a few cell-level mutations in place; returns a short description."""
    done = []
    for _ in range(rng.choice([1, 1, 2, 3, 5])):
        r = rng.randrange(1, len(rows)) if len(rows) > 1 else 0
        c = rng.randrange(max(1, len(rows[0])))
        kind = rng.choice(
            ["blank", "error", "huge", "odd", "date", "type", "header", "row", "column", "dup"]
        )
        value = rows[r][c] if r < len(rows) and c < len(rows[r]) else None
        if kind == "blank":
            _set(rows, r, c, None)
        elif kind == "error":
            text = rng.choice(ERRORS)
            _set(rows, r, c, text if as_csv else corpus.Err(text))
        elif kind == "huge":
            huge = rng.choice(HUGE)
            _set(rows, r, c, repr(huge) if as_csv else corpus.Num(huge))
        elif kind == "odd":
            _set(rows, r, c, rng.choice(ODD_STRINGS))
        elif kind == "date":
            when = dt.datetime(1990, 1, 1) + dt.timedelta(days=rng.randrange(60_000))
            form = rng.choice(DATE_FORMS)
            serial = corpus.Num(float(corpus._serial(when, False)))
            _set(rows, r, c, when.strftime(form) if rng.random() < 0.7 else serial)
        elif kind == "type":
            if isinstance(value, int | float):
                _set(rows, r, c, rng.choice([str(value), f"${value:,.2f}", f"({abs(value)})"]))
            elif isinstance(value, dt.datetime):
                _set(rows, r, c, corpus.Num(corpus._serial(value, False)))
            elif isinstance(value, str) and value:
                _set(rows, r, c, rng.choice([len(value), True, 3.5, value.upper(), f" {value} "]))
            else:
                _set(rows, r, c, rng.choice(["yes", 1, None, "x"]))
        elif kind == "header":
            _set(rows, 0, c, rng.choice(HEADERS))
        elif kind == "row":
            rows.insert(
                rng.randrange(1, len(rows) + 1), list(rows[r]) if rng.random() < 0.5 else []
            )
        elif kind == "column":
            for row in rows:
                if c < len(row):
                    del row[c]
        elif kind == "dup":
            other = rows[rng.randrange(1, len(rows))] if len(rows) > 1 else [1]
            _set(rows, r, 0, other[0] if other else 1)
        done.append(kind)
    return "+".join(done)


def _set(rows: list[list[Any]], r: int, c: int, value: Any) -> None:
    row = rows[r]
    row.extend([None] * (c + 1 - len(row)))
    row[c] = value


def mutate_bytes(rng: random.Random, data: bytes, is_zip: bool) -> tuple[bytes, str]:
    """Damage a file's bytes or zip structure."""
    kind = rng.choice(
        ["truncate", "flip", "drop-part", "garbage-part", "doctype", "dimension", "date1904"]
        if is_zip
        else ["truncate", "flip", "latin1", "quotes", "nul", "delimiter"]
    )
    if kind == "truncate":
        return data[: rng.randrange(len(data) or 1)], kind
    if kind == "flip":
        buf = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            if buf:
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf), kind
    if kind == "latin1":
        return data.decode("utf-8", "replace").encode("cp1252", "replace") + b"\xe9\x81\x8d", kind
    if kind == "quotes":
        return data.replace(b",", b',"', 1), kind
    if kind == "nul":
        return data.replace(b"\n", b"\x00\n", 2), kind
    if kind == "delimiter":
        return data.replace(b",", b";"), kind
    import io

    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    victim = rng.choice(names)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            part = source.read(name)
            if name == victim and kind == "drop-part":
                continue
            if name == victim and kind == "garbage-part":
                part = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
            if kind == "doctype" and name == victim and part.startswith(b"<?xml"):
                end = part.index(b"?>") + 2
                bomb = (
                    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                )
                part = part[:end] + bomb + part[end:]
            if kind == "dimension" and name.startswith("xl/worksheets/"):
                part = re.sub(
                    rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', part
                )
                part = part.replace(b'<row r="2">', b'<row r="4000000">', 1)
            if kind == "date1904" and name == "xl/workbook.xml":
                part = part.replace(b"<workbookPr/>", b'<workbookPr date1904="1"/>')
            target.writestr(name, part)
    return out.getvalue(), f"{kind}:{victim}"


def _as_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, corpus.Num):
        return repr(value.value)
    if isinstance(value, corpus.Err):
        return value.text
    return value


def mutated_inputs(count: int, seed: int, folder: Path) -> Iterator[tuple[Path, str]]:
    """Write `count` mutated workbooks and CSVs into folder, deterministically from seed."""
    rng = random.Random(seed)
    for i in range(count):
        as_csv = rng.random() < 0.35
        rows = base_rows(rng, rng.choice([3, 8, 20, 60]))
        what = mutate_cells(rng, rows, as_csv)
        if as_csv:
            text_rows = [[_as_text(v) for v in row] for row in rows]
            data = corpus.csv_text(text_rows).encode("utf-8")
            suffix = ".csv"
        else:
            book = corpus.Book(
                [corpus.Sheet("Orders", rows)],
                date1904=rng.random() < 0.1,
                shared_strings=rng.random() < 0.8,
            )
            data = corpus.xlsx_bytes(book)
            suffix = ".xlsx"
        if rng.random() < 0.15:
            data, damage = mutate_bytes(rng, data, not as_csv)
            what += f"+bytes:{damage}"
        path = folder / f"mutant-{i:04d}{suffix}"
        path.write_bytes(data)
        yield path, what


# --- the report -----------------------------------------------------------------------------


def corpus_inputs(folder: Path) -> list[tuple[Path, dict[str, Any] | None, str]]:
    expected = json.loads((corpus.CORPUS / "expected.json").read_text(encoding="utf-8"))
    items: list[tuple[Path, dict[str, Any] | None, str]] = [
        (corpus.CORPUS / name, entry.get("settings"), name) for name, entry in expected.items()
    ]
    for name in corpus.LARGE:
        path, _ = corpus.build_large(name, folder)
        items.append((path, None, name))
    return items


def summary_line(outcomes: Sequence[Outcome]) -> str:
    handled = sum(o.status == "handled" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    crashes = sum(o.status == "crash" for o in outcomes)
    modified = sum(o.input_modified for o in outcomes)
    formulas = sum(o.formula_cells for o in outcomes)
    forbidden = sum(o.forbidden_contacts for o in outcomes)
    slowest = max((o.seconds for o in outcomes), default=0.0)
    peak = max((o.peak_mb for o in outcomes), default=0.0)
    return (
        f"{len(outcomes)} inputs: {handled} handled, {errors} clear errors, {crashes} crashes, "
        f"{modified} inputs modified, {formulas} formula cells written, {forbidden} "
        f"non-consenting contacts exported; slowest {slowest:.1f} s, peak {peak:.0f} MB"
    )


def run(
    mutations: int = 560,
    seed: int = 7,
    jobs: int = 2,
    include_corpus: bool = True,
    verbose: bool = False,
    keep: Path | None = None,
    small_parts: bool = False,
) -> tuple[str, list[Outcome]]:
    with tempfile.TemporaryDirectory(prefix="xls-robustness-") as tmp:
        folder = Path(tmp)
        items: list[tuple[Path, dict[str, Any] | None, str]] = []
        if include_corpus:
            items.extend(corpus_inputs(folder))
        what: dict[str, str] = {}
        for path, description in mutated_inputs(mutations, seed, folder):
            items.append((path, None, path.name))
            what[path.name] = description
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = list(
                pool.map(lambda item: run_isolated(*item, small_parts=small_parts), items)
            )
        for outcome in outcomes:
            bad = (
                outcome.status == "crash"
                or outcome.input_modified
                or outcome.formula_cells
                or outcome.forbidden_contacts
            )
            if bad and keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                source = next(p for p, _, n in items if n == outcome.name)
                shutil.copy(source, keep / outcome.name)
            if bad or verbose:
                print(
                    f"--- {outcome.name} [{what.get(outcome.name, 'corpus')}]: {outcome.status} "
                    f"{outcome.seconds:.2f}s\n{outcome.message}",
                    file=sys.stderr,
                )
    if verbose:
        for outcome in sorted(outcomes, key=lambda o: -o.seconds)[:5]:
            print(f"slow: {outcome.name} {outcome.seconds:.1f} s", file=sys.stderr)
    return summary_line(outcomes), outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=560)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="copy bad inputs here")
    parser.add_argument(
        "--small-parts",
        action="store_true",
        help="read every workbook in parts of a few hundred bytes (the parallel reader)",
    )
    args = parser.parse_args(argv)
    line, outcomes = run(
        args.mutations,
        args.seed,
        args.jobs,
        not args.no_corpus,
        args.verbose,
        args.keep,
        small_parts=args.small_parts,
    )
    print(line)
    bad = sum(
        o.status == "crash" or o.input_modified or o.formula_cells or o.forbidden_contacts
        for o in outcomes
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
