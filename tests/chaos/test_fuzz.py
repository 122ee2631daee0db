"""Bad input, generated (hypothesis): the daemon's edges never crash and say clearly what is wrong.

- Action documents from the wire: `parse_action` returns a safe `Action` or raises
  `ActionRejected` with a code and a message; nothing else.
- The durable outbox after disk damage or a foreign writer: loading and replaying it never
  raises, and what it replays is well formed.
- Claude Code task and team files: whatever the readers accept projects into a snapshot the real
  Convex functions accept, so one odd file can never stop its whole team from syncing.

The readers themselves (random bytes, truncation, mutation) are covered in
`tests/local/test_local_properties.py`; Convex's own validation of action payloads in
`convex/security.test.ts`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tina.convex import LatestValue
from tina.convex.actions import action_from_wire as parse_action
from tina.convex.gateway import GatewayProtocol
from tina.convex.wire import make_converter
from tina.daemon.actions import ActionRejected, build_cli_args
from tina.daemon.projection import Unsendable, task_snapshot, team_snapshot
from tina.daemon.sync.coalescer import TeamItem, TeamRemoval
from tina.daemon.sync.delta import board_counts
from tina.daemon.sync.outbox import Outbox
from tina.daemon.sync.syncer import Syncer
from tina.dev.backend import BackendProcess
from tina.local import ReadError, parse_task, parse_team_config
from tina.local.names import validate_feature, validate_phase
from tina.messages import ACTION_TYPES, AGENT_RE, CONTROL_RE, MAX_TEXT, TEAM_DIR_RE, TaskSnapshot

from .harness import ENROLLMENT_SECRET, sizes

pytestmark = pytest.mark.timeout(1200)  # the full form runs thousands of examples

# The short form (CI) replays the same examples every run; the full form explores afresh.
EXAMPLES = sizes().fuzz_examples
DERANDOMIZE = sizes().form == "short"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- values a hostile or broken peer could send ---------------------------------------------------


def sized(low: int, high: int) -> st.SearchStrategy[str]:
    """Text of `low`-`high` characters: a short random piece (astral characters included) repeated."""
    return st.tuples(st.text(min_size=1, max_size=4), st.integers(low, high)).map(
        lambda p: (p[0] * (p[1] // len(p[0]) + 1))[: p[1]]
    )


hostile_text = st.one_of(
    st.text(max_size=30),
    sized(3990, 4010),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\x1b[2J",
            "a\nb",
            "../../etc",
            "-rf",
            "--phase",
            "1.5.5.5",
            "1-retry",
            "phase-1",
            "%17",
            "a b",
            "é",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
payload_keys = st.sampled_from(
    ["feature", "phase", "feedback", "teamDir", "agentName", "text", "extra"]
)
payloads = st.one_of(
    json_values, st.dictionaries(payload_keys, st.one_of(hostile_text, json_values), max_size=6)
)
action_docs = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "_id": st.one_of(st.text(min_size=1, max_size=20), json_values),
            "type": st.one_of(st.sampled_from(ACTION_TYPES), hostile_text, json_values),
            "payload": payloads,
        },
        optional={"expiresAt": scalars, "status": json_values, "leaseOwner": json_values},
    ),
)


@FUZZ
@given(doc=action_docs)
def test_any_action_document_is_parsed_safely_or_rejected_with_a_code(doc: Any) -> None:
    try:
        action = parse_action(doc)
    except ActionRejected as exc:
        rejected = exc
    else:
        rejected = None
    if rejected is not None:
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,63}", rejected.code), rejected.code
        assert rejected.message and len(rejected.message) <= 500
        return
    # What passes is safe to hand to a subprocess (argv only) or a tmux pane.
    assert action.type in ACTION_TYPES
    assert isinstance(action.id, str) and action.id
    assert math.isfinite(action.expires_at)
    if action.type == "send_message":
        assert (
            action.team_dir is not None
            and TEAM_DIR_RE.fullmatch(action.team_dir)
            and ".." not in action.team_dir
        )
        assert action.agent_name is not None and AGENT_RE.fullmatch(action.agent_name)
        assert (
            action.text is not None
            and 0 < len(action.text) <= MAX_TEXT
            and not CONTROL_RE.search(action.text)
        )
    else:
        assert action.feature is not None and validate_feature(action.feature) == action.feature
        assert action.phase is not None and validate_phase(action.phase) == action.phase
        argv = build_cli_args(action, "tina-session")
        assert all(isinstance(a, str) for a in argv)
        values = argv[1::2][1:]  # what follows each flag
        assert not any(v.startswith("-") for v in values[:3]), argv


# --- the outbox after damage ------------------------------------------------------------------------

_conv = make_converter()
GOOD_SEQ = 5.0
GOOD_TEAM = {
    "t": "team",
    "seq": GOOD_SEQ,
    "team": {"dirName": "t", "teamName": "t"},
    "members": [],
    "tasks": [
        {
            "taskId": "1",
            "subject": "s",
            "description": "",
            "status": "pending",
            "blocks": [],
            "blockedBy": [],
        }
    ],
}
record_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"t": st.sampled_from(["team", "rm", "ack", "other"])},
        optional={
            "seq": scalars,
            "team": json_values,
            "members": json_values,
            "tasks": json_values,
            "history": json_values,
            "dir": json_values,
            "key": json_values,
        },
    ),
    st.builds(
        lambda changes: {**GOOD_TEAM, **changes},
        st.dictionaries(st.sampled_from(list(GOOD_TEAM)), json_values, max_size=2),
    ),
)
lines = st.lists(
    st.one_of(record_like.map(lambda r: json.dumps(r, allow_nan=True)), st.text(max_size=40)),
    max_size=8,
)


@FUZZ
@given(before=lines, after=lines, tail=st.binary(max_size=40))
def test_a_damaged_outbox_never_stops_the_daemon_from_starting(
    tmp_path_factory: pytest.TempPathFactory, before: list[str], after: list[str], tail: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzzed-outbox.jsonl"  # rewritten by every example
    good = json.dumps(GOOD_TEAM)
    data = "\n".join([*before, good, *after]).encode("utf-8", "surrogatepass") + b"\n" + tail
    path.write_bytes(data)
    others = [_parsed(raw) for raw in data.split(b"\n") if raw != good.encode()]
    outbox = Outbox(path, disk=trio.CapacityLimiter(1))
    syncer = Syncer(LatestValue[GatewayProtocol | None](None), outbox=outbox)
    restored = syncer.restore()  # must not raise
    pending = syncer.coalescer.get(("team", "t"))
    if isinstance(pending, TeamItem):
        _conv.unstructure(pending.team)  # well formed: it can go on the wire
    if any(_acknowledges_good_team(rec) for rec in others):
        return  # the intact record was acknowledged: it may rightly be gone
    # The intact record between the damage is replayed, whatever surrounds it.
    assert restored >= 1
    assert isinstance(pending, TeamItem | TeamRemoval), pending
    if not any(isinstance(rec, dict) and rec.get("t") in ("team", "rm") for rec in others):
        # Nothing else could be a record of team t: what is pending is exactly that record.
        assert isinstance(pending, TeamItem)
        assert pending.seq == GOOD_SEQ
        assert [(t.task_id, t.status) for t in pending.tasks] == [("1", "pending")]


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _acknowledges_good_team(rec: Any) -> bool:
    """A well-formed `ack` of team t at or past the intact record's sequence number."""
    if not isinstance(rec, dict) or rec.get("t") != "ack" or rec.get("key") != "team:t":
        return False
    seq = rec.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int | float):
        return False
    try:
        number = float(seq)
    except OverflowError:
        return False
    return math.isfinite(number) and number >= GOOD_SEQ


