"""A trio-native Convex client: the socket, liveness, reconnects, deadlines and delivery.

``open_convex_client(url)`` runs one background task that owns the WebSocket. The protocol rules
live in the sans-io :class:`~tina.convex._protocol.SyncProtocol`; this module only moves frames and
wakes callers:

- **reader**: feeds frames to the protocol and stamps their arrival; a **watchdog** drops the
  socket after ``idle_timeout`` without a frame (30 s: the server pings every ~15 s, so 30 s of
  silence means the socket is dead);
- **writer**: the only task that sends, in the protocol's order; callers never touch the socket,
  so cancelling a caller can never leave a half-sent frame;
- **pinger**: a WebSocket ping every ``ping_interval`` measures the round-trip time; it also
  notices that the laptop slept (the wall clock jumped ahead of trio's clock) and probes the
  socket at once instead of waiting out the idle timeout;
- **reconnect loop**: capped exponential backoff with jitter (convex-js: ~1 s ±50 %, doubling,
  16 s cap), reset once a connection proved healthy (the server answered something);
  ``AuthError`` parks the client in ``auth_failed`` until :meth:`ConvexClient.set_auth`.

Calls wait for their result while the client is disconnected; each takes ``timeout`` (default:
the client's ``timeout``; None: only the caller's own cancel scopes). A timed-out or cancelled
mutation that was already sent may still be applied; it is not re-sent after a reconnect.

Two WebSocket implementations (``transport=``): ``"wsproto"`` (the default: tina's own, in
``_websocket.py``; frames are parsed in the reader task itself, a plain TCP socket is read and
written with direct non-blocking system calls, and a caller's frame is written from the caller's
own task when the socket takes it at once, so no hop to the writer task) and
``"trio-websocket"`` (a reader task of its own per connection, a channel hop per message and a
lock per send: about twice the client's own time per round trip, see ``docs/benchmarks.md``).
Both are covered by the same tests.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
import ssl
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Final, Literal, Protocol, TypeVar, runtime_checkable

import attrs
import outcome
import structlog
import trio
import trio_websocket

from ._cell import LatestValue
from ._protocol import (
    AuthConfirmed,
    AuthRejected,
    Event,
    QueryResult,
    QueryUpdated,
    RequestCompleted,
    ServerFatal,
    SyncProtocol,
    TransitionApplied,
    canonical_udf_path,
)
from ._websocket import WebSocketClosed, WebSocketHandshakeError, connect_websocket
from .errors import (
    ConvexAuthError,
    ConvexClientClosed,
    ConvexClientError,
    ConvexFatalError,
    ConvexProtocolError,
    ConvexTimeout,
    fresh,
)

__all__ = [
    "DEFAULT",
    "Backoff",
    "ClientStatistics",
    "ConnectionState",
    "ConnectionStatus",
    "ConvexClient",
    "Subscription",
    "WebSocketLike",
    "open_convex_client",
    "sync_url",
]

log = structlog.get_logger("tina.convex")

T = TypeVar("T")

#: Compact the deadline heap (drop finished calls) every this many entries.
_COMPACT_AT: Final = 256


class _Default(enum.Enum):
    DEFAULT = enum.auto()


#: "Use the client's default timeout."
DEFAULT: Final = _Default.DEFAULT
Timeout = float | None | Literal[_Default.DEFAULT]


class WebSocketLike(Protocol):
    """What the client needs from a WebSocket (trio-websocket's ``WebSocketConnection``)."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str | bytes: ...

    async def ping(self, payload: bytes | None = None) -> None: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...


@runtime_checkable
class _DirectSocket(WebSocketLike, Protocol):
    """A socket that also sends without waiting (tina's own WebSocket, ``_websocket.py``)."""

    @property
    def has_unsent(self) -> bool: ...

    def send_nowait(self, message: str) -> bool: ...

    async def flush(self) -> None: ...


#: Opens a socket whose background tasks run in the given nursery (after the handshake).
Connect = Callable[[trio.Nursery, str], Awaitable[WebSocketLike]]


def sync_url(url: str) -> str:
    """The sync endpoint of a deployment URL: ``https://x.convex.cloud`` -> ``wss://…/api/sync``.

    ``ws(s)://`` URLs with a path ending in ``/sync`` are used as they are.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(f"not a Convex deployment URL: {url!r}")
    path = parts.path
    if not path.endswith("/sync"):
        path = path.rstrip("/") + "/api/sync"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


class ConnectionState(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    AUTH_FAILED = "auth_failed"
    CLOSED = "closed"


@attrs.frozen(kw_only=True)
class ConnectionStatus:
    """A snapshot of the connection, for the debug tree and the heartbeat.

    ``since`` and ``retry_at`` are wall-clock epoch seconds. ``attempts`` counts connection
    attempts since the last healthy connection (0 once the server has answered). ``last_error``
    is the reason the previous socket ended (never contains credentials).
    """

    state: ConnectionState
    since: float
    attempts: int = 0
    last_error: str | None = None
    rtt_ms: float | None = None
    connected_count: int = 0
    retry_at: float | None = None


@attrs.frozen(kw_only=True)
class Backoff:
    """Capped exponential backoff with jitter: ``min(initial * 2**n, maximum) * (1 ± jitter)``."""

    initial: float = 1.0
    maximum: float = 16.0
    jitter: float = 0.5

    def delay(self, retries: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.initial * 2.0 ** min(retries, 62), self.maximum)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand() - 1.0)))


@attrs.frozen(kw_only=True)
class ClientStatistics:
    """Counts for the debug view."""

    status: ConnectionStatus
    live_queries: int
    subscriptions: int
    pending_mutations: int
    pending_actions: int
    outbox: int


class _Waiter:
    """One caller waiting for one outcome: the answer, an error, or its deadline.

    Built on ``wait_task_rescheduled`` rather than an Event inside a cancel scope: this is on
    every call's path, and a deadline here costs one heap push (see :class:`_Deadlines`).
    """

    __slots__ = ("_error", "_task", "_value", "answered", "done")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._value: Any = None
        self._error: BaseException | None = None
        self.done = False  # nothing will change the outcome any more
        self.answered = False  # resolved by the protocol (not timed out, not cancelled)

    def resolve(self, value: Any = None, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.answered = True
        self._finish(value, error)

    def expire(self, error: BaseException) -> None:
        if not self.done:
            self._finish(None, error)

    def _finish(self, value: Any, error: BaseException | None) -> None:
        self.done = True
        if self._task is None:  # not waiting yet: wait() returns at once
            self._value, self._error = value, error
            return
        task, self._task = self._task, None
        trio.lowlevel.reschedule(
            task, outcome.Value(value) if error is None else outcome.Error(fresh(error))
        )

    async def wait(self) -> Any:
        if self.done:
            await trio.lowlevel.checkpoint()
            if self._error is not None:
                raise fresh(self._error)
            return self._value
        self._task = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self.done = True  # cancelled by the caller's own scopes
            self._task = None
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)


class _Deadlines:
    """The deadlines of waiting calls, served by one task: a call costs a heap push, not a
    cancel scope (entered and exited on every mutation's path).

    Entries of calls that finished stay in the heap until they reach its top (or a compaction);
    the task sleeps until the earliest entry and is woken only when an earlier one arrives.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Waiter, str]] = []
        self._count = 0
        self._lot = trio.lowlevel.ParkingLot()
        self._wake_at = math.inf

    def add(self, waiter: _Waiter, timeout: float, what: str) -> None:
        """Expire ``waiter`` with :class:`ConvexTimeout` after ``timeout`` seconds."""
        deadline = trio.current_time() + timeout
        self._count += 1
        message = f"{what} timed out after {timeout:g} s"
        heapq.heappush(self._heap, (deadline, self._count, waiter, message))
        if len(self._heap) > _COMPACT_AT and len(self._heap) % _COMPACT_AT == 0:
            self._heap = [entry for entry in self._heap if not entry[2].done]
            heapq.heapify(self._heap)
        if deadline < self._wake_at:
            self._lot.unpark_all()

    async def run(self) -> None:
        while True:
            heap = self._heap
            now = trio.current_time()
            while heap and (heap[0][2].done or heap[0][0] <= now):
                _, _, waiter, message = heapq.heappop(heap)
                waiter.expire(ConvexTimeout(message))
            self._wake_at = heap[0][0] if heap else math.inf
            with trio.move_on_at(self._wake_at):
                await self._lot.park()


