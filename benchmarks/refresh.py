"""Refresh of big order workbooks: ours against the naive pipeline and the floor, in one run.

    python benchmarks/refresh.py [--sizes 100000,1000000] [--repeats 3] [--naive-repeats N]
                                 [--skip-naive-above N] [--quick] [--udf]

For each size, a workbook is generated from the sample store (xl_segments.sample) into the
template's Orders table and cached under benchmarks/.cache/. Then, interleaved (size by size,
repeat by repeat, so that a busy machine slows every pipeline alike), each measured run is a
fresh Python process, timed inside and asked for its peak memory (ru_maxrss):

- ours: ``refresh_file`` (read, normalize, customers, lists, write), the CLI's refresh;
- naive: what a user would write: ``pandas.read_excel`` (openpyxl), per-customer figures with
  ``groupby().apply()``, ``openpyxl.load_workbook`` of the whole workbook, the list sheets
  added, saved;
- floor: the Orders sheet's XML read once (unzip and count ``<row``) plus our writer writing
  only the list sheets of the same report (computed beforehand, untimed).

Prints one table: medians, per-stage breakdown of ours, naive/ours and ours/floor ratios, peak
memory, and the largest size against the smallest (scaling).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
PIPELINES = ("ours", "naive", "floor")
STAGES = ("read", "normalize", "customers", "lists", "write")
ORDERS_PER_CUSTOMER = 4  # the sample store gives about 4.08 order rows per customer


# --- workbooks ---------------------------------------------------------------------------------


def _generator_key() -> str:
    """Changes when the sample generator, the template or the workbook writer change."""
    digest = hashlib.sha256()
    for part in (
        ROOT / "xl_segments" / "sample.py",
        ROOT / "xl_segments" / "workbook" / "template.py",
        ROOT / "workbook_templates" / "segments_template.xlsx",
    ):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()[:10]


def workbook_for(size: int, cache: Path = CACHE) -> Path:
    """A workbook of about `size` orders from the sample store, generated once and cached."""
    from xl_segments.sample import sample_orders
    from xl_segments.workbook.template import write_orders_workbook

    customers = max(size // ORDERS_PER_CUSTOMER, 1)
    path = cache / f"orders-{customers}c-{_generator_key()}.xlsx"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        print(f"generating {path.name} ({customers:,} customers)...", file=sys.stderr, flush=True)
        orders = sample_orders(customers=customers)
        partial = path.with_suffix(".partial.xlsx")
        write_orders_workbook(orders, partial)
        partial.replace(path)
        print(
            f"    {len(orders):,} orders in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return path


_INLINE_TEXT_CELL = re.compile(
    rb'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>'
    rb"(.*?)</t></is></c>",
    re.DOTALL,
)
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def excel_saved(path: Path) -> Path:
    """The workbook as Excel saves it: the Orders sheet's text moved into a shared-strings
    table (xl/sharedStrings.xml, each distinct text once), cells pointing at it (t="s").

    Our writer (and so the generated workbooks) writes text inline; a workbook pasted into and
    saved by Excel holds shared strings, which calamine reads differently. Cached beside it.
    """
    out = path.with_name(path.stem + "-excel-saved.xlsx")
    if out.exists():
        return out
    started = time.perf_counter()
    print(f"making {out.name} (shared strings, as Excel saves it)...", file=sys.stderr, flush=True)
    part = orders_part(path)
    strings: dict[bytes, int] = {}

    def shared(match: re.Match[bytes]) -> bytes:
        index = strings.setdefault(match.group(3), len(strings))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (match.group(1), match.group(2), index)

    partial = out.with_suffix(".partial.xlsx")
    with zipfile.ZipFile(path) as source:
        if any(n.lower() == "xl/sharedstrings.xml" for n in source.namelist()):
            raise SystemExit(f"{path.name} already has shared strings")
        sheet = _INLINE_TEXT_CELL.sub(shared, source.read(part))
        table = b"".join(
            [
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="'
                b'http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" '
                b'uniqueCount="%d">' % (len(strings), len(strings)),
                *(b'<si><t xml:space="preserve">' + text + b"</t></si>" for text in strings),
                b"</sst>",
            ]
        )
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as target:
            for info in source.infolist():
                body = source.read(info)
                if info.filename == part:
                    body = sheet
                elif info.filename == "[Content_Types].xml":
                    body = body.replace(
                        b"</Types>",
                        b'<Override PartName="/xl/sharedStrings.xml" ContentType="%s"/></Types>'
                        % _SST_TYPE.encode(),
                    )
                elif info.filename == "xl/_rels/workbook.xml.rels":
                    body = body.replace(
                        b"</Relationships>",
                        b'<Relationship Id="rIdSharedStrings" Type="%s" '
                        b'Target="sharedStrings.xml"/></Relationships>' % _SST_REL.encode(),
                    )
                target.writestr(info.filename, body)
            target.writestr("xl/sharedStrings.xml", table)
    partial.replace(out)
    print(
        f"    {len(strings):,} shared strings in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return out


def orders_part(path: Path) -> str:
    """The part name of the sheet holding the Orders table (or named Orders)."""
    import posixpath
    import re

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for name in names:
            if not re.fullmatch(r"xl/worksheets/_rels/[^/]+\.rels", name):
                continue
            rels = archive.read(name).decode("utf-8")
            for target in re.findall(r'Target="([^"]+)"', rels):
                table = (
                    target.lstrip("/")
                    if target.startswith("/")
                    else posixpath.normpath(posixpath.join("xl/worksheets", target))
                )
                if table in names and 'name="Orders"' in archive.read(table).decode("utf-8"):
                    return "xl/worksheets/" + posixpath.basename(name)[: -len(".rels")]
    raise SystemExit(f"{path.name}: no Orders table found")


def count_orders(path: Path) -> int:
    """Data rows of the Orders sheet (rows minus the header), by the floor's own scan."""
    return _scan_rows(path, orders_part(path)) - 1