# --- Claude Code files: accepted locally means accepted by Convex ---------------------------------

ids = st.one_of(st.integers(0, 10**6).map(str), st.text(max_size=8), sized(60, 70))
long_text = st.one_of(
    st.text(max_size=40), sized(990, 1100), sized(3990, 4100), sized(19_990, 20_100)
)
opt = st.one_of(st.none(), st.text(max_size=40), sized(30, 300))
task_docs = st.fixed_dictionaries(
    {
        "id": ids,
        "subject": long_text,
        "status": st.one_of(
            st.sampled_from(["pending", "in_progress", "completed", "deleted"]),
            st.text(max_size=40),
        ),
    },
    optional={
        "description": long_text,
        "activeForm": opt,
        "owner": opt,
        "blocks": st.lists(ids, max_size=5),
        "blockedBy": st.lists(ids, max_size=5),
        "metadata": json_values,
        "createdAt": st.one_of(st.integers(0, 2**45), scalars),
        "updatedAt": st.one_of(st.integers(0, 2**45), scalars),
    },
)
member_docs = st.fixed_dictionaries(
    {
        "agentId": st.one_of(st.text(max_size=20), sized(250, 260)),
        "name": st.one_of(st.text(max_size=40), st.just("executor-1"), sized(125, 130)),
    },
    optional={
        "agentType": opt,
        "model": opt,
        "tmuxPaneId": st.one_of(st.just("%3"), st.just("in-process"), opt),
        "cwd": st.one_of(opt, sized(4090, 4100)),
        "joinedAt": st.integers(0, 2**45),
        "isActive": scalars,
        "planModeRequired": scalars,
        "backendType": st.one_of(st.sampled_from(["in-process", "tmux", "iterm2"]), opt),
        "color": st.one_of(st.just("purple"), opt),
    },
)
team_docs = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=20), sized(120, 140)),
        "members": st.lists(member_docs, max_size=4),
    },
    optional={"description": long_text, "leadAgentId": opt, "createdAt": st.integers(0, 2**45)},
)


