"""The dashboard's own calls, made as a signed-in person makes them (the sync protocol with the
session's token): for tools that act as an operator, such as the offline demo. Each call waits
on a live query, as the dashboard does, until what it looks for is there."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tina.convex.client import ConvexClient

FINAL_ACTION_STATUSES = frozenset({"completed", "failed", "expired", "cancelled", "interrupted"})


class Operator:
    def __init__(self, client: ConvexClient) -> None:
        self.client = client

    async def _until(self, path: str, args: Mapping[str, Any], found: Callable[[Any], Any]) -> Any:
        """The first truthy `found(value)` of the live query `path`."""
        async with self.client.subscribe(path, args) as sub:
            async for value in sub:
                hit = found(value)
                if hit:
                    return hit
        raise RuntimeError(f"the subscription to {path} ended")  # pragma: no cover

    async def active_orchestration(self, node_name: str, feature: str) -> str:
        """The id of `feature`'s active orchestration on laptop `node_name`, once listed."""
        row = await self._until(
            "orchestrations:listOrchestrations",
            {},
            lambda v: next(
                (
                    o
                    for o in v["active"]
                    if o["nodeName"] == node_name and o["featureName"] == feature
                ),
                None,
            ),
        )
        return str(row["_id"])

    async def phase_team(self, orchestration_id: str, dir_name: str, agent: str) -> str:
        """The id of team `dir_name` of the orchestration, once it is linked to a phase and
        lists `agent`."""

        def team_of(detail: Any) -> Any:
            for t in (detail or {}).get("teams", []):
                team, names = t["team"], {m["agentName"] for m in t["members"]}
                if team["dirName"] == dir_name and team.get("phaseNumber") and agent in names:
                    return team
            return None

        team = await self._until(
            "orchestrations:getOrchestrationDetail", {"orchestrationId": orchestration_id}, team_of
        )
        return str(team["_id"])

    async def send_message(self, team_id: str, agent: str, text: str, *, via: str) -> str:
        """Submits a `send_message` action (a fresh idempotency key); returns its id."""
        submitted = await self.client.mutation(
            "actions:submitAction",
            {
                "action": {
                    "type": "send_message",
                    "teamId": team_id,
                    "agentName": agent,
                    "text": text,
                    "via": via,
                },
                "idempotencyKey": f"operator-{uuid.uuid4().hex}",
            },
        )
        return str(submitted["actionId"])

    async def action_outcome(self, orchestration_id: str, action_id: str) -> dict[str, Any]:
        """The action's row once it has ended (completed, failed, expired, cancelled or
        interrupted)."""
        row: dict[str, Any] = await self._until(
            "actions:listActions",
            {"orchestrationId": orchestration_id},
            lambda rows: next(
                (a for a in rows if a["_id"] == action_id and a["status"] in FINAL_ACTION_STATUSES),
                None,
            ),
        )
        return row
