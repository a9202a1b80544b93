"""Time the Excel formulas on a 100,000-row orders range, through xlwings' own UDF code.

    python benchmarks/udf_cache.py [rows]

Measures, with the sample store's orders as COM would hand them over (tuples of row tuples,
pywintypes dates, floats):

1. one TOP_SPENDERS call through ``call_like_excel`` (xlwings' CallUDF -> call_udf ->
   conversion.read -> our formula -> conversion.write), cold cache;
2. eight different formulas over the same range, cold cache, against one of them;
3. the same split into xlwings' share (conversion.read of the range, paid by every call
   before our code runs) and ours (the formula bodies given the converted DataFrame).

Excel itself adds the COM transfer of the range to every call; that cannot be measured here.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from xl_segments import excel
from xl_segments import xlwings_compat as compat
from xl_segments.sample import sample_orders

compat.use_windows_engine()
import pywintypes  # noqa: E402
import xlwings.conversion as conversion  # noqa: E402

import udfs  # noqa: E402  (after use_windows_engine: xw.func must be the real decorator)

FORMULAS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("TOP_SPENDERS", ()),
    ("PARETO", ()),
    ("CUSTOMER_LTV", ("C000001",)),
    ("CHANNEL_PERFORMANCE", ()),
    ("REPEAT_CUSTOMERS", ()),
    ("AVG_DAYS_BETWEEN_PURCHASES", ()),
    ("CHURN_RISK", ()),
    ("MONTHLY_CHURN", ()),
)
ORDERS_OPTIONS = {"convert": pd.DataFrame, "index": False, "header": True, "err_to_str": True}


def com_range(rows: int) -> tuple[tuple[Any, ...], ...]:
    frame = sample_orders(customers=max(rows // 4, 1))
    while len(frame) < rows:
        frame = pd.concat([frame, frame], ignore_index=True)
    frame = frame.head(rows)

    def com(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return pywintypes.TimeType(
                value.year, value.month, value.day, value.hour, value.minute, tzinfo=dt.UTC
            )
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return None if pd.isna(value) else value

    body = tuple(tuple(com(v) for v in row) for row in frame.itertuples(index=False))
    return (tuple(frame.columns), *body)


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main(rows: int = 100_000) -> None:
    warnings.simplefilter("ignore", UserWarning)
    value = com_range(rows)
    customer = next(str(r[1]) for r in value[1:] if r[1])
    formulas = [(n, (customer,) if n == "CUSTOMER_LTV" else a) for n, a in FORMULAS]
    print(f"orders range: {len(value) - 1:,} rows x {len(value[0])} columns")

    def call(name: str, args: tuple[Any, ...]) -> Any:
        result = compat.call_like_excel(getattr(udfs, name), value, *args)
        if isinstance(result, str) and result.startswith("#xl-segments"):
            raise SystemExit(f"{name}: {result}")
        return result

    excel.CACHE.clear()
    one, result = timed(lambda: call("TOP_SPENDERS", ()))
    print(f"TOP_SPENDERS through call_like_excel, cold cache: {one:.2f} s ({len(result) - 1} rows)")

    excel.CACHE.clear()
    per_formula = [timed(lambda n=n, a=a: call(n, a))[0] for n, a in formulas]
    total = sum(per_formula)
    print(f"eight formulas through call_like_excel, cold cache: {total:.2f} s = {total / one:.2f}x")
    for (name, _args), seconds in zip(formulas, per_formula, strict=True):
        print(f"    {name:<28} {seconds:.2f} s")
    print(f"    cache: {excel.CACHE.cache_info()}")

    read, frame = timed(lambda: conversion.read(None, value, ORDERS_OPTIONS))
    print(f"xlwings conversion.read of the range (paid by every call): {read:.2f} s")
    excel.CACHE.clear()
    ours_one, _ = timed(lambda: udfs.TOP_SPENDERS(frame.copy()))
    excel.CACHE.clear()
    copies = [frame.copy() for _ in formulas]  # each Excel call hands over a new frame
    ours_eight, _ = timed(
        lambda: [getattr(udfs, n)(f, *a) for (n, a), f in zip(formulas, copies, strict=True)]
    )
    print(
        f"our share: one TOP_SPENDERS {ours_one:.2f} s, eight formulas {ours_eight:.2f} s "
        f"= {ours_eight / ours_one:.2f}x one"
    )
    hashed, _ = timed(lambda: excel.content_key(frame))
    print(f"    content hash of the range (each cache hit): {hashed:.3f} s")
    raw, _ = timed(lambda: hash(value))
    print(f"for comparison, hashing the raw COM value (an orders arg taken as 'raw'): {raw:.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
