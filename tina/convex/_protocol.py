"""Sans-io state machine of Convex's sync protocol (no trio, no sockets).

The driver (``client.py``) owns the socket. It calls :meth:`SyncProtocol.start_connection` when a
socket opens, sends whatever :meth:`SyncProtocol.next_outgoing` hands out, feeds every received
frame to :meth:`SyncProtocol.receive`, and calls :meth:`SyncProtocol.connection_lost` when the
socket dies. Callers' intents (subscribe, mutation, action, auth) change the state here and queue
the frames to send. Everything that completes a caller comes back as an event.

Rules implemented here (see ``reference/convex-wire-protocol.md``, Part 1):

- one session id per instance; query ids and request ids count up from 0 and are never reused;
- every socket starts at version ``{querySet: 0, identity: 0, ts: 0}``; a Transition must start at
  exactly the current version (else :class:`ConvexProtocolError`: drop the socket and reconnect);
- on each new socket: ``Connect``, ``Authenticate`` (if a token is set), one ``ModifyQuerySet``
  adding every live query (same ids, args and journals), every unresolved mutation with its
  original request id (the server de-duplicates), then actions that were never sent;
- a successful mutation completes once a Transition with ``endVersion.ts >= response.ts`` has been
  applied (the Transition may come first); a failed mutation (plain error or ``ConvexError``)
  completes at once, as in convex-js; an action completes at its response;
- an action that may have reached the server on a socket that died fails with
  :class:`ConvexConnectionLost` (actions are not idempotent);
- a request whose caller gave up (cancelled, timed out) before it was sent is dropped; after it was
  sent it stays tracked so its response is recognised, and it is not re-sent after a reconnect
  (the caller was told the outcome is unknown; re-sending would apply it behind their back);
- duplicate or unknown responses are ignored; chunked Transitions are re-assembled;
- arguments holding text with half a UTF-16 surrogate pair raise
  :class:`ConvexInvalidArgument` before anything is queued (Convex would close the connection
  on such a frame, and a re-sent mutation would close the next one too).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from convex.values import convex_to_json, json_to_convex

from .errors import (
    ConvexClientError,
    ConvexConnectionLost,
    ConvexError,
    ConvexFunctionError,
    ConvexInvalidArgument,
    ConvexProtocolError,
    fresh,
)

__all__ = [
    "AuthConfirmed",
    "AuthRejected",
    "Event",
    "QueryResult",
    "QueryUpdated",
    "RequestCompleted",
    "ServerFatal",
    "StateVersion",
    "SyncProtocol",
    "TransitionApplied",
    "canonical_udf_path",
    "decode_ts",
    "encode_ts",
]

_U64: Final = struct.Struct("<Q")
# Every JSON number is a float64 on the wire (json_to_convex rejects Python ints).
_DECODER: Final = json.JSONDecoder(parse_int=float)


def encode_ts(ts: int) -> str:
    """Encode a u64 timestamp as base64 of its 8 little-endian bytes."""
    return base64.standard_b64encode(_U64.pack(ts)).decode("ascii")


def decode_ts(text: object) -> int:
    """Decode a base64 u64 LE timestamp; :class:`ConvexProtocolError` if malformed."""
    if not isinstance(text, str):
        raise ConvexProtocolError(f"timestamp is not a string: {text!r}")
    try:
        raw = binascii.a2b_base64(text)
    except (binascii.Error, ValueError) as exc:
        raise ConvexProtocolError(f"timestamp is not base64: {text!r}") from exc
    if len(raw) != _U64.size:
        raise ConvexProtocolError(f"timestamp is not 8 bytes: {text!r}")
    return int.from_bytes(raw, "little")


def canonical_udf_path(path: str) -> str:
    """``module:fn``; ``module.js:fn`` loses ``.js``; a bare ``module`` means ``module:default``."""
    module, sep, function = path.partition(":")
    if not sep:
        function = "default"
    if module.endswith(".js"):
        module = module[: -len(".js")]
    if not module or not function:
        raise ValueError(f"not a Convex function path: {path!r}")
    return f"{module}:{function}"


def _wall_ms() -> int:
    return int(time.time() * 1000)


@attrs.frozen
class StateVersion:
    """The server's view of this socket: query set version, identity version, snapshot ts."""

    query_set: int
    identity: int
    ts: int

    @classmethod
    def initial(cls) -> StateVersion:
        return cls(0, 0, 0)

    @classmethod
    def from_wire(cls, raw: object) -> StateVersion:
        if not isinstance(raw, dict):
            raise ConvexProtocolError(f"version is not an object: {raw!r}")
        return cls(
            query_set=_as_int(raw.get("querySet"), "querySet"),
            identity=_as_int(raw.get("identity"), "identity"),
            ts=decode_ts(raw.get("ts")),
        )