def _scan_rows(path: Path, part: str) -> int:
    rows = 0
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
        while True:
            chunk = stream.read(16 * 1024 * 1024)
            if not chunk:
                return rows
            data = tail + chunk
            rows += data.count(b"<row")
            tail = data[-3:]  # an element cut in two is counted in the next chunk
            rows -= tail.count(b"<row")


# --- the three pipelines, each run in its own process ------------------------------------------


def run_ours(workbook: Path, out: Path) -> dict[str, Any]:
    import xl_segments.segments as segments_module
    from xl_segments.workbook.files import refresh_file

    spent: dict[str, float] = {"normalize": 0.0, "customers": 0.0}

    def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] += time.perf_counter() - started

        return wrapper

    segments_module.normalize_orders = timed("normalize", segments_module.normalize_orders)
    segments_module.build_customers = timed("customers", segments_module.build_customers)
    started = time.perf_counter()
    result = refresh_file(workbook, out)
    total = time.perf_counter() - started
    stages = {
        "read": result.stages["read"],
        "normalize": spent["normalize"],
        "customers": spent["customers"],
        # Settings, every list, the report's tables: all of the build but the two above.
        "lists": result.stages["build"] - spent["normalize"] - spent["customers"],
        "write": result.stages["write"],
    }
    return {"seconds": total, "stages": stages, "customers": len(result.segments.customers.frame)}


def run_floor(workbook: Path, out: Path) -> dict[str, Any]:
    from xl_segments.memory import reuse_freed_memory
    from xl_segments.refresh import book_settings
    from xl_segments.report import build_report
    from xl_segments.segments import build_segments
    from xl_segments.workbook.book import FileBook
    from xl_segments.workbook.writer import write_report

    # The allocator tuning ours gets from refresh_file, so that the writers compare alike.
    reuse_freed_memory()
    # The same report ours writes, built beforehand and not timed.
    book = FileBook(workbook, out)
    raw = book.read_orders()
    report = build_report(build_segments(raw.frame, book_settings(book), locator=raw.locator))
    del raw
    part = orders_part(workbook)
    with zipfile.ZipFile(workbook) as archive:
        shared = [n for n in archive.namelist() if n.lower() == "xl/sharedstrings.xml"]
    started = time.perf_counter()
    rows = _scan_rows(workbook, part)
    for name in shared:  # the sheet's text, when it is kept apart (as Excel saves it)
        _scan_rows(workbook, name)
    scanned = time.perf_counter()
    write_report(report, out, base=workbook)
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "stages": {"read": scanned - started, "write": done - scanned},
        "rows": rows,
    }


