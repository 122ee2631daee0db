from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.usage.conftest import FIXTURES, LEAD_FILE, SUBAGENT_FILE
from tina.usage import Skip, UsageRecord, parse_line
from tina.usage.transcript import _parse_typed, parse_tolerantly


def _lines(path: Any) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def test_each_shape_of_the_lead_transcript() -> None:
    parsed = [parse_line(line) for line in _lines(LEAD_FILE)[:-1]]
    assert parsed[0] is Skip.NOT_USAGE  # summary
    assert parsed[1] is Skip.NOT_USAGE  # user prompt
    first, again = parsed[2], parsed[3]
    assert isinstance(first, UsageRecord)
    assert isinstance(again, UsageRecord)
    assert first.key == again.key  # the same message written as two lines
    assert first.key == "msg_01BillingAAA:req_01BillingAAA"
    assert (first.model, first.input, first.cache_write, first.cache_read) == (
        "claude-sonnet-4-5-20250929",
        12,
        2048,
        15000,
    )
    # its output as it streamed: a first count on the first line, the final on the last
    assert (first.output, again.output) == (9, 310)
    assert first.at_ms == 1772445485120
    assert first.session_id is not None
    assert first.cwd == "/Users/dev/repo/.worktrees/billing-export"
    assert parsed[4] is Skip.NOT_USAGE  # tool result
    opus = parsed[5]
    assert isinstance(opus, UsageRecord)
    assert (opus.cache_write, opus.cache_write_1h) == (1000, 1000)
    assert parsed[6] is Skip.SYNTHETIC
    assert parsed[7] is Skip.NOT_USAGE  # file-history-snapshot
    assert parsed[8] is Skip.MALFORMED  # cut by a crash
    no_request = parsed[9]
    assert isinstance(no_request, UsageRecord)
    assert no_request.key is None
    assert no_request.model == "claude-future-9"
    assert parsed[10] is Skip.MALFORMED  # a negative count


def test_a_subagent_line_keeps_its_agent_and_sidechain() -> None:
    record = parse_line(_lines(SUBAGENT_FILE)[1])
    assert isinstance(record, UsageRecord)
    assert record.sidechain
    assert (record.agent_id, record.agent_name) == ("a1b2c3d", "executor-1")


def test_a_teammates_line_keeps_its_team_name_in_both_readings() -> None:
    line = json.loads(_lines(SUBAGENT_FILE)[1]) | {"teamName": "billing-export-phase-1"}
    for text in (json.dumps(line), json.dumps(line | {"extra": {"deep": [1, {"x": None}]}})):
        for parse in (parse_line, parse_tolerantly):
            record = parse(text)
            assert isinstance(record, UsageRecord)
            assert (record.agent_name, record.team_name) == ("executor-1", "billing-export-phase-1")
    # A name of another type, or absurdly long: not kept, the usage still counted.
    for bad in (7, "t" * 257):
        record = parse_line(json.dumps(line | {"teamName": bad}))
        assert isinstance(record, UsageRecord) and record.team_name is None, bad


def test_no_text_of_a_message_is_kept() -> None:
    for line in _lines(LEAD_FILE):
        record = parse_line(line)
        if isinstance(record, UsageRecord):
            kept = repr(record)
            assert "schema" not in kept
            assert "SECRET" not in kept


def _assistant(**usage: Any) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": "2026-03-02T10:00:00Z",
            "requestId": "r",
            "message": {"id": "m", "model": "claude-sonnet-4-5", "usage": usage},
        }
    )


def test_counts_must_be_whole_non_negative_numbers() -> None:
    assert isinstance(parse_line(_assistant(input_tokens=1, output_tokens=2.0)), UsageRecord)
    assert parse_line(_assistant(input_tokens=True)) is Skip.MALFORMED
    assert parse_line(_assistant(input_tokens=1.5)) is Skip.MALFORMED
    assert parse_line(_assistant(input_tokens="3")) is Skip.MALFORMED
    assert parse_line(_assistant(input_tokens=10**13)) is Skip.MALFORMED
    missing = parse_line(_assistant(output_tokens=4))
    assert isinstance(missing, UsageRecord)
    assert missing.input == 0


