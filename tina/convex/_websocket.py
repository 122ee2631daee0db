"""A lean client WebSocket: frames of one socket are parsed in the reading task itself.

Why not trio-websocket (still available as ``transport="trio-websocket"``): it runs a reader task
per connection, hands each message over a memory channel and takes a lock per send; on the
client's hot paths (a mutation's round trip, a subscription update) those hops and wsproto's
general-purpose frame parser are most of the client's own CPU per frame, and CPU per frame is
latency on a busy laptop (see ``docs/benchmarks.md``).

Division of labour:

- wsproto does the opening handshake (key, accept check, rejections) and builds the control
  frames (Ping, Pong, Close with its rules on codes); text frames, the hot path, are built here
  (one unfragmented masked frame each);
- incoming frames are parsed here: a server's frames are never masked, and this client
  negotiates no extension, so a frame is a 2-14 byte header and a payload (RFC 6455 §5.2).
  Anything else is a protocol error (close 1002); bad UTF-8 in a text message is 1007; a
  message over ``max_message_size`` is 1009;
- a plain TCP socket (``trio.SocketStream``) is read and written with direct non-blocking
  system calls on its descriptor: data already there is taken without a scheduling round, a
  short read means the socket is empty (wait for it), and at least every ``_FAIR_TURNS``
  messages the reader yields so a flood cannot starve other tasks. Any other stream (TLS,
  in-memory) goes through its own ``receive_some`` / ``send_all``;
- everything sent goes through one ordered buffer: :meth:`WebSocket.send_nowait` queues a frame
  and writes what the socket takes at once (synchronously: no cancellation can cut a frame);
  :meth:`WebSocket.flush` waits for room for the rest.

Contract (what ``client.py`` relies on): one task calls :meth:`WebSocket.get_message`; any task
may send; Pings from the server are answered while reading; :meth:`WebSocket.ping` waits for
its Pong (which the reader delivers); a closed or broken socket raises :class:`WebSocketClosed`
from every call.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import struct
import urllib.parse
from collections import deque
from typing import Final

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

__all__ = [
    "WebSocket",
    "WebSocketClosed",
    "WebSocketHandshakeError",
    "connect_websocket",
    "handshake",
]

_RECEIVE_SIZE: Final = 65536
_MAX_HANDSHAKE: Final = 65536
_HEADER_SHORT: Final = struct.Struct("!BB")
_HEADER_MEDIUM: Final = struct.Struct("!BBH")
_HEADER_LONG: Final = struct.Struct("!BBQ")
_FAIR_TURNS: Final = 16  # messages handed out in a row without a scheduling round

_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
# Close codes that must never be sent in a Close frame (RFC 6455 §7.4.1).
_LOCAL_ONLY_CODES: Final = frozenset({1004, 1005, 1006, 1015})


class WebSocketClosed(Exception):
    """The socket is closed (``code`` 1006: it broke without a close handshake)."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(f"{code} {reason}" if reason else str(code))
        self.code = code
        self.reason = reason


class WebSocketHandshakeError(Exception):
    """The server did not accept the WebSocket upgrade."""


