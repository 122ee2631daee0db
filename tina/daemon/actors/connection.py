"""The Convex connection actor: one client and its typed gateway for every other actor.

It opens the trio Convex client, publishes the client and a `Gateway` in `LatestValue` cells
(the other actors wait on the gateway cell, so a restarted connection hands them a new one),
asks for a reconcile after each reconnect (the watchers then re-send everything) and, while
the client backs off, probes the deployment's TCP port so a deployment that comes back is
noticed at once instead of after the backoff. It stops last.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from typing import Any

import structlog
import trio

from tina.convex import ConnectionState, ConvexClient, LatestValue, open_convex_client
from tina.convex.gateway import Gateway, GatewayProtocol

log = structlog.get_logger("tina.connection")

PROBE_INTERVAL = 0.25
PROBE_TIMEOUT = 1.0


async def _reachable(host: str, port: int) -> bool:
    with trio.move_on_after(PROBE_TIMEOUT):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return False


async def reconnect_when_reachable(
    client: ConvexClient,
    url: str,
    *,
    interval: float = PROBE_INTERVAL,
    min_gap: float = 0.5,
    fast_retries: int = 20,
) -> None:
    """Reconnect as soon as an unreachable deployment answers again.

    After a long outage the client's backoff has grown to its cap (16 s), so it would notice
    the deployment's return up to that long after the fact. While it backs off, probe the
    deployment's TCP port (a connect and close, no request) every `interval`. Once the port
    has refused (or timed out) since the last healthy connection and accepts again, skip the
    rest of the backoff (`ConvexClient.reconnect_now`), at most every `min_gap` seconds and at
    most `fast_retries` times per outage: a deployment still starting may accept connections
    and reject the WebSocket for a moment. A deployment that accepts connections but keeps
    failing, and was never unreachable, is left to the normal backoff.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    was_unreachable = False
    left = fast_retries
    last_kick = -math.inf
    while True:
        status = client.status()
        if status.state is ConnectionState.CONNECTED:
            was_unreachable, left = False, fast_retries
        if status.state is not ConnectionState.BACKING_OFF:
            await client.wait_status_change(status)
            continue
        if not await _reachable(host, port):
            was_unreachable = True
        elif was_unreachable and left > 0 and trio.current_time() - last_kick >= min_gap:
            left -= 1
            last_kick = trio.current_time()
            log.info("convex.reachable", host=host, port=port)
            client.reconnect_now()
        await trio.sleep(interval)


async def current_gateway(
    cell: LatestValue[GatewayProtocol | None], *, not_this: GatewayProtocol | None = None
) -> GatewayProtocol:
    """The gateway of the live connection (a restarted connection actor makes a new one)."""
    gateway = await cell.wait_for(lambda g: g is not None and g is not not_this)
    assert gateway is not None
    return gateway


class Connection:
    """The connection actor's state: the live client and gateway (None while it is down)."""

    def __init__(self, url: str, token: str, *, on_reconnect: Callable[[], None]) -> None:
        self.url = url
        self._token = token
        self._on_reconnect = on_reconnect
        self.gateway: LatestValue[GatewayProtocol | None] = LatestValue(None)
        self.client: LatestValue[ConvexClient | None] = LatestValue(None)

    def state(self) -> str | None:
        """The client's connection state (`connected`, `backing_off`…), None without a client."""
        client = self.client.value
        return None if client is None else client.status().state.value

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with (
                open_convex_client(self.url, timeout=15.0) as client,
                trio.open_nursery() as nursery,
            ):
                self.client.set(client)
                self.gateway.set(Gateway(client, self._token))
                nursery.start_soon(reconnect_when_reachable, client, self.url)
                task_status.started()
                status = client.status()
                while True:
                    new = await client.wait_status_change(status)
                    if (
                        new.state is ConnectionState.CONNECTED
                        and new.connected_count > 1
                        and (new.connected_count != status.connected_count)
                    ):
                        log.info("convex.reconnected", attempts=status.attempts)
                        self._on_reconnect()
                    elif new.state is not status.state:
                        log.info("convex.status", state=new.state.value, error=new.last_error)
                    status = new
        finally:
            self.gateway.set(None)
            self.client.set(None)

    def detail(self) -> dict[str, Any]:
        client = self.client.value
        if client is None:
            return {"connection": "none"}
        s = client.status()
        out: dict[str, Any] = {"connection": s.state.value}
        if s.rtt_ms is not None:
            out["rtt_ms"] = round(s.rtt_ms, 1)
        if s.attempts:
            out["attempts"] = s.attempts
        if s.last_error and s.state is not ConnectionState.CONNECTED:
            out["error"] = s.last_error
        return out
