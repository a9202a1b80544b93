"""The allocator tuning a file refresh applies to its process."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow
import pytest

from xl_segments.memory import reuse_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning only")
def test_arrow_allocates_from_the_heap_numpy_uses_once_tuned() -> None:
    assert reuse_freed_memory() is True
    assert pyarrow.default_memory_pool().backend_name == "system"
    # A second call changes nothing and still reports the tuning.
    assert reuse_freed_memory() is True


def test_big_arrays_still_allocate_free_and_compute_after_tuning() -> None:
    reuse_freed_memory()
    for _ in range(3):
        values = np.arange(5_000_000, dtype=np.float64)
        strings = pyarrow.array([f"c{i}" for i in range(200_000)])
        assert values.sum() == 5_000_000 * 4_999_999 / 2
        assert pyarrow.compute.utf8_upper(strings)[199_999].as_py() == "C199999"
        del values, strings
