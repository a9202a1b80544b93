"""A small run of the robustness report (benchmarks/robustness.py) so the script cannot rot."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import robustness  # noqa: E402

LINE = re.compile(
    r"^(\d+) inputs: (\d+) handled, (\d+) clear errors, (\d+) crashes, (\d+) inputs modified, "
    r"(\d+) formula cells written, (\d+) non-consenting contacts exported; "
    r"slowest \d+\.\d s, peak \d+ MB$"
)


def test_a_small_seeded_fuzz_runs_and_reports_one_line() -> None:
    line, outcomes = robustness.run(mutations=20, seed=3, jobs=2, include_corpus=False)
    match = LINE.match(line)
    assert match, line
    total, handled, errors, crashes, modified, formulas, leaked = map(int, match.groups())
    assert total == 20 == handled + errors + crashes
    assert handled > 0 and errors > 0
    assert (crashes, modified, formulas, leaked) == (0, 0, 0, 0), [
        (o.name, o.message[-300:]) for o in outcomes if o.status == "crash"
    ]


def test_mutations_are_deterministic(tmp_path: Path) -> None:
    first = [(p.read_bytes(), w) for p, w in robustness.mutated_inputs(15, 11, tmp_path)]
    second = [(p.read_bytes(), w) for p, w in robustness.mutated_inputs(15, 11, tmp_path)]
    assert first == second


def test_a_crash_is_counted_as_a_crash(tmp_path: Path) -> None:
    # A serial past the year 2262 in the date column: a known engine bug (see test_corpus).
    path = ROOT / "tests" / "data" / "corpus" / "dates_serial_beyond_year_2262.xlsx"
    outcome = robustness.run_isolated(path)
    assert outcome.status in ("crash", "error")
    assert not outcome.input_modified


def test_the_parallel_reader_gives_every_input_the_same_outcome() -> None:
    """The corpus and a seeded fuzz, read whole and read in parts of a few hundred bytes."""

    def outcomes(small_parts: bool) -> dict[str, tuple[str, str]]:
        _, found = robustness.run(mutations=40, seed=5, jobs=2, small_parts=small_parts)
        # Messages naming a file by its full path name a per-run temporary folder.
        return {o.name: (o.status, re.sub(r"\S*xls-robustness-\w+/", "", o.message)) for o in found}

    whole, in_parts = outcomes(False), outcomes(True)
    assert len(whole) > 60
    assert in_parts == whole
