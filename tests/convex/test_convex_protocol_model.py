"""A model-based test of mutation completion: random interleavings of responses, Transitions,
duplicates and reconnects against a server that de-duplicates by request id."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tina.convex._protocol import RequestCompleted, SyncProtocol, encode_ts


class MutationModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.proto = SyncProtocol(session_id="model", clock_ms=lambda: 0)
        self.server_ts = 0  # the backend's latest commit
        self.applied: dict[int, int] = {}  # request id -> commit ts (the server de-duplicates)
        self.inbox: list[int] = []  # request ids the server received on this socket, unanswered
        self.socket_ts = 0  # what the client was told on this socket
        self.completed: dict[int, Any] = {}
        self.abandoned: set[int] = set()
        self.issued: list[int] = []
        self._connect()

    def _connect(self) -> None:
        self.proto.start_connection()
        self.socket_ts = 0
        self.inbox = []
        self._drain()

    def _drain(self) -> None:
        while (text := self.proto.next_outgoing()) is not None:
            frame = json.loads(text)
            if frame["type"] == "Mutation":
                self.inbox.append(frame["requestId"])

    def _feed(self, frame: dict[str, Any]) -> None:
        for event in self.proto.receive(json.dumps(frame)):
            if isinstance(event, RequestCompleted):
                rid = event.request_id
                assert rid not in self.completed, f"{rid} completed twice"
                assert rid not in self.abandoned, f"abandoned {rid} completed"
                assert self.proto.version.ts >= self.applied[rid], "completed before its ts"
                assert event.value == f"r{rid}"
                self.completed[rid] = event.value

    @rule()
    def call(self) -> None:
        self.issued.append(self.proto.mutation("items:add", {"n": len(self.issued)}))
        self._drain()

    @precondition(lambda self: bool(self.inbox))
    @rule(data=st.data())
    def respond(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.inbox))
        self.inbox.remove(rid)
        if rid not in self.applied:  # first time: commit; a re-send replays the first answer
            self.server_ts += data.draw(st.integers(1, 3))
            self.applied[rid] = self.server_ts
        self._feed(
            {
                "type": "MutationResponse",
                "requestId": rid,
                "success": True,
                "result": f"r{rid}",
                "ts": encode_ts(self.applied[rid]),
                "logLines": [],
            }
        )

    @rule(data=st.data())
    def transition(self, data: st.DataObject) -> None:
        end = data.draw(st.integers(self.socket_ts, self.server_ts))
        version = {"querySet": 0, "identity": 0}
        self._feed(
            {
                "type": "Transition",
                "startVersion": {**version, "ts": encode_ts(self.socket_ts)},
                "endVersion": {**version, "ts": encode_ts(end)},
                "modifications": [],
            }
        )
        self.socket_ts = end

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.applied)))
        self._feed(
            {
                "type": "MutationResponse",
                "requestId": rid,
                "success": True,
                "result": f"r{rid}",
                "ts": encode_ts(self.applied[rid]),
                "logLines": [],
            }
        )

    @precondition(lambda self: bool(self.issued))
    @rule(data=st.data())
    def give_up(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.issued))
        if rid not in self.completed:
            self.proto.abandon(rid)
            self.abandoned.add(rid)

    @rule()
    def reconnect(self) -> None:
        assert self.proto.connection_lost("model reconnect") == []  # no actions in this model
        self._connect()

    @invariant()
    def nothing_is_lost(self) -> None:
        # Every mutation is completed, abandoned, or still tracked (to be re-sent or answered).
        tracked = set(self.proto.pending_request_ids())
        for rid in self.issued:
            assert rid in self.completed or rid in self.abandoned or rid in tracked, rid

    def teardown(self) -> None:
        # Let the server answer everything and catch up: every live mutation completes.
        while self.inbox:
            rid = self.inbox[0]
            self.inbox.pop(0)
            if rid not in self.applied:
                self.server_ts += 1
                self.applied[rid] = self.server_ts
            self._feed(
                {
                    "type": "MutationResponse",
                    "requestId": rid,
                    "success": True,
                    "result": f"r{rid}",
                    "ts": encode_ts(self.applied[rid]),
                    "logLines": [],
                }
            )
        version = {"querySet": 0, "identity": 0}
        self._feed(
            {
                "type": "Transition",
                "startVersion": {**version, "ts": encode_ts(self.socket_ts)},
                "endVersion": {**version, "ts": encode_ts(self.server_ts)},
                "modifications": [],
            }
        )
        for rid in self.issued:
            assert rid in self.completed or rid in self.abandoned, rid
        assert self.proto.pending_request_ids() == []
        # Each request id was applied at most once by the (de-duplicating) server, and never
        # for a mutation abandoned before it was sent.
        assert set(self.applied) <= set(self.issued)


MutationModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestMutationModel = MutationModel.TestCase
