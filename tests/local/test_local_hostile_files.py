"""Hostile files: FIFOs, devices, huge files, names that are not UTF-8, lone surrogates.

Every read of a watched file goes through `tina.local.files`: it never blocks, reads only
regular files (a symlink to one is fine), and never more than the file kind's cap.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tina.local import ReadError, list_session_lookups, parse_task, read_journal, read_task
from tina.local.files import (
    JOURNAL_CHUNK,
    SESSION_LOOKUP_MAX,
    TASK_MAX,
    FileRefused,
    display_path,
    is_undecodable,
    read_chunk,
    read_file,
)

pytestmark = pytest.mark.timeout(10)  # a blocking open() of a FIFO would hang: fail instead

TASK = {"id": "1", "subject": "s", "description": "d", "status": "pending"}


def bad_name(directory: Path, name: bytes) -> bytes:
    """A file whose name is not valid UTF-8 (as bytes, the way the kernel sees it)."""
    path = os.fsencode(directory) + b"/" + name
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, json.dumps(TASK).encode())
    os.close(fd)
    return path


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "3.json"
    os.mkfifo(fifo)  # no writer: a blocking open() would wait forever
    with pytest.raises(FileRefused) as info:
        read_file(fifo, limit=TASK_MAX)
    assert info.value.path == str(fifo)
    assert "a regular file of at most 1 MiB" in str(info.value)
    assert "a FIFO" in str(info.value)
    with pytest.raises(ReadError):  # the read_* helpers refuse it too
        read_task(fifo)


def test_a_symlink_to_a_device_is_refused_and_to_a_regular_file_followed(tmp_path: Path) -> None:
    zero = tmp_path / "config.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(FileRefused, match="a character device"):
        read_file(zero, limit=TASK_MAX)
    real = tmp_path / "elsewhere.json"
    real.write_text(json.dumps(TASK))
    link = tmp_path / "1.json"
    link.symlink_to(real)
    got = read_file(link, limit=TASK_MAX)
    assert got is not None
    assert parse_task(got.data).id == "1"
    assert (got.size, got.mtime_ns) == (real.stat().st_size, real.stat().st_mtime_ns)


def test_a_file_over_its_cap_is_refused_with_the_cap_and_the_size(tmp_path: Path) -> None:
    big = tmp_path / "4.json"
    big.write_bytes(b" " * (TASK_MAX + 1))
    with pytest.raises(FileRefused) as info:
        read_file(big, limit=TASK_MAX)
    assert info.value.limit == TASK_MAX
    assert "at most 1 MiB" in str(info.value)
    assert str(TASK_MAX + 1) in str(info.value)
    exact = tmp_path / "5.json"
    exact.write_bytes(b" " * TASK_MAX)
    assert read_file(exact, limit=TASK_MAX) is not None


def test_missing_files_and_directories(tmp_path: Path) -> None:
    assert read_file(tmp_path / "gone.json", limit=TASK_MAX) is None
    assert read_file(tmp_path / "gone" / "1.json", limit=TASK_MAX) is None
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(FileRefused, match="a directory"):
        read_file(tmp_path / "dir.json", limit=TASK_MAX)


def test_chunks_are_bounded(tmp_path: Path) -> None:
    journal = tmp_path / "events.jsonl"
    journal.write_bytes(b"x" * 100)
    got = read_chunk(journal, offset=10, size=30)
    assert got is not None
    assert (got.data, got.size) == (b"x" * 30, 100)
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="a FIFO"):
        read_chunk(fifo, offset=0, size=30)
    assert JOURNAL_CHUNK >= 1024 * 1024


def test_read_journal_reads_at_most_one_chunk(tmp_path: Path) -> None:
    line = json.dumps(
        {
            "id": "a" * 32,
            "type": "info",
            "source": "s",
            "summary": "x" * 1000,
            "feature": "f",
            "recorded_at": "2026-02-07T16:03:12Z",
            "detail": None,
            "phase": None,
        }
    )
    journal = tmp_path / "events.jsonl"
    count = JOURNAL_CHUNK // len(line) + 10
    journal.write_text((line + "\n") * count)
    first = read_journal(journal)
    assert 0 < first.end <= JOURNAL_CHUNK
    rest = read_journal(journal, offset=first.end)
    assert len(first.entries) + len(rest.entries) == count


def test_undecodable_names(tmp_path: Path) -> None:
    raw = bad_name(tmp_path, b"bad\xff.json")
    (name,) = [n for n in os.listdir(tmp_path) if n.startswith("bad")]
    assert is_undecodable(name)
    assert not is_undecodable("caf\u00e9.json")
    assert display_path(os.fsdecode(raw)) == repr(raw)
    assert display_path(tmp_path / "ok.json") == str(tmp_path / "ok.json")


def test_session_lookups_skip_undecodable_and_refused_files(tmp_path: Path) -> None:
    good = {"feature": "good", "worktree_path": "/w/good", "created_at": "2026-11-21T00:00:00Z"}
    (tmp_path / "good.json").write_text(json.dumps(good))
    raw = bad_name(tmp_path, b"bad\xff.json")
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "big.json").write_bytes(b" " * (SESSION_LOOKUP_MAX + 1))
    lookups, errors = list_session_lookups(tmp_path)
    assert [lookup.feature for lookup in lookups] == ["good"]
    by_path = {error.path: error for error in errors}
    assert set(by_path) == {
        repr(raw),
        str(tmp_path / "fifo.json"),
        str(tmp_path / "big.json"),
    }
    assert "UTF-8" in str(by_path[repr(raw)])
    assert "64 KiB" in str(by_path[str(tmp_path / "big.json")])


def test_lone_surrogates_in_json_become_replacement_characters() -> None:
    """JSON may escape half of a surrogate pair (text cut in UTF-16 units, e.g. by a JavaScript
    program): such a string cannot be encoded as UTF-8, so it must never reach the wire."""
    doc = {
        **TASK,
        "subject": "cut \ud83d",
        "description": "pair \ud83d\ude00 ok, low \ude00 alone",
        "metadata": {"k\udc00": ["\ud800"]},
    }
    data = json.dumps(doc).encode()  # ensure_ascii: the lone halves are written as \\uXXXX
    assert b"\\ud83d" in data
    task = parse_task(data)
    assert task.subject == "cut \ufffd"
    assert task.description == "pair \U0001f600 ok, low \ufffd alone"
    assert task.metadata == {"k\ufffd": ["\ufffd"]}
    json.dumps(task.metadata, ensure_ascii=False).encode("utf-8")  # encodable now