def test_every_file_the_readers_accept_is_accepted_by_convex(backend: BackendProcess) -> None:
    credential = backend.call(
        "mutation",
        "nodes:enrollNode",
        {"enrollmentSecret": ENROLLMENT_SECRET, "name": "fuzz", "os": "linux"},
    )
    token = credential["credential"]  # type: ignore[index]
    seq = [0.0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(team=team_docs, tasks=st.lists(task_docs, max_size=4))
    def check(team: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        try:
            config = parse_team_config(json.dumps(team).encode(), path="config.json")
        except ReadError:
            return
        team_snap, members = team_snapshot(config, "fuzz-team")
        snaps: list[TaskSnapshot] = []
        skipped: list[str] = []
        for i, doc in enumerate(tasks):
            try:
                snap = task_snapshot(parse_task(json.dumps(doc).encode(), path=f"{i}.json"))
            except (ReadError, Unsendable) as exc:
                skipped.append(
                    str(exc)
                )  # the daemon logs it and skips that file; the team still syncs
                continue
            if any(s.task_id == snap.task_id for s in snaps):
                continue  # one file per id on disk
            snaps.append(snap)
        assert all(skipped), "a skipped file needs a readable reason"
        seq[0] += 1
        args = {
            "nodeToken": token,
            "team": _conv.unstructure(team_snap),
            "members": _conv.unstructure(members),
            "tasks": _conv.unstructure(snaps),
            "seq": seq[0],
        }
        backend.call(
            "mutation", "teams:syncTeam", args
        )  # raises with the server's reason if refused
        # What the daemon sends now: a reconcile (a page, then its end), then a delta.
        states = [{"seq": seq[0], "task": t} for t in args["tasks"]]
        common = {"nodeToken": token, "team": args["team"]}
        page = backend.call(
            "mutation",
            "teams:reconcileTeam",
            {**common, "epoch": seq[0], "members": args["members"], "tasks": states},
        )
        assert page["status"] == "applied", page  # type: ignore[index]
        counts = _conv.unstructure(board_counts(snaps))
        done = backend.call(
            "mutation",
            "teams:finishReconcile",
            {
                "nodeToken": token,
                "dirName": team_snap.dir_name,
                "epoch": seq[0],
                "seq": seq[0],
                "taskCounts": counts,
            },
        )
        assert done["status"] == "done", done  # type: ignore[index]
        delta = {**common, "base": seq[0], "seq": seq[0] + 0.5, "removed": [], "taskCounts": counts}
        applied = backend.call(
            "mutation",
            "teams:syncTeamDelta",
            {**delta, "members": args["members"], "tasks": states},
        )
        assert applied["status"] == "applied", applied  # type: ignore[index]

    check()


REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes"


def test_the_real_shape_files_are_accepted_by_convex(backend: BackendProcess) -> None:
    """Each real-shape team with the real task files: Convex takes every snapshot; the deleted
    task and the tracker make no board task, and nothing is recorded twice."""
    credential = backend.call(
        "mutation",
        "nodes:enrollNode",
        {"enrollmentSecret": ENROLLMENT_SECRET, "name": "real-shapes", "os": "linux"},
    )
    token = credential["credential"]  # type: ignore[index]
    task_dir = REAL / "tasks/docs-refresh"
    tasks = [
        task_snapshot(parse_task(p.read_bytes(), path=p.name))
        for p in sorted(task_dir.glob("*.json"))
    ]
    assert {t.task_id for t in tasks} == {"1", "2", "3", "10", "11"}
    for seq, config_path in enumerate(sorted((REAL / "teams").glob("*/config.json")), start=1):
        config = parse_team_config(config_path.read_bytes(), path=str(config_path))
        team_snap, members = team_snapshot(config, config_path.parent.name)
        args = {
            "nodeToken": token,
            "team": _conv.unstructure(team_snap),
            "members": _conv.unstructure(members),
            "tasks": _conv.unstructure(tasks),
            "seq": float(seq),
        }
        result = backend.call("mutation", "teams:syncTeam", args)
        # Created: the tasks but the deleted one and the tracker (a tracker records no events).
        assert result["taskEventsAppended"] == 3, result  # type: ignore[index]
        again = backend.call("mutation", "teams:syncTeam", {**args, "seq": float(seq) + 0.5})
        assert again["taskEventsAppended"] == 0, again  # type: ignore[index]
