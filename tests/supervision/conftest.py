from collections.abc import Iterator
from typing import Any

import pytest
import structlog


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, Any]]]:
    """Log events of the test, captured instead of printed."""
    with structlog.testing.capture_logs() as captured:
        yield captured
