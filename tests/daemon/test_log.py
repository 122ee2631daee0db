from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from tina.log import RECENT, configure_logging


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
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


# --- crash logs ---------------------------------------------------------------------------------

# Shaped like a real node credential: the prefix and 256 random bits, base64url (convex/model/auth.ts).
CREDENTIAL = "tina_node_Q2hhbmdlTWVOb3dfc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLWJ5dGVz"


def _crash_holding_secrets() -> None:
    credential = CREDENTIAL  # noqa: F841 - a local variable a traceback may show
    headers = {"Authorization": f"Bearer {JWT}"}  # noqa: F841
    token = "opaque-but-secret-0123456789"  # noqa: F841 - not credential-shaped, named like one
    raise RuntimeError(f"enroll failed for {CREDENTIAL} (token {JWT})")


def _crash_logged(mode: str) -> None:
    configure_logging(mode)  # type: ignore[arg-type]
    try:
        _crash_holding_secrets()
    except RuntimeError as exc:
        structlog.get_logger("tina.test").error("actor.crashed", exc_info=exc)
        try:
            _crash_holding_secrets()
        except RuntimeError:
            logging.getLogger("trio-websocket").exception("socket failed")


@pytest.mark.parametrize("mode", ["json", "console"])
def test_crash_logs_never_show_a_credential(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A traceback is rendered after the masking of event values: the rendered text (frames'
    locals, the exception's message) is masked too, and locals are never rendered."""
    _crash_logged(mode)
    err = capsys.readouterr().err
    assert "_crash_holding_secrets" in err  # the traceback is there
    assert "RuntimeError" in err
    for secret in (CREDENTIAL, JWT, "opaque-but-secret-0123456789"):
        assert secret not in err
    assert "tina_node_Q2" not in err
    if mode == "json":
        lines = [json.loads(line) for line in err.splitlines()]
        assert [line["event"] for line in lines] == ["actor.crashed", "socket failed"]
        frames = lines[0]["exception"][0]["frames"]
        assert frames and all("locals" not in frame for frame in frames)
        assert "***" in lines[0]["exception"][0]["exc_value"]
    recent = json.dumps(list(RECENT.lines), default=str)
    assert CREDENTIAL not in recent
    assert JWT not in recent
