"""The trio driver against an in-memory, scripted server (pure trio: autojump clock)."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from typing import Any

import pytest
import structlog
import trio
import trio.testing
from convex_fakes import ClientFactory, FakeConvex, ServerConn, failed, updated
from trio.testing import MockClock

from tina.convex import (
    Backoff,
    ConnectionState,
    ConvexAuthError,
    ConvexClient,
    ConvexClientClosed,
    ConvexConnectionLost,
    ConvexError,
    ConvexFunctionError,
    ConvexTimeout,
    LatestValue,
    QueryResult,
    sync_url,
)
from tina.convex._protocol import decode_ts


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def subscribed(conn: ServerConn) -> int:
    """Read a ModifyQuerySet that adds one query; return its id."""
    mqs = await conn.expect("ModifyQuerySet")
    (add,) = mqs["modifications"]
    assert add["type"] == "Add"
    return int(add["queryId"])


async def wait_state(client: ConvexClient, state: ConnectionState) -> None:
    await client.status_cell.wait_for(lambda s: s.state is state)


class Call:
    """Runs one client call in the background and keeps its outcome."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            self.value = await fn(*args, **kwargs)
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()


# --- basics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://happy-animal-123.convex.cloud", "wss://happy-animal-123.convex.cloud/api/sync"),
        ("http://127.0.0.1:3210/", "ws://127.0.0.1:3210/api/sync"),
        ("ws://127.0.0.1:3210/api/1.48.0/sync", "ws://127.0.0.1:3210/api/1.48.0/sync"),
    ],
)
def test_sync_url(url: str, expected: str) -> None:
    assert sync_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://x", "http://", "not a url"])
def test_sync_url_rejects_non_deployment_urls(url: str) -> None:
    with pytest.raises(ValueError, match="not a Convex deployment URL"):
        sync_url(url)


def test_backoff_is_capped_exponential_with_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=16.0, jitter=0.5)
    assert [backoff.delay(n, lambda: 0.5) for n in range(7)] == [1, 2, 4, 8, 16, 16, 16]
    assert backoff.delay(0, lambda: 0.0) == 0.5
    assert backoff.delay(0, lambda: 1.0) == 1.5
    assert backoff.delay(1000, lambda: 1.0) == 24.0


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_connects_with_a_stable_session_and_runs_a_one_shot_query(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, connect = await fake.accept_handshake()
        assert fake.urls == ["ws://fake.convex/api/sync"]
        assert connect["sessionId"] == client.session_id
        assert connect["connectionCount"] == 0
        call = Call()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call.run, client.query, "items:list", {"n": 1})
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, [1, 2])], ts=5, query_set=1)
            remove = await conn.expect("ModifyQuerySet")
            assert remove["modifications"] == [{"type": "Remove", "queryId": query_id}]
            assert (remove["baseVersion"], remove["newVersion"]) == (1, 2)
        assert call.value == [1.0, 2.0]
        status = client.status()
        assert status.state is ConnectionState.CONNECTED
        assert status.connected_count == 1
        assert status.attempts == 0
        assert status.rtt_ms is not None


async def test_a_body_exception_comes_out_unwrapped(
    autojump_clock: MockClock, open_client: ClientFactory
) -> None:
    with pytest.raises(KeyError):
        async with open_client():
            raise KeyError("mine")


def test_importing_the_client_prints_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import tina.convex"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stdout == b""
    assert done.stderr == b""


# --- mutations and errors --------------------------------------------------------------------------


