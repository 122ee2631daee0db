from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .tmux_rig import Tmux, tmux_server


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    yield from tmux_server(tmp_path)
