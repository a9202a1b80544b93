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
