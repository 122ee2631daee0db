"""A local control socket: `tina daemon status` asks a running daemon for its status tree, and
`tina hook` hands it Claude Code's hook events.

Unix socket in the daemon's state directory (directory 0700, socket 0600: only the user reaches
it), one request line in, one JSON line out:

- `status`: the status tree. Read-only: nothing can be changed through it.
- `hook <compact JSON>` (at most `MAX_HOOK_REQUEST` bytes): one hook event, validated into a
  `HookEvent` and handed to the hooks actor without waiting (`on_hook`); the answer is
  `{"ok": true}`, `{"ok": false, "dropped": true}` when the actor is behind (the event is
  dropped and counted), or `{"ok": false, "error": ...}` for a line that is no event.
  A `PermissionRequest` is answered only once the prompt is resolved (`on_permission`, the
  daemon's `Prompts.ask`): `{"ok": true, "decision": {...}}` with the dashboard's decision, or
  `{"ok": true}` with none (its deadline passed, or it could not be opened). The wait runs in
  the connection's own task, so other requests go on; a hook that hangs up stops it.

A request is read within `READ_TIMEOUT` seconds, whatever its size.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import trio

from tina.hooks.event import HOOK_REQUEST, PERMISSION_REQUEST, parse_hook_line
from tina.messages import HookEvent

log = structlog.get_logger("tina.control")
MAX_REQUEST = 64
"""Bytes read of any request but `hook` (`status`)."""
MAX_HOOK_REQUEST = 1024 * 1024 + 64 * 1024 + 8
"""Bytes of a `hook` line at most (its newline included): 1 MiB of event and some slack for
re-encoding (`tina.hooks.hook.MAX_LINE`)."""
READ_TIMEOUT = 2.0
THREAD_PARSE = 64 * 1024
"""A hook line longer than this is parsed in a worker thread, not in the event loop."""

HookSink = Callable[[HookEvent], bool]
"""Takes a hook event without blocking: True if taken, False if dropped (the consumer is behind)."""

PermissionSink = Callable[[HookEvent], Awaitable[dict[str, Any] | None]]
"""Waits for a PermissionRequest's decision (Claude Code's `decision` object), None for none."""

_HOOK_PREFIX = HOOK_REQUEST.encode() + b" "


class RequestTooLarge(Exception):
    pass


class ControlError(Exception):
    """No daemon answered on the socket, or it answered nonsense."""


class NotRunning(ControlError):
    """No daemon is running: there is no control socket."""


async def serve(
    path: Path,
    snapshot: Callable[[], dict[str, Any]],
    *,
    on_hook: HookSink | None = None,
    on_permission: PermissionSink | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    _prepare(path)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old_umask)
    sock.listen(8)
    listener = trio.SocketListener(sock)

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            try:
                with trio.fail_after(READ_TIMEOUT):
                    raw = await _read_request(stream)
                if raw.startswith(_HOOK_PREFIX):
                    reply, event = await _take_hook(raw[len(_HOOK_PREFIX) :], on_hook)
                    if (
                        event is not None
                        and event.event == PERMISSION_REQUEST
                        and on_permission is not None
                    ):
                        reply = await _await_decision(stream, event, on_permission)
                else:
                    request = raw[:MAX_REQUEST].decode("utf-8", "replace").strip()
                    reply = (
                        snapshot()
                        if request == "status"
                        else {"error": f"unknown request {request[:20]!r}"}
                    )
                await stream.send_all(json.dumps(reply).encode() + b"\n")
            except RequestTooLarge:
                with trio.move_on_after(READ_TIMEOUT):
                    await stream.send_all(b'{"ok": false, "error": "request too large"}\n')
            except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    try:
        async with listener, trio.open_nursery() as nursery:
            task_status.started()
            while True:
                stream = await listener.accept()
                nursery.start_soon(handle, stream)
    finally:
        _remove(path)


async def _read_request(stream: trio.SocketStream) -> bytes:
    """The request's first line (without its newline). A `status` sent without a newline is
    answered as it comes; a request that cannot be `hook` is read no further than its first
    chunk, and at most `MAX_REQUEST` of it is used. A `hook` line longer than
    `MAX_HOOK_REQUEST` raises RequestTooLarge."""
    buf = bytearray()
    while True:
        chunk = await stream.receive_some(64 * 1024)
        if not chunk:
            return bytes(buf)
        buf += chunk
        end = buf.find(b"\n")
        if end >= 0:
            if end >= MAX_HOOK_REQUEST:
                raise RequestTooLarge
            return bytes(buf[:end])
        head = bytes(buf[: len(_HOOK_PREFIX)])
        if not _HOOK_PREFIX.startswith(head) or buf.strip() == b"status":
            return bytes(buf)
        if len(buf) >= MAX_HOOK_REQUEST:
            raise RequestTooLarge


async def _await_decision(
    stream: trio.SocketStream, event: HookEvent, on_permission: PermissionSink
) -> dict[str, Any]:
    """The PermissionRequest's answer; the wait ends early when the hook hangs up (it gave up,
    or Claude Code stopped it)."""
    reply: dict[str, Any] = {"ok": True}

    async def wait() -> None:
        try:
            decision = await on_permission(event)
        except Exception as exc:  # a bug in the prompts must not take the socket down
            log.exception("prompt.failed", tool=event.tool_name, error=str(exc))
            decision = None
        if decision is not None:
            reply["decision"] = decision
        nursery.cancel_scope.cancel("answered")

    async def hang_up() -> None:
        try:
            while await stream.receive_some(MAX_REQUEST):
                pass  # nothing more is expected; read it so the end can be seen
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        nursery.cancel_scope.cancel("the hook hung up")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        nursery.start_soon(hang_up)
    return reply


async def _take_hook(
    payload: bytes, on_hook: HookSink | None
) -> tuple[dict[str, Any], HookEvent | None]:
    received_at = round(time.time() * 1000, 3)
    if len(payload) > THREAD_PARSE:
        event = await trio.to_thread.run_sync(
            partial(parse_hook_line, payload, received_at=received_at)
        )
    else:
        event = parse_hook_line(payload, received_at=received_at)
    if event is None:
        return {"ok": False, "error": "not a hook event"}, None
    if on_hook is None:
        return {"ok": False, "error": "hooks are not taken"}, None
    try:
        taken = on_hook(event)
    except Exception as exc:  # a bug in the intake must not take the socket down
        log.exception("hooks.intake_failed", hook=event.event, error=str(exc))
        return {"ok": False, "error": "the daemon could not take the event"}, event
    return ({"ok": True} if taken else {"ok": False, "dropped": True}), event


def _prepare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        path.unlink()  # a stale socket from a daemon that died


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def request_status(path: Path, timeout: float = 3.0) -> dict[str, Any]:
    """Blocking client for the CLI."""
    return _ask(path, timeout)[0]


def daemon_pid(path: Path, timeout: float = 3.0) -> int | None:
    """The pid of the daemon answering on `path`, read from the socket's peer credentials.

    The daemon must answer a status request (a stale socket or a wedged daemon is no answer:
    ControlError). None if this platform cannot tell a Unix socket's peer.
    """
    return _ask(path, timeout)[1]


def _peer_pid(s: socket.socket) -> int | None:
    """The pid of the process that listens on the other end (Linux and macOS)."""
    try:
        if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
            pid, _uid, _gid = struct.unpack(
                "3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            )
            return int(pid) if pid > 0 else None
        if sys.platform == "darwin":  # getsockopt(SOL_LOCAL, LOCAL_PEERPID)
            pid = s.getsockopt(0, getattr(socket, "LOCAL_PEERPID", 0x002))
            return int(pid) if pid > 0 else None
    except OSError:
        return None
    return None


def _ask(path: Path, timeout: float) -> tuple[dict[str, Any], int | None]:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            pid = _peer_pid(s)
            s.sendall(b"status\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except FileNotFoundError:
        raise NotRunning(f"no daemon is running (no control socket at {path})") from None
    except ConnectionRefusedError:
        raise ControlError(f"no daemon is listening on {path} (a stale socket?)") from None
    except ConnectionError:
        raise ControlError(
            f"the daemon closed the connection on {path} (is it stopping?)"
        ) from None
    except TimeoutError:
        raise ControlError(f"the daemon did not answer on {path} within {timeout:g} s") from None
    try:
        doc = json.loads(b"".join(chunks))
    except json.JSONDecodeError:
        raise ControlError(f"the daemon sent an unreadable reply on {path}") from None
    if not isinstance(doc, dict):
        raise ControlError(f"the daemon sent an unexpected reply on {path}")
    return doc, pid