class _FrameError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WebSocket:
    """An open client WebSocket over a trio stream (create with :func:`connect_websocket`)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        ws: WSConnection,
        *,
        max_message_size: int,
        buffered: bytes = b"",
    ) -> None:
        self._stream = stream
        self._ws = ws  # builds our frames; never sees the server's
        self._max_message_size = max_message_size
        self._buffer = bytearray(buffered)
        self._messages: deque[str | bytes] = deque()
        self._parts: list[bytes] = []
        self._opcode: int | None = None  # of the data message being reassembled
        self._size = 0
        self._send_lock = trio.StrictFIFOLock()
        self._out = bytearray()  # frames queued, in order, not yet taken by the socket
        self._pings: dict[bytes, trio.Event] = {}
        self._closed: WebSocketClosed | None = None
        # A plain TCP socket is read and written with direct non-blocking system calls (see
        # the module docstring); any other stream (TLS, in-memory) through its own methods.
        self._fd: int | None = (
            stream.socket.fileno() if isinstance(stream, trio.SocketStream) else None
        )
        self._turns_without_yield = 0
        self._drained = False  # the last read took less than asked: the socket was empty
        self._reply_queued = False  # parsing queued a Pong or a Close: send before reading on

    # --- sending ---------------------------------------------------------------------------------

    def _error(self) -> WebSocketClosed:
        assert self._closed is not None
        return WebSocketClosed(self._closed.code, self._closed.reason)

    def _queue(self, event: Event) -> None:
        if self._closed is not None:
            raise self._error()
        try:
            self._out += self._ws.send(event)
        except LocalProtocolError:
            self._close_locally(1006, "connection closed")
            raise self._error() from None

    def _write_now(self) -> bool:
        """Write what the socket takes without blocking; True once nothing is left queued."""
        if self._fd is None:
            return not self._out
        try:
            written = os.write(self._fd, self._out)
        except BlockingIOError:
            return False
        except OSError:
            self._close_locally(1006, "connection lost")
            raise self._error() from None
        del self._out[:written]
        return not self._out

    async def _flush(self, *, even_if_closed: bool = False) -> None:
        """Hand everything queued to the stream (one flushing task at a time, in order)."""
        if self._send_lock.locked():
            await self._send_lock.acquire()
        else:
            self._send_lock.acquire_nowait()  # the common case: no extra scheduling round
        try:
            while self._out:
                if self._closed is not None and not even_if_closed:
                    raise self._error()
                if self._fd is not None:
                    if not self._write_now():
                        await trio.lowlevel.wait_writable(self._fd)
                    continue
                data = bytes(self._out)
                self._out.clear()
                await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._close_locally(1006, "connection lost")
            raise self._error() from None
        finally:
            self._send_lock.release()

    async def _send(self, event: Event) -> None:
        self._queue(event)
        await self._flush()

    def send_nowait(self, message: str) -> bool:
        """Queue a text message and write what the socket takes now, without blocking.

        True: the socket took everything queued. False: some is left; :meth:`flush` sends it
        (in order with every later send). Raises :class:`WebSocketClosed` once closed.
        """
        self._queue_text(message)
        if self._send_lock.locked():
            return False  # a task is flushing (waiting for room): it takes this too
        return self._write_now()

    async def flush(self) -> None:
        """Send everything :meth:`send_nowait` left queued."""
        await self._flush()

    @property
    def has_unsent(self) -> bool:
        """Whether :meth:`send_nowait` left bytes queued for :meth:`flush`."""
        return bool(self._out)

    def _queue_text(self, message: str) -> None:
        # Text frames are built here (one unfragmented, masked frame: RFC 6455 §5.2-5.3), the
        # hot path; wsproto builds the rare control frames and tracks the closing handshake.
        if self._closed is not None:
            raise self._error()
        payload = message.encode("utf-8")
        size = len(payload)
        if size < 126:
            header = _HEADER_SHORT.pack(0x81, 0x80 | size)
        elif size < 65536:
            header = _HEADER_MEDIUM.pack(0x81, 0xFE, size)
        else:
            header = _HEADER_LONG.pack(0x81, 0xFF, size)
        key = os.urandom(4)
        mask = (key * (size // 4 + 1))[:size]
        masked = int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")
        self._out += header
        self._out += key
        self._out += masked.to_bytes(size, "little")

    async def send_message(self, message: str) -> None:
        self._queue_text(message)
        await self._flush()

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
        # Messages already read are handed out without a scheduling round, but at least every
        # _FAIR_TURNS calls this yields, so a flood cannot starve the other tasks.
        self._turns_without_yield += 1
        if self._turns_without_yield >= _FAIR_TURNS:
            self._turns_without_yield = 0
            await trio.lowlevel.checkpoint()
        while not self._messages:
            if self._closed is not None:
                raise self._error()
            if self._buffer:
                self._parse()
                if self._reply_queued:
                    await self._send_replies()
                if self._messages or self._closed is not None:
                    continue
            try:
                data = await self._receive()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._close_locally(1006, "connection lost")
                continue
            self._buffer += data
            self._parse()
            if self._reply_queued:
                await self._send_replies()
        return self._messages.popleft()

    async def _receive(self) -> bytes | bytearray:
        if self._fd is None:
            return await self._stream.receive_some(_RECEIVE_SIZE)
        # Read at once when data may be there (no scheduling round trip); after a short read
        # drained the socket, wait for it at once (reading again would only fail).
        if self._drained:
            self._turns_without_yield = 0
            await trio.lowlevel.wait_readable(self._fd)
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed is not None:
                return b""
            try:
                data = os.read(self._fd, _RECEIVE_SIZE)
            except BlockingIOError:
                self._turns_without_yield = 0
                await trio.lowlevel.wait_readable(self._fd)
                continue
            except OSError:
                return b""
            self._drained = len(data) < _RECEIVE_SIZE
            return data

    async def _send_replies(self) -> None:
        """Send the Pongs and the closing Close that parsing queued (even once closed)."""
        self._reply_queued = False
        with contextlib.suppress(WebSocketClosed):
            await self._flush(even_if_closed=True)

    def _reply(self, event: Event) -> None:
        with contextlib.suppress(WebSocketClosed):
            self._queue(event)
            self._reply_queued = True

    def _parse(self) -> None:
        """Handle every complete frame in the buffer (replies are queued, not sent)."""
        buffer = self._buffer
        end = len(buffer)
        pos = 0
        try:
            while self._closed is None and end - pos >= 2:
                first, second = buffer[pos], buffer[pos + 1]
                if first & 0x70:
                    raise _FrameError(1002, "reserved bits set (no extension was negotiated)")
                if second & 0x80:
                    raise _FrameError(1002, "masked frame from the server")
                opcode = first & 0x0F
                length = second & 0x7F
                header = 2
                if length == 126:
                    if end - pos < 4:
                        break
                    length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                    header = 4
                elif length == 127:
                    if end - pos < 10:
                        break
                    length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                    header = 10
                if opcode & 0x8:
                    if not first & 0x80 or length > 125:
                        raise _FrameError(1002, "fragmented or oversized control frame")
                elif self._size + length > self._max_message_size:
                    raise _FrameError(1009, f"message larger than {self._max_message_size}")
                if end - pos < header + length:
                    break
                payload = bytes(buffer[pos + header : pos + header + length])
                pos += header + length
                self._frame(opcode, bool(first & 0x80), payload)
        except _FrameError as exc:
            self._reply(CloseConnection(code=exc.code, reason=exc.reason))
            self._close_locally(exc.code, exc.reason)
        finally:
            del buffer[:pos]

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode in (_TEXT, _BINARY):
            if self._opcode is not None:
                raise _FrameError(1002, "new message before the previous one ended")
            if fin:  # the common case: a whole message in one frame
                self._deliver(opcode, payload)
                return
            self._opcode = opcode
        elif opcode == _CONTINUATION:
            if self._opcode is None:
                raise _FrameError(1002, "continuation frame without a message")
        elif opcode == _PING:
            self._reply(Ping(payload=payload).response())
            return
        elif opcode == _PONG:
            waiter = self._pings.pop(payload, None)
            if waiter is not None:
                waiter.set()
            return
        elif opcode == _CLOSE:
            self._on_close(payload)
            return
        else:
            raise _FrameError(1002, f"reserved opcode {opcode:#x}")
        self._size += len(payload)
        self._parts.append(payload)
        if not fin:
            return
        kind, data = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        self._deliver(kind, data)

    def _deliver(self, opcode: int, data: bytes) -> None:
        if opcode == _BINARY:
            self._messages.append(data)
            return
        try:
            self._messages.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise _FrameError(1007, "text message is not UTF-8") from None

    def _on_close(self, payload: bytes) -> None:
        if len(payload) == 1:
            raise _FrameError(1002, "close frame with a 1-byte payload")
        code = int.from_bytes(payload[:2], "big") if payload else 1005
        try:
            reason = payload[2:].decode("utf-8") or None
        except UnicodeDecodeError:
            raise _FrameError(1007, "close reason is not UTF-8") from None
        # Complete the close handshake, echoing the code when it may appear on the wire.
        echo = code if 1000 <= code < 5000 and code not in _LOCAL_ONLY_CODES else 1000
        self._reply(CloseConnection(code=echo))
        self._close_locally(code, reason)

    def _close_locally(self, code: int, reason: str | None) -> None:
        if self._closed is None:
            self._closed = WebSocketClosed(code, reason)
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
                self._close_locally(code, reason)
                # The reader task is gone by now: read up to the peer's Close (or EOF) here.
                while True:
                    data = await self._stream.receive_some(_RECEIVE_SIZE)
                    if not data or _has_close_frame(self._buffer, data):
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            # Nothing may touch the descriptor once the stream closes (its number is reused).
            self._close_locally(1006, "closed")
            self._fd = None
            await trio.aclose_forcefully(self._stream)


def _has_close_frame(buffer: bytearray, data: bytes | bytearray) -> bool:
    """Scan frames (discarding them) for a Close; keeps any partial frame in ``buffer``."""
    buffer += data
    pos = 0
    found = False
    while len(buffer) - pos >= 2:
        opcode, length, header = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F, 2
        if length == 126:
            length, header = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
        elif length == 127:
            length, header = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
        if len(buffer) - pos < header + length:
            break
        pos += header + length
        found = found or opcode == _CLOSE
    del buffer[:pos]
    return found


def _host_header(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port is None else f"{name}:{port}"


async def handshake(
    stream: trio.abc.Stream, host: str, resource: str, *, max_message_size: int
) -> WebSocket:
    """Upgrade ``stream`` (any trio stream) to a client WebSocket."""
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=host, target=resource)))
    received = b""
    while b"\r\n\r\n" not in received:
        data = await stream.receive_some(_RECEIVE_SIZE)
        if not data:
            raise WebSocketHandshakeError("the server closed the connection during the handshake")
        received += data
        if len(received) > _MAX_HANDSHAKE:
            raise WebSocketHandshakeError("handshake response too large")
    # The response head goes to wsproto; what follows it is already WebSocket frames (ours).
    head, separator, frames = received.partition(b"\r\n\r\n")
    try:
        ws.receive_data(head + separator)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return WebSocket(stream, ws, max_message_size=max_message_size, buffered=frames)
            if isinstance(event, RejectConnection):
                raise WebSocketHandshakeError(f"upgrade rejected (HTTP {event.status_code})")
    except RemoteProtocolError as exc:
        raise WebSocketHandshakeError(f"bad handshake response: {exc}") from exc
    raise WebSocketHandshakeError("no handshake response")


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
