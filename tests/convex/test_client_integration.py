"""The client against real sockets: the local backend (``convex-local/``) and hostile servers.

Real clock: every wait is bounded by a generous ``trio.fail_after``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from functools import partial
from typing import Any

import pytest
import trio
import trio_websocket
from convex.values import ConvexInt64
from convex_fakes import CONTRACT_FUNCTIONS_DIR

from tina.convex import (
    Backoff,
    ConnectionState,
    ConvexAuthError,
    ConvexClient,
    ConvexError,
    ConvexFunctionError,
    ConvexTimeout,
    open_convex_client,
)
from tina.dev.backend import BackendProcess

WAIT = 20.0  # generous: a 2-core CI machine may be busy


def unsigned_jwt(**claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


async def values_until(sub: Any, predicate: Callable[[Any], bool]) -> Any:
    while True:
        value = await sub.next()
        if predicate(value):
            return value


class Ticker:
    """Ticks every 20 ms; the gaps show whether the trio loop stayed responsive."""

    def __init__(self) -> None:
        self.ticks: list[float] = []

    async def run(self) -> None:
        while True:
            self.ticks.append(trio.current_time())
            await trio.sleep(0.02)

    def max_gap(self) -> float:
        assert len(self.ticks) > 20
        return max(b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False))


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker.run)
        try:
            yield ticker
        finally:
            nursery.cancel_scope.cancel()


# --- the local backend -----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_a_subscription_receives_writes_from_other_clients(
    transport: str, contract_backend_url: str
) -> None:
    channel = {"channel": "updates"}
    with trio.fail_after(WAIT):
        async with (
            open_convex_client(contract_backend_url, transport=transport) as reader,
            open_convex_client(contract_backend_url, transport=transport) as writer,
            reader.subscribe("messages:list", channel) as sub,
        ):
            assert await sub.next() == []
            await writer.mutation("messages:send", {**channel, "body": "one"})
            assert await values_until(sub, lambda v: v != []) == ["one"]
            await writer.action("messages:sendViaAction", {**channel, "body": "two"})
            assert await values_until(sub, lambda v: len(v) == 2) == ["one", "two"]
            await writer.mutation("messages:sendLater", {**channel, "body": "three", "delayMs": 50})
            assert await values_until(sub, lambda v: len(v) == 3) == ["one", "two", "three"]
            assert reader.status().state is ConnectionState.CONNECTED
            assert reader.status().rtt_ms is not None


async def _pipe(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
    with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await sink.aclose()


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_wss_through_tls_with_a_private_ca(transport: str, contract_backend_url: str) -> None:
    """``wss://`` end to end: a TLS terminator (certificate from a private CA) in front of the
    local backend; the client trusts that CA through ``ssl_context``, and only that."""
    import ssl
    import urllib.parse

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    backend = urllib.parse.urlsplit(contract_backend_url)
    assert backend.hostname is not None and backend.port is not None

    async def terminate(tls: trio.SSLStream[trio.SocketStream]) -> None:
        plain = await trio.open_tcp_stream(backend.hostname, backend.port)
        async with trio.open_nursery() as pipes:
            pipes.start_soon(_pipe, tls, plain)
            pipes.start_soon(_pipe, plain, tls)

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            (listener,) = await nursery.start(
                partial(trio.serve_ssl_over_tcp, terminate, 0, server_context, host="127.0.0.1")
            )
            url = f"https://127.0.0.1:{listener.transport_listener.socket.getsockname()[1]}"
            async with (
                open_convex_client(url, transport=transport, ssl_context=client_context) as client,
                client.subscribe("messages:list", {"channel": "tls"}) as sub,
            ):
                assert await sub.next() == []
                await client.mutation("messages:send", {"channel": "tls", "body": "é" * 70000})
                assert await values_until(sub, lambda v: v != []) == ["é" * 70000]
            # Without the private CA the handshake fails, and says so.
            async with open_convex_client(url, transport=transport) as untrusting:
                status = await untrusting.wait_status_change(untrusting.status())
                while status.last_error is None:
                    status = await untrusting.wait_status_change(status)
                assert "CERTIFICATE_VERIFY_FAILED" in status.last_error
            nursery.cancel_scope.cancel()


async def test_mutations_read_their_writes_and_values_round_trip(
    contract_backend_url: str,
) -> None:
    with trio.fail_after(WAIT):
        async with open_convex_client(contract_backend_url) as client:
            message_id = await client.mutation("messages:send", {"channel": "c", "body": "x"})
            assert isinstance(message_id, str)
            # A completed mutation is visible to this client's next query.
            assert await client.query("messages:list", {"channel": "c"}) == ["x"]
            assert await client.query("messages:count", {"channel": "c"}) == 1.0
            value = {
                "int64": ConvexInt64(2**40),
                "bytes": b"\x00\x01\xff",
                "float": 1.5,
                "int": 3,
                "neg_zero": -0.0,
                "inf": math.inf,
                "nested": [None, True, "ü", {"deep": [1.0]}],
            }
            echoed = await client.query("messages:echo", {"value": value})
            assert echoed == {**value, "int": 3.0}
            assert math.copysign(1.0, echoed["neg_zero"]) == -1.0
            nan = await client.action("messages:echoAction", {"value": math.nan})
            assert math.isnan(nan)


async def test_function_errors_are_typed(contract_backend_url: str) -> None:
    with trio.fail_after(WAIT):
        async with open_convex_client(contract_backend_url) as client:
            with pytest.raises(ConvexError) as app_error:
                await client.mutation("errors:convexErrorMutation", {"code": "TAKEN"})
            assert app_error.value.data == {"code": "TAKEN"}
            assert app_error.value.udf_path == "errors:convexErrorMutation"

            with pytest.raises(ConvexFunctionError, match="boom in a mutation") as plain:
                await client.mutation("errors:plainErrorMutation")
            assert not isinstance(plain.value, ConvexError)

            with pytest.raises(ConvexError) as query_error:
                await client.query("errors:convexErrorQuery")
            assert query_error.value.data == {"code": "NOPE", "detail": 7.0}
            with pytest.raises(ConvexFunctionError, match="boom in a query"):
                await client.query("errors:plainErrorQuery")

            with pytest.raises(ConvexError) as action_error:
                await client.action("errors:convexErrorAction")
            assert action_error.value.data == "just a string"
            with pytest.raises(ConvexFunctionError, match="boom in an action"):
                await client.action("errors:plainErrorAction")

            with pytest.raises(ConvexFunctionError, match="rolled back"):
                await client.mutation("errors:writeThenFail", {"channel": "c"})
            assert await client.query("messages:list", {"channel": "c"}) == []

            with pytest.raises(ConvexFunctionError):
                await client.mutation("messages:noSuchFunction")
            with pytest.raises(ConvexFunctionError):
                await client.query("messages:insertInternal", {"channel": "c", "body": "x"})

            # The connection survived all of that.
            assert client.status().connected_count == 1


async def test_a_failing_subscription_recovers_when_the_data_changes(
    contract_backend_url: str,
) -> None:
    with trio.fail_after(WAIT):
        async with (
            open_convex_client(contract_backend_url) as client,
            client.subscribe("errors:failWhileEmpty", {"channel": "e"}) as sub,
        ):
            with pytest.raises(ConvexError) as empty:
                await sub.next()
            assert empty.value.data == {"code": "EMPTY", "channel": "e"}
            await client.mutation("messages:send", {"channel": "e", "body": "x"})
            assert await sub.next() == 1.0


async def test_auth_tokens_reach_functions_and_bad_ones_are_reported(
    contract_backend_url: str,
) -> None:
    with trio.fail_after(WAIT):
        async with open_convex_client(contract_backend_url) as client:
            assert await client.query("identity:whoami") is None
            client.set_auth(unsigned_jwt(iss="https://issuer.test", sub="ada", name="Ada"))
            identity = await client.query("identity:whoami")
            assert identity["subject"] == "ada"
            assert identity["name"] == "Ada"

            client.set_auth("not-a-jwt")
            with pytest.raises(ConvexAuthError):
                await client.query("identity:whoami")
            await client.status_cell.wait_for(lambda s: s.state is ConnectionState.AUTH_FAILED)
            with pytest.raises(ConvexAuthError):
                await client.mutation("messages:send", {"channel": "c", "body": "x"})

            client.set_auth(unsigned_jwt(iss="https://issuer.test", sub="bob"))
            assert (await client.query("identity:whoami"))["subject"] == "bob"
            assert client.status().connected_count == 2


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_the_backend_killed_and_restarted_mid_stream(
    transport: str,
    backend_factory: Callable[..., BackendProcess],
) -> None:
    process = backend_factory(functions_dir=CONTRACT_FUNCTIONS_DIR)
    channel = {"channel": "restart"}
    backoff = Backoff(initial=0.2, maximum=1.0)
    with trio.fail_after(WAIT * 2):
        async with (
            open_convex_client(process.url, backoff=backoff, transport=transport) as client,
            open_convex_client(process.url, backoff=backoff, transport=transport) as writer,
            client.subscribe("messages:list", channel) as sub,
            trio.open_nursery() as nursery,
        ):
            assert await sub.next() == []
            await writer.mutation("messages:send", {**channel, "body": "before"})
            assert await values_until(sub, lambda v: v != []) == ["before"]

            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            await client.status_cell.wait_for(lambda s: s.state is not ConnectionState.CONNECTED)

            # Written while the backend is down: waits, then is sent once it is back.
            done = trio.Event()

            async def write_during_outage() -> None:
                await writer.mutation("messages:send", {**channel, "body": "after"}, timeout=None)
                done.set()

            nursery.start_soon(write_during_outage)
            await trio.to_thread.run_sync(process.restart)

            # The restarted backend is empty: the subscription resumes with fresh data.
            fresh = await values_until(sub, lambda v: v != ["before"])
            assert fresh in ([], ["after"])  # the outage write may already be in
            if fresh == []:
                assert await sub.next() == ["after"]
            await done.wait()
            assert client.status().state is ConnectionState.CONNECTED
            assert client.status().connected_count >= 2
            assert await writer.query("messages:count", channel) == 1.0


# --- servers that never answer ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_a_server_that_accepts_tcp_and_never_answers(transport: str, ticker: Ticker) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.abc.Stream] = []

    async def hold(listener: trio.SocketListener) -> None:
        while True:
            held.append(await listener.accept())  # never read, never written

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold, listeners[0])
        async with open_convex_client(
            f"http://127.0.0.1:{port}",
            connect_timeout=1.0,
            backoff=Backoff(initial=0.2, maximum=0.5),
            transport=transport,
        ) as client:
            start = trio.current_time()
            with pytest.raises(ConvexTimeout):
                await client.mutation("messages:send", {"channel": "c", "body": "x"}, timeout=1.5)
            assert 1.4 <= trio.current_time() - start <= 1.5 + WAIT
            with pytest.raises(ConvexTimeout), trio.fail_after(WAIT):
                await client.query("messages:list", {"channel": "c"}, timeout=0.5)
            with pytest.raises(ConvexTimeout), trio.fail_after(WAIT):
                await client.wait_connected(timeout=0.5)
            assert client.status().last_error == "connect timed out after 1 s"
            assert client.status().attempts >= 2
            assert len(held) >= 2
        nursery.cancel_scope.cancel()
    for stream in held:
        await stream.aclose()
    await listeners[0].aclose()
    assert ticker.max_gap() < 1.0  # 20 ms ticks; generous for a busy 2-core machine


@pytest.mark.parametrize("transport", ["wsproto", "trio-websocket"])
async def test_a_websocket_server_that_never_sends_a_frame(transport: str, ticker: Ticker) -> None:
    connections = 0

    async def silent(request: trio_websocket.WebSocketRequest) -> None:
        nonlocal connections
        connections += 1
        ws = await request.accept()
        # Reads (and drops) every frame, so the library keeps answering pings (it stops reading
        # once a message waits unread); no Convex frame, ever.
        with suppress(trio_websocket.ConnectionClosed):
            while True:
                await ws.get_message()

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(trio_websocket.serve_websocket, silent, "127.0.0.1", 0, ssl_context=None)
        )
        url = f"http://127.0.0.1:{server.port}"
        client: ConvexClient
        async with open_convex_client(
            url, idle_timeout=1.0, backoff=Backoff(initial=0.1, maximum=0.2), transport=transport
        ) as client:
            with pytest.raises(ConvexTimeout):
                await client.mutation("messages:send", {"channel": "c", "body": "x"}, timeout=2)
            with trio.fail_after(WAIT):
                await client.status_cell.wait_for(lambda s: s.connected_count >= 2)
            assert "no message from the server for 1 s" in (client.status().last_error or "")
        assert connections >= 2
        nursery.cancel_scope.cancel()
    assert ticker.max_gap() < 1.0  # 20 ms ticks; generous for a busy 2-core machine