@attrs.frozen(kw_only=True)
class QueryResult:
    """One result of a query: a value, or the error the query failed with.

    ``ts`` is the snapshot timestamp of the Transition that carried it.
    """

    value: Any = None
    error: ConvexClientError | None = None
    ts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Any:
        """The value, or raise the error."""
        if self.error is not None:
            raise fresh(self.error)
        return self.value


# --- events handed back to the driver -----------------------------------------------------------


@attrs.frozen
class QueryUpdated:
    """A live query has a new result (after the whole Transition was applied)."""

    query_id: int
    result: QueryResult


@attrs.frozen
class RequestCompleted:
    """A mutation or action finished: ``error`` is None on success."""

    request_id: int
    value: Any = None
    error: ConvexClientError | None = None


@attrs.frozen
class TransitionApplied:
    """A Transition moved the socket to ``version``."""

    version: StateVersion


@attrs.frozen
class AuthConfirmed:
    """The server accepted the current token (identity version advanced)."""


@attrs.frozen
class AuthRejected:
    """The server rejected the token (``update_attempted``) or it expired mid-function."""

    message: str
    update_attempted: bool


@attrs.frozen
class ServerFatal:
    """The server sent ``FatalError``; the socket must be dropped."""

    message: str


Event = (
    QueryUpdated | RequestCompleted | TransitionApplied | AuthConfirmed | AuthRejected | ServerFatal
)


# --- internal state ------------------------------------------------------------------------------


class _Kind(enum.Enum):
    MUTATION = "Mutation"
    ACTION = "Action"


@attrs.define(kw_only=True)
class _Query:
    query_id: int
    udf_path: str
    args: list[Any]  # the 1-element wire array, already encoded
    key: str
    refcount: int = 1
    journal: Any = None


@attrs.define(kw_only=True)
class _Request:
    request_id: int
    kind: _Kind
    udf_path: str
    text: str  # the encoded message, re-sent verbatim after a reconnect
    sent: bool = False  # handed to the socket (it may have reached the server)
    orphaned: bool = False  # the caller gave up
    response_ts: int | None = None  # successful mutation waiting for a Transition at this ts
    response_value: Any = None


@attrs.define
class _Outgoing:
    text: str
    request_id: int | None = None


@attrs.frozen(kw_only=True)
class ProtocolStatistics:
    """Counts for the debug view."""

    live_queries: int
    pending_mutations: int
    pending_actions: int
    outbox: int
    connected: bool
    version: StateVersion
    max_observed_ts: int | None


def _as_int(value: object, name: str) -> int:
    # Frames are parsed with parse_int=float (values are float64), so counters arrive as floats.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConvexProtocolError(f"{name} is not a number: {value!r}")
    if value != int(value):
        raise ConvexProtocolError(f"{name} is not an integer: {value!r}")
    return int(value)


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _dumps(message: Mapping[str, Any]) -> str:
    return _ENCODER.encode(message)


# Half a surrogate pair: a high one not followed by a low one, or a low one not after a high one.
_LONE_SURROGATE: Final = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)


def _lone_surrogate(value: Any, where: str) -> tuple[str, str] | None:
    """(where, which character) of the first string in ``value`` holding half a pair."""
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        if found is None:
            return None
        return where, f"U+{ord(found.group()):04X} at character {found.start()}"
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            hit = _lone_surrogate(key, f"{inner} (the key)") or _lone_surrogate(item, inner)
            if hit is not None:
                return hit
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            hit = _lone_surrogate(item, f"{where}[{index}]")
            if hit is not None:
                return hit
    return None


def _check_text(udf_path: str, wire_args: list[Any], text: str) -> None:
    """Raise :class:`ConvexInvalidArgument` if the arguments hold half a surrogate pair.

    Frames are ASCII (``ensure_ascii``), so such text shows as a ``\\uDXXX`` escape: only a frame
    with one (a character beyond U+FFFF, say) is looked at more closely.
    """
    if "\\ud" not in text and "\\uD" not in text:
        return
    hit = _lone_surrogate(wire_args[0], "")
    if hit is not None:
        where, which = hit
        raise ConvexInvalidArgument(
            f"{udf_path}: argument {where or 'args'} holds half a UTF-16 surrogate pair "
            f"({which}), which has no UTF-8 encoding; nothing was sent",
            udf_path=udf_path,
            where=where,
        )


