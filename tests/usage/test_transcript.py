from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.usage.conftest import LEAD_FILE, SUBAGENT_FILE
from tina.usage import Skip, UsageRecord, parse_line


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
    assert (first.model, first.input, first.output, first.cache_write, first.cache_read) == (
        "claude-sonnet-4-5-20250929",
        12,
        310,
        2048,
        15000,
    )
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
