"""Property tests: readers never raise anything but ReadError, whatever the bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tina.local import (
    ApprovalPolicy,
    Breakdown,
    JournalEntry,
    ModelPolicy,
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    ReadError,
    ReviewVerdict,
    SessionLookup,
    SupervisorState,
    VerdictResult,
    encode_journal_entry,
    encode_session_lookup,
    encode_supervisor_state,
    parse_journal,
    parse_phase_status,
    parse_session_lookup,
    parse_supervisor_state,
    parse_task,
    parse_team_config,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

Parser = Callable[..., object]

# (parser, fixture files it must read)
CASES: list[tuple[Parser, list[str]]] = [
    (
        parse_supervisor_state,
        [
            "state/design-doc-145b20a.json",
            "state/spec-doc-head.json",
            "state/tina-paused-gated.json",
        ],
    ),
    (parse_session_lookup, ["sessions/cwd-145b20a.json", "sessions/worktree-path.json"]),
    (
        parse_phase_status,
        ["phase-status/skill-blocked-reason.json", "phase-status/rust-blocked-reason.json"],
    ),
    (
        parse_team_config,
        [
            "teams/billing-export-phase-1-5/config.json",
            "teams/billing-export-orchestration/config.json",
            "real-shapes/teams/docs-refresh/config.json",
            "real-shapes/teams/session-7c1e0b2a/config.json",
            "real-shapes/teams/abandoned-spike/config.json",
        ],
    ),
    (
        parse_task,
        [f"tasks/billing-export-phase-1-5/{n}.json" for n in (1, 2, 3)]
        + [f"real-shapes/tasks/docs-refresh/{n}.json" for n in (1, 2, 3, 10, 11)],
    ),
]

SAMPLES: list[tuple[Parser, bytes]] = [
    (parse, (FIXTURES / name).read_bytes()) for parse, names in CASES for name in names
]
PARSERS = [parse for parse, _ in CASES]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["planning", "in-process", "2026-02-07T16:03:12Z", "1.5", "", "%3", "deleted"]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _read_error(parse: Parser, data: bytes, path: str = "prop.json") -> ReadError | None:
    """The ReadError a parser raises, or None if it parsed; any other exception propagates."""
    try:
        parse(data, path=path)
    except ReadError as error:
        return error
    return None


def _parse_only_read_errors(parse: Parser, data: bytes) -> None:
    error = _read_error(parse, data)
    if error is not None:
        assert error.path == "prop.json"
        assert error.expected
        assert str(error).startswith("prop.json")


@PROPERTY
@given(parse=st.sampled_from(PARSERS), data=st.binary(max_size=400))
def test_random_bytes(parse: Parser, data: bytes) -> None:
    _parse_only_read_errors(parse, data)


@PROPERTY
@given(parse=st.sampled_from(PARSERS), value=json_values)
def test_random_json_values(parse: Parser, value: Any) -> None:
    _parse_only_read_errors(parse, json.dumps(value).encode())


@PROPERTY
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_truncated_files_are_incomplete(sample: tuple[Parser, bytes], data: st.DataObject) -> None:
    parse, raw = sample
    body = raw.rstrip()
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    error = _read_error(parse, raw[:cut], "half.json")
    assert error is not None, f"a file cut at byte {cut} of {len(body)} parsed"
    assert error.incomplete, f"cut at {cut}: {error}"


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], new: Any, *, delete: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(doc[head], rest, new, delete=delete)
    return copy


@PROPERTY
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_mutated_files(sample: tuple[Parser, bytes], data: st.DataObject) -> None:
    parse, raw = sample
    doc = json.loads(raw)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        kind = data.draw(st.sampled_from(["replace", "delete", "null"]))
        if kind == "delete" and path:
            doc = _replace(doc, path, None, delete=True)
        elif kind == "null":
            doc = _replace(doc, path, None)
        else:
            doc = _replace(doc, path, data.draw(json_values))
    _parse_only_read_errors(parse, json.dumps(doc).encode())


@PROPERTY
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_unknown_keys_are_ignored(sample: tuple[Parser, bytes], data: st.DataObject) -> None:
    parse, raw = sample
    doc = json.loads(raw)
    # Objects with a schema; free-form JSON and the phases map (keys are data) are left alone.
    objects = [
        p
        for p in _paths(doc)
        if isinstance(_get(doc, p), dict)
        and not (p and (p[0] in ("context", "metadata", "review_policy") or p[-1] == "phases"))
    ]
    path = data.draw(st.sampled_from(objects))
    target = _get(doc, path)
    key = "x_" + data.draw(st.text(min_size=1, max_size=8))
    mutated = _replace(doc, path, {**target, key: data.draw(json_values)})
    assert parse(json.dumps(mutated).encode()) == parse(raw)


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


# --------------------------------------------------------------------------------------------
# writer round trips

texts = st.text(max_size=20)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
small = st.integers(min_value=0, max_value=10_000)
optional_mins = st.none() | small
phase_keys = st.builds(
    lambda main, depth: ".".join([str(main), *["5"] * depth]),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=0, max_value=2),
)
phases = st.builds(
    PhaseState,
    status=st.sampled_from(PhaseStatus),
    plan_path=st.none() | texts,
    planning_started_at=st.none() | instants,
    execution_started_at=st.none() | instants,
    review_started_at=st.none() | instants,
    completed_at=st.none() | instants,
    duration_mins=optional_mins,
    git_range=st.none() | texts,
    blocked_reason=st.none() | texts,
    breakdown=st.builds(
        Breakdown,
        planning_mins=optional_mins,
        execution_mins=optional_mins,
        review_mins=optional_mins,
    ),
    review_verdicts=st.lists(
        st.builds(
            ReviewVerdict,
            result=st.sampled_from(VerdictResult),
            issues=st.lists(texts, max_size=3).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    in_phase_repair_loops=small,
    retry_count=small,
    plan_approval=st.none() | st.sampled_from(PlanApproval),
    plan_feedback=st.lists(texts, max_size=3).map(tuple),
    paused_from=st.none() | st.sampled_from(PhaseStatus),
    paused_at=st.none() | instants,
)
states = st.builds(
    SupervisorState,
    feature=texts,
    spec_doc=texts,
    worktree_path=texts,
    branch=texts,
    total_phases=small,
    current_phase=small,
    status=st.sampled_from(OrchestrationStatus),
    orchestration_started_at=instants,
    spec_id=st.none() | texts,
    phases=st.dictionaries(phase_keys, phases, max_size=4),
    model_policy=st.builds(
        ModelPolicy,
        executor=texts,
        dual_validation=st.booleans(),
        review_consensus=st.booleans(),
    ),
    review_policy=st.none() | st.dictionaries(texts, st.booleans() | texts, max_size=3),
    approval_policy=st.builds(ApprovalPolicy, require_plan_approval=st.booleans()),
    blocked_reason=st.none() | texts,
    paused_from=st.none() | st.sampled_from(OrchestrationStatus),
    paused_at=st.none() | instants,
)


@PROPERTY
@given(state=states)
def test_state_round_trip(state: SupervisorState) -> None:
    written = encode_supervisor_state(state)
    assert parse_supervisor_state(written) == state
    assert encode_supervisor_state(parse_supervisor_state(written)) == written


@PROPERTY
@given(
    lookup=st.builds(
        SessionLookup,
        feature=texts,
        worktree_path=texts,
        repo_root=texts,
        created_at=st.none() | instants,
    )
)
def test_session_lookup_round_trip(lookup: SessionLookup) -> None:
    assert parse_session_lookup(encode_session_lookup(lookup)) == lookup


entries = st.builds(
    JournalEntry,
    id=st.uuids().map(lambda u: u.hex),
    type=texts,
    source=st.just("tina-session"),
    summary=st.text(max_size=40),
    detail=st.none() | st.dictionaries(texts, st.integers() | texts | st.none(), max_size=3),
    phase=st.none() | phase_keys,
    feature=texts,
    recorded_at=instants,
)


@PROPERTY
@given(items=st.lists(entries, max_size=6), data=st.data())
def test_journal_tailing_by_offset_sees_every_entry_once(
    items: list[JournalEntry], data: st.DataObject
) -> None:
    blob = b"".join(encode_journal_entry(entry) for entry in items)
    # The file grows in arbitrary steps; a reader tails it from the offset it got last time.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=5)))
    seen: list[JournalEntry] = []
    offset = 0
    for size in [*cuts, len(blob)]:
        if size < offset:
            continue
        chunk = parse_journal(blob[offset:size], offset=offset)
        assert chunk.errors == ()
        assert chunk.start == offset <= chunk.end <= size
        seen += chunk.entries
        offset = chunk.end
    assert seen == items
    assert offset == len(blob)


@PROPERTY
@given(data=st.binary(max_size=300), offset=st.integers(0, 10**6))
def test_journal_random_bytes(data: bytes, offset: int) -> None:
    chunk = parse_journal(data, offset=offset)
    assert offset <= chunk.end <= offset + len(data)
    assert chunk.end == offset + data.rfind(b"\n") + 1


def test_state_round_trip_keeps_phase_order_numeric() -> None:
    state = SupervisorState(
        feature="f",
        spec_doc="/d",
        worktree_path="/w",
        branch="b",
        total_phases=10,
        current_phase=1,
        status=OrchestrationStatus.PLANNING,
        orchestration_started_at=datetime(2026, 1, 1, tzinfo=UTC),
        phases={k: PhaseState(status=PhaseStatus.COMPLETE) for k in ["10", "2", "1.5", "1"]},
    )
    written = json.loads(encode_supervisor_state(state))
    assert list(written["phases"]) == ["1", "1.5", "2", "10"]
    later = attrs.evolve(state, paused_at=state.orchestration_started_at + timedelta(minutes=1))
    assert json.loads(encode_supervisor_state(later))["paused_at"] == "2026-01-01T00:01:00.000000Z"