def encode_args(args: Mapping[str, Any] | None) -> list[Any]:
    """Encode a function's args object as the wire's 1-element array (raises on bad values)."""
    if args is None:
        return [{}]
    if not isinstance(args, Mapping):
        raise TypeError(f"Convex function args must be a mapping, not {type(args).__name__}")
    return [convex_to_json(dict(args))]


class SyncProtocol:
    """The client side of one Convex session: query set, requests, versions, auth."""

    def __init__(self, *, session_id: str, clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.session_id: Final = session_id
        self._clock_ms = clock_ms
        self._connected = False
        self._connection_count = 0
        self._last_close_reason: str | None = "InitialConnect"
        self._version = StateVersion.initial()
        self._version_wire: Any = None  # the endVersion object _version came from
        self._query_set_version = 0
        self._identity_version = 0
        self._max_observed_ts: int | None = None
        self._next_query_id = 0
        self._next_request_id = 0
        self._queries: dict[int, _Query] = {}
        self._query_by_key: dict[str, int] = {}
        self._results: dict[int, QueryResult] = {}
        self._requests: dict[int, _Request] = {}
        # Successful mutations waiting for a Transition at their ts (a subset of _requests).
        self._awaiting_ts: dict[int, _Request] = {}
        self._outbox: deque[_Outgoing] = deque()
        self._auth_token: str | None = None
        self._chunks: list[str] = []
        self._chunk_id: str | None = None
        self._chunk_total = 0

    def __repr__(self) -> str:  # never show the token
        return (
            f"<SyncProtocol session={self.session_id} connected={self._connected} "
            f"queries={len(self._queries)} requests={len(self._requests)}>"
        )

    # --- observation ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def version(self) -> StateVersion:
        return self._version

    @property
    def max_observed_ts(self) -> int | None:
        return self._max_observed_ts

    @property
    def connection_count(self) -> int:
        return self._connection_count

    def result(self, query_id: int) -> QueryResult | None:
        """The latest result of a live query, if one has arrived."""
        return self._results.get(query_id)

    def pending_request_ids(self) -> list[int]:
        return sorted(self._requests)

    def statistics(self) -> ProtocolStatistics:
        kinds = [r.kind for r in self._requests.values()]
        return ProtocolStatistics(
            live_queries=len(self._queries),
            pending_mutations=kinds.count(_Kind.MUTATION),
            pending_actions=kinds.count(_Kind.ACTION),
            outbox=len(self._outbox),
            connected=self._connected,
            version=self._version,
            max_observed_ts=self._max_observed_ts,
        )

    # --- caller intents ------------------------------------------------------------------------

    def subscribe(self, udf_path: str, args: Mapping[str, Any] | None = None) -> int:
        """Add a query to the live set (or share an identical one); returns its query id."""
        path = canonical_udf_path(udf_path)
        wire_args = encode_args(args)
        key = path + "\x00" + json.dumps(wire_args, sort_keys=True, separators=(",", ":"))
        _check_text(path, wire_args, key)
        existing = self._query_by_key.get(key)
        if existing is not None:
            self._queries[existing].refcount += 1
            return existing
        query_id = self._next_query_id
        self._next_query_id += 1
        query = _Query(query_id=query_id, udf_path=path, args=wire_args, key=key)
        self._queries[query_id] = query
        self._query_by_key[key] = query_id
        if self._connected:
            self._modify_query_set([self._add_modification(query)])
        return query_id

    def unsubscribe(self, query_id: int) -> None:
        """Drop one reference to a live query; the last one removes it from the server's set."""
        query = self._queries.get(query_id)
        if query is None:
            return
        query.refcount -= 1
        if query.refcount > 0:
            return
        del self._queries[query_id]
        del self._query_by_key[query.key]
        self._results.pop(query_id, None)
        if self._connected:
            self._modify_query_set([{"type": "Remove", "queryId": query_id}])

    def mutation(self, udf_path: str, args: Mapping[str, Any] | None = None) -> int:
        return self._request(_Kind.MUTATION, udf_path, args)

    def action(self, udf_path: str, args: Mapping[str, Any] | None = None) -> int:
        return self._request(_Kind.ACTION, udf_path, args)

    def abandon(self, request_id: int) -> None:
        """The caller stopped waiting (cancelled or timed out)."""
        request = self._requests.get(request_id)
        if request is None:
            return
        if not request.sent:
            del self._requests[request_id]
            self._awaiting_ts.pop(request_id, None)
            for item in self._outbox:
                if item.request_id == request_id:
                    self._outbox.remove(item)
                    break
            return
        request.orphaned = True

    def set_auth(self, token: str | None) -> None:
        """Use ``token`` (a JWT) from now on; None clears it."""
        self._auth_token = token
        if self._connected:
            self._authenticate()

    # --- socket lifecycle ----------------------------------------------------------------------

    def start_connection(self) -> None:
        """A new socket is open: reset the version and queue the handshake and re-sends."""
        self._outbox.clear()
        self._chunks = []
        self._chunk_id = None
        self._version = StateVersion.initial()
        self._version_wire = None
        self._query_set_version = 0
        self._identity_version = 0
        connect: dict[str, Any] = {
            "type": "Connect",
            "sessionId": self.session_id,
            "connectionCount": self._connection_count,
            "lastCloseReason": self._last_close_reason,
            "clientTs": self._clock_ms(),
        }
        if self._max_observed_ts is not None:
            connect["maxObservedTimestamp"] = encode_ts(self._max_observed_ts)
        self._outbox.append(_Outgoing(_dumps(connect)))
        self._connection_count += 1
        self._connected = True
        if self._auth_token is not None:
            self._authenticate()
        if self._queries:
            self._modify_query_set([self._add_modification(q) for q in self._queries.values()])
        for request_id in sorted(self._requests):
            request = self._requests[request_id]
            if request.kind is _Kind.MUTATION or not request.sent:
                request.sent = False
                self._outbox.append(_Outgoing(request.text, request_id))

    def connection_lost(self, reason: str) -> list[Event]:
        """The socket died. Returns the failures of actions that may have reached the server."""
        self._connected = False
        self._last_close_reason = reason
        self._outbox.clear()
        self._chunks = []
        self._chunk_id = None
        events: list[Event] = []
        for request_id in sorted(self._requests):
            request = self._requests[request_id]
            if request.orphaned:
                del self._requests[request_id]
                self._awaiting_ts.pop(request_id, None)
            elif request.kind is _Kind.ACTION and request.sent:
                del self._requests[request_id]
                events.append(
                    RequestCompleted(
                        request_id,
                        error=ConvexConnectionLost(
                            f"{request.udf_path}: connection lost while the action was in flight "
                            f"({reason})"
                        ),
                    )
                )
        return events

    def fail_all_requests(self, error: ConvexClientError) -> list[Event]:
        """Complete every request with ``error`` (auth rejected, client closing)."""
        events: list[Event] = []
        for request_id in sorted(self._requests):
            request = self._requests.pop(request_id)
            if not request.orphaned:
                events.append(RequestCompleted(request_id, error=error))
        self._awaiting_ts.clear()
        self._outbox = deque(item for item in self._outbox if item.request_id is None)
        return events

    def next_outgoing(self) -> str | None:
        """The next frame to send, or None. Once taken, a request counts as possibly sent."""
        if not self._outbox:
            return None
        item = self._outbox.popleft()
        if item.request_id is not None:
            request = self._requests.get(item.request_id)
            if request is not None:
                request.sent = True
        return item.text

    @property
    def has_outgoing(self) -> bool:
        return bool(self._outbox)

    # --- server frames -------------------------------------------------------------------------

    def receive(self, text: str | bytes) -> list[Event]:
        """Apply one server frame. Raises :class:`ConvexProtocolError` if the socket must go."""
        if isinstance(text, bytes):
            raise ConvexProtocolError("binary frame received; the protocol is JSON text")
        try:
            message = _DECODER.decode(text)
        except ValueError as exc:
            raise ConvexProtocolError(f"frame is not JSON: {exc}") from exc
        if not isinstance(message, dict):
            raise ConvexProtocolError("frame is not a JSON object")
        try:
            return self._dispatch(message)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConvexProtocolError(f"malformed {message.get('type')!r} frame: {exc!r}") from exc

    def _dispatch(self, message: dict[str, Any]) -> list[Event]:
        kind = message.get("type")
        if kind == "Transition":
            return self._on_transition(message)
        if kind == "TransitionChunk":
            return self._on_chunk(message)
        if kind == "MutationResponse":
            return self._on_mutation_response(message)
        if kind == "ActionResponse":
            return self._on_action_response(message)
        if kind == "Ping":
            return []
        if kind == "AuthError":
            return self._on_auth_error(message)
        if kind == "FatalError":
            return [ServerFatal(str(message.get("error", "")))]
        # Unknown frames are ignored, as convex-js does for forward compatibility.
        return []

    def _on_transition(self, message: dict[str, Any]) -> list[Event]:
        start_wire = message["startVersion"]
        end_wire = message["endVersion"]
        # Fast path: the start is the very version the previous Transition ended at.
        if self._version_wire is None or start_wire != self._version_wire:
            start = StateVersion.from_wire(start_wire)
            if start != self._version:
                raise ConvexProtocolError(
                    f"Transition starts at {start}, but the client is at {self._version}"
                )
        else:
            start = self._version
        end = start if end_wire == start_wire else StateVersion.from_wire(end_wire)
        if end.ts < start.ts:
            raise ConvexProtocolError(f"Transition goes back in time: {start.ts} -> {end.ts}")
        updated: dict[int, QueryResult] = {}
        for modification in message["modifications"]:
            mod_type = modification["type"]
            query_id = _as_int(modification["queryId"], "queryId")
            query = self._queries.get(query_id)
            if mod_type == "QueryRemoved" or query is None:
                # Removed here already (or removed on the server): nothing to deliver.
                updated.pop(query_id, None)
                continue
            if "journal" in modification:
                query.journal = modification["journal"]
            if mod_type == "QueryUpdated":
                result = _decode_result(modification.get("value"), end.ts, query.udf_path)
            elif mod_type == "QueryFailed":
                result = QueryResult(
                    error=_function_error(
                        str(modification.get("errorMessage", "")),
                        modification,
                        query.udf_path,
                    ),
                    ts=end.ts,
                )
            else:
                raise ConvexProtocolError(f"unknown query modification {mod_type!r}")
            updated[query_id] = result
        self._version = end
        self._version_wire = end_wire
        self._observe_ts(end.ts)
        events: list[Event] = [TransitionApplied(end)]
        if end.identity > start.identity:
            events.append(AuthConfirmed())
        for query_id, result in updated.items():
            self._results[query_id] = result
            events.append(QueryUpdated(query_id, result))
        if self._awaiting_ts:
            for request_id in sorted(self._awaiting_ts):
                request = self._awaiting_ts[request_id]
                if request.response_ts is not None and request.response_ts <= end.ts:
                    del self._awaiting_ts[request_id]
                    del self._requests[request_id]
                    if not request.orphaned:
                        events.append(RequestCompleted(request_id, value=request.response_value))
        return events

    def _on_chunk(self, message: dict[str, Any]) -> list[Event]:
        transition_id = str(message["transitionId"])
        part = _as_int(message["partNumber"], "partNumber")
        total = _as_int(message["totalParts"], "totalParts")
        if part == 0:
            self._chunks = []
            self._chunk_id = transition_id
            self._chunk_total = total
        if (
            transition_id != self._chunk_id
            or part != len(self._chunks)
            or total != self._chunk_total
        ):
            raise ConvexProtocolError(
                f"TransitionChunk {transition_id} part {part}/{total} out of order"
            )
        self._chunks.append(str(message["chunk"]))
        if len(self._chunks) < total:
            return []
        text = "".join(self._chunks)
        self._chunks = []
        self._chunk_id = None
        try:
            joined = _DECODER.decode(text)
        except ValueError as exc:
            raise ConvexProtocolError(f"chunked Transition is not JSON: {exc}") from exc
        if not isinstance(joined, dict) or joined.get("type") != "Transition":
            raise ConvexProtocolError("chunked frame is not a Transition")
        return self._on_transition(joined)

    def _on_mutation_response(self, message: dict[str, Any]) -> list[Event]:
        request_id = _as_int(message["requestId"], "requestId")
        request = self._requests.get(request_id)
        if request is None or request.kind is not _Kind.MUTATION or request.response_ts is not None:
            return []  # duplicate (after a re-send) or unknown: ignore
        if message.get("success"):
            ts = decode_ts(message["ts"])
            self._observe_ts(ts)
            try:
                value = json_to_convex(message.get("result"))
            except (ValueError, TypeError) as exc:
                del self._requests[request_id]
                if request.orphaned:
                    return []
                bad = ConvexProtocolError(f"{request.udf_path}: undecodable result: {exc}")
                return [RequestCompleted(request_id, error=bad)]
            if ts <= self._version.ts:
                del self._requests[request_id]
                return [] if request.orphaned else [RequestCompleted(request_id, value=value)]
            request.response_ts = ts
            request.response_value = value
            self._awaiting_ts[request_id] = request
            return []
        del self._requests[request_id]
        if request.orphaned:
            return []
        error = _function_error(str(message.get("result", "")), message, request.udf_path)
        return [RequestCompleted(request_id, error=error)]

    def _on_action_response(self, message: dict[str, Any]) -> list[Event]:
        request_id = _as_int(message["requestId"], "requestId")
        request = self._requests.get(request_id)
        if request is None or request.kind is not _Kind.ACTION:
            return []
        del self._requests[request_id]
        if request.orphaned:
            return []
        if message.get("success"):
            try:
                return [RequestCompleted(request_id, value=json_to_convex(message.get("result")))]
            except (ValueError, TypeError) as exc:
                bad = ConvexProtocolError(f"{request.udf_path}: undecodable result: {exc}")
                return [RequestCompleted(request_id, error=bad)]
        error = _function_error(str(message.get("result", "")), message, request.udf_path)
        return [RequestCompleted(request_id, error=error)]

    def _on_auth_error(self, message: dict[str, Any]) -> list[Event]:
        base = message.get("baseVersion")
        if base is not None and _as_int(base, "baseVersion") + 1 < self._identity_version:
            return []  # about a token we have since replaced
        return [
            AuthRejected(
                message=str(message.get("error", "")),
                update_attempted=bool(message.get("authUpdateAttempted", True)),
            )
        ]

    # --- helpers -------------------------------------------------------------------------------

    def _request(self, kind: _Kind, udf_path: str, args: Mapping[str, Any] | None) -> int:
        path = canonical_udf_path(udf_path)
        wire_args = encode_args(args)
        request_id = self._next_request_id
        text = _dumps(
            {"type": kind.value, "requestId": request_id, "udfPath": path, "args": wire_args}
        )
        _check_text(path, wire_args, text)
        self._next_request_id += 1
        self._requests[request_id] = _Request(
            request_id=request_id, kind=kind, udf_path=path, text=text
        )
        if self._connected:
            self._outbox.append(_Outgoing(text, request_id))
        return request_id

    def _add_modification(self, query: _Query) -> dict[str, Any]:
        return {
            "type": "Add",
            "queryId": query.query_id,
            "udfPath": query.udf_path,
            "args": query.args,
            "journal": query.journal,
        }

    def _modify_query_set(self, modifications: list[dict[str, Any]]) -> None:
        base = self._query_set_version
        self._query_set_version += 1
        self._outbox.append(
            _Outgoing(
                _dumps(
                    {
                        "type": "ModifyQuerySet",
                        "baseVersion": base,
                        "newVersion": base + 1,
                        "modifications": modifications,
                    }
                )
            )
        )

    def _authenticate(self) -> None:
        base = self._identity_version
        self._identity_version += 1
        message: dict[str, Any] = {"type": "Authenticate", "baseVersion": base}
        if self._auth_token is None:
            message["tokenType"] = "None"
        else:
            message["tokenType"] = "User"
            message["value"] = self._auth_token
        self._outbox.append(_Outgoing(_dumps(message)))

    def _observe_ts(self, ts: int) -> None:
        if self._max_observed_ts is None or ts > self._max_observed_ts:
            self._max_observed_ts = ts


def _decode_result(raw: Any, ts: int, udf_path: str) -> QueryResult:
    try:
        return QueryResult(value=json_to_convex(raw), ts=ts)
    except (ValueError, TypeError) as exc:
        return QueryResult(
            error=ConvexProtocolError(f"{udf_path}: undecodable result: {exc}"), ts=ts
        )


def _function_error(message: str, frame: Mapping[str, Any], udf_path: str) -> ConvexFunctionError:
    if "errorData" in frame:
        try:
            data = json_to_convex(frame["errorData"])
        except (ValueError, TypeError):
            data = frame["errorData"]
        return ConvexError(data, message, udf_path=udf_path)
    return ConvexFunctionError(message, udf_path=udf_path)