def test_a_lines_web_searches_are_counted_and_an_odd_count_keeps_its_tokens() -> None:
    searched = parse_line(
        _assistant(
            input_tokens=1,
            output_tokens=2,
            server_tool_use={"web_search_requests": 3, "web_fetch_requests": 5},
        )
    )
    assert isinstance(searched, UsageRecord)
    assert searched.web_searches == 3  # fetches are billed as tokens only
    for odd in ({"web_search_requests": -1}, {"web_search_requests": "2"}, "x", None, {}):
        record = parse_line(_assistant(input_tokens=1, output_tokens=2, server_tool_use=odd))
        assert isinstance(record, UsageRecord), odd
        assert (record.input, record.output, record.web_searches) == (1, 2, 0), odd


def test_a_lines_speed_is_kept_and_an_unknown_one_is_not_taken_for_standard() -> None:
    def speed(**usage: Any) -> str:
        record = parse_line(_assistant(input_tokens=1, **usage))
        assert isinstance(record, UsageRecord)
        return record.speed

    assert speed() == "standard"  # builds before fast mode
    assert speed(speed=None) == speed(speed="") == speed(speed="standard") == "standard"
    assert speed(speed="fast") == "fast"
    assert speed(speed="priority") == "priority"  # a speed not known yet: not priced as standard
    assert speed(speed=2) == speed(speed="x" * 33) == "unknown"


def test_a_lines_inference_geography_is_kept() -> None:
    def geo(**usage: Any) -> str:
        record = parse_line(_assistant(input_tokens=1, **usage))
        assert isinstance(record, UsageRecord)
        return record.geo

    assert geo() == geo(inference_geo=None) == geo(inference_geo="") == "global"
    assert geo(inference_geo="global") == geo(inference_geo="not_available") == "global"
    assert geo(inference_geo="us") == "us"
    assert geo(inference_geo=["us"]) == "unknown"


def test_a_server_side_compaction_adds_its_tokens_as_a_step_of_its_own() -> None:
    # As the API reports it: the top level is the message's own step, `iterations` lists it
    # again beside the compaction, whose tokens the top level leaves out.
    line = _assistant(
        input_tokens=23_000,
        output_tokens=1_000,
        cache_read_input_tokens=500,
        iterations=[
            {"type": "compaction", "input_tokens": 180_000, "output_tokens": 3_500},
            {"type": "message", "input_tokens": 23_000, "output_tokens": 1_000},
            {"type": "fallback_message", "input_tokens": 9},
            "odd",
        ],
    )
    record = parse_line(line)
    assert isinstance(record, UsageRecord)
    assert (record.input, record.output, record.cache_read) == (203_000, 4_500, 500)
    own, compaction = record.steps()
    assert (own.input, own.output, own.cache_read) == (23_000, 1_000, 500)
    assert (compaction.input, compaction.output, compaction.cache_read) == (180_000, 3_500, 0)
    plain = parse_line(_assistant(input_tokens=5, iterations=[{"type": "message"}]))
    assert isinstance(plain, UsageRecord) and plain.compactions == () and plain.input == 5
    assert isinstance(parse_line(_assistant(input_tokens=5, iterations="x")), UsageRecord)
    bad = [{"type": "compaction", "input_tokens": -1}]
    assert parse_line(_assistant(input_tokens=5, iterations=bad)) is Skip.MALFORMED
    many = [{"type": "compaction", "input_tokens": 1}] * 17
    assert parse_line(_assistant(input_tokens=5, iterations=many)) is Skip.MALFORMED


def test_a_time_without_a_zone_is_not_placed() -> None:
    line = json.loads(_assistant(input_tokens=1))
    line["timestamp"] = "2026-03-02T10:00:00"
    record = parse_line(json.dumps(line))
    assert isinstance(record, UsageRecord)
    assert record.at_ms is None


def test_odd_lines_are_skipped_not_raised() -> None:
    for line in (
        b"",
        b"[]",
        b"null",
        b"\xff\xfe",
        b'{"type":"assistant","message":[]}',
        b"[" * 100_000,
    ):
        assert isinstance(parse_line(line), Skip)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["type", "message", "usage", "model", "id", "requestId", "input_tokens"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_json_value_parses_without_raising(value: Any) -> None:
    parse_line(json.dumps(value))


@given(st.binary(max_size=200))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    parse_line(data)


# --- the typed decoding and the tolerant reading agree ----------------------------------------

odd = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.sampled_from([10**12, 10**12 + 1, 2**64, 5.0, 2.5, float("nan"), -0.0])
    | st.sampled_from(["", "fast", "standard", "us", "global", "x" * 600, "<synthetic>"])
    | st.sampled_from(["2026-03-02T12:00:00Z", "2026-03-02T12:00:00", "\ud800", "\u00e9"])
    | st.lists(st.integers(0, 3), max_size=2)
    | st.just({})
)


