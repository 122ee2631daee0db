"""A local control socket: `tina daemon status` asks a running daemon for its status tree.

Unix socket in the daemon's state directory (directory 0700, socket 0600), one request
line in (`status`), one JSON line out. Read-only: nothing can be changed through it.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
import trio

log = structlog.get_logger("tina.control")
MAX_REQUEST = 64


class ControlError(Exception):
    """No daemon answered on the socket, or it answered nonsense."""


async def serve(
    path: Path,
    snapshot: Callable[[], dict[str, Any]],
    *,
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
                with trio.fail_after(2):
                    request = (
                        (await stream.receive_some(MAX_REQUEST)).decode("utf-8", "replace").strip()
                    )
                reply = (
                    snapshot()
                    if request == "status"
                    else {"error": f"unknown request {request[:20]!r}"}
                )
                await stream.send_all(json.dumps(reply).encode() + b"\n")
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
        raise ControlError(f"no daemon is running (no control socket at {path})") from None
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