async def test_mutation_completes_only_once_a_transition_covers_it(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        call = Call()
        nursery.start_soon(call.run, client.mutation, "items:add", {"text": "hi"})
        mutation = await conn.expect("Mutation")
        assert mutation["args"] == [{"text": "hi"}]
        await conn.mutation_ok(mutation["requestId"], ts=10, result="id1")
        await conn.transition(ts=9)
        await settle()
        assert not call.done.is_set()
        await conn.transition(ts=10)
        await call.done.wait()
        assert call.value == "id1"


async def test_mutation_errors_are_typed(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        app, plain = Call(), Call()
        nursery.start_soon(app.run, client.mutation, "items:add", {"text": "dup"})
        first = await conn.expect("Mutation")
        nursery.start_soon(plain.run, client.mutation, "items:add", {"text": "boom"})
        second = await conn.expect("Mutation")
        await conn.send(
            {
                "type": "MutationResponse",
                "requestId": first["requestId"],
                "success": False,
                "result": "[Request ID: 1] Server Error\nUncaught ConvexError: taken",
                "logLines": [],
                "errorData": {"code": "TAKEN"},
            }
        )
        await conn.send(
            {
                "type": "MutationResponse",
                "requestId": second["requestId"],
                "success": False,
                "result": "[Request ID: 2] Server Error\nUncaught Error: boom",
                "logLines": [],
            }
        )
        await app.done.wait()
        await plain.done.wait()
        assert isinstance(app.error, ConvexError)
        assert app.error.data == {"code": "TAKEN"}
        assert type(plain.error) is ConvexFunctionError
        assert "boom" in str(plain.error)
        assert plain.error.udf_path == "items:add"


async def test_actions_complete_at_their_response(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        call = Call()
        nursery.start_soon(call.run, client.action, "ai:run", {"n": 2})
        action = await conn.expect("Action")
        await conn.send(
            {
                "type": "ActionResponse",
                "requestId": action["requestId"],
                "success": True,
                "result": 4,
                "logLines": [],
            }
        )
        await call.done.wait()
        assert call.value == 4.0


async def test_calls_made_while_offline_wait_for_the_connection(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "refuse"
    async with open_client() as client, trio.open_nursery() as nursery:
        call = Call()
        nursery.start_soon(partial(call.run, client.mutation, "items:add", {}, timeout=None))
        await trio.sleep(10)
        assert client.status().state is ConnectionState.BACKING_OFF
        fake.mode = "accept"
        conn, _ = await fake.accept_handshake()
        mutation = await conn.expect("Mutation")
        await conn.mutation_ok(mutation["requestId"], ts=1)
        await conn.transition(ts=1)
        await call.done.wait()
        assert call.error is None


# --- subscriptions ---------------------------------------------------------------------------------


async def test_a_slow_subscriber_sees_the_newest_value_only(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:list", {"tag": "x"}) as sub:
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, ["a"])], ts=1, query_set=1)
            assert await sub.next() == ["a"]
            await conn.transition([updated(query_id, ["a", "b"])], ts=2)
            await conn.transition([updated(query_id, ["a", "b", "c"])], ts=3)
            await settle()
            assert await sub.next() == ["a", "b", "c"]
            latest = sub.latest
            assert latest is not None
            assert latest.ts == 3
            with pytest.raises(ConvexTimeout):
                await sub.next(timeout=1)


async def test_query_failures_reach_the_subscriber_which_stays_usable(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:list") as sub:
            query_id = await subscribed(conn)
            await conn.transition([failed(query_id, "Uncaught Error: oops")], ts=1, query_set=1)
            with pytest.raises(ConvexFunctionError, match="oops"):
                await sub.next()
            await conn.transition([updated(query_id, [])], ts=2)
            assert await sub.next() == []
            await conn.transition(
                [failed(query_id, "Uncaught ConvexError: x", data={"code": "GONE"})], ts=3
            )
            result = await sub.next_result()
            assert isinstance(result.error, ConvexError)
            assert result.error.data == {"code": "GONE"}


async def test_forwarding_into_a_bounded_channel_coalesces(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    send, receive = trio.open_memory_channel[QueryResult](0)
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:count") as sub:
            nursery.start_soon(sub.forward, send)
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, 1)], ts=1, query_set=1)
            for n in range(2, 6):
                await conn.transition([updated(query_id, n)], ts=n)
            await settle()
            # The forwarder holds 1 (blocked on the unbuffered channel); 2..4 were overwritten.
            assert (await receive.receive()).value == 1.0
            assert (await receive.receive()).value == 5.0
            await conn.transition([updated(query_id, 6)], ts=6)
            assert (await receive.receive()).value == 6.0
        # Leaving the subscription ends the forwarder quietly.


async def test_identical_subscriptions_share_one_query(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:list", {"a": 1}) as first:
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, [1])], ts=1, query_set=1)
            assert await first.next() == [1.0]
            async with client.subscribe("items:list", {"a": 1}) as second:
                # Already current: no new Add, the cached result is delivered at once.
                assert await second.next() == [1.0]
                assert await client.query("items:list", {"a": 1}) == [1.0]
                assert client.statistics().subscriptions == 2
                assert client.statistics().live_queries == 1
            await conn.transition([updated(query_id, [2])], ts=2)
            assert await first.next() == [2.0]  # still live: leaving `second` removed nothing
        remove = await conn.expect("ModifyQuerySet")
        assert remove["modifications"] == [{"type": "Remove", "queryId": query_id}]
        with pytest.raises(ConvexClientClosed):
            await first.next()


