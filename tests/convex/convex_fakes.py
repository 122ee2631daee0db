"""An in-memory, scripted Convex peer for the client's tests (no network, pure trio).

Each connection the client opens becomes a :class:`ServerConn`: a real trio-websocket server over
``trio.testing.memory_stream_pair``; the client side is the client's own WebSocket (``wsproto``,
the default) or trio-websocket. The test reads the client's frames and answers by hand, so it
controls every interleaving. The client side of the stream goes through a :class:`Link` that can
"freeze" (a network that silently drops everything, as after laptop sleep).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio
import trio.testing
import trio_websocket

from tina.convex import ConvexClient, WebSocketLike
from tina.convex._protocol import encode_ts
from tina.convex._websocket import handshake
from tina.convex.client import _TrioWebSocket
from tina.dev.backend import REPO_ROOT

ClientFactory = Callable[..., AbstractAsyncContextManager[ConvexClient]]

#: The local backend's fixture project (message lists, errors, identity): the integration tests'
#: functions.
CONTRACT_FUNCTIONS_DIR = REPO_ROOT / "convex-local" / "contract" / "convex"


class Link(trio.abc.Stream):
    """The client's end of the wire; ``freeze()`` makes it drop everything both ways."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self._inner = inner
        self.frozen = False

    def freeze(self) -> None:
        self.frozen = True

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.frozen:
            await trio.lowlevel.checkpoint()
            return
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self.frozen:
            await trio.sleep_forever()
        data = await self._inner.receive_some(max_bytes)
        if self.frozen:
            await trio.sleep_forever()
        return data

    async def aclose(self) -> None:
        await self._inner.aclose()


def wire_version(query_set: int, identity: int, ts: int) -> dict[str, Any]:
    return {"querySet": query_set, "identity": identity, "ts": encode_ts(ts)}


def updated(query_id: int, value: Any, journal: Any = None) -> dict[str, Any]:
    return {
        "type": "QueryUpdated",
        "queryId": query_id,
        "value": value,
        "logLines": [],
        "journal": journal,
    }


def failed(query_id: int, message: str, **error_data: Any) -> dict[str, Any]:
    mod = {
        "type": "QueryFailed",
        "queryId": query_id,
        "errorMessage": message,
        "logLines": [],
        "journal": None,
    }
    if error_data:
        mod["errorData"] = error_data["data"]
    return mod


class ServerConn:
    """The server side of one client socket, driven by the test."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, link: Link, raw: Any) -> None:
        self.ws = ws
        self.link = link
        self._raw = raw
        self.query_set = 0
        self.identity = 0
        self.ts = 0

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.ws.get_message())
        return message

    async def expect(self, kind: str) -> dict[str, Any]:
        message = await self.recv()
        assert message["type"] == kind, message
        return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps(message))

    async def transition(
        self,
        modifications: Iterable[dict[str, Any]] = (),
        *,
        ts: int | None = None,
        query_set: int | None = None,
        identity: int | None = None,
    ) -> None:
        start = wire_version(self.query_set, self.identity, self.ts)
        self.ts = self.ts if ts is None else ts
        self.query_set = self.query_set if query_set is None else query_set
        self.identity = self.identity if identity is None else identity
        end = wire_version(self.query_set, self.identity, self.ts)
        await self.send(
            {
                "type": "Transition",
                "startVersion": start,
                "endVersion": end,
                "modifications": list(modifications),
            }
        )

    async def mutation_ok(self, request_id: int, ts: int, result: Any = None) -> None:
        await self.send(
            {
                "type": "MutationResponse",
                "requestId": request_id,
                "success": True,
                "result": result,
                "ts": encode_ts(ts),
                "logLines": [],
            }
        )

    async def handshake(self) -> dict[str, Any]:
        """Read the Connect frame."""
        return await self.expect("Connect")

    async def ping(self) -> None:
        await self.send({"type": "Ping"})

    async def close(self, code: int = 1000) -> None:
        with trio.move_on_after(5):  # the client may hang up without answering our Close
            await self.ws.aclose(code)

    async def abort(self) -> None:
        """Drop the TCP connection without a close handshake (a crashed server)."""
        await self._raw.aclose()


class FakeConvex:
    """A connector for the client plus the server ends of its sockets."""

    def __init__(self, nursery: trio.Nursery, transport: str = "wsproto") -> None:
        self._nursery = nursery
        self.transport = transport  # the client's WebSocket implementation
        self._send, self._receive = trio.open_memory_channel[ServerConn](64)
        self.mode = "accept"  # or "refuse" (connection refused) or "hang" (no handshake answer)
        self.connect_times: list[float] = []
        self.urls: list[str] = []

    @property
    def connects(self) -> int:
        return len(self.connect_times)

    async def connect(self, nursery: trio.Nursery, url: str) -> WebSocketLike:
        self.connect_times.append(trio.current_time())
        self.urls.append(url)
        if self.mode == "refuse":
            await trio.lowlevel.checkpoint()
            raise OSError(errno.ECONNREFUSED, "Connection refused")
        client_raw, server_raw = trio.testing.memory_stream_pair()
        link = Link(client_raw)
        if self.mode == "hang":
            link.freeze()
        self._nursery.start_soon(self._serve, server_raw, link)
        if self.transport == "wsproto":
            return await handshake(link, "fake.convex", "/api/sync", max_message_size=2**20)
        ws = await trio_websocket.wrap_client_stream(nursery, link, "fake.convex", "/api/sync")  # type: ignore[arg-type]
        return _TrioWebSocket(ws, link)  # as the client's own connector does

    async def _serve(self, raw: Any, link: Link) -> None:
        request = await trio_websocket.wrap_server_stream(self._nursery, raw)
        ws = await request.accept()
        await self._send.send(ServerConn(ws, link, raw))

    async def accept(self) -> ServerConn:
        """The server end of the client's next socket."""
        return await self._receive.receive()

    async def accept_handshake(self) -> tuple[ServerConn, dict[str, Any]]:
        conn = await self.accept()
        return conn, await conn.handshake()
