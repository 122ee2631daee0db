"""The hook tests' short home: AF_UNIX socket paths are limited to about 100 bytes, and pytest's
tmp_path can be longer."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def home() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~100 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tina-") as d:
        yield Path(d)
