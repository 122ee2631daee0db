from __future__ import annotations

import json
import logging

import pytest
import structlog

from tina.log import RECENT, configure_logging


@pytest.fixture(autouse=True)
def _reset() -> None:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def test_json_lines_with_secrets_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    log = structlog.get_logger("tina.test")
    log.info(
        "node.enrolled",
        credential="tina_node_abcdefABCDEF0123",
        node="a",
        note="got tina_node_zzzzzzzzzzzzzzzz back",
        args={"nodeToken": "x", "n": 1},
    )
    logging.getLogger("trio-websocket").warning("socket said %s", "tina_node_qqqqqqqqqqqqq")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "node.enrolled"
    assert lines[0]["credential"] == "***"
    assert lines[0]["note"] == "got *** back"
    assert lines[0]["args"] == {"nodeToken": "***", "n": 1}
    assert lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")
    assert lines[1]["event"] == "socket said ***"
    assert "tina_node_" not in json.dumps(list(RECENT.lines))


def test_library_debug_chatter_is_filtered(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    logging.getLogger("watchfiles.main").info("3 changes detected")
    assert capsys.readouterr().err == ""
