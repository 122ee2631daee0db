from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tina.usage.reader as reader_module
from tests.usage.conftest import LEAD_FILE, RESUMED_FILE, SUBAGENT_FILE
from tina.usage import FileMark, ReadResult, TranscriptReader, UsageRecord, read_from


def _line(n: int, model: str = "claude-sonnet-4-5") -> bytes:
    return (
        b'{"type":"assistant","timestamp":"2026-03-02T10:00:00Z","requestId":"r%d",'
        b'"message":{"id":"m%d","model":"%s","usage":{"input_tokens":%d,"output_tokens":1}}}\n'
        % (n, n, model.encode(), n)
    )


def _inputs(result: ReadResult) -> list[int]:
    return [r.input for r in result.records]


def test_the_fixture_is_read_up_to_its_last_complete_line() -> None:
    result = read_from(LEAD_FILE, None)
    size = LEAD_FILE.stat().st_size
    complete = LEAD_FILE.read_bytes().rindex(b"\n") + 1
    assert result.mark is not None
    assert result.mark.offset == complete < size
    # Four usage lines, one message written as two (each read: its output grows).
    assert [r.output for r in result.records] == [9, 310, 95, 40]
    assert (result.lines, result.malformed, result.synthetic) == (11, 2, 1)


def _block(message: str, request: str, text: str, output: int) -> bytes:
    """One line of a streamed message, compact as Claude Code writes it."""
    line = {
        "type": "assistant",
        "requestId": request,
        "message": {
            "id": message,
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 5, "output_tokens": output},
        },
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def test_every_line_of_a_streamed_message_is_read_with_its_own_output(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        _block("msg_A", "req_A", "thinking", 1)
        + _block("msg_A", "req_A", "answer", 3)
        + _block("msg_A", "req_A", "a tool call", 427)  # the message's last block: its final count
    )
    result = read_from(path, None)
    assert [(r.key, r.output) for r in result.records] == [("msg_A:req_A", n) for n in (1, 3, 427)]


def test_nothing_new_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1))
    reader = TranscriptReader()
    assert _inputs(reader.read(path)) == [1]
    assert reader.read(path).records == ()


def test_a_line_being_written_is_read_once_it_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    line = _line(7)
    path.write_bytes(_line(1) + line[:20])
    reader = TranscriptReader()
    assert _inputs(reader.read(path)) == [1]
    with path.open("ab") as f:
        f.write(line[20:])
    assert _inputs(reader.read(path)) == [7]
    assert reader.marks[str(path)].offset == path.stat().st_size


def test_only_new_bytes_are_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1))
    reader = TranscriptReader()
    reader.read(path)
    # Overwrite the first line in place (same inode, same size): an incremental reader never
    # looks at it again, so the change is not seen.
    with path.open("r+b") as f:
        f.write(_line(2))
    with path.open("ab") as f:
        f.write(_line(3))
    assert _inputs(reader.read(path)) == [3]


def test_a_truncated_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1) + _line(2))
    reader = TranscriptReader()
    reader.read(path)
    path.write_bytes(_line(5))  # shorter than the mark, same inode
    result = reader.read(path)
    assert result.restarted
    assert _inputs(result) == [5]


def test_a_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1) + _line(2))
    reader = TranscriptReader()
    reader.read(path)
    other = tmp_path / "new.jsonl"
    other.write_bytes(_line(1) + _line(2) + _line(3))
    os.replace(other, path)  # a new inode, longer than the mark
    result = reader.read(path)
    assert result.restarted
    assert _inputs(result) == [1, 2, 3]


def test_a_deleted_file_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1))
    reader = TranscriptReader()
    reader.read(path)
    path.unlink()
    assert reader.read(path).mark is None
    assert str(path) not in reader.marks


def test_forget_missing_drops_marks_of_files_not_listed(tmp_path: Path) -> None:
    reader = TranscriptReader()
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_bytes(_line(1))
        reader.read(tmp_path / f"{name}.jsonl")
    assert reader.forget_missing([str(tmp_path / "a.jsonl")]) == [str(tmp_path / "b.jsonl")]
    assert list(reader.marks) == [str(tmp_path / "a.jsonl")]


def test_the_budget_leaves_the_rest_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(_line(n) for n in range(1, 101)))
    reader = TranscriptReader()
    seen: list[int] = []
    for _ in range(200):
        result = reader.read(path, budget=1000)
        seen += _inputs(result)
        if not result.more:
            break
    assert seen == list(range(1, 101))


def test_an_overlong_line_is_skipped_as_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_LINE", 1000)
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1) + b'{"x":"' + b"y" * 5000 + b'"}\n' + _line(2))
    result = read_from(path, None, chunk=256)
    assert _inputs(result) == [1, 2]
    assert result.malformed == 1


