"""Appending to a Claude Code inbox under its lock (`tina.local.append_inbox_message`)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.local import (
    InboxWriteError,
    append_inbox_message,
    inbox_key,
    mark_inbox_read,
    parse_inbox,
    read_inbox,
)
from tina.local.files import INBOX_MAX

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Where a team's inbox for `worker` goes; the team directory exists, `inboxes/` not yet."""
    team = tmp_path / "teams" / "t"
    team.mkdir(parents=True)
    return team / "inboxes" / "worker.json"


def lock_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def leftovers(path: Path) -> list[str]:
    """Anything but the inbox itself in its directory (a lock, a temporary file)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


class FakeTime:
    """An injected clock: `sleep` advances it, so waiting for a lock takes no real time."""

    def __init__(self, on_sleep: Callable[[int], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)


def test_a_missing_inbox_is_created_and_the_key_is_the_readers(inbox: Path) -> None:
    key = append_inbox_message(inbox, sender="tina", text="please rebase", summary="from x")
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o600
    [entry] = json.loads(inbox.read_bytes())
    assert entry == {
        "from": "tina",
        "text": "please rebase",
        "timestamp": entry["timestamp"],
        "read": False,
        "summary": "from x",
    }
    assert ISO_MS_Z.fullmatch(entry["timestamp"])
    [message] = read_inbox(inbox).messages
    assert message.key == key
    assert key == inbox_key("worker", entry["timestamp"], "tina", "please rebase")
    assert leftovers(inbox) == []


def test_an_existing_inbox_keeps_its_bytes_and_its_mode(inbox: Path) -> None:
    inbox.parent.mkdir()
    # Claude Code's own layout (JSON.stringify(..., null, 2)), with an extra key we must keep.
    original = (
        b'[\n  {\n    "from": "team-lead",\n    "text": "caf\xc3\xa9 \\u00e9",\n'
        b'    "timestamp": "2026-02-07T16:00:00.000Z",\n    "read": true,\n'
        b'    "color": "blue",\n    "future": [1, 2.50]\n  }\n]\n'
    )
    inbox.write_bytes(original)
    inbox.chmod(0o644)
    key = append_inbox_message(inbox, sender="tina", text="né\nsecond line", color="green")
    data = inbox.read_bytes()
    assert data.startswith(original.rstrip()[:-1].rstrip())  # everything before "]" unchanged
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o644
    first, second = read_inbox(inbox).messages
    assert (first.sender, first.read, first.color) == ("team-lead", True, "blue")
    assert (second.sender, second.text, second.color, second.read) == (
        "tina",
        "né\nsecond line",
        "green",
        False,
    )
    assert second.key == key
    assert json.loads(data)[0]["future"] == [1, 2.5]


def test_identical_entries_get_the_readers_occurrence_keys(inbox: Path) -> None:
    stamp = "2026-02-07T16:00:00.000Z"
    keys = [
        append_inbox_message(inbox, sender="tina", text="same", timestamp=stamp) for _ in range(3)
    ]
    assert len(set(keys)) == 3
    assert keys == [m.key for m in read_inbox(inbox).messages]
    assert keys[2] == inbox_key("worker", stamp, "tina", "same", 2)


def test_an_empty_array_written_with_whitespace_gets_its_first_entry(inbox: Path) -> None:
    inbox.parent.mkdir()
    inbox.write_bytes(b"[ \n ]\n")
    key = append_inbox_message(inbox, sender="tina", text="hi")
    [message] = read_inbox(inbox).messages
    assert message.key == key


# --- the lock ------------------------------------------------------------------------------------


def test_concurrent_threads_and_processes_lose_nothing(inbox: Path) -> None:
    """Each writer appends its own messages at the same time as the others; the lock makes
    every read-modify-write see the previous one, so every message is there exactly once."""
    threads, processes, each = 6, 3, 15
    start = threading.Barrier(threads)
    keys: dict[str, str] = {}
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                text = f"thread {n} message {i}"
                keys[text] = append_inbox_message(inbox, sender=f"w{n}", text=text, timeout=60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    script = textwrap.dedent(
        """
        import sys
        from tina.local import append_inbox_message
        path, n, each = sys.argv[1], sys.argv[2], int(sys.argv[3])
        for i in range(each):
            text = f"process {n} message {i}"
            key = append_inbox_message(path, sender="p" + n, text=text, timeout=60)
            print(text + "\\t" + key, flush=True)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(inbox), str(n), str(each)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    for proc in procs:
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0
        for line in out.splitlines():
            text, key = line.split("\t")
            keys[text] = key
    assert errors == []
    messages = read_inbox(inbox).messages
    expected = {f"thread {n} message {i}" for n in range(threads) for i in range(each)} | {
        f"process {n} message {i}" for n in range(processes) for i in range(each)
    }
    assert sorted(m.text for m in messages) == sorted(expected)  # none lost, none doubled
    assert {m.text: m.key for m in messages} == keys
    assert leftovers(inbox) == []