def run_naive(workbook: Path, out: Path) -> dict[str, Any]:
    import openpyxl

    started = time.perf_counter()
    orders = pd.read_excel(workbook, sheet_name="Orders")
    read = time.perf_counter()
    customers = naive_customers(orders)
    lists = naive_lists(customers, orders)
    built = time.perf_counter()
    book = openpyxl.load_workbook(workbook)
    for name, frame in lists.items():
        position = len(book.sheetnames)
        if name in book.sheetnames:
            position = book.sheetnames.index(name)
            book.remove(book[name])
        sheet = book.create_sheet(name, position)
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
    book.save(out)
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "stages": {"read": read - started, "lists": built - read, "write": done - built},
        "customers": len(customers),
    }


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- the naive per-customer figures: one Python call per customer ------------------------------

# The template's defaults (xl_segments.settings.Settings), spelled out as a user would.
TOP_SHARE = 0.2
MIN_CHANNEL_CUSTOMERS = 10
TOP_CHANNELS = 3
CHURN_MULTIPLIER = 1.0
LAPSED_MULTIPLIER = 3.0
MIN_PURCHASES_FOR_OWN_GAP = 3


def _one_customer(group: pd.DataFrame) -> pd.Series:
    amount = group["Amount"]
    dates = group["Order Date"]
    bought = amount > 0
    buys = dates[bought]
    base = buys if len(buys) else dates
    days = np.sort(buys.dt.normalize().unique())
    day = np.timedelta64(1, "D")
    repeat = len(days) >= 2
    latest = group.loc[dates.idxmax()]
    return pd.Series(
        {
            "email": latest["Email"],
            "name": latest["Name"],
            "first_order": base.min(),
            "last_order": base.max(),
            "orders": int(bought.sum()),
            "purchase_days": len(days),
            "lifetime_value": round(amount.sum(), 10),
            "acquisition_channel": group.loc[base.idxmin(), "Channel"],
            "avg_days_between_purchases": (days[-1] - days[0]) / day / (len(days) - 1)
            if repeat
            else np.nan,
            "days_to_second_purchase": (days[1] - days[0]) / day if repeat else np.nan,
            "consent": str(latest["Accepts Marketing"]).strip().lower() == "yes",
        }
    )