class _Deadline:
    """Cancel the block after ``timeout`` seconds and raise :class:`ConvexTimeout` instead.

    None: no deadline of our own. (A class, not @contextmanager: this is on every call's path.)
    """

    __slots__ = ("_scope", "_timeout", "_what")

    def __init__(self, timeout: float | None, what: str) -> None:
        self._timeout = timeout
        self._what = what
        self._scope: trio.CancelScope | None = None

    def __enter__(self) -> None:
        if self._timeout is not None:
            self._scope = trio.move_on_after(self._timeout)
            self._scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        scope = self._scope
        if scope is None:
            return False
        suppressed = bool(scope.__exit__(exc_type, exc, tb))
        if scope.cancelled_caught:
            raise ConvexTimeout(f"{self._what} timed out after {self._timeout:g} s")
        return suppressed


class Subscription:
    """The live results of one query: a latest-value cell (slow readers skip to the newest).

    ``await sub.next()`` returns the next value not seen yet (raising the query's error if it
    failed; the subscription stays usable); ``async for value in sub`` does the same in a loop;
    ``await sub.forward(send_channel)`` pushes every :class:`QueryResult` into a channel (a
    blocked channel coalesces: it gets the newest result once it has room).
    """

    def __init__(self, udf_path: str, args: Mapping[str, Any] | None) -> None:
        self.udf_path: Final = udf_path
        self.args: Final = dict(args or {})
        self._cell: LatestValue[QueryResult | None] = LatestValue(None)
        self._seen = 0
        self._closed: ConvexClientError | None = None

    def __repr__(self) -> str:
        return f"<Subscription {self.udf_path} version={self._cell.version}>"

    @property
    def latest(self) -> QueryResult | None:
        """The newest result delivered so far (None before the first)."""
        return self._cell.value

    async def next_result(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> QueryResult:
        """Wait for a result newer than the last one returned; return the newest."""
        with _Deadline(timeout, f"subscription {self.udf_path}"):
            if self._closed is not None and self._cell.version <= self._seen:
                await trio.lowlevel.checkpoint()
                raise fresh(self._closed)
            version, result = await self._cell.wait_newer(self._seen)
            if result is None:  # the cell was woken by close()
                assert self._closed is not None
                raise fresh(self._closed)
            self._seen = version
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def next(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        """The next value; raises the query's error if its newest result is a failure."""
        return (await self.next_result(timeout=timeout)).unwrap()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        return await self.next()

    async def forward(self, send_channel: trio.MemorySendChannel[QueryResult]) -> None:
        """Send each new result into ``send_channel`` until cancelled or the subscription ends.

        Returns quietly if the receiving side is closed or the subscription closes.
        """
        while True:
            try:
                result = await self.next_result()
            except ConvexClientClosed:
                return
            try:
                await send_channel.send(result)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

    def _push(self, result: QueryResult) -> None:
        if self._closed is None:
            self._cell.set(result)

    def _close(self, error: ConvexClientError) -> None:
        if self._closed is None:
            self._closed = error
            if self._cell.version <= self._seen:
                self._cell.set(None)  # wake readers; they raise the close error


@attrs.define
class _Outcome:
    """How one socket ended."""

    reason: str | None = None
    healthy: bool = False

    def fail(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


class _Dropper:
    def __init__(self, scope: trio.CancelScope, outcome: _Outcome) -> None:
        self._scope = scope
        self._outcome = outcome

    def __call__(self, reason: str) -> None:
        self._outcome.fail(reason)
        self._scope.cancel(reason)


#: What a socket raises once it is closed (either transport).
_CLOSED: Final = (trio_websocket.ConnectionClosed, WebSocketClosed)

_CONNECT_ERRORS: Final = (
    OSError,
    trio_websocket.HandshakeError,
    WebSocketHandshakeError,
    *_CLOSED,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, WebSocketClosed):
        return f"closed ({exc.code} {exc.reason})" if exc.reason else f"closed ({exc.code})"
    if isinstance(exc, WebSocketHandshakeError):
        return f"handshake failed: {exc}"
    if isinstance(exc, trio_websocket.ConnectionClosed) and exc.reason is not None:
        extra = f": {exc.reason.reason}" if exc.reason.reason else ""
        return f"closed ({exc.reason.code} {exc.reason.name}{extra})"
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return f"handshake rejected (HTTP {exc.status_code})"
    text = str(exc)
    if not text and exc.__cause__ is not None:  # e.g. trio's BrokenResourceError from TLS
        return f"{type(exc).__name__}: {_describe(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ConvexClient:
    """One Convex session over one WebSocket at a time. Create with :func:`open_convex_client`."""

    def __init__(
        self,
        url: str,
        *,
        connect: Connect,
        timeout: float | None = 30.0,
        connect_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        ping_interval: float = 15.0,
        close_timeout: float = 1.0,
        backoff: Backoff = Backoff(),
        session_id: str | None = None,
        auth_token: str | None = None,
        wake_threshold: float = 5.0,
        rand: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.url: Final = sync_url(url)
        self.session_id: Final = session_id or str(uuid.uuid4())
        self._connect = connect
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._ping_interval = ping_interval
        self._close_timeout = close_timeout
        self._backoff = backoff
        self._wake_threshold = wake_threshold
        self._rand = rand
        self._wall = wall_clock
        self._proto = SyncProtocol(
            session_id=self.session_id, clock_ms=lambda: int(wall_clock() * 1000)
        )
        if auth_token is not None:
            self._proto.set_auth(auth_token)
        self._waiters: dict[int, _Waiter] = {}
        self._deadlines = _Deadlines()
        self._query_waiters: dict[int, list[_Waiter]] = {}
        self._subs: dict[int, list[Subscription]] = {}
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._direct: _DirectSocket | None = None  # the open socket, if it can send without waiting
        self._loop_lot = trio.lowlevel.ParkingLot()
        self._auth_error: ConvexAuthError | None = None
        self._closed = False
        self._socket_scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._last_received = 0.0  # trio time of the socket's last frame
        self._attempts = 0
        self._status = LatestValue(
            ConnectionStatus(state=ConnectionState.CONNECTING, since=wall_clock())
        )
        self._log = log.bind(session_id=self.session_id)

    def __repr__(self) -> str:
        return f"<ConvexClient {self.url} {self._status.value.state.value}>"

    # --- observation ---------------------------------------------------------------------------

    def status(self) -> ConnectionStatus:
        """The current connection status."""
        return self._status.value

    @property
    def status_cell(self) -> LatestValue[ConnectionStatus]:
        """The status as a latest-value cell (read it; do not set it)."""
        return self._status

    async def wait_status_change(
        self,
        previous: ConnectionStatus,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ConnectionStatus:
        """Wait until the status differs from ``previous``; return the new one."""
        with _Deadline(timeout, "status change"):
            return await self._status.wait_for(lambda s: s != previous)
        raise AssertionError("unreachable")  # pragma: no cover

    async def wait_connected(
        self,
        *,
        timeout: Timeout = DEFAULT,  # noqa: ASYNC109
    ) -> ConnectionStatus:
        """Wait until a socket is open (raises :class:`ConvexAuthError` while auth fails)."""
        seconds = self._resolve(timeout)
        with _Deadline(seconds, "connect"):
            while True:
                status = await self._status.wait_for(
                    lambda s: (
                        s.state
                        in (
                            ConnectionState.CONNECTED,
                            ConnectionState.AUTH_FAILED,
                            ConnectionState.CLOSED,
                        )
                    )
                )
                if status.state is ConnectionState.CONNECTED:
                    return status
                self._check_usable()
                # auth_failed, but a new token was set: wait for the reconnect
                await self.wait_status_change(status)
        raise AssertionError("unreachable")  # pragma: no cover

    def statistics(self) -> ClientStatistics:
        stats = self._proto.statistics()
        return ClientStatistics(
            status=self._status.value,
            live_queries=stats.live_queries,
            subscriptions=sum(len(subs) for subs in self._subs.values()),
            pending_mutations=stats.pending_mutations,
            pending_actions=stats.pending_actions,
            outbox=stats.outbox,
        )

    # --- calls ---------------------------------------------------------------------------------

    async def query(
        self,
        udf_path: str,
        args: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout = DEFAULT,  # noqa: ASYNC109 (deadline per call, as the gateway needs)
    ) -> Any:
        """Run a query once: add it to the live set, take its first result, remove it."""
        seconds = self._resolve(timeout)
        self._check_usable()
        query_id = self._proto.subscribe(udf_path, args)
        self._send_pending()
        try:
            cached = self._proto.result(query_id)
            if cached is not None:  # shared with a live subscription: already current
                await trio.lowlevel.checkpoint()
                return cached.unwrap()
            waiter = _Waiter()
            self._query_waiters.setdefault(query_id, []).append(waiter)
            if seconds is not None:
                self._deadlines.add(waiter, seconds, f"query {udf_path}")
            try:
                result: QueryResult = await waiter.wait()
                return result.unwrap()
            finally:
                waiters = self._query_waiters.get(query_id)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._query_waiters[query_id]
        finally:
            self._proto.unsubscribe(query_id)
            self._send_pending()

    async def mutation(
        self,
        udf_path: str,
        args: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout = DEFAULT,  # noqa: ASYNC109 (deadline per call, as the gateway needs)
    ) -> Any:
        """Run a mutation; returns once its writes are visible to this client's queries."""
        seconds = self._resolve(timeout)
        self._check_usable()
        return await self._await_request(
            self._proto.mutation(udf_path, args), seconds, f"mutation {udf_path}"
        )

    async def action(
        self,
        udf_path: str,
        args: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout = DEFAULT,  # noqa: ASYNC109 (deadline per call, as the gateway needs)
    ) -> Any:
        """Run an action (never re-sent: a lost connection raises ``ConvexConnectionLost``)."""
        seconds = self._resolve(timeout)
        self._check_usable()
        return await self._await_request(
            self._proto.action(udf_path, args), seconds, f"action {udf_path}"
        )

    @asynccontextmanager
    async def subscribe(
        self, udf_path: str, args: Mapping[str, Any] | None = None
    ) -> AsyncIterator[Subscription]:
        """Subscribe to a query for the duration of the ``async with`` block."""
        if self._closed:
            raise ConvexClientClosed("client is closed")
        await trio.lowlevel.checkpoint()
        query_id = self._proto.subscribe(udf_path, args)
        self._send_pending()
        sub = Subscription(canonical_udf_path(udf_path), args)
        self._subs.setdefault(query_id, []).append(sub)
        cached = self._proto.result(query_id)
        if cached is not None:
            sub._push(cached)
        elif self._auth_error is not None:
            sub._push(QueryResult(error=self._auth_error))
        try:
            yield sub
        finally:
            sub._close(ConvexClientClosed("subscription closed"))
            subs = self._subs.get(query_id)
            if subs is not None:
                subs.remove(sub)
                if not subs:
                    del self._subs[query_id]
            self._proto.unsubscribe(query_id)
            self._send_pending()

    def set_auth(self, token: str | None) -> None:
        """Authenticate with ``token`` (a JWT) from now on; None to clear.

        Sent at once on a live socket; after an ``AuthError`` this also ends ``auth_failed`` and
        reconnects.
        """
        if self._closed:
            raise ConvexClientClosed("client is closed")
        self._proto.set_auth(token)
        self._send_pending()
        if self._auth_error is not None:
            self._auth_error = None
            self._loop_lot.unpark_all()

    def reconnect_now(self) -> None:
        """Skip the rest of a backoff delay (e.g. the network just came back)."""
        self._loop_lot.unpark_all()

    # --- internals: calls ----------------------------------------------------------------------

    def _resolve(self, timeout: Timeout) -> float | None:
        return self._timeout if timeout is DEFAULT else timeout

    def _check_usable(self) -> None:
        if self._closed:
            raise ConvexClientClosed("client is closed")
        if self._auth_error is not None:
            raise fresh(self._auth_error)

    async def _await_request(self, request_id: int, seconds: float | None, what: str) -> Any:
        self._send_pending()  # first: the request is on its way while the rest is set up
        waiter = _Waiter()
        self._waiters[request_id] = waiter
        if seconds is not None:
            self._deadlines.add(waiter, seconds, what)
        try:
            return await waiter.wait()
        finally:
            if not waiter.answered:  # timed out or cancelled
                self._waiters.pop(request_id, None)
                self._proto.abandon(request_id)
                self._log.debug("convex_request.abandoned", request=what, request_id=request_id)

    # --- internals: delivery -------------------------------------------------------------------

    def _dispatch(self, events: list[Event]) -> str | None:
        """Wake callers; returns a reason if the socket must be dropped."""
        drop: str | None = None
        for event in events:
            match event:
                case QueryUpdated(query_id=query_id, result=result):
                    for sub in self._subs.get(query_id, ()):
                        sub._push(result)
                    for waiter in self._query_waiters.pop(query_id, ()):
                        waiter.resolve(result)
                case RequestCompleted(request_id=request_id, value=value, error=error):
                    request_waiter = self._waiters.pop(request_id, None)
                    if request_waiter is not None:
                        request_waiter.resolve(value, error)
                case TransitionApplied():
                    pass
                case AuthConfirmed():
                    self._log.debug("convex_auth.confirmed")
                case AuthRejected(message=message, update_attempted=attempted):
                    self._reject_auth(message, attempted)
                    drop = "authentication rejected"
                case ServerFatal(message=message):
                    error = ConvexFatalError(message)
                    self._log.error("convex_connection.fatal", error=message)
                    drop = f"server fatal error: {error}"
        return drop

    def _reject_auth(self, message: str, attempted: bool) -> None:
        text = message or ("token rejected" if attempted else "token expired")
        error = ConvexAuthError(f"authentication failed: {text}")
        self._auth_error = error
        self._log.warning("convex_auth.rejected", error=text, update_attempted=attempted)
        self._dispatch(self._proto.fail_all_requests(error))
        for query_id in list(self._query_waiters):
            for waiter in self._query_waiters.pop(query_id):
                waiter.resolve(QueryResult(error=error))
        for subs in self._subs.values():
            for sub in subs:
                sub._push(QueryResult(error=error))

    def _mark_healthy(self, outcome: _Outcome) -> None:
        if not outcome.healthy:
            outcome.healthy = True
            self._attempts = 0
            self._set_status(attempts=0)

    def _set_status(self, **changes: Any) -> None:
        current = self._status.value
        if current.state is ConnectionState.CLOSED:
            return  # final
        if "state" in changes and changes["state"] is not current.state:
            changes["since"] = self._wall()
            if changes["state"] is not ConnectionState.BACKING_OFF:
                changes.setdefault("retry_at", None)
        updated = attrs.evolve(current, **changes)
        if updated != current:
            self._status.set(updated)
            if updated.state is not current.state:
                self._log.info(
                    "convex_connection.status",
                    state=updated.state.value,
                    attempts=updated.attempts,
                    last_error=updated.last_error,
                )

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        error = ConvexClientClosed("client closed")
        self._dispatch(self._proto.fail_all_requests(error))
        for query_id in list(self._query_waiters):
            for waiter in self._query_waiters.pop(query_id):
                waiter.resolve(QueryResult(error=error))
        for subs in self._subs.values():
            for sub in subs:
                sub._close(error)
        self._set_status(state=ConnectionState.CLOSED, rtt_ms=None)
        if self._socket_scope is not None:
            self._socket_scope.cancel("convex client closing")
        self._loop_lot.unpark_all()

    # --- internals: the connection loop --------------------------------------------------------

    async def _run(self) -> None:
        retries = 0
        try:
            while not self._closed:
                if self._auth_error is not None:
                    self._set_status(
                        state=ConnectionState.AUTH_FAILED, last_error=str(self._auth_error)
                    )
                    while self._auth_error is not None and not self._closed:
                        await self._loop_lot.park()
                    retries = 0
                    self._attempts = 0
                    continue
                self._attempts += 1
                self._set_status(state=ConnectionState.CONNECTING, attempts=self._attempts)
                outcome = await self._connect_and_serve()
                if self._closed:
                    return
                reason = outcome.reason or "closed"
                self._dispatch(self._proto.connection_lost(reason))
                self._set_status(last_error=reason, rtt_ms=None)
                if outcome.healthy:
                    retries = 0
                self._log.warning(
                    "convex_connection.lost" if outcome.healthy else "convex_connection.failed",
                    reason=reason,
                    attempts=self._attempts,
                )
                if self._auth_error is not None:
                    continue
                delay = self._backoff.delay(retries, self._rand)
                retries += 1
                self._set_status(state=ConnectionState.BACKING_OFF, retry_at=self._wall() + delay)
                with trio.move_on_after(delay):
                    await self._loop_lot.park()
        finally:
            self._stopped.set()

    async def _connect_and_serve(self) -> _Outcome:
        """One socket: connect, serve until it fails (or the client closes), close it."""
        outcome = _Outcome()
        try:
            async with trio.open_nursery() as nursery:
                ws: WebSocketLike | None = None
                with trio.CancelScope() as self._socket_scope:
                    if self._closed:
                        self._socket_scope.cancel()
                    with trio.move_on_after(self._connect_timeout) as connect_scope:
                        ws = await self._connect(nursery, self.url)
                    if connect_scope.cancelled_caught:
                        outcome.fail(f"connect timed out after {self._connect_timeout:g} s")
                    elif ws is not None:
                        await self._serve(ws, outcome)
                # Close while the socket's own tasks still run (they complete the handshake).
                if ws is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(self._close_timeout):
                        await ws.aclose()
                nursery.cancel_scope.cancel()
        except* _CONNECT_ERRORS as group:
            outcome.fail(_describe(group.exceptions[0]))
        finally:
            self._socket_scope = None
        return outcome

    async def _serve(self, ws: WebSocketLike, outcome: _Outcome) -> None:
        self._proto.start_connection()
        self._set_status(
            state=ConnectionState.CONNECTED,
            connected_count=self._proto.connection_count,
        )
        self._log.info(
            "convex_connection.opened",
            url=self.url,
            connection_count=self._proto.connection_count,
        )
        self._last_received = trio.current_time()
        async with trio.open_nursery() as tasks:
            drop = _Dropper(tasks.cancel_scope, outcome)
            tasks.start_soon(self._read_loop, ws, drop, outcome, name="convex:reader")
            tasks.start_soon(self._idle_watchdog, drop, name="convex:watchdog")
            tasks.start_soon(self._write_loop, ws, drop, name="convex:writer")
            tasks.start_soon(self._ping_loop, ws, drop, name="convex:pinger")

    async def _read_loop(self, ws: WebSocketLike, drop: _Dropper, outcome: _Outcome) -> None:
        try:
            while True:
                frame = await ws.get_message()
                self._last_received = trio.current_time()
                reason = self._dispatch(self._proto.receive(frame))
                if reason is not None:
                    drop(reason)
                    return
                if not outcome.healthy:
                    self._mark_healthy(outcome)
        except _CLOSED as exc:
            drop(_describe(exc))
        except ConvexProtocolError as exc:
            self._log.warning("convex_protocol.violated", error=str(exc))
            drop(f"protocol error: {exc}")

    async def _idle_watchdog(self, drop: _Dropper) -> None:
        """Drop the socket after ``idle_timeout`` without a frame (the reader only stamps)."""
        while True:
            deadline = self._last_received + self._idle_timeout
            if trio.current_time() >= deadline:
                drop(f"no message from the server for {self._idle_timeout:g} s")
                return
            await trio.sleep_until(deadline)

    async def _write_loop(self, ws: WebSocketLike, drop: _Dropper) -> None:
        direct = ws if isinstance(ws, _DirectSocket) else None
        self._direct = direct
        try:
            while True:
                frame = self._proto.next_outgoing()
                if frame is not None:
                    await ws.send_message(frame)
                elif direct is not None and direct.has_unsent:
                    await direct.flush()  # what callers' sends left queued
                else:
                    await self._writer_lot.park()
        except _CLOSED as exc:
            self._direct = None
            await self._let_reader_finish(drop, exc)
        finally:
            self._direct = None

    def _send_pending(self) -> None:
        """Send the protocol's queued frames: at once from the calling task when the socket takes
        them without waiting (no hop to the writer task: the common case on the hot path), else
        by waking the writer. Synchronous, so a caller's cancellation can never cut a frame."""
        direct = self._direct
        if direct is not None:
            try:
                while (frame := self._proto.next_outgoing()) is not None:
                    if not direct.send_nowait(frame):
                        break  # the socket is full: the writer waits for room
                else:
                    return
            except _CLOSED:
                self._direct = None  # the writer finds out and ends the socket
        self._writer_lot.unpark_all()

    async def _ping_loop(self, ws: WebSocketLike, drop: _Dropper) -> None:
        tick = min(self._ping_interval, self._wake_threshold)
        next_ping = trio.current_time()
        last_wall, last_mono = self._wall(), trio.current_time()
        try:
            while True:
                if trio.current_time() >= next_ping:
                    rtt = await self._ping(ws, self._idle_timeout)
                    if rtt is None:
                        drop(f"no pong within {self._idle_timeout:g} s")
                        return
                    self._set_status(rtt_ms=round(rtt, 3))
                    next_ping = trio.current_time() + self._ping_interval
                await trio.sleep(max(0.0, min(tick, next_ping - trio.current_time())))
                now_wall, now_mono = self._wall(), trio.current_time()
                jump = (now_wall - last_wall) - (now_mono - last_mono)
                last_wall, last_mono = now_wall, now_mono
                if jump > self._wake_threshold:
                    self._log.info("convex_connection.wake_detected", jump_s=round(jump, 1))
                    if await self._ping(ws, self._wake_threshold) is None:
                        drop(f"no pong after the clock jumped {jump:.0f} s (sleep?)")
                        return
        except _CLOSED as exc:
            await self._let_reader_finish(drop, exc)

    async def _let_reader_finish(self, drop: _Dropper, exc: BaseException) -> None:
        """A send found the socket closed. Frames that arrived before the close (an AuthError,
        a last response) are still queued for the reader, which ends the socket once it has
        handled them; drop it here only if the reader does not within ``close_timeout``."""
        await trio.sleep(self._close_timeout)
        drop(_describe(exc))

    async def _ping(self, ws: WebSocketLike, limit: float) -> float | None:
        """Round-trip time in ms, or None if no pong came within ``limit`` seconds."""
        start = trio.current_time()
        with trio.move_on_after(limit):
            await ws.ping()
            return (trio.current_time() - start) * 1000.0
        return None


class _WatchedStream(trio.abc.Stream):
    """A TCP (or TLS) stream that reports when the peer closes it.

    trio-websocket waits forever for the handshake when the server closes the connection
    instead of answering the upgrade (e.g. a backend still starting), or when the stream breaks
    (e.g. a TLS certificate that fails verification); this lets the connector notice and give
    up at once, with the reason.
    """

    def __init__(self, inner: trio.abc.Stream, on_eof: Callable[[], None]) -> None:
        self._inner = inner
        self.on_eof = on_eof
        self.failure: trio.BrokenResourceError | None = None  # e.g. a TLS handshake refused

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._inner.send_all(data)
        except trio.BrokenResourceError as exc:
            self._broken(exc)
            raise

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            data = await self._inner.receive_some(max_bytes)
        except trio.BrokenResourceError as exc:
            self._broken(exc)
            raise
        if not data:
            self.on_eof()
        return data

    def _broken(self, exc: trio.BrokenResourceError) -> None:
        if self.failure is None:
            self.failure = exc
        self.on_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()


class _TrioWebSocket:
    """A trio-websocket connection that owns its stream and always closes it.

    (trio-websocket leaves a client's stream open when the server closes first.)
    """

    def __init__(self, ws: trio_websocket.WebSocketConnection, stream: trio.abc.Stream) -> None:
        self._ws = ws
        self._stream = stream

    async def send_message(self, message: str) -> None:
        await self._ws.send_message(message)

    async def get_message(self) -> str | bytes:
        return await self._ws.get_message()

    async def ping(self, payload: bytes | None = None) -> None:
        await self._ws.ping(payload)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        try:
            await self._ws.aclose(code, reason)
        finally:
            await trio.aclose_forcefully(self._stream)


async def _trio_websocket_connect(
    nursery: trio.Nursery, url: str, *, max_message_size: int, ssl_context: ssl.SSLContext | None
) -> WebSocketLike:
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raw: trio.abc.Stream
    if secure:
        raw = await trio.open_ssl_over_tcp_stream(
            host,
            port,
            ssl_context=ssl_context or ssl.create_default_context(),
            https_compatible=True,
        )
    else:
        raw = await trio.open_tcp_stream(host, port)
    handshake = trio.CancelScope()
    stream = _WatchedStream(raw, handshake.cancel)
    try:
        with handshake:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,  # type: ignore[arg-type]  # any trio Stream works
                host if parts.port is None else f"{host}:{port}",
                resource,
                max_message_size=max_message_size,
                message_queue_size=16,
            )
        if handshake.cancelled_caught:
            if stream.failure is not None:
                raise stream.failure
            raise trio_websocket.HandshakeError(
                "the server closed the connection during the handshake"
            )
    except BaseException:
        await trio.aclose_forcefully(raw)
        raise
    stream.on_eof = lambda: None
    return _TrioWebSocket(ws, raw)


def _raise_unwrapped(exc: BaseException) -> None:
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


@asynccontextmanager
async def open_convex_client(
    url: str,
    *,
    auth_token: str | None = None,
    timeout: float | None = 30.0,  # noqa: ASYNC109 (the default deadline of calls)
    connect_timeout: float = 10.0,
    idle_timeout: float = 30.0,
    ping_interval: float = 15.0,
    close_timeout: float = 1.0,
    backoff: Backoff = Backoff(),
    session_id: str | None = None,
    max_message_size: int = 64 * 1024 * 1024,
    transport: Literal["wsproto", "trio-websocket"] = "wsproto",
    ssl_context: ssl.SSLContext | None = None,
    connect: Connect | None = None,
    wall_clock: Callable[[], float] = time.time,
    rand: Callable[[], float] = random.random,
) -> AsyncIterator[ConvexClient]:
    """Open a Convex client for ``url`` (a deployment URL or a ``ws(s)://…/sync`` URL).

    The client connects in the background and keeps reconnecting until the block exits; calls made
    while disconnected wait (up to their timeout). ``timeout`` is the default deadline of every
    call. ``transport``: ``"wsproto"`` (default: tina's own WebSocket, ``_websocket.py``) or
    ``"trio-websocket"`` (measurably slower per message, see docs/benchmarks.md); ``ssl_context``
    for ``wss://`` (default: the system's trust store; a self-hosted deployment with a private CA
    passes its own); ``connect`` replaces either transport (tests use in-memory streams).
    """
    if connect is None:
        if transport == "wsproto":

            async def connect_default(nursery: trio.Nursery, ws_url: str) -> WebSocketLike:
                del nursery  # this transport runs no background task
                return await connect_websocket(
                    ws_url, max_message_size=max_message_size, ssl_context=ssl_context
                )

        elif transport == "trio-websocket":

            async def connect_default(nursery: trio.Nursery, ws_url: str) -> WebSocketLike:
                return await _trio_websocket_connect(
                    nursery, ws_url, max_message_size=max_message_size, ssl_context=ssl_context
                )

        else:
            raise ValueError(f"unknown transport {transport!r}")
        connect = connect_default
    client = ConvexClient(
        url,
        connect=connect,
        timeout=timeout,
        connect_timeout=connect_timeout,
        idle_timeout=idle_timeout,
        ping_interval=ping_interval,
        close_timeout=close_timeout,
        backoff=backoff,
        session_id=session_id,
        auth_token=auth_token,
        rand=rand,
        wall_clock=wall_clock,
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._run, name="convex:connection")
            nursery.start_soon(client._deadlines.run, name="convex:deadlines")
            try:
                yield client
            finally:
                client._shutdown()
                # Let the connection task close the socket cleanly (bounded), then stop it.
                with trio.CancelScope(shield=True), trio.move_on_after(close_timeout + 1.0):
                    await client._stopped.wait()
                nursery.cancel_scope.cancel("convex client closed")
    except BaseExceptionGroup as group:
        # The background task never raises (except on a bug), so a group holding one exception
        # carries the caller's own exception: give it back unwrapped.
        if len(group.exceptions) == 1:
            _raise_unwrapped(group.exceptions[0])
        raise
