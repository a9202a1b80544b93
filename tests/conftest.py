"""Shared test setup: LibreOffice tests skip locally without soffice, but never in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("libreoffice") and shutil.which("soffice") is None:
        if os.environ.get("XL_SEGMENTS_REQUIRE_LIBREOFFICE"):
            pytest.fail("LibreOffice (soffice) is required here but not installed.")
        pytest.skip("LibreOffice (soffice) is not installed; CI runs this test.")


# In CI, Hypothesis explores the same examples every run: a red build is a real regression,
# never a new random draw. Locally it keeps searching with fresh examples.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    settings.load_profile("ci")