def naive_customers(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per customer from `groupby().apply()`, as a spreadsheet user would write it."""
    orders = orders.dropna(how="all")
    key = orders["Customer ID"].fillna(orders["Email"].str.strip().str.lower())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = orders.groupby(key).apply(_one_customer, include_groups=False)
    table.index.name = "customer_key"
    table = table.reset_index()
    as_of = orders["Order Date"].max().normalize()
    table["days_since_last_order"] = (as_of - table["last_order"].dt.normalize()).dt.days
    repeaters = table.loc[table["purchase_days"] >= 2, "avg_days_between_purchases"]
    store_gap = float(repeaters.median())
    expected = table["avg_days_between_purchases"].where(
        table["purchase_days"] >= MIN_PURCHASES_FOR_OWN_GAP, store_gap
    )
    table["expected_gap"] = expected
    table["status"] = np.select(
        [
            table["days_since_last_order"] > expected * LAPSED_MULTIPLIER,
            table["days_since_last_order"] > expected * CHURN_MULTIPLIER,
        ],
        ["Lapsed", "At risk"],
        default="Active",
    )
    table.attrs["store_gap"] = store_gap
    table.attrs["as_of"] = as_of
    return table


def naive_lists(customers: pd.DataFrame, orders: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The list sheets from the naive customer table, with plain pandas."""
    buyers = customers[customers["orders"] > 0]
    contactable = customers["consent"]
    ranked = customers.sort_values(
        ["lifetime_value", "first_order", "customer_key"], ascending=[False, True, True]
    )
    top = ranked.head(math.ceil(len(ranked) * TOP_SHARE - 1e-9))
    channels = (
        buyers.assign(repeat=buyers["purchase_days"] >= 2)
        .groupby("acquisition_channel")
        .agg(
            customers=("customer_key", "size"),
            orders=("orders", "sum"),
            revenue=("lifetime_value", "sum"),
            repeat_rate=("repeat", "mean"),
            median_days_to_second_purchase=("days_to_second_purchase", "median"),
        )
        .reset_index()
    )
    channels["revenue_per_customer"] = channels["revenue"] / channels["customers"]
    eligible = channels[channels["customers"] >= MIN_CHANNEL_CUSTOMERS]
    best = eligible.nlargest(TOP_CHANNELS, "revenue_per_customer")["acquisition_channel"]
    repeat = customers[
        (customers["purchase_days"] >= 2) & customers["acquisition_channel"].isin(best)
    ].sort_values(["acquisition_channel", "lifetime_value"], ascending=[True, False])
    risk = buyers[buyers["status"] != "Active"].sort_values("lifetime_value", ascending=False)
    summary = pd.DataFrame(
        {
            "figure": ["Customers", "Revenue", "Store average gap (days)", "As of"],
            "value": [
                len(customers),
                float(customers["lifetime_value"].sum()),
                customers.attrs["store_gap"],
                str(customers.attrs["as_of"].date()),
            ],
        }
    )
    return {
        "Summary": summary,
        "Top Spenders": top[contactable.loc[top.index]],
        "Channel Performance": channels,
        "Repeat by Channel": repeat[contactable.loc[repeat.index]],
        "Churn Risk": risk[contactable.loc[risk.index]],
        "Monthly Churn": naive_monthly(orders, customers.attrs["store_gap"] * LAPSED_MULTIPLIER),
    }


def naive_monthly(orders: pd.DataFrame, window: float) -> pd.DataFrame:
    """Active, new and churned customers month by month: a loop over months."""
    buys = orders[orders["Amount"] > 0]
    key = buys["Customer ID"].fillna(buys["Email"].str.strip().str.lower())
    days = pd.DataFrame({"key": key, "day": buys["Order Date"].dt.normalize()}).drop_duplicates()
    first = days.groupby("key")["day"].transform("min")
    as_of = days["day"].max()
    rows = []
    for start in pd.date_range(days["day"].min().to_period("M").to_timestamp(), as_of, freq="MS"):
        end = min(start + pd.offsets.MonthEnd(0), as_of)

        def active(t: pd.Timestamp) -> int:
            seen = days[days["day"] <= t]
            last = seen.groupby("key")["day"].max()
            return int(((t - last).dt.days <= math.floor(window)).sum())

        at_start, at_end = active(start - pd.Timedelta(days=1)), active(end)
        in_month = (days["day"] >= start) & (days["day"] <= end)
        new = int((in_month & (days["day"] == first)).sum())
        rows.append(
            {
                "month": start,
                "active_at_start": at_start,
                "new": new,
                "active_at_end": at_end,
                "churned": at_start + new - at_end,
                "churn_rate": (at_start + new - at_end) / at_start if at_start else np.nan,
            }
        )
    return pd.DataFrame(rows)


RUNNERS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "ours": run_ours,
    "naive": run_naive,
    "floor": run_floor,
}


def child(pipeline: str, workbook: Path) -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        result = RUNNERS[pipeline](workbook, Path(folder) / "out.xlsx")
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image, whereas
    ru_maxrss survives exec and would report the parent's peak (the workbook generator's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2