def mostly(good: Any) -> Any:
    """`good`, and now and then an odd value in its place."""
    return st.integers(0, 11).flatmap(lambda n: good if n else odd)


def fields(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """An object with `required`'s names (now and then without one) and most of
    `optional`'s."""
    absent = object()
    drawn = {
        k: st.integers(0, 11).flatmap(lambda n, v=v: st.just(absent) if n == 0 else mostly(v))
        for k, v in required.items()
    }
    drawn |= {
        k: st.integers(0, 3).flatmap(lambda n, v=v: mostly(v) if n else st.just(absent))
        for k, v in optional.items()
    }
    return st.fixed_dictionaries(drawn).map(
        lambda d: {k: v for k, v in d.items() if v is not absent}
    )


count = mostly(st.integers(min_value=0, max_value=10**12))
counts = {"input_tokens": count, "output_tokens": count}
optional_counts = {
    "cache_creation_input_tokens": count,
    "cache_read_input_tokens": count,
    "cache_creation": fields(
        {}, {"ephemeral_1h_input_tokens": count, "ephemeral_5m_input_tokens": count}
    ),
}
iteration = fields({"type": st.sampled_from(["compaction", "message"]), **counts}, optional_counts)
usage = fields(
    counts,
    {
        **optional_counts,
        "server_tool_use": fields({"web_search_requests": count}, {"web_fetch_requests": count}),
        "speed": st.sampled_from(["fast", "standard", "", "turbo"]),
        "inference_geo": st.sampled_from(["us", "global", "not_available", "eu"]),
        "iterations": st.lists(iteration, max_size=3)
        | st.integers(16, 17).map(lambda n: [{"type": "compaction", "input_tokens": 1}] * n),
        "service_tier": st.just("standard"),
    },
)
message = fields(
    {
        "id": st.sampled_from(["msg_01A", "m", "x" * 600]),
        "model": st.sampled_from(["claude-sonnet-4-5", "<synthetic>", "x" * 200]),
        "usage": usage,
    },
    {"content": st.just([{"type": "text", "text": "hi"}]), "role": st.just("assistant")},
)
line = fields(
    {"type": st.sampled_from(["assistant", "assistant", "user"]), "message": message},
    {
        "requestId": st.sampled_from(["req_1", ""]),
        "timestamp": st.sampled_from(["2026-03-02T12:00:00Z", "2026-03-02T12:00:01.5Z", "x"]),
        "sessionId": st.sampled_from(["s1", "x" * 200]),
        "cwd": st.sampled_from(["/w", ""]),
        "agentId": st.just("a1"),
        "agentName": st.sampled_from(["executor-1", "y" * 70]),
        "teamName": st.sampled_from(["f-phase-1", "t" * 300, 3]),
        "isSidechain": st.booleans(),
    },
)


def _with_iterations(*kinds: str) -> dict[str, Any]:
    steps = [{"type": k, "input_tokens": 5, "output_tokens": 1} for k in kinds]
    usage = {"input_tokens": 9, "output_tokens": 3, "iterations": steps}
    return {"type": "assistant", "message": {"model": "claude-sonnet-4-5", "usage": usage}}


@settings(max_examples=600)
@given(line, st.booleans())
@example(_with_iterations("compaction", "message"), False)
@example(_with_iterations(*["compaction"] * 16), False)
@example(_with_iterations(*["compaction"] * 17), False)
def test_the_typed_decoding_reads_any_line_as_the_tolerant_reading_does(
    value: dict[str, Any], twice: bool
) -> None:
    text = json.dumps(value)
    if twice and value:  # a key given twice: JSON's last one counts, in both readings
        first = next(iter(value))
        text = text[:-1] + ", " + json.dumps({first: "stale"})[1:-1] + ", " + text[1:]
    assert parse_line(text) == parse_tolerantly(text)
    assert parse_line(text.encode()) == parse_tolerantly(text.encode())


def test_every_line_of_the_real_shaped_fixtures_takes_the_typed_decoding() -> None:
    read = 0
    for path in sorted(FIXTURES.rglob("*.jsonl")):
        for raw in path.read_bytes().split(b"\n"):
            try:
                json.loads(raw)
            except ValueError:
                continue  # the partial last line
            typed, tolerant = _parse_typed(raw), parse_tolerantly(raw)
            if tolerant is Skip.MALFORMED:  # the fixture's negative count
                assert typed is None
                continue
            assert typed == tolerant, raw[:200]
            read += isinstance(typed, UsageRecord)
    assert read == 8