def test_a_held_fresh_lock_is_refused_after_the_deadline_and_nothing_is_written(
    inbox: Path,
) -> None:
    append_inbox_message(inbox, sender="team-lead", text="before")
    before = inbox.read_bytes()
    lock_of(inbox).mkdir()  # Claude Code holds it (fresh mtime)
    fake = FakeTime()
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(
            inbox, sender="tina", text="after", timeout=3.0, clock=fake.clock, sleep=fake.sleep
        )
    assert info.value.code == "inbox_locked"
    assert str(inbox) in info.value.message and "worker.json.lock" in info.value.message
    assert fake.now == pytest.approx(1003.0)  # waited the whole deadline, no longer
    assert fake.sleeps > 5  # retried meanwhile
    assert inbox.read_bytes() == before
    assert lock_of(inbox).is_dir()  # someone else's lock is left alone
    assert leftovers(inbox) == ["worker.json.lock"]


def test_a_lock_released_while_waiting_is_taken(inbox: Path) -> None:
    append_inbox_message(inbox, sender="team-lead", text="before")
    lock_of(inbox).mkdir()

    def release(sleeps: int) -> None:
        if sleeps == 3:
            lock_of(inbox).rmdir()

    fake = FakeTime(release)
    key = append_inbox_message(
        inbox, sender="tina", text="after", clock=fake.clock, sleep=fake.sleep
    )
    assert fake.sleeps == 3
    assert read_inbox(inbox).messages[-1].key == key
    assert leftovers(inbox) == []


@pytest.mark.parametrize(("age", "taken_over"), [(11.0, True), (8.0, False)])
def test_a_stale_lock_is_taken_over_and_a_recent_one_is_not(
    inbox: Path, age: float, taken_over: bool
) -> None:
    append_inbox_message(inbox, sender="team-lead", text="before")
    lock = lock_of(inbox)
    lock.mkdir()
    then = time.time() - age
    os.utime(lock, (then, then))  # its holder died `age` seconds ago
    fake = FakeTime()
    if taken_over:
        key = append_inbox_message(
            inbox, sender="tina", text="after", clock=fake.clock, sleep=fake.sleep
        )
        assert read_inbox(inbox).messages[-1].key == key
        assert leftovers(inbox) == []  # taken over, then released
    else:
        with pytest.raises(InboxWriteError) as info:
            append_inbox_message(
                inbox, sender="tina", text="after", clock=fake.clock, sleep=fake.sleep
            )
        assert info.value.code == "inbox_locked"
        assert [m.text for m in read_inbox(inbox).messages] == ["before"]


# --- refusals ------------------------------------------------------------------------------------

ENTRY: dict[str, Any] = {
    "from": "a",
    "text": "x",
    "timestamp": "2026-02-07T16:00:00.000Z",
    "read": False,
}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (json.dumps({"messages": []}).encode(), "an object with 1 key(s)"),
        (json.dumps([{"text": "no sender"}]).encode(), "entry [0] has nothing as 'from'"),
        (json.dumps([ENTRY, {"from": "a", "text": 7}]).encode(), "entry [1] has 7 as 'text'"),
        (json.dumps([ENTRY, "plain"]).encode(), "entry [1] is 'plain'"),
        (json.dumps([ENTRY])[:-3].encode(), "invalid JSON"),
        (b"", "invalid JSON"),
        (b'[{"from": "a", "text": "\xff"}]', "invalid JSON"),
    ],
)
def test_an_unrecognised_inbox_is_refused_and_left_untouched(
    inbox: Path, content: bytes, needle: str
) -> None:
    inbox.parent.mkdir()
    inbox.write_bytes(content)
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(inbox, sender="tina", text="hi")
    assert info.value.code == "inbox_unrecognised"
    assert str(inbox) in info.value.message
    assert "expected a JSON array of message objects" in info.value.message
    assert needle in info.value.message
    assert inbox.read_bytes() == content
    assert leftovers(inbox) == []  # the lock was released, no temporary file stayed


def test_an_inbox_over_16_mib_is_refused_unread(inbox: Path) -> None:
    inbox.parent.mkdir()
    with inbox.open("wb") as file:
        file.truncate(INBOX_MAX + 1)
    before = inbox.stat()
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(inbox, sender="tina", text="hi")
    assert info.value.code == "inbox_unrecognised"
    assert f"a file of {INBOX_MAX + 1} bytes" in info.value.message
    after = inbox.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert leftovers(inbox) == []


