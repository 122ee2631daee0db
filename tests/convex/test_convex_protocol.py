"""The sans-io sync protocol, without trio or sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from convex.values import ConvexInt64
from hypothesis import given
from hypothesis import strategies as st

from tina.convex import (
    ConvexConnectionLost,
    ConvexError,
    ConvexFunctionError,
    ConvexProtocolError,
)
from tina.convex._protocol import (
    AuthConfirmed,
    AuthRejected,
    QueryUpdated,
    RequestCompleted,
    ServerFatal,
    StateVersion,
    SyncProtocol,
    TransitionApplied,
    canonical_udf_path,
    decode_ts,
    encode_ts,
)

SESSION = "0b3c7a52-9a6b-4d5e-8f00-123456789abc"


def make(**kwargs: Any) -> SyncProtocol:
    return SyncProtocol(session_id=SESSION, clock_ms=lambda: 1_718_000_000_000, **kwargs)


def drain(proto: SyncProtocol) -> list[dict[str, Any]]:
    frames = []
    while (text := proto.next_outgoing()) is not None:
        frames.append(json.loads(text))
    return frames


def version(query_set: int = 0, identity: int = 0, ts: int = 0) -> dict[str, Any]:
    return {"querySet": query_set, "identity": identity, "ts": encode_ts(ts)}


def transition(
    start: tuple[int, int, int], end: tuple[int, int, int], *mods: dict[str, Any]
) -> str:
    return json.dumps(
        {
            "type": "Transition",
            "startVersion": version(*start),
            "endVersion": version(*end),
            "modifications": list(mods),
        }
    )


def updated(query_id: int, value: Any, journal: Any = None) -> dict[str, Any]:
    return {
        "type": "QueryUpdated",
        "queryId": query_id,
        "value": value,
        "logLines": [],
        "journal": journal,
    }


def mutation_ok(request_id: int, ts: int, result: Any = None) -> str:
    return json.dumps(
        {
            "type": "MutationResponse",
            "requestId": request_id,
            "success": True,
            "result": result,
            "ts": encode_ts(ts),
            "logLines": [],
        }
    )


def completed(events: list[Any]) -> dict[int, RequestCompleted]:
    return {e.request_id: e for e in events if isinstance(e, RequestCompleted)}


def connected(**kwargs: Any) -> SyncProtocol:
    proto = make(**kwargs)
    proto.start_connection()
    drain(proto)
    return proto


# --- encodings ------------------------------------------------------------------------------------


def test_timestamp_encoding_matches_the_reference_examples() -> None:
    assert encode_ts(0) == "AAAAAAAAAAA="
    assert decode_ts("AAAAAAAAAAA=") == 0
    assert decode_ts(encode_ts(1_790_000_000_000_000_000)) == 1_790_000_000_000_000_000
    assert encode_ts(7) == "BwAAAAAAAAA="


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_timestamp_roundtrip(ts: int) -> None:
    assert decode_ts(encode_ts(ts)) == ts


@pytest.mark.parametrize("bad", [None, 5, "not base64!", "AAAA"])
def test_malformed_timestamps_are_protocol_errors(bad: Any) -> None:
    with pytest.raises(ConvexProtocolError):
        decode_ts(bad)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("items:list", "items:list"),
        ("items.js:list", "items:list"),
        ("items", "items:default"),
        ("dir/file:fn", "dir/file:fn"),
        ("dir/file.js", "dir/file:default"),
    ],
)
def test_udf_paths_are_canonical(path: str, canonical: str) -> None:
    assert canonical_udf_path(path) == canonical


def test_an_empty_udf_path_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a Convex function path"):
        canonical_udf_path(":fn")


# --- handshake -------------------------------------------------------------------------------------


def test_connect_frame_on_the_first_socket() -> None:
    proto = make()
    proto.start_connection()
    assert drain(proto) == [
        {
            "type": "Connect",
            "sessionId": SESSION,
            "connectionCount": 0,
            "lastCloseReason": "InitialConnect",
            "clientTs": 1_718_000_000_000,
        }
    ]


def test_reconnect_keeps_the_session_and_counts_connections() -> None:
    proto = connected()
    proto.receive(transition((0, 0, 0), (0, 0, 99)))
    proto.connection_lost("idle timeout")
    proto.start_connection()
    (connect,) = drain(proto)
    assert connect["sessionId"] == SESSION
    assert connect["connectionCount"] == 1
    assert connect["lastCloseReason"] == "idle timeout"
    assert decode_ts(connect["maxObservedTimestamp"]) == 99


def test_new_socket_sends_auth_then_all_queries_then_pending_mutations_in_order() -> None:
    proto = make()
    proto.set_auth("jwt-secret")
    q0 = proto.subscribe("items:list", {"n": 1})
    q1 = proto.subscribe("items.js:count")
    m0 = proto.mutation("items:add", {"text": "a"})
    a0 = proto.action("items:summarize")
    m1 = proto.mutation("items:add", {"text": "b"})
    assert drain(proto) == []  # nothing is sent before a socket exists
    proto.start_connection()
    frames = drain(proto)
    assert [f["type"] for f in frames] == [
        "Connect",
        "Authenticate",
        "ModifyQuerySet",
        "Mutation",
        "Action",
        "Mutation",
    ]
    assert frames[1] == {
        "type": "Authenticate",
        "baseVersion": 0,
        "tokenType": "User",
        "value": "jwt-secret",
    }
    assert frames[2] == {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": 1,
        "modifications": [
            {
                "type": "Add",
                "queryId": q0,
                "udfPath": "items:list",
                "args": [{"n": 1.0}],
                "journal": None,
            },
            {"type": "Add", "queryId": q1, "udfPath": "items:count", "args": [{}], "journal": None},
        ],
    }
    assert [f["requestId"] for f in frames[3:]] == [m0, a0, m1]
    assert frames[3] == {
        "type": "Mutation",
        "requestId": m0,
        "udfPath": "items:add",
        "args": [{"text": "a"}],
    }


def test_repr_never_shows_the_token() -> None:
    proto = make()
    proto.set_auth("jwt-secret")
    assert "jwt-secret" not in repr(proto)


# --- query set -------------------------------------------------------------------------------------


def test_query_set_versions_chain_and_identical_queries_are_shared() -> None:
    proto = connected()
    q0 = proto.subscribe("items:list", {"n": 1})
    q0_again = proto.subscribe("items:list", {"n": 1.0})
    q1 = proto.subscribe("items:list", {"n": 2})
    assert q0 == q0_again != q1
    frames = drain(proto)
    assert [(f["baseVersion"], f["newVersion"]) for f in frames] == [(0, 1), (1, 2)]
    proto.unsubscribe(q0)
    assert drain(proto) == []  # still one subscriber left
    proto.unsubscribe(q0)
    assert drain(proto) == [
        {
            "type": "ModifyQuerySet",
            "baseVersion": 2,
            "newVersion": 3,
            "modifications": [{"type": "Remove", "queryId": q0}],
        }
    ]
    # A new identical query gets a new id: ids are never reused.
    assert proto.subscribe("items:list", {"n": 1}) not in (q0, q1)


def test_bad_args_fail_before_any_state_changes() -> None:
    proto = connected()
    with pytest.raises(ValueError, match="reserved"):
        proto.mutation("items:add", {"$bad": 1})
    with pytest.raises(TypeError):
        proto.subscribe("items:list", {"x": object()})
    with pytest.raises(TypeError, match="mapping"):
        proto.action("items:run", [1, 2])  # type: ignore[arg-type]
    assert drain(proto) == []
    assert proto.mutation("items:add", {}) == 0


def test_values_are_decoded_with_convex_types() -> None:
    proto = connected()
    q = proto.subscribe("items:list")
    drain(proto)
    value = {
        "n": 3,
        "f": 1.5,
        "big": {"$integer": "BwAAAAAAAAA="},
        "raw": {"$bytes": "aGk="},
        "list": [1, True, None, "s"],
    }
    events = proto.receive(transition((0, 0, 0), (1, 0, 5), updated(q, value)))
    (update,) = [e for e in events if isinstance(e, QueryUpdated)]
    assert update.result.value == {
        "n": 3.0,
        "f": 1.5,
        "big": ConvexInt64(7),
        "raw": b"hi",
        "list": [1.0, True, None, "s"],
    }
    assert isinstance(update.result.value["n"], float)
    assert update.result.ts == 5
    assert proto.result(q) == update.result


def test_query_failures_map_to_typed_errors() -> None:
    proto = connected()
    q0 = proto.subscribe("items:list")
    q1 = proto.subscribe("items:get")
    drain(proto)
    events = proto.receive(
        transition(
            (0, 0, 0),
            (2, 0, 5),
            {
                "type": "QueryFailed",
                "queryId": q0,
                "errorMessage": "Uncaught Error: boom",
                "logLines": [],
                "journal": None,
            },
            {
                "type": "QueryFailed",
                "queryId": q1,
                "errorMessage": "Uncaught ConvexError: nope",
                "logLines": [],
                "journal": None,
                "errorData": {"code": "NOT_FOUND", "n": {"$integer": "AQAAAAAAAAA="}},
            },
        )
    )
    results = {e.query_id: e.result for e in events if isinstance(e, QueryUpdated)}
    plain = results[q0].error
    assert type(plain) is ConvexFunctionError
    assert plain.udf_path == "items:list"
    assert "boom" in str(plain)
    app = results[q1].error
    assert isinstance(app, ConvexError)
    assert app.data == {"code": "NOT_FOUND", "n": ConvexInt64(1)}
    with pytest.raises(ConvexError):
        results[q1].unwrap()


def test_updates_for_removed_queries_are_ignored() -> None:
    proto = connected()
    q = proto.subscribe("items:list")
    proto.unsubscribe(q)
    drain(proto)
    events = proto.receive(
        transition((0, 0, 0), (2, 0, 5), updated(q, [1]), {"type": "QueryRemoved", "queryId": q})
    )
    assert [e for e in events if isinstance(e, QueryUpdated)] == []


def test_journals_are_kept_and_sent_again_after_a_reconnect() -> None:
    proto = connected()
    q = proto.subscribe("items:page")
    drain(proto)
    proto.receive(transition((0, 0, 0), (1, 0, 5), updated(q, [], journal="cursor-1")))
    proto.connection_lost("gone")
    proto.start_connection()
    frames = drain(proto)
    assert frames[1]["modifications"][0]["journal"] == "cursor-1"


# --- versions --------------------------------------------------------------------------------------


def test_transitions_must_start_at_the_current_version() -> None:
    proto = connected()
    proto.receive(transition((0, 0, 0), (0, 0, 10)))
    assert proto.version == StateVersion(0, 0, 10)
    proto.receive(transition((0, 0, 10), (0, 0, 10)))  # a no-op is legal
    with pytest.raises(ConvexProtocolError, match="starts at"):
        proto.receive(transition((0, 0, 0), (0, 0, 20)))


def test_transitions_may_not_go_back_in_time() -> None:
    proto = connected()
    proto.receive(transition((0, 0, 0), (0, 0, 10)))
    with pytest.raises(ConvexProtocolError, match="back in time"):
        proto.receive(transition((0, 0, 10), (0, 0, 5)))


def test_each_socket_starts_from_version_zero() -> None:
    proto = connected()
    proto.receive(transition((0, 0, 0), (0, 0, 10)))
    proto.connection_lost("x")
    proto.start_connection()
    assert proto.version == StateVersion(0, 0, 0)
    proto.receive(transition((0, 0, 0), (0, 0, 12)))


def test_chunked_transitions_are_reassembled() -> None:
    proto = connected()
    q = proto.subscribe("items:list")
    drain(proto)
    text = transition((0, 0, 0), (1, 0, 5), updated(q, ["x" * 50]))
    parts = [text[i : i + 40] for i in range(0, len(text), 40)]
    events: list[Any] = []
    for number, part in enumerate(parts):
        frame = {
            "type": "TransitionChunk",
            "chunk": part,
            "partNumber": number,
            "totalParts": len(parts),
            "transitionId": "t1",
        }
        events += proto.receive(json.dumps(frame))
        if number < len(parts) - 1:
            assert events == []
    assert QueryUpdated(q, proto.result(q)) in events  # type: ignore[arg-type]
    assert proto.version == StateVersion(1, 0, 5)


def test_out_of_order_chunks_are_a_protocol_error() -> None:
    proto = connected()
    frame = {
        "type": "TransitionChunk",
        "chunk": "{",
        "partNumber": 1,
        "totalParts": 2,
        "transitionId": "t",
    }
    with pytest.raises(ConvexProtocolError, match="out of order"):
        proto.receive(json.dumps(frame))


@pytest.mark.parametrize(
    "frame",
    [
        b"binary",
        "not json",
        "[1, 2]",
        '{"type": "Transition", "startVersion": {}}',
        '{"type": "MutationResponse"}',
    ],
)
def test_malformed_frames_are_protocol_errors(frame: str | bytes) -> None:
    with pytest.raises(ConvexProtocolError):
        connected().receive(frame)


def test_ping_and_unknown_frames_produce_no_events() -> None:
    proto = connected()
    assert proto.receive('{"type":"Ping"}') == []
    assert proto.receive('{"type":"SomethingNew","x":1}') == []


def test_fatal_error_is_reported() -> None:
    assert connected().receive('{"type":"FatalError","error":"bad client"}') == [
        ServerFatal("bad client")
    ]


# --- mutations -------------------------------------------------------------------------------------


def test_mutation_waits_for_a_transition_covering_its_timestamp() -> None:
    proto = connected()
    m = proto.mutation("items:add", {"text": "hi"})
    drain(proto)
    assert proto.receive(mutation_ok(m, ts=20, result="id1")) == []
    assert completed(proto.receive(transition((0, 0, 0), (0, 0, 19)))) == {}
    events = proto.receive(transition((0, 0, 19), (0, 0, 20)))
    assert completed(events) == {m: RequestCompleted(m, value="id1")}
    assert proto.pending_request_ids() == []


def test_mutation_completes_at_once_if_the_transition_came_first() -> None:
    proto = connected()
    m = proto.mutation("items:add")
    drain(proto)
    proto.receive(transition((0, 0, 0), (0, 0, 30)))
    assert proto.receive(mutation_ok(m, ts=25, result=1)) == [RequestCompleted(m, value=1.0)]


def test_query_updates_are_delivered_before_the_mutation_completes() -> None:
    proto = connected()
    q = proto.subscribe("items:list")
    m = proto.mutation("items:add")
    drain(proto)
    proto.receive(mutation_ok(m, ts=5))
    events = proto.receive(transition((0, 0, 0), (1, 0, 5), updated(q, ["a"])))
    kinds = [type(e) for e in events]
    assert kinds.index(QueryUpdated) < kinds.index(RequestCompleted)
    assert kinds[0] is TransitionApplied


def test_failed_mutations_complete_at_once_with_typed_errors() -> None:
    proto = connected()
    m0 = proto.mutation("items:add")
    m1 = proto.mutation("items:add")
    drain(proto)
    plain = proto.receive(
        json.dumps(
            {
                "type": "MutationResponse",
                "requestId": m0,
                "success": False,
                "result": "Uncaught Error: x",
                "logLines": [],
            }
        )
    )
    app = proto.receive(
        json.dumps(
            {
                "type": "MutationResponse",
                "requestId": m1,
                "success": False,
                "result": "Uncaught ConvexError: taken",
                "logLines": [],
                "errorData": "taken",
            }
        )
    )
    (e0,) = plain
    (e1,) = app
    assert isinstance(e0, RequestCompleted)
    assert type(e0.error) is ConvexFunctionError
    assert isinstance(e1, RequestCompleted)
    assert isinstance(e1.error, ConvexError)
    assert e1.error.data == "taken"
    assert e1.error.udf_path == "items:add"


def test_duplicate_and_unknown_responses_are_ignored() -> None:
    proto = connected()
    m = proto.mutation("items:add")
    drain(proto)
    proto.receive(transition((0, 0, 0), (0, 0, 10)))
    assert completed(proto.receive(mutation_ok(m, ts=5))) == {m: RequestCompleted(m)}
    assert proto.receive(mutation_ok(m, ts=5)) == []
    assert proto.receive(mutation_ok(999, ts=5)) == []
    assert (
        proto.receive(
            json.dumps(
                {
                    "type": "ActionResponse",
                    "requestId": m,
                    "success": True,
                    "result": 1,
                    "logLines": [],
                }
            )
        )
        == []
    )


def test_in_flight_mutations_are_resent_with_their_original_ids() -> None:
    proto = connected()
    m0 = proto.mutation("items:add", {"text": "answered"})
    m1 = proto.mutation("items:add", {"text": "unanswered"})
    drain(proto)
    proto.receive(mutation_ok(m0, ts=50))  # answered, its ts not reached yet
    assert proto.connection_lost("server restarted") == []
    m2 = proto.mutation("items:add", {"text": "while offline"})
    proto.start_connection()
    frames = drain(proto)
    assert [(f["type"], f.get("requestId")) for f in frames] == [
        ("Connect", None),
        ("Mutation", m0),
        ("Mutation", m1),
        ("Mutation", m2),
    ]
    assert frames[1]["args"] == [{"text": "answered"}]
    # The server replays m0's response (ignored: already answered), then answers the rest.
    assert proto.receive(mutation_ok(m0, ts=50)) == []
    proto.receive(mutation_ok(m1, ts=60))
    proto.receive(mutation_ok(m2, ts=61))
    events = proto.receive(transition((0, 0, 0), (0, 0, 61)))
    assert sorted(completed(events)) == [m0, m1, m2]
    assert proto.pending_request_ids() == []


def test_request_ids_are_never_reused() -> None:
    proto = connected()
    ids = [proto.mutation("a:b"), proto.action("a:c")]
    proto.connection_lost("x")
    proto.start_connection()
    ids.append(proto.mutation("a:b"))
    assert ids == [0, 1, 2]


# --- actions ---------------------------------------------------------------------------------------


def test_actions_complete_at_their_response() -> None:
    proto = connected()
    a0 = proto.action("ai:run")
    a1 = proto.action("ai:run")
    drain(proto)
    ok = proto.receive(
        json.dumps(
            {
                "type": "ActionResponse",
                "requestId": a0,
                "success": True,
                "result": {"$integer": "AgAAAAAAAAA="},
                "logLines": [],
            }
        )
    )
    assert ok == [RequestCompleted(a0, value=ConvexInt64(2))]
    (bad,) = proto.receive(
        json.dumps(
            {
                "type": "ActionResponse",
                "requestId": a1,
                "success": False,
                "result": "Uncaught Error: nope",
                "logLines": [],
            }
        )
    )
    assert isinstance(bad, RequestCompleted)
    assert isinstance(bad.error, ConvexFunctionError)


def test_sent_actions_fail_when_the_connection_drops_and_are_not_resent() -> None:
    proto = connected()
    sent = proto.action("ai:run")
    drain(proto)
    (lost,) = proto.connection_lost("network down")
    assert isinstance(lost, RequestCompleted)
    assert lost.request_id == sent
    assert isinstance(lost.error, ConvexConnectionLost)
    assert "network down" in str(lost.error)
    unsent_while_offline = proto.action("ai:run")
    proto.start_connection()
    frames = drain(proto)
    assert [f.get("requestId") for f in frames if f["type"] == "Action"] == [unsent_while_offline]


def test_an_action_queued_but_not_yet_taken_survives_a_drop() -> None:
    proto = connected()
    queued = proto.action("ai:run")  # in the outbox, never handed to the socket
    assert proto.connection_lost("x") == []
    proto.start_connection()
    assert [f.get("requestId") for f in drain(proto)] == [None, queued]


# --- abandoned requests ----------------------------------------------------------------------------


def test_abandoning_an_unsent_request_means_it_is_never_sent() -> None:
    proto = connected()
    m = proto.mutation("items:add")
    proto.abandon(m)
    assert drain(proto) == []
    assert proto.pending_request_ids() == []


def test_abandoning_a_sent_mutation_keeps_tracking_its_response_until_the_socket_ends() -> None:
    proto = connected()
    m = proto.mutation("items:add")
    drain(proto)
    proto.abandon(m)
    assert proto.pending_request_ids() == [m]
    assert proto.receive(mutation_ok(m, ts=5)) == []  # recognised, no event for nobody
    assert proto.receive(transition((0, 0, 0), (0, 0, 5))) == [
        TransitionApplied(StateVersion(0, 0, 5))
    ]
    assert proto.pending_request_ids() == []


def test_abandoned_sent_mutations_are_not_resent_after_a_reconnect() -> None:
    proto = connected()
    kept = proto.mutation("items:add", {"k": 1})
    gone = proto.mutation("items:add", {"k": 2})
    drain(proto)
    proto.abandon(gone)
    assert proto.connection_lost("x") == []
    proto.start_connection()
    assert [f.get("requestId") for f in drain(proto) if f["type"] == "Mutation"] == [kept]


def test_abandoning_an_answered_mutation_queued_for_resending() -> None:
    proto = connected()
    m = proto.mutation("items:add")
    drain(proto)
    proto.receive(mutation_ok(m, ts=9))  # answered; waiting for ts 9
    proto.connection_lost("x")
    proto.start_connection()  # queued to be re-sent, not taken yet
    proto.abandon(m)
    assert [f["type"] for f in drain(proto)] == ["Connect"]
    assert proto.receive(transition((0, 0, 0), (0, 0, 9))) == [
        TransitionApplied(StateVersion(0, 0, 9))
    ]
    assert proto.pending_request_ids() == []


def test_fail_all_requests_skips_orphans() -> None:
    proto = connected()
    m0 = proto.mutation("a:b")
    m1 = proto.mutation("a:b")
    drain(proto)
    proto.abandon(m0)
    m2 = proto.mutation("a:b")  # queued in the outbox
    events = proto.fail_all_requests(ConvexConnectionLost("x"))
    assert sorted(completed(events)) == [m1, m2]
    assert not proto.has_outgoing
    assert proto.pending_request_ids() == []


# --- auth ------------------------------------------------------------------------------------------


def test_auth_versions_chain_and_a_raised_identity_confirms_the_token() -> None:
    proto = connected()
    proto.set_auth("t1")
    proto.set_auth("t2")
    proto.set_auth(None)
    frames = drain(proto)
    assert [(f["baseVersion"], f["tokenType"], f.get("value")) for f in frames] == [
        (0, "User", "t1"),
        (1, "User", "t2"),
        (2, "None", None),
    ]
    events = proto.receive(transition((0, 0, 0), (0, 1, 0)))
    assert AuthConfirmed() in events


def test_stale_auth_errors_are_ignored() -> None:
    proto = connected()
    proto.set_auth("old")
    proto.set_auth("new")
    drain(proto)
    stale = {"type": "AuthError", "error": "bad", "baseVersion": 0, "authUpdateAttempted": True}
    current = {"type": "AuthError", "error": "bad", "baseVersion": 1, "authUpdateAttempted": True}
    assert proto.receive(json.dumps(stale)) == []
    assert proto.receive(json.dumps(current)) == [AuthRejected("bad", update_attempted=True)]


def test_expired_token_auth_error() -> None:
    proto = connected()
    proto.set_auth("t")
    drain(proto)
    frame = {
        "type": "AuthError",
        "error": "expired",
        "baseVersion": 0,
        "authUpdateAttempted": False,
    }
    assert proto.receive(json.dumps(frame)) == [AuthRejected("expired", update_attempted=False)]


def test_statistics() -> None:
    proto = connected()
    proto.subscribe("a:b")
    proto.mutation("a:c")
    proto.action("a:d")
    stats = proto.statistics()
    assert (stats.live_queries, stats.pending_mutations, stats.pending_actions) == (1, 1, 1)
    assert stats.outbox == 3
    assert stats.connected
