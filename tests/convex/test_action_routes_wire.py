"""`payload.via`, `payload.planHash` in; `via`, `messageKey` out (`tina.convex.actions`)."""

from __future__ import annotations

from typing import Any

import pytest

from tina.convex.actions import action_from_wire, result_to_wire
from tina.messages import ActionRejected, ActionResult

HASH = "0123456789abcdef" * 4


def doc(type_: str, **payload: Any) -> dict[str, Any]:
    return {"_id": "act1", "type": type_, "payload": payload, "expiresAt": 1.9e12}


def message(**payload: Any) -> dict[str, Any]:
    return doc("send_message", teamDir="t", agentName="worker", text="hi", **payload)


@pytest.mark.parametrize("via", ["pane", "inbox", "lead_session"])
def test_each_route_is_read(via: str) -> None:
    assert action_from_wire(message(via=via)).via == via


def test_no_route_is_none() -> None:
    assert action_from_wire(message()).via is None


@pytest.mark.parametrize("via", ["tmux", "", "PANE", "inbox ", 1, True, ["pane"], {"x": 1}])
def test_a_bad_route_is_refused(via: Any) -> None:
    with pytest.raises(ActionRejected) as info:
        action_from_wire(message(via=via))
    assert info.value.code == "payload_invalid"
    assert "payload.via" in info.value.message
    assert "pane, inbox, lead_session" in info.value.message


@pytest.mark.parametrize("kind", ["approve_plan", "reject_plan"])
def test_a_plan_hash_is_read_for_both_plan_actions(kind: str) -> None:
    extra = {"feedback": "no"} if kind == "reject_plan" else {}
    action = action_from_wire(doc(kind, feature="f", phase="1", planHash=HASH, **extra))
    assert action.plan_hash == HASH
    assert action_from_wire(doc(kind, feature="f", phase="1", **extra)).plan_hash is None


@pytest.mark.parametrize(
    "bad",
    [HASH.upper(), HASH[:-1], HASH + "0", HASH[:-1] + "g", HASH + "\n", "", 7, [HASH]],
)
def test_a_bad_plan_hash_is_refused(bad: Any) -> None:
    with pytest.raises(ActionRejected) as info:
        action_from_wire(doc("approve_plan", feature="f", phase="1", planHash=bad))
    assert info.value.code == "payload_invalid"
    assert "payload.planHash" in info.value.message
    assert "64 lower-case hex" in info.value.message


def test_a_plan_hash_on_another_action_is_ignored() -> None:
    assert action_from_wire(doc("pause", feature="f", phase="1", planHash="x")).plan_hash is None


def test_results_carry_the_route_and_the_message_key_in_camel_case() -> None:
    wire = result_to_wire(
        ActionResult(ok=True, code="ok", message="written", via="inbox", message_key="k" * 32)
    )
    assert wire["via"] == "inbox"
    assert wire["messageKey"] == "k" * 32
    bare = result_to_wire(ActionResult(ok=True, code="ok", message="typed", via="lead_session"))
    assert bare["via"] == "lead_session"
    assert "messageKey" not in bare
    plain = result_to_wire(ActionResult(ok=False, code="x", message="m"))
    assert "via" not in plain and "messageKey" not in plain
