"""The wire converter: camelCase keys, system fields, omitted Nones, readable errors."""

from __future__ import annotations

import enum
from typing import Literal

import attrs
import pytest
from convex.values import ConvexInt64, convex_to_json, json_to_convex

from tina.convex.wire import WIRE_NAME, WireError, make_converter


class Kind(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"


@attrs.frozen(kw_only=True)
class Payload:
    feature_name: str
    phase_number: float | None = None


@attrs.frozen(kw_only=True)
class Action:
    id: str
    creation_time: float
    node_id: str
    action_type: Kind
    payload: Payload
    status: Literal["pending", "claimed"]
    claimed_at: float | None = None
    attempts: ConvexInt64 = attrs.field(factory=lambda: ConvexInt64(0))
    from_: str = "dashboard"
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class GetArgs:
    doc_id: str = attrs.field(metadata={WIRE_NAME: "id"})
    node_token: str


DOC = {
    "_id": "k57abc",
    "_creationTime": 1718000000000.5,
    "nodeId": "n1",
    "actionType": "pause",
    "payload": {"featureName": "auth", "phaseNumber": 2.0, "unknownLater": True},
    "status": "pending",
    "attempts": {"$integer": "AwAAAAAAAAA="},
    "from": "phone",
    "tags": ["a", "b"],
    "someNewField": 1.0,
}


def test_structures_a_document_from_the_wire() -> None:
    conv = make_converter()
    action = conv.structure(json_to_convex(DOC), Action)
    assert action == Action(
        id="k57abc",
        creation_time=1718000000000.5,
        node_id="n1",
        action_type=Kind.PAUSE,
        payload=Payload(feature_name="auth", phase_number=2.0),
        status="pending",
        attempts=ConvexInt64(3),
        from_="phone",
        tags=("a", "b"),
    )


def test_unstructures_to_camel_case_and_omits_none_optionals() -> None:
    conv = make_converter()
    action = Action(
        id="k1",
        creation_time=1.0,
        node_id="n1",
        action_type=Kind.RESUME,
        payload=Payload(feature_name="auth"),
        status="claimed",
    )
    wire = conv.unstructure(action)
    assert wire == {
        "_id": "k1",
        "_creationTime": 1.0,
        "nodeId": "n1",
        "actionType": "resume",
        "payload": {"featureName": "auth"},
        "status": "claimed",
        "attempts": ConvexInt64(0),
        "from": "dashboard",
        "tags": [],
    }
    # What the client sends is valid Convex JSON.
    assert convex_to_json(wire)["attempts"] == {"$integer": "AAAAAAAAAAA="}
    assert conv.structure(wire, Action) == action


def test_explicit_wire_names() -> None:
    conv = make_converter()
    args = GetArgs(doc_id="k1", node_token="t")
    assert conv.unstructure(args) == {"id": "k1", "nodeToken": "t"}
    assert conv.structure({"id": "k1", "nodeToken": "t"}, GetArgs) == args


def test_bad_data_becomes_one_readable_error() -> None:
    conv = make_converter()
    bad = dict(json_to_convex(DOC))  # type: ignore[arg-type]
    del bad["nodeId"]
    bad["actionType"] = "explode"
    bad["payload"] = {"phaseNumber": "two"}
    with pytest.raises(WireError) as caught:
        conv.structure(bad, Action)
    error = caught.value
    assert isinstance(error, ValueError)
    assert str(error).startswith("invalid Action: ")
    text = "\n".join(error.errors)
    assert "node_id" in text
    assert "action_type" in text
    assert "payload.feature_name" in text
    assert "payload.phase_number" in text
    assert len(error.errors) == 4


def test_bad_lists_and_scalars_are_wire_errors_too() -> None:
    conv = make_converter()
    with pytest.raises(WireError, match=r"\$\[1\]"):
        conv.structure([{"featureName": "a"}, {"phaseNumber": 1.0}], list[Payload])
    with pytest.raises(WireError, match="invalid int"):
        conv.structure("nope", int)
    with pytest.raises(WireError, match=r"expected ConvexInt64 @ \$\.attempts"):
        conv.structure({**DOC, "attempts": 1.5}, Action)
