"""The client's own WebSocket (``_websocket.py``) against a raw wsproto server in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from trio.testing import MockClock
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tina.convex._websocket import (
    WebSocket,
    WebSocketClosed,
    WebSocketHandshakeError,
    handshake,
)


class RawServer:
    """The server end, speaking wsproto by hand so tests control every frame."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.events: list[Event] = []

    async def next_event(self) -> Event:
        while not self.events:
            data = await self.stream.receive_some(65536)
            self.ws.receive_data(data or None)
            self.events.extend(self.ws.events())
        return self.events.pop(0)

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def accept(self) -> None:
        request = await self.next_event()
        assert isinstance(request, Request)
        assert request.target == "/api/sync"
        await self.send(AcceptConnection())


@pytest.fixture(params=["memory", "tcp"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[trio.abc.Stream, RawServer]]:
    """Both ends of a connection: in memory (through the stream's own methods) or a real TCP
    socket on loopback (read and written with direct system calls)."""
    if request.param == "memory":
        client_stream, server_stream = trio.testing.memory_stream_pair()
        yield client_stream, RawServer(server_stream)
        return
    async with tcp_pair() as (client_stream, server_stream):
        yield client_stream, RawServer(server_stream)


@asynccontextmanager
async def tcp_pair() -> AsyncIterator[tuple[trio.SocketStream, trio.SocketStream]]:
    """A connected pair of TCP streams on loopback."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    async with listener:
        client_stream = await trio.open_tcp_stream("127.0.0.1", port)
        server_stream = await listener.accept()
    try:
        yield client_stream, server_stream
    finally:
        await trio.aclose_forcefully(client_stream)
        await trio.aclose_forcefully(server_stream)


async def connected(
    pair: tuple[trio.abc.Stream, RawServer], max_message_size: int = 1000
) -> tuple[WebSocket, RawServer]:
    client_stream, server = pair
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.accept)
        ws = await handshake(client_stream, "fake", "/api/sync", max_message_size=max_message_size)
    return ws, server


async def test_messages_fragments_and_pings(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    await server.send(TextMessage(data='{"a":', message_finished=False))
    await server.send(Ping(payload=b"p1"))  # control frames may interleave with fragments
    await server.send(TextMessage(data="1}", message_finished=True))
    await server.send(TextMessage(data="second"))
    assert await ws.get_message() == '{"a":1}'
    assert await ws.get_message() == "second"
    pong = await server.next_event()
    assert isinstance(pong, Pong)
    assert pong.payload == b"p1"
    await ws.send_message("hello")
    sent = await server.next_event()
    assert isinstance(sent, TextMessage)
    assert sent.data == "hello"


async def test_ping_waits_for_its_pong(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.get_message)  # the reader delivers Pongs
        with trio.move_on_after(5) as scope:
            await ws.ping(b"x")
        assert scope.cancelled_caught  # no Pong yet
        ping = await server.next_event()
        assert isinstance(ping, Ping)
        async with trio.open_nursery() as pinger:
            pinger.start_soon(ws.ping, b"y")
            ping_y = await server.next_event()
            assert isinstance(ping_y, Ping)
            await server.send(ping_y.response())
        nursery.cancel_scope.cancel()


async def test_a_ping_fails_when_the_socket_closes(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    failures: list[BaseException] = []

    async def expect_closed(fn: Callable[..., Awaitable[object]], *args: object) -> None:
        try:
            await fn(*args)
        except WebSocketClosed as exc:
            failures.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(expect_closed, ws.get_message)
        nursery.start_soon(expect_closed, ws.ping, b"z")
        assert isinstance(await server.next_event(), Ping)
        await server.stream.aclose()
    assert len(failures) == 2


async def test_the_server_closing_ends_the_stream_after_queued_messages(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    await server.send(TextMessage(data="last"))
    await server.send(CloseConnection(code=4040, reason="going away"))
    assert await ws.get_message() == "last"
    with pytest.raises(WebSocketClosed) as closed:
        await ws.get_message()
    assert (closed.value.code, closed.value.reason) == (4040, "going away")
    reply = await server.next_event()
    assert isinstance(reply, CloseConnection)  # the close handshake was answered
    with pytest.raises(WebSocketClosed):
        await ws.send_message("too late")
    await ws.aclose()


async def test_an_oversized_message_closes_with_1009(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair, max_message_size=10)
    await server.send(TextMessage(data="x" * 11))
    with pytest.raises(WebSocketClosed) as closed:
        await ws.get_message()
    assert closed.value.code == 1009
    close = await server.next_event()
    assert isinstance(close, CloseConnection)
    assert close.code == 1009


async def test_eof_is_an_abnormal_close(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    await server.stream.aclose()
    with pytest.raises(WebSocketClosed) as closed:
        await ws.get_message()
    assert closed.value.code == 1006


async def test_aclose_runs_the_close_handshake(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.aclose)
        close = await server.next_event()
        assert isinstance(close, CloseConnection)
        assert close.code == 1000
        await server.send(close.response())
    with pytest.raises(WebSocketClosed):
        await ws.send_message("after close")


@pytest.mark.parametrize("with_body", [True, False])
async def test_a_rejected_upgrade_is_a_handshake_error(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer], with_body: bool
) -> None:
    client_stream, server = pair

    async def reject() -> None:
        await server.next_event()
        headers = [(b"content-length", b"9")] if with_body else [(b"content-length", b"0")]
        await server.send(RejectConnection(status_code=404, headers=headers, has_body=with_body))
        if with_body:
            await server.send(RejectData(data=b"Not Found", body_finished=True))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reject)
        with pytest.raises(WebSocketHandshakeError, match="HTTP 404"):
            await handshake(client_stream, "fake", "/api/sync", max_message_size=100)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"", "closed the connection during the handshake"),
        (b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n", "HTTP 404"),
        (b"HTTP/1.1 503 Starting\r\nContent-Length: 8\r\n\r\nStarting", "HTTP 503"),
        (b"NOT HTTP\r\n\r\n", "bad handshake response"),
    ],
)
async def test_a_server_that_hangs_up_during_the_handshake(
    autojump_clock: MockClock,
    pair: tuple[trio.abc.Stream, RawServer],
    reply: bytes,
    error: str,
) -> None:
    client_stream, server = pair

    async def hang_up() -> None:
        await server.next_event()
        if reply:
            await server.stream.send_all(reply)
        await server.stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up)
        with pytest.raises(WebSocketHandshakeError, match=error):
            await handshake(client_stream, "fake", "/api/sync", max_message_size=100)


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = False
) -> bytes:
    """A server frame built by hand (wsproto refuses to build the broken ones)."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    size = len(payload)
    masked = 0x80 if mask else 0
    if size < 126:
        head += bytes([masked | size])
    elif size < 65536:
        head += bytes([masked | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([masked | 127]) + size.to_bytes(8, "big")
    return head + (b"\0\0\0\0" if mask else b"") + payload


async def test_frame_lengths_and_frames_sent_with_the_upgrade(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    client_stream, server = pair

    async def accept_and_talk() -> None:
        request = await server.next_event()
        assert isinstance(request, Request)
        # The 101 and the first frames in one write: the frames must not be lost.
        await server.stream.send_all(
            server.ws.send(AcceptConnection()) + frame(0x1, b"early") + frame(0x1, b"x" * 300)
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_and_talk)
        ws = await handshake(client_stream, "fake", "/api/sync", max_message_size=2**20)
    assert await ws.get_message() == "early"
    assert await ws.get_message() == "x" * 300
    await server.stream.send_all(frame(0x2, b"\1" * 70000))  # 64-bit length, binary
    assert await ws.get_message() == b"\1" * 70000
    # Byte by byte: partial headers and payloads wait for the rest.
    data = frame(0x1, "é".encode() * 200, fin=False) + frame(0x0, b"!")
    async with trio.open_nursery() as nursery:

        async def trickle() -> None:
            for i in range(len(data)):
                await server.stream.send_all(data[i : i + 1])

        nursery.start_soon(trickle)
        assert await ws.get_message() == "é" * 200 + "!"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (frame(0x1, b"x", rsv=0x40), 1002),
        (frame(0x1, b"x", mask=True), 1002),
        (frame(0x0, b"x"), 1002),
        (frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),
        (frame(0x3, b"x"), 1002),
        (frame(0x9, b"p" * 126), 1002),
        (frame(0x9, b"p", fin=False), 1002),
        (frame(0x8, b"\3"), 1002),
        (frame(0x1, b"\xff\xfe"), 1007),
        (frame(0x1, b"x" * 101), 1009),
        (frame(0x1, b"x" * 60, fin=False) + frame(0x0, b"y" * 60), 1009),
    ],
)
async def test_broken_frames_close_the_socket_with_the_right_code(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer], raw: bytes, code: int
) -> None:
    ws, server = await connected(pair, max_message_size=100)
    await server.stream.send_all(raw)
    with pytest.raises(WebSocketClosed) as closed:
        await ws.get_message()
    assert closed.value.code == code
    close = await server.next_event()
    assert isinstance(close, CloseConnection)
    assert close.code == code


async def test_a_close_without_a_code_is_answered_with_1000(
    autojump_clock: MockClock, pair: tuple[trio.abc.Stream, RawServer]
) -> None:
    ws, server = await connected(pair)
    await server.stream.send_all(frame(0x8, b""))
    with pytest.raises(WebSocketClosed) as closed:
        await ws.get_message()
    assert closed.value.code == 1005
    reply = await server.next_event()
    assert isinstance(reply, CloseConnection)
    assert reply.code == 1000


# --- a real socket: direct writes, a full socket, fairness ------------------------------------------


@asynccontextmanager
async def tcp_websocket() -> AsyncIterator[tuple[WebSocket, RawServer]]:
    async with tcp_pair() as (client_stream, server_stream):
        yield await connected((client_stream, RawServer(server_stream)))


async def test_a_full_socket_keeps_every_message_in_order() -> None:
    async with tcp_websocket() as (ws, server):
        big = "é" * (8 * 1024 * 1024)  # 16 MB: more than the socket buffers hold
        assert not ws.send_nowait(big)  # the peer is not reading: some is left queued
        assert ws.has_unsent
        assert not ws.send_nowait("second")  # queued behind, never ahead
        received: list[str] = []

        async def read_all() -> None:
            parts: list[str] = []
            while len(received) < 4:
                event = await server.next_event()
                assert isinstance(event, TextMessage)
                parts.append(event.data)  # wsproto hands a long message over in pieces
                if event.message_finished:
                    received.append("".join(parts))
                    parts = []

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.send_message, "third")  # waits for room, after the rest
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(read_all)
            await ws.flush()
            ws.send_nowait("fourth")
        assert [len(text) for text in received] == [len(big), 6, 5, 6]
        assert received[0] == big
        assert received[1:] == ["second", "third", "fourth"]
        assert not ws.has_unsent


async def test_a_flood_of_messages_leaves_other_tasks_running() -> None:
    async with tcp_websocket() as (ws, server):
        count = 3000
        await server.stream.send_all(b"".join(frame(0x1, b"%d" % i) for i in range(count)))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            for i in range(count):
                assert await ws.get_message() == str(i)
            nursery.cancel_scope.cancel()
        assert ticks >= count // 32  # the reader yields at least every 16 messages
