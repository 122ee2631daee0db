"""Arguments that cannot be sent: text with a lone UTF-16 surrogate.

Python strings may hold half a surrogate pair (``json.loads('"\\ud83d"')``). Convex parses frames
strictly and would close the connection, the client would re-send the mutation on the next
socket, and so on forever. The client refuses such a call before anything is sent (a typed
``ConvexInvalidArgument`` naming the function and the argument), the connection stays up and
the next call goes through; the syncer sends the observation with U+FFFD in place of the
invalid text (logged), once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog
import trio
import trio.testing
from convex_fakes import ClientFactory, FakeConvex, ServerConn
from trio.testing import MockClock

from tina.convex import ConnectionState, ConvexClientError, LatestValue
from tina.convex._protocol import SyncProtocol
from tina.convex.errors import ConvexInvalidArgument
from tina.convex.gateway import Gateway, GatewayProtocol
from tina.daemon.sync.syncer import Syncer
from tina.messages import TaskSnapshot, TeamSnapshot

LONE = "cut \ud83d"  # the first half of 😀: what cutting "cut 😀" at 5 UTF-16 units leaves


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    return []


async def strict_recv(conn: ServerConn) -> dict[str, Any]:
    """A frame as a real deployment reads it: strict JSON whose strings are valid Unicode (it
    closes the connection otherwise)."""
    text = await conn.ws.get_message()
    message: dict[str, Any] = json.loads(text)
    for s in _strings(message):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            await conn.close(1011)
            raise AssertionError(f"the server would close the connection: {text!r}") from None
    return message


# --- the protocol: refused before any state changes ----------------------------------------------


def test_a_lone_surrogate_is_refused_before_any_state_changes() -> None:
    proto = SyncProtocol(session_id="s")
    proto.start_connection()
    while proto.next_outgoing() is not None:
        pass
    with pytest.raises(ConvexInvalidArgument) as info:
        proto.mutation("items:add", {"list": [{"text": LONE}]})
    assert info.value.udf_path == "items:add"
    assert "items:add" in str(info.value)
    assert "list[0].text" in str(info.value)
    assert "U+D83D" in str(info.value)
    assert isinstance(info.value, ConvexClientError)
    assert isinstance(info.value, ValueError)  # like every other bad argument
    with pytest.raises(ConvexInvalidArgument, match=r"items:run: argument q\[1\]"):
        proto.action("items:run", {"q": ["fine", "\udc00 low half first"]})
    with pytest.raises(ConvexInvalidArgument, match="items:list"):
        proto.subscribe("items:list", {"q": "\ude00 low half"})
    assert proto.next_outgoing() is None
    assert proto.statistics().live_queries == 0
    # Whole characters are fine, and so is a pair written as two halves (valid JSON escapes).
    assert proto.mutation("items:add", {"text": "ok \U0001f600"}) == 0
    assert proto.mutation("items:add", {"text": "ok \ud83d\ude00"}) == 1
    frames = []
    while (frame := proto.next_outgoing()) is not None:
        frames.append(json.loads(frame))
    assert [f["args"][0]["text"] for f in frames] == ["ok \U0001f600", "ok \U0001f600"]


# --- the client: the caller gets the error, the connection stays up ---------------------------


async def test_a_mutation_with_a_lone_surrogate_raises_and_the_next_one_goes_through(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        with pytest.raises(ConvexInvalidArgument, match="items:add"):
            await client.mutation("items:add", {"text": LONE})
        with pytest.raises(ConvexInvalidArgument, match="items:list"):
            await client.query("items:list", {"q": LONE})
        with pytest.raises(ConvexInvalidArgument, match="items:run"):
            await client.action("items:run", {"q": LONE})
        with pytest.raises(ConvexInvalidArgument, match="items:list"):
            async with client.subscribe("items:list", {"q": LONE}):
                pass

        done: list[Any] = []

        async def call() -> None:
            done.append(await client.mutation("items:add", {"text": "cut \U0001f600"}))

        nursery.start_soon(call)
        mutation = await strict_recv(conn)  # the first frame since the handshake: nothing else
        assert mutation["type"] == "Mutation"
        assert mutation["args"] == [{"text": "cut \U0001f600"}]
        await conn.mutation_ok(mutation["requestId"], ts=5, result="id1")
        await conn.transition(ts=5)
        with trio.fail_after(5):
            while not done:
                await trio.sleep(0.01)
        assert done == ["id1"]
        assert fake.connects == 1
        assert client.status().state is ConnectionState.CONNECTED
        assert client.statistics().pending_mutations == 0


# --- the syncer over the real client: the observation is sent once, cleaned -------------------


async def test_the_syncer_sends_the_observation_with_replacement_characters_once(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    team = TeamSnapshot(dir_name="alpha", team_name="alpha \ud83d")
    task = TaskSnapshot(task_id="1", subject=LONE, description="d", status="pending")
    with structlog.testing.capture_logs() as logs:
        async with open_client() as client, trio.open_nursery() as nursery:
            conn, _ = await fake.accept_handshake()
            syncer = Syncer(LatestValue[GatewayProtocol | None](Gateway(client, "tina_node_x")))
            nursery.start_soon(syncer.run)
            syncer.put_team("alpha", team, [], [task])
            sent = await strict_recv(conn)
            args = sent["args"][0]
            assert sent["udfPath"] == "teams:syncTeam"
            assert args["team"]["teamName"] == "alpha \ufffd"
            assert args["tasks"][0]["subject"] == "cut \ufffd"
            result = {"teamId": "t1", "applied": True, "taskEventsAppended": 1, "membersRemoved": 0}
            await conn.mutation_ok(sent["requestId"], ts=3, result=result)
            await conn.transition(ts=3)
            # A later observation is sent as usual (a sentinel: the first was not re-sent).
            syncer.put_team("alpha", TeamSnapshot(dir_name="alpha", team_name="alpha"), [], [])
            sent = await strict_recv(conn)
            # Convex holds the team now: the change goes as a delta on what it holds.
            assert sent["udfPath"] == "teams:syncTeamDelta"
            assert sent["args"][0]["team"]["teamName"] == "alpha"
            delta = {
                "status": "applied",
                "revision": sent["args"][0]["seq"],
                "teamId": "t1",
                "taskEventsAppended": 0,
            }
            await conn.mutation_ok(sent["requestId"], ts=4, result=delta)
            await conn.transition(ts=4)
            with trio.fail_after(5):
                while syncer.depth:
                    await trio.sleep(0.01)
            assert fake.connects == 1
            assert syncer.sent == 2
            nursery.cancel_scope.cancel()
    invalid = [e for e in logs if e["event"] == "sync.invalid_text"]
    assert len(invalid) == 1
    assert invalid[0]["item"] == "team alpha"
    assert "teams:syncTeam" in invalid[0]["error"]
