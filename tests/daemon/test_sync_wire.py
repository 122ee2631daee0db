"""What the daemon sends for documents, inbox messages and liveness, through the real gateway
and client, is what the repository's Convex functions accept (the local backend)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from tina.convex.client import open_convex_client
from tina.convex.gateway import Gateway, enroll
from tina.daemon.projection import (
    document_snapshot,
    inbox_message,
    orchestration_snapshot,
    team_snapshot,
    with_liveness,
)
from tina.dev.backend import BackendProcess
from tina.local import parse_supervisor_state, read_inbox, read_team_config
from tina.messages import DOCUMENT_MAX

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]  # the local backend (node)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL = FIXTURES / "real-shapes" / "teams"
SECRET = "daemon-wire-enrollment-secret-0123456789"


async def test_documents_messages_and_liveness_are_accepted_by_convex(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    async with open_convex_client(backend.url) as client:
        enrolled = await enroll(client, SECRET, "wire", "linux")
        gateway = Gateway(client, enrolled.credential)

        state = parse_supervisor_state((FIXTURES / "state/spec-doc-head.json").read_bytes())
        snapshot, phases = orchestration_snapshot(state)
        orchestration_id = (
            await gateway.sync_orchestration(snapshot, phases, 1.0)
        ).orchestration_id

        # A plan over the cap (cut before a 4-byte character), a missing one, a design doc.
        big = ("x" * (DOCUMENT_MAX - 2) + "😀 and more").encode()
        plan = document_snapshot("plan", "/w/docs/plans/p1.md", big, phase="1", mtime_ns=10**18 * 2)
        assert plan.truncated
        assert await gateway.sync_document(orchestration_id, plan) is True
        assert await gateway.sync_document(orchestration_id, plan) is False  # unchanged
        missing = document_snapshot("plan", "/w/docs/plans/p2.md", None, phase="2")
        assert await gateway.sync_document(orchestration_id, missing) is True
        design = document_snapshot("design", "/w/docs/design.md", b"# Design\n")
        assert await gateway.sync_document(orchestration_id, design) is True

        # Every real-shape team with its members' liveness, then every entry of its inboxes.
        for seq, team in enumerate(["api-audit", "docs-refresh"], start=1):
            config = read_team_config(REAL / team / "config.json")
            team_snap, members = team_snapshot(config, team)
            inboxes = {
                p.stem: read_inbox(p) for p in sorted((REAL / team / "inboxes").glob("*.json"))
            }
            live = with_liveness(team_snap, members, inboxes, frozenset({"%21", "%22"}))
            assert {m.liveness for m in live} >= {"working"}
            await gateway.sync_team(team_snap, live, [], float(seq))
            messages = [inbox_message(m) for inbox in inboxes.values() for m in inbox.messages]
            assert len(messages) <= 100
            assert await gateway.record_team_messages(team, messages) == (len(messages), 0)
            assert await gateway.record_team_messages(team, messages) == (0, 0)  # dedup by key
            flipped = attrs.evolve(messages[0], read=not messages[0].read)
            assert await gateway.record_team_messages(team, [flipped]) == (0, 1)

        # Both teams are live on the laptop (neither refused nor removed).
        teams = backend.call("query", "teams:activeTeamDirs", {"nodeToken": enrolled.credential})
        assert sorted(json.loads(json.dumps(teams))) == ["api-audit", "docs-refresh"]
