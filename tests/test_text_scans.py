"""The byte scans that stand in for Arrow's substring kernels find exactly what those find."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from xl_segments.values import _SPACE_RE2, _contains_space, rows_with_byte

TEXTS = st.lists(
    st.one_of(
        st.none(),
        st.text(alphabet=st.sampled_from(list("ab#. \t\n\u00a0\u2003\u3000é€😀x@")), max_size=8),
    ),
    max_size=40,
)


def _hash(data: np.ndarray) -> np.ndarray:
    return data == ord("#")


def _columns(values: list[str | None]) -> list[pd.Series]:
    """The same values as a plain, a sliced and a chunked (concatenated) string column."""
    plain = pd.Series(values, dtype="str")
    padded = pd.Series(["#pad", *values], dtype="str").iloc[1:].reset_index(drop=True)
    half = len(values) // 2
    chunked = pd.concat(
        [pd.Series(values[:half], dtype="str"), pd.Series(values[half:], dtype="str")],
        ignore_index=True,
    )
    return [plain, padded, chunked]


@given(TEXTS)
def test_rows_with_a_hash_are_those_str_contains_finds(values: list[str | None]) -> None:
    for column in _columns(values):
        expected = column.str.contains("#", regex=False).fillna(False).to_numpy(dtype=bool)
        assert rows_with_byte(column, _hash).tolist() == expected.tolist()


@given(TEXTS)
def test_rows_with_white_space_are_those_the_exact_search_finds(values: list[str | None]) -> None:
    for column in _columns(values):
        exact = pc.match_substring_regex(pa.array(column.array), _SPACE_RE2)
        expected = np.asarray(exact.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        assert _contains_space(column).tolist() == expected.tolist()


def test_a_column_of_python_objects_reports_every_value_for_an_exact_check() -> None:
    column = pd.Series(["a", None, 3.5, "#N/A"], dtype=object)
    assert rows_with_byte(column, _hash).tolist() == [True, False, True, True]
