"""Presence end to end: the real daemon against the local backend. Heartbeats refresh only
`presence` (no dashboard query reads it), and a clean stop shows the laptop offline at once,
not a threshold (120 s by default) later."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard_api import Api, eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

pytestmark = pytest.mark.timeout(120)


def row(backend: BackendProcess, table: str, **match: Any) -> dict[str, Any] | None:
    found = [r for r in backend.dump(table)[table] if all(r.get(k) == v for k, v in match.items())]
    return found[0] if found else None


def test_heartbeats_leave_the_node_alone_and_a_clean_stop_is_offline_at_once(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon(env={"TINA_HEARTBEAT_SECS": "0.25", "TINA_IDLE_HEARTBEAT_SECS": "0.5"})
    listed = eventually(
        lambda: next((n for n in owner.query("nodes:listNodes") if n["online"]), None)
    )
    node = row(backend, "nodes", name=laptop.name)
    assert node is not None
    first = row(backend, "presence", nodeId=node["_id"])
    assert first is not None and first["online"]
    # Several more beats (or other calls) reach presence; the node's presence fields stay.
    eventually(
        lambda: (
            (row(backend, "presence", nodeId=node["_id"]) or {}).get("lastBeatAt", 0)
            >= first["lastBeatAt"] + 1500
        ),
        timeout=30,
    )
    later = row(backend, "nodes", name=laptop.name)
    assert later is not None
    assert (later["status"], later["lastHeartbeat"]) == ("online", listed["lastHeartbeat"])

    assert laptop.stop_daemon() == 0
    # At once: the threshold is 120 s, the whole test lasts less.
    stopped = owner.query("nodes:listNodes")
    assert [(n["name"], n["online"]) for n in stopped] == [(laptop.name, False)]
    events = [e["event"] for e in laptop.log_events()]
    assert "node.signed_off" in events
