"""A lean WebSocket client on wsproto: the frames of one socket, read in the caller's task.

trio-websocket runs a reader task per connection and hands each message over a memory channel,
and takes a lock per send; on the client's hot path (a mutation's round trip, a subscription
update) those hops cost about a quarter of its latency (see ``docs/benchmarks.md``). Here the
client's own reader task parses frames in :meth:`WebSocket.get_message`, so a frame reaches the
protocol with no task switch. wsproto does the protocol work (handshake, framing, masking, close
and ping rules), as it does inside trio-websocket.

Contract (what ``client.py`` relies on): one task calls :meth:`get_message`; any task may send;
Pings from the server are answered while reading; :meth:`ping` waits for its Pong (which the
reader delivers); a closed or broken socket raises :class:`WebSocketClosed` from every call.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import urllib.parse
from collections import deque

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

__all__ = ["WebSocket", "WebSocketClosed", "WebSocketHandshakeError", "connect_websocket"]

_RECEIVE_SIZE = 65536


class WebSocketClosed(Exception):
    """The socket is closed (``code`` 1006: it broke without a close handshake)."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(f"{code} {reason}" if reason else str(code))
        self.code = code
        self.reason = reason


class WebSocketHandshakeError(Exception):
    """The server did not accept the WebSocket upgrade."""


class WebSocket:
    """An open client WebSocket over a trio stream (create with :func:`connect_websocket`)."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection, *, max_message_size: int) -> None:
        self._stream = stream
        self._ws = ws
        self._max_message_size = max_message_size
        self._messages: deque[str | bytes] = deque()
        self._parts: list[str | bytes] = []
        self._size = 0
        self._send_lock = trio.StrictFIFOLock()
        self._pings: dict[bytes, trio.Event] = {}
        self._closed: WebSocketClosed | None = None

    # --- sending ---------------------------------------------------------------------------------

    def _error(self) -> WebSocketClosed:
        assert self._closed is not None
        return WebSocketClosed(self._closed.code, self._closed.reason)

    async def _send(self, event: Event) -> None:
        if self._closed is not None:
            raise self._error()
        try:
            data = self._ws.send(event)
        except LocalProtocolError:
            self._close_locally(1006, "connection closed")
            raise self._error() from None
        if self._send_lock.locked():
            await self._send_lock.acquire()
        else:
            self._send_lock.acquire_nowait()  # the common case: no extra scheduling round
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._close_locally(1006, "connection lost")
            raise self._error() from None
        finally:
            self._send_lock.release()

    async def send_message(self, message: str) -> None:
        await self._send(TextMessage(data=message))

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a Ping and wait for its Pong (delivered by the task in :meth:`get_message`)."""
        payload = payload if payload is not None else os.urandom(8)
        waiter = trio.Event()
        self._pings[payload] = waiter
        try:
            await self._send(Ping(payload=payload))
            await waiter.wait()
            if payload in self._pings:  # woken by the close, not by a Pong
                raise self._error()
        finally:
            self._pings.pop(payload, None)

    # --- receiving -------------------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next complete message; raises :class:`WebSocketClosed` once none will come."""
        while not self._messages:
            if self._closed is not None:
                raise self._error()
            try:
                data = await self._stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._close_locally(1006, "connection lost")
                continue
            self._ws.receive_data(bytes(data))
            await self._drain_events()
        return self._messages.popleft()

    async def _drain_events(self) -> None:
        try:
            for event in self._ws.events():
                await self._handle(event)
        except RemoteProtocolError as exc:
            self._close_locally(1002, f"protocol error: {exc}")

    async def _handle(self, event: Event) -> None:
        if isinstance(event, (TextMessage, BytesMessage)):
            self._size += len(event.data)
            if self._size > self._max_message_size:
                await self._fail(1009, f"message larger than {self._max_message_size}")
                return
            self._parts.append(event.data if isinstance(event, TextMessage) else bytes(event.data))
            if event.message_finished:
                parts, self._parts, self._size = self._parts, [], 0
                if isinstance(event, TextMessage):
                    self._messages.append("".join(parts))  # type: ignore[arg-type]
                else:
                    self._messages.append(b"".join(parts))  # type: ignore[arg-type]
        elif isinstance(event, Ping):
            with contextlib.suppress(WebSocketClosed):
                await self._send(event.response())
        elif isinstance(event, Pong):
            waiter = self._pings.pop(bytes(event.payload), None)
            if waiter is not None:
                waiter.set()
        elif isinstance(event, CloseConnection):
            closed = WebSocketClosed(event.code, event.reason or None)
            with contextlib.suppress(WebSocketClosed):
                await self._send(event.response())
            self._closed = self._closed or closed
            self._wake_pings()

    async def _fail(self, code: int, reason: str) -> None:
        with contextlib.suppress(WebSocketClosed):
            await self._send(CloseConnection(code=code, reason=reason))
        self._close_locally(code, reason)

    def _close_locally(self, code: int, reason: str) -> None:
        if self._closed is None:
            self._closed = WebSocketClosed(code, reason)
        self._wake_pings()

    def _wake_pings(self) -> None:
        for waiter in self._pings.values():
            waiter.set()

    # --- closing ---------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close handshake (bounded by the caller's deadline), then close the stream."""
        try:
            if self._closed is None:
                try:
                    await self._send(CloseConnection(code=code, reason=reason))
                except WebSocketClosed:
                    return
                self._closed = WebSocketClosed(code, reason)
                self._wake_pings()
                # The reader task is gone by now: read the peer's Close (or EOF) here.
                while True:
                    data = await self._stream.receive_some(_RECEIVE_SIZE)
                    if not data:
                        return
                    self._ws.receive_data(bytes(data))
                    if any(isinstance(e, CloseConnection) for e in self._ws.events()):
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError, RemoteProtocolError):
            pass
        finally:
            await trio.aclose_forcefully(self._stream)


def _host_header(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port is None else f"{name}:{port}"


async def handshake(
    stream: trio.abc.Stream, host: str, resource: str, *, max_message_size: int
) -> WebSocket:
    """Upgrade ``stream`` (any trio stream) to a client WebSocket."""
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=host, target=resource)))
    status: int | None = None
    while True:
        data = await stream.receive_some(_RECEIVE_SIZE)
        if not data:
            detail = f" (HTTP {status})" if status is not None else ""
            raise WebSocketHandshakeError(f"the server closed the connection{detail}")
        try:
            ws.receive_data(bytes(data))
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    websocket = WebSocket(stream, ws, max_message_size=max_message_size)
                    await websocket._drain_events()  # frames that came with the 101
                    return websocket
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise WebSocketHandshakeError(f"upgrade rejected (HTTP {status})")
                elif isinstance(event, RejectData) and event.body_finished:
                    raise WebSocketHandshakeError(f"upgrade rejected (HTTP {status})")
        except RemoteProtocolError as exc:
            raise WebSocketHandshakeError(f"bad handshake response: {exc}") from exc


async def connect_websocket(
    url: str, *, max_message_size: int, ssl_context: ssl.SSLContext | None = None
) -> WebSocket:
    """Open ``ws://`` or ``wss://`` ``url``."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname
    if parts.scheme not in ("ws", "wss") or not host:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    stream: trio.abc.Stream
    if secure:
        stream = await trio.open_ssl_over_tcp_stream(
            host,
            port,
            ssl_context=ssl_context or ssl.create_default_context(),
            https_compatible=True,
        )
    else:
        stream = await trio.open_tcp_stream(host, port)
    try:
        return await handshake(
            stream, _host_header(host, parts.port), resource, max_message_size=max_message_size
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