def test_an_append_that_would_pass_16_mib_is_refused(inbox: Path) -> None:
    inbox.parent.mkdir()
    filler = {"from": "a", "text": "x" * (INBOX_MAX - 40)}
    content = json.dumps([filler]).encode()
    assert len(content) <= INBOX_MAX
    inbox.write_bytes(content)
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(inbox, sender="tina", text="hi")
    assert info.value.code == "inbox_unrecognised"
    assert "would grow past 16 MiB" in info.value.message
    assert inbox.read_bytes() == content


def test_a_symlinked_inbox_is_refused(inbox: Path, tmp_path: Path) -> None:
    inbox.parent.mkdir()
    real = tmp_path / "elsewhere.json"
    real.write_text("[]")
    inbox.symlink_to(real)
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(inbox, sender="tina", text="hi")
    assert info.value.code == "inbox_unrecognised"
    assert "a symbolic link" in info.value.message
    assert real.read_text() == "[]"
    assert inbox.is_symlink()


def test_an_os_error_is_inbox_write_failed_with_its_reason(tmp_path: Path) -> None:
    gone = tmp_path / "teams" / "gone" / "inboxes" / "worker.json"  # no such team directory
    with pytest.raises(InboxWriteError) as info:
        append_inbox_message(gone, sender="tina", text="hi")
    assert info.value.code == "inbox_write_failed"
    assert "No such file or directory" in info.value.message
    assert str(gone) in info.value.message
    assert not (tmp_path / "teams").exists()


def test_the_written_file_is_what_the_reader_parses(inbox: Path) -> None:
    """Text that needs escaping survives: quotes, backslashes, tabs, emoji, JSON-looking text."""
    texts = ['say "hi" \\ back', "tab\there", "🦀 and ü", json.dumps({"type": "x", "a": 1})]
    keys = [append_inbox_message(inbox, sender="tina", text=t) for t in texts]
    parsed = parse_inbox(inbox.read_bytes(), agent="worker")
    assert [m.text for m in parsed.messages] == texts
    assert [m.key for m in parsed.messages] == keys
    assert parsed.errors == ()


# --- marking read --------------------------------------------------------------------------------


def test_mark_inbox_read_flips_the_unread_entries_under_the_lock(inbox: Path) -> None:
    inbox.parent.mkdir()
    entries = [
        {**ENTRY, "text": "old", "read": True},
        {**ENTRY, "text": "new"},
        {"from": "b", "text": "no read flag", "timestamp": "2026-02-07T16:00:01.000Z"},
    ]
    inbox.write_text(json.dumps(entries))
    keys = {m.text: m.key for m in read_inbox(inbox).messages}
    picked = mark_inbox_read(inbox)
    assert [m.text for m in picked] == ["new", "no read flag"]
    assert [m.key for m in picked] == [keys["new"], keys["no read flag"]]  # keys stay
    assert all(m.read for m in read_inbox(inbox).messages)
    assert json.loads(inbox.read_bytes())[2] == {**entries[2], "read": True}
    before = inbox.stat().st_mtime_ns
    assert mark_inbox_read(inbox) == ()  # nothing unread: nothing written
    assert inbox.stat().st_mtime_ns == before
    assert leftovers(inbox) == []
    assert mark_inbox_read(inbox.with_name("nobody.json")) == ()
    assert not inbox.with_name("nobody.json").exists()


def test_mark_inbox_read_with_nothing_unread_takes_no_lock(inbox: Path) -> None:
    """Polled often (as a recipient does), it must not churn the lock directory: with every
    entry read it returns at once, even while someone else holds the lock."""
    append_inbox_message(inbox, sender="a", text="hi")
    mark_inbox_read(inbox)
    lock_of(inbox).mkdir()  # held by a writer
    fake = FakeTime()
    assert mark_inbox_read(inbox, clock=fake.clock, sleep=fake.sleep) == ()
    assert fake.sleeps == 0  # it never waited
    assert lock_of(inbox).is_dir()


def test_mark_inbox_read_waits_for_the_lock_and_refuses_odd_files(inbox: Path) -> None:
    append_inbox_message(inbox, sender="a", text="hi")
    lock_of(inbox).mkdir()
    fake = FakeTime()
    with pytest.raises(InboxWriteError) as info:
        mark_inbox_read(inbox, clock=fake.clock, sleep=fake.sleep)
    assert info.value.code == "inbox_locked"
    assert not read_inbox(inbox).messages[0].read
    lock_of(inbox).rmdir()
    inbox.write_text('{"x": 1}')
    with pytest.raises(InboxWriteError) as odd:
        mark_inbox_read(inbox)
    assert odd.value.code == "inbox_unrecognised"
    assert inbox.read_text() == '{"x": 1}'