async def test_async_iteration(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:count") as sub:
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, 0)], ts=1, query_set=1)
            seen = []
            async for value in sub:
                seen.append(value)
                if value == 2:
                    break
                await conn.transition([updated(query_id, value + 1)], ts=int(value) + 2)
            assert seen == [0.0, 1.0, 2.0]


# --- resilience ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_reconnect_resubscribes_and_resends_in_flight_mutations(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        async with client.subscribe("items:list") as sub:
            query_id = await subscribed(conn)
            await conn.transition([updated(query_id, ["a"])], ts=3, query_set=1)
            assert await sub.next() == ["a"]
            call = Call()
            nursery.start_soon(call.run, client.mutation, "items:add", {"text": "b"})
            mutation = await conn.expect("Mutation")
            await conn.abort()  # the server crashes before answering
            await wait_state(client, ConnectionState.BACKING_OFF)
            assert client.status().last_error is not None

            conn2, connect = await fake.accept_handshake()
            assert fake.connect_times[1] - fake.connect_times[0] == pytest.approx(1.0, abs=0.2)
            assert connect["sessionId"] == client.session_id
            assert connect["connectionCount"] == 1
            assert decode_ts(connect["maxObservedTimestamp"]) == 3
            mqs = await conn2.expect("ModifyQuerySet")
            assert (mqs["baseVersion"], mqs["newVersion"]) == (0, 1)
            assert [m["queryId"] for m in mqs["modifications"]] == [query_id]
            resent = await conn2.expect("Mutation")
            assert resent == mutation  # same request id, same args
            await conn2.mutation_ok(resent["requestId"], ts=8, result="b-id")
            await conn2.mutation_ok(resent["requestId"], ts=8, result="b-id")  # duplicate
            await conn2.transition([updated(query_id, ["a", "b"])], ts=8, query_set=1)
            assert await sub.next() == ["a", "b"]
            await call.done.wait()
            assert call.value == "b-id"
            assert client.status().connected_count == 2
            assert client.statistics().pending_mutations == 0


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_actions_in_flight_fail_on_disconnect_and_are_not_resent(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        call = Call()
        nursery.start_soon(call.run, client.action, "ai:run", {})
        await conn.expect("Action")
        await conn.close(1011)
        await call.done.wait()
        assert isinstance(call.error, ConvexConnectionLost)
        conn2, _ = await fake.accept_handshake()
        follow_up = Call()
        nursery.start_soon(follow_up.run, client.mutation, "items:add", {})
        assert (await conn2.recv())["type"] == "Mutation"  # no Action before it


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_a_silent_server_is_dropped_after_the_idle_timeout(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        start = trio.current_time()
        await conn.transition(ts=1)  # healthy, then silence (pongs still flow)
        await fake.accept_handshake()
        elapsed = trio.current_time() - start
        assert 30 <= elapsed <= 33  # 30 s idle + ~1 s backoff (+ close wait)
        assert "no message from the server" in (client.status().last_error or "")


async def test_server_pings_keep_the_connection_alive(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        for _ in range(10):
            await conn.ping()
            await trio.sleep(15)
        assert fake.connects == 1
        assert client.status().state is ConnectionState.CONNECTED


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_a_frozen_network_is_detected_by_the_idle_timeout(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        await conn.ping()
        await settle()
        start = trio.current_time()
        conn.link.freeze()
        await fake.accept_handshake()
        assert 25 <= trio.current_time() - start <= 34
        assert client.status().connected_count == 2


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_waking_from_sleep_probes_the_socket_at_once(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    slept = [0.0]

    def wall() -> float:
        return 1_800_000_000.0 + trio.current_time() + slept[0]

    async with open_client(wall_clock=wall) as client:
        conn, _ = await fake.accept_handshake()
        await conn.ping()
        await settle()
        start = trio.current_time()
        conn.link.freeze()
        slept[0] = 3600.0  # the laptop slept an hour: the wall clock jumped
        with structlog.testing.capture_logs() as logs:
            await fake.accept_handshake()
        assert trio.current_time() - start < 15  # not the 30 s idle timeout
        assert "convex_connection.wake_detected" in [e["event"] for e in logs]
        assert "sleep" in (client.status().last_error or "")


async def test_connect_attempts_that_hang_time_out(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "hang"
    async with open_client(connect_timeout=10.0) as client:
        await wait_state(client, ConnectionState.BACKING_OFF)
        assert client.status().last_error == "connect timed out after 10 s"
        assert trio.current_time() == pytest.approx(10.0, abs=0.01)


async def test_backoff_doubles_up_to_the_cap(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "refuse"
    async with open_client() as client:
        await client.status_cell.wait_for(
            lambda s: s.attempts == 8 and s.state is ConnectionState.BACKING_OFF
        )
        gaps = [b - a for a, b in zip(fake.connect_times, fake.connect_times[1:], strict=False)]
        assert gaps == pytest.approx([1, 2, 4, 8, 16, 16, 16], abs=0.01)
        status = client.status()
        assert status.state is ConnectionState.BACKING_OFF
        assert status.attempts == 8
        assert status.retry_at is not None
        assert "Connection refused" in (status.last_error or "")


async def test_backoff_resets_after_a_healthy_connection(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "refuse"
    async with open_client() as client:
        await client.status_cell.wait_for(
            lambda s: s.attempts == 3 and s.state is ConnectionState.BACKING_OFF
        )
        fake.mode = "accept"
        conn, _ = await fake.accept_handshake()  # 4th attempt, after 4 s
        await conn.ping()  # the server answered: healthy
        await settle()
        assert client.status().attempts == 0
        await conn.abort()
        await fake.accept_handshake()
        gaps = [b - a for a, b in zip(fake.connect_times, fake.connect_times[1:], strict=False)]
        assert gaps[:3] == pytest.approx([1, 2, 4], abs=0.01)
        assert gaps[3] == pytest.approx(1, abs=0.2)


async def test_a_fatal_error_drops_the_socket_and_reconnects(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        await conn.send({"type": "FatalError", "error": "session expired"})
        await fake.accept_handshake()
        assert "session expired" in (client.status().last_error or "")


async def test_a_version_mismatch_drops_the_socket_and_reconnects(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        conn.ts = 5  # pretend the client is at ts 5: the Transition starts at the wrong version
        await conn.transition(ts=6)
        await fake.accept_handshake()
        assert "protocol error" in (client.status().last_error or "")


async def test_status_changes_are_observable(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "refuse"
    seen: list[ConnectionState] = []
    async with open_client() as client:
        status = client.status()
        seen.append(status.state)
        while status.state is not ConnectionState.CONNECTED:
            status = await client.wait_status_change(status)
            if status.state is not seen[-1]:
                seen.append(status.state)
            if status.state is ConnectionState.BACKING_OFF:
                fake.mode = "accept"
        assert seen == [
            ConnectionState.CONNECTING,
            ConnectionState.BACKING_OFF,
            ConnectionState.CONNECTING,
            ConnectionState.CONNECTED,
        ]
        assert (await client.wait_connected()).state is ConnectionState.CONNECTED
        stats = client.statistics()
        assert stats.status == client.status()
        assert (stats.live_queries, stats.pending_mutations, stats.outbox) == (0, 0, 0)
    assert client.status().state is ConnectionState.CLOSED


# --- deadlines and cancellation --------------------------------------------------------------------


async def test_a_deadline_fires_and_the_abandoned_call_is_never_sent(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    fake.mode = "refuse"
    async with open_client(timeout=5.0) as client:
        with pytest.raises(ConvexTimeout, match="mutation items:add timed out after 5 s"):
            await client.mutation("items:add", {"n": 1})
        assert trio.current_time() == pytest.approx(5.0, abs=0.01)
        with pytest.raises(trio.TooSlowError):
            await client.query("items:list", timeout=2)
        fake.mode = "accept"
        conn, _ = await fake.accept_handshake()
        call = Call()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call.run, client.mutation, "items:add", {"n": 2})
            mutation = await conn.recv()
            assert mutation["type"] == "Mutation"  # not the abandoned one, nor the query
            assert mutation["args"] == [{"n": 2.0}]
            assert mutation["requestId"] == 1  # ids are never reused
            await conn.mutation_ok(1, ts=1)
            await conn.transition(ts=1)


async def test_each_call_times_out_at_its_own_deadline_in_any_order(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client(timeout=None) as client:
        conn, _ = await fake.accept_handshake()
        fired: dict[str, float] = {}

        async def call(name: str, timeout: float) -> None:
            with pytest.raises(ConvexTimeout, match=f"mutation items:{name} timed out after"):
                await client.mutation(f"items:{name}", {}, timeout=timeout)
            fired[name] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "slow", 9.0)
            await trio.sleep(1)
            nursery.start_soon(call, "quick", 2.0)  # added later, due earlier
            nursery.start_soon(call, "middle", 5.0)
            answered = Call()
            nursery.start_soon(
                partial(answered.run, client.mutation, "items:answered", {}, timeout=3.0)
            )
            for _ in range(4):
                frame = await conn.expect("Mutation")
                if frame["udfPath"] == "items:answered":
                    await conn.mutation_ok(frame["requestId"], ts=1, result="yes")
                    await conn.transition(ts=1)
        assert fired == pytest.approx({"slow": 9.0, "quick": 3.0, "middle": 6.0}, abs=0.01)
        assert answered.value == "yes"  # answered in time: its deadline did nothing
        # The three that timed out had been sent: they stay known until their late answers.
        assert client.statistics().pending_mutations == 3


async def test_finished_calls_do_not_pile_up_deadlines(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client(timeout=30.0) as client:
        conn, _ = await fake.accept_handshake()
        for n in range(1, 1001):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.mutation, "items:add", {"n": n})
                frame = await conn.expect("Mutation")
                await conn.mutation_ok(frame["requestId"], ts=n)
                await conn.transition(ts=n)
        # 1,000 finished calls, none due yet: the heap is compacted as it grows.
        assert len(client._deadlines._heap) <= 2 * 256
        with pytest.raises(ConvexTimeout):
            await client.mutation("items:add", {"last": True}, timeout=1.0)


async def _next_mutation_works(conn: ServerConn, client: ConvexClient) -> None:
    call = Call()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(call.run, client.mutation, "items:add", {"after": True})
        while (frame := await conn.recv())["type"] != "Mutation":
            pass
        assert frame["args"] == [{"after": True}]
        await conn.mutation_ok(frame["requestId"], ts=conn.ts + 1, result="ok")
        await conn.transition(ts=conn.ts + 1)
    assert call.value == "ok"


@pytest.mark.parametrize("stage", ["queued", "sent", "answered"])
async def test_cancelling_a_mutation_at_any_stage_leaves_the_connection_healthy(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory, stage: str
) -> None:
    if stage == "queued":
        fake.mode = "refuse"
    async with open_client() as client:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.mutation, "items:add", {"cancelled": True})
                if stage == "queued":
                    await trio.sleep(3)
                    scope.cancel()
                else:
                    conn, _ = await fake.accept_handshake()
                    mutation = await conn.expect("Mutation")
                    if stage == "answered":
                        await conn.mutation_ok(mutation["requestId"], ts=4, result="late")
                        await settle()
                    scope.cancel()
        assert scope.cancelled_caught
        if stage == "queued":
            fake.mode = "accept"
            conn, _ = await fake.accept_handshake()
            await conn.transition(ts=1)
        else:
            if stage == "sent":
                # The orphan's response arrives afterwards and must not confuse anything.
                await conn.mutation_ok(mutation["requestId"], ts=4, result="late")
            await conn.transition(ts=4)
        await _next_mutation_works(conn, client)
        assert client.statistics().pending_mutations == 0
        if stage != "queued":
            assert fake.connects == 1  # the connection survived the cancelled caller


async def test_a_cancelled_sent_mutation_is_not_resent_after_a_reconnect(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        with trio.move_on_after(1):
            await client.mutation("items:add", {"gone": True})
        await conn.expect("Mutation")
        await conn.abort()
        conn2, _ = await fake.accept_handshake()
        await conn2.transition(ts=1)
        await _next_mutation_works(conn2, client)


async def test_cancelling_a_one_shot_query_removes_it(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        with trio.move_on_after(1):
            await client.query("items:list")
        query_id = await subscribed(conn)
        remove = await conn.expect("ModifyQuerySet")
        assert remove["modifications"] == [{"type": "Remove", "queryId": query_id}]
        assert client.statistics().live_queries == 0
        # A late result for the removed query is ignored.
        await conn.transition([updated(query_id, [1])], ts=1, query_set=2)
        await _next_mutation_works(conn, client)


async def test_cancelling_a_subscriber_mid_wait_unsubscribes(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        with trio.move_on_after(1):
            async with client.subscribe("items:list") as sub:
                await sub.next()
        query_id = await subscribed(conn)
        remove = await conn.expect("ModifyQuerySet")
        assert remove["modifications"] == [{"type": "Remove", "queryId": query_id}]
        assert client.statistics().subscriptions == 0


async def test_cancelling_an_action_after_it_was_sent(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client() as client:
        conn, _ = await fake.accept_handshake()
        with trio.move_on_after(1):
            await client.action("ai:run")
        action = await conn.expect("Action")
        await conn.send(
            {
                "type": "ActionResponse",
                "requestId": action["requestId"],
                "success": True,
                "result": None,
                "logLines": [],
            }
        )
        await _next_mutation_works(conn, client)
        assert client.statistics().pending_actions == 0


# --- closing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_closing_fails_waiting_callers_and_later_calls(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    mutation, query = Call(), Call()
    async with trio.open_nursery() as nursery, open_client() as client:
        conn, _ = await fake.accept_handshake()
        nursery.start_soon(mutation.run, client.mutation, "items:add", {})
        nursery.start_soon(query.run, client.query, "items:list")
        async with client.subscribe("items:count") as sub:
            kinds = sorted([(await conn.recv())["type"] for _ in range(3)])
            assert kinds == ["ModifyQuerySet", "ModifyQuerySet", "Mutation"]  # in any order
            await settle()
            closer = client
        with pytest.raises(ConvexClientClosed):
            await sub.next()
    await mutation.done.wait()
    assert isinstance(mutation.error, ConvexClientClosed)
    assert isinstance(query.error, ConvexClientClosed)
    assert closer.status().state is ConnectionState.CLOSED
    with pytest.raises(ConvexClientClosed):
        await closer.mutation("items:add")
    with pytest.raises(ConvexClientClosed):
        async with closer.subscribe("items:list"):
            pass


# --- auth ------------------------------------------------------------------------------------------


async def test_auth_is_sent_on_connect_and_when_changed(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    async with open_client(auth_token="token-one") as client:
        conn, _ = await fake.accept_handshake()
        auth = await conn.expect("Authenticate")
        assert auth == {
            "type": "Authenticate",
            "baseVersion": 0,
            "tokenType": "User",
            "value": "token-one",
        }
        await conn.transition(identity=1)
        client.set_auth("token-two")
        again = await conn.expect("Authenticate")
        assert (again["baseVersion"], again["value"]) == (1, "token-two")
        assert "token" not in repr(client)


async def test_auth_rejection_fails_callers_and_waits_for_a_new_token(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with open_client(auth_token="secret-token-1") as client, trio.open_nursery() as n:
            conn, _ = await fake.accept_handshake()
            await conn.expect("Authenticate")
            call = Call()
            async with client.subscribe("items:mine") as sub:
                query_id = await subscribed(conn)
                n.start_soon(call.run, client.mutation, "items:add", {})
                await conn.expect("Mutation")
                await conn.send(
                    {
                        "type": "AuthError",
                        "error": "Token expired",
                        "baseVersion": 0,
                        "authUpdateAttempted": True,
                    }
                )
                await call.done.wait()
                assert isinstance(call.error, ConvexAuthError)
                assert "Token expired" in str(call.error)
                with pytest.raises(ConvexAuthError):
                    await sub.next()
                await wait_state(client, ConnectionState.AUTH_FAILED)
                with pytest.raises(ConvexAuthError):
                    await client.mutation("items:add", {})
                with pytest.raises(ConvexAuthError):
                    await client.wait_connected(timeout=1)
                await trio.sleep(300)
                assert fake.connects == 1  # no retry loop with a rejected token

                client.set_auth("secret-token-2")
                conn2, _ = await fake.accept_handshake()
                auth = await conn2.expect("Authenticate")
                assert (auth["baseVersion"], auth["value"]) == (0, "secret-token-2")
                mqs = await conn2.expect("ModifyQuerySet")
                assert [m["queryId"] for m in mqs["modifications"]] == [query_id]
                await conn2.transition([updated(query_id, ["mine"])], ts=2, query_set=1, identity=1)
                assert await sub.next() == ["mine"]
                assert (await client.wait_connected()).state is ConnectionState.CONNECTED
    assert "secret-token" not in repr(logs)


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_frames_before_a_close_are_handled_even_while_sending(
    autojump_clock: MockClock, fake: FakeConvex, open_client: ClientFactory
) -> None:
    # The server rejects the token and closes at once, while the client is sending: the writer
    # hits the closed socket first, yet the AuthError that came before the close still counts
    # (auth_failed, no reconnect with the bad token).
    async with open_client(auth_token="bad-token") as client, trio.open_nursery() as nursery:
        conn, _ = await fake.accept_handshake()
        await conn.expect("Authenticate")
        calls = [Call() for _ in range(20)]
        for call in calls:
            nursery.start_soon(call.run, client.mutation, "items:add", {"pad": "x" * 2000})
        await conn.expect("Mutation")
        await conn.send(
            {
                "type": "AuthError",
                "error": "bad token",
                "baseVersion": 0,
                "authUpdateAttempted": True,
            }
        )
        await conn.close(1000)
        with trio.fail_after(120):
            await wait_state(client, ConnectionState.AUTH_FAILED)
        for call in calls:
            await call.done.wait()
            assert isinstance(call.error, ConvexAuthError)
        await trio.sleep(60)
        assert fake.connects == 1


# --- the latest-value cell -------------------------------------------------------------------------


async def test_latest_value_cell(
    autojump_clock: MockClock,
) -> None:
    cell = LatestValue(0)
    assert await cell.wait_for(lambda v: v == 0) == 0
    got: list[tuple[int, int]] = []
    async with trio.open_nursery() as nursery:

        async def reader() -> None:
            got.append(await cell.wait_newer(0))

        nursery.start_soon(reader)
        await settle()
        cell.set(1)
        cell.set(2)
    assert got == [(2, 2)]
    assert cell.version == 2
    assert await cell.wait_newer(1) == (2, 2)