def measure(pipeline: str, workbook: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", pipeline, str(workbook)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} on {workbook.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the run and its table ---------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if not runs:
        return {}
    stages = {s: median([r["stages"][s] for r in runs if s in r["stages"]]) for s in STAGES}
    return {
        "seconds": median([r["seconds"] for r in runs]),
        "stages": {s: v for s, v in stages.items() if not math.isnan(v)},
        "peak_mb": max(r["peak_mb"] for r in runs),
        "runs": len(runs),
    }


def fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def table(results: dict[int, dict[str, dict[str, Any]]], rows: dict[int, int]) -> str:
    header = (
        "| orders | pipeline | median s | read | normalize | customers | lists | write "
        "| peak MB | runs | naive/ours | ours/floor |"
    )
    lines = [header, _rule(header)]
    for size, by_pipeline in results.items():
        ours = by_pipeline.get("ours", {})
        for pipeline in PIPELINES:
            result = by_pipeline.get(pipeline)
            if not result:
                lines.append(f"| {rows[size]:,} | {pipeline} | not run |" + " |" * 10)
                continue
            stages = result["stages"]
            ratio_naive = ratio_floor = ""
            if pipeline == "ours":
                naive, floor = by_pipeline.get("naive"), by_pipeline.get("floor")
                ratio_naive = fmt(naive["seconds"] / ours["seconds"], 1, "x") if naive else "-"
                ratio_floor = fmt(ours["seconds"] / floor["seconds"], 2, "x") if floor else "-"
            lines.append(
                f"| {rows[size]:,} | {pipeline} | {fmt(result['seconds'])} | "
                + " | ".join(fmt(stages.get(s, math.nan)) for s in STAGES)
                + f" | {fmt(result['peak_mb'], 0)} | {result['runs']} | {ratio_naive} | "
                f"{ratio_floor} |"
            )
    sizes = list(results)
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        cells = []
        for pipeline in PIPELINES:
            a, b = results[small].get(pipeline), results[big].get(pipeline)
            cells.append(
                f"{pipeline} {fmt(b['seconds'] / a['seconds'], 1, 'x')}" if a and b else "-"
            )
        lines.append(
            f"| scaling {rows[big]:,} / {rows[small]:,} orders ({rows[big] / rows[small]:.1f}x "
            f"the rows) | {' · '.join(cells)} |" + " |" * 10
        )
    return "\n".join(lines)


def _rule(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 1024**3:.0f} GB RAM"
    except (ValueError, OSError):
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return f"{os.cpu_count()} cores ({model}){memory}{load}; Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="order counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours and the floor")
    parser.add_argument(
        "--naive-repeats",
        type=int,
        default=None,
        help="runs of the naive pipeline (default: --repeats up to 100,000 orders, 1 above)",
    )
    parser.add_argument(
        "--skip-naive-above", type=int, default=None, help="no naive run above this many orders"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1,000 and 2,000 orders, once"
    )
    parser.add_argument(
        "--excel-saved",
        action="store_true",
        help="the workbooks as Excel saves them (text in a shared-strings table)",
    )
    parser.add_argument("--udf", action="store_true", help="also run benchmarks/udf_cache.py")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where workbooks are kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--child", nargs=2, metavar=("PIPELINE", "WORKBOOK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    if args.quick:
        args.sizes, args.repeats = "1000,2000", 1
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    books = {size: workbook_for(size, args.cache) for size in sizes}
    if args.excel_saved:
        books = {size: excel_saved(book) for size, book in books.items()}
    rows = {size: count_orders(book) for size, book in books.items()}

    def naive_runs(size: int) -> int:
        if args.skip_naive_above is not None and size > args.skip_naive_above:
            return 0
        if args.naive_repeats is not None:
            return args.naive_repeats
        return args.repeats if size <= 100_000 else 1

    runs: dict[int, dict[str, list[dict[str, Any]]]] = {
        s: {p: [] for p in PIPELINES} for s in sizes
    }
    print(f"machine: {machine()}", flush=True)
    for repeat in range(args.repeats):
        for size in sizes:
            for pipeline in PIPELINES:
                if pipeline == "naive" and repeat >= naive_runs(size):
                    continue
                result = measure(pipeline, books[size])
                runs[size][pipeline].append(result)
                print(
                    f"  run {repeat + 1}/{args.repeats}: {rows[size]:>9,} orders  {pipeline:<5} "
                    f"{result['seconds']:8.2f} s  peak {result['peak_mb']:6.0f} MB",
                    flush=True,
                )
    results = {s: {p: summarize(r) for p, r in by.items() if r} for s, by in runs.items()}
    print()
    print(f"machine: {machine()}")
    print(table(results, rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "runs": runs}, indent=1, default=str))
    if args.udf:
        print()
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "udf_cache.py")], check=True)


if __name__ == "__main__":
    main()