def test_a_line_longer_than_the_budget_in_small_chunks_is_read_past(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_LINE", 4000)
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1) + b'{"x":"' + b"y" * 9000 + b'"}\n' + _line(2))
    mark: FileMark | None = None
    seen: list[int] = []
    malformed = 0
    for _ in range(50):
        result = read_from(path, mark, chunk=512, budget=1024)
        mark = result.mark
        seen += _inputs(result)
        malformed += result.malformed
        if not result.more:
            break
    assert seen == [1, 2]
    assert malformed == 1
    assert mark is not None and mark.offset == path.stat().st_size


def test_a_mark_of_another_file_restarts(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1))
    result = read_from(path, FileMark(dev=0, inode=0, offset=0))
    assert result.restarted
    assert _inputs(result) == [1]


_CONTENT = (
    b"".join(
        p.read_bytes() if p.read_bytes().endswith(b"\n") else p.read_bytes() + b"\n"
        for p in (LEAD_FILE, RESUMED_FILE, SUBAGENT_FILE)
    )
    + b"not json\n\n{}\n"
    + _line(42)
    + _line(43, "<synthetic>")
    + _line(44)[:30]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=len(_CONTENT)), max_size=12),
    chunk=st.sampled_from([1, 7, 64, 4096, 1 << 20]),
)
def test_any_split_into_appended_chunks_gives_the_same_totals_as_one_read(
    tmp_path: Path, cuts: list[int], chunk: int
) -> None:
    directory = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    directory.mkdir()
    whole = directory / "whole.jsonl"
    whole.write_bytes(_CONTENT)
    once = read_from(whole, None)

    grown = directory / "grown.jsonl"
    grown.write_bytes(b"")
    mark: FileMark | None = None
    records: list[UsageRecord] = []
    malformed = synthetic = 0
    bounds = [0, *sorted(cuts), len(_CONTENT)]
    for start, end in itertools.pairwise(bounds):
        with grown.open("ab") as f:
            f.write(_CONTENT[start:end])
        result = read_from(grown, mark, chunk=chunk)
        assert not result.restarted
        mark = result.mark
        records += result.records
        malformed += result.malformed
        synthetic += result.synthetic
    # Every usage line once, in order, whatever the reads it was split into.
    assert records == list(once.records)
    assert (malformed, synthetic) == (once.malformed, once.synthetic)
    assert mark is not None
    assert once.mark is not None
    assert mark.offset == once.mark.offset
    shutil.rmtree(directory)


def test_a_file_that_cannot_be_read_keeps_its_mark(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1))
    reader = TranscriptReader()
    reader.read(path)
    mark = reader.marks[str(path)]
    path.unlink()
    path.mkdir()  # not a file any more: an error, not a crash
    result = reader.read(path)
    assert result.error == "IsADirectoryError"
    assert reader.marks[str(path)] == mark
    assert reader.errors == 1


def test_a_read_asks_the_os_for_the_new_bytes_once_and_for_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size at the read's start says where the file ends: no read that finds nothing."""
    preads: list[int] = []
    real = os.pread
    monkeypatch.setattr(
        reader_module.os, "pread", lambda fd, n, at: preads.append(n) or real(fd, n, at)
    )
    path = tmp_path / "s.jsonl"
    path.write_bytes(_line(1) + _line(2))
    reader = TranscriptReader()
    assert len(reader.read(path).records) == 2
    assert preads == [path.stat().st_size]
    preads.clear()
    assert reader.read(path).records == () and preads == []  # nothing new: no read at all
    with path.open("ab") as f:
        f.write(_line(3))
    assert len(reader.read(path).records) == 1 and len(preads) == 1


@pytest.mark.timeout(10)
def test_a_fifo_in_place_of_a_transcript_is_an_error_not_a_wait(tmp_path: Path) -> None:
    """Opened without a writer, a FIFO would block the reading thread for good."""
    path = tmp_path / "s.jsonl"
    os.mkfifo(path)
    result = TranscriptReader().read(path)
    assert result.error is not None and result.records == ()


def test_a_line_without_usage_is_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []
    real = reader_module.parse_line

    def spy(line: bytes | str) -> object:
        parsed.append(bytes(line, "utf-8") if isinstance(line, str) else line)
        return real(line)

    monkeypatch.setattr(reader_module, "parse_line", spy)
    big = b'{"type":"user","message":{"content":"' + b"x" * 200_000 + b'"}}\n'
    path = tmp_path / "s.jsonl"
    path.write_bytes(big + _line(1) + b"{not json\n")
    result = read_from(path, None)
    assert _inputs(result) == [1]
    assert result.malformed == 1  # not a whole object: parsed, and counted
    assert len(parsed) == 2 and all(len(p) < 1000 for p in parsed)
