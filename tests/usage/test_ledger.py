from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.usage.conftest import FIXTURES, LEAD_SESSION, WORKTREE
from tina.usage import (
    HOLD_MS,
    HOUR_MS,
    Batch,
    Facts,
    OrchestrationFacts,
    TeamFacts,
    UsageLedger,
    held_id,
    load_prices,
)
from tina.usage import ledger as ledger_module

FACTS = Facts(
    teams=(
        TeamFacts(
            name="billing-export-phase-1",
            lead_session_id=LEAD_SESSION,
            members=("team-lead", "executor-1"),
        ),
    ),
    orchestrations=(OrchestrationFacts(id="orch1", feature="billing-export", worktree=WORKTREE),),
)
PRICES = load_prices()
BATCH_RE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
NOW = 1_772_460_000_000


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    out = tmp_path / "projects"
    shutil.copytree(FIXTURES / "projects", out)
    return out


def _read_all(ledger: UsageLedger, projects: Path) -> None:
    for path in sorted(projects.rglob("*.jsonl")):
        ledger.read(path, FACTS)


def _rows(ledger: UsageLedger) -> list[dict[str, Any]]:
    return [row for batch in ledger.pending() for row in batch.rows]


def _sum(rows: list[dict[str, Any]], field: str) -> int:
    return sum(int(r[field]) for r in rows)


def test_the_fixture_sessions_become_attributed_hourly_rows(tmp_path: Path, projects: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    _read_all(ledger, projects)
    (batch,) = ledger.seal(PRICES)
    assert BATCH_RE.fullmatch(batch.id)
    rows = list(batch.rows)
    assert all(r["hour"] % HOUR_MS == 0 for r in rows)
    # lead: AAA (once, though in the lead's file twice and in the resumed copy), BBB, CCC;
    # resumed: EEE; subagent: two messages
    assert _sum(rows, "messages") == 6
    by = {(r.get("agentName"), r["model"], r["hour"]): r for r in rows}
    lead_sonnet = by[("team-lead", "claude-sonnet-4-5-20250929", 1772445600000 - HOUR_MS)]
    assert lead_sonnet == {
        "hour": 1772442000000,
        "orchestrationId": "orch1",
        "phaseNumber": "1",
        "agentName": "team-lead",
        "model": "claude-sonnet-4-5-20250929",
        "messages": 1,
        "input": 12,
        "output": 310,
        "cacheWrite": 2048,
        "cacheRead": 15000,
        "costMicros": 16866,
    }
    opus = by[("team-lead", "claude-opus-4-5-20251101", 1772445600000)]
    assert opus["costMicros"] == 20919
    future = by[("team-lead", "claude-future-9", 1772445600000)]
    assert "costMicros" not in future
    assert future["cacheRead"] == 18048
    # the resumed session is a session no team names: by its cwd, the orchestration only
    resumed = [r for r in rows if r["hour"] == 1772449200000]
    assert resumed == [
        {
            "hour": 1772449200000,
            "orchestrationId": "orch1",
            "model": "claude-sonnet-4-5-20250929",
            "messages": 1,
            "input": 7,
            "output": 40,
            "cacheWrite": 0,
            "cacheRead": 18048,
            "costMicros": 6035,  # 7 x 3 + 40 x 15 + 18048 x 0.3, rounded
        }
    ]
    # The teammate's lines name it once; its meta file beside the transcript names it always.
    mates = [r for r in rows if r["model"] == "claude-haiku-4-5-20251001"]
    assert {r.get("agentName") for r in mates} == {"executor-1"}
    assert all(r["phaseNumber"] == "1" for r in mates)


def _sealed_once(tmp_path: Path, projects: Path) -> tuple[Path, UsageLedger, Batch]:
    """A ledger that read every fixture transcript and sealed it into its one batch."""
    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    _read_all(ledger, projects)
    (batch,) = ledger.seal(PRICES)
    return state, ledger, batch


def test_nothing_is_counted_twice_after_a_restart(tmp_path: Path, projects: Path) -> None:
    state, ledger, batch = _sealed_once(tmp_path, projects)
    ledger.acknowledge(batch.id)

    again = UsageLedger.load(state, clock=lambda: NOW)
    _read_all(again, projects)
    assert again.seal(PRICES) == []
    assert again.pending() == []


def test_an_answer_acknowledged_without_saving_is_saved_with_the_next_seal(
    tmp_path: Path, projects: Path
) -> None:
    state, ledger, batch = _sealed_once(tmp_path, projects)
    ledger.acknowledge(batch.id, save=False)
    assert ledger.pending() == [] and ledger.unsaved_acknowledgements() == 1
    assert UsageLedger.load(state).pending() == [batch]  # lost now: a replay Convex ignores
    assert ledger.seal(PRICES) == []  # nothing new read: the answer's line all the same
    assert ledger.unsaved_acknowledgements() == 0
    assert UsageLedger.load(state).pending() == []
    ledger.acknowledge("not-a-batch", save=False)
    ledger.save_acknowledged()  # nothing to save: nothing written
    assert UsageLedger.load(state).pending() == []


def test_a_batch_not_answered_is_sent_again_under_the_same_id(
    tmp_path: Path, projects: Path
) -> None:
    state, _, batch = _sealed_once(tmp_path, projects)

    again = UsageLedger.load(state, clock=lambda: NOW)  # the reply was lost; the daemon restarted
    assert again.pending() == [batch]
    _read_all(again, projects)
    assert again.seal(PRICES) == []  # read already: not counted into a second batch
    again.acknowledge(batch.id)
    assert UsageLedger.load(state).pending() == []


def test_a_crash_before_the_seal_loses_nothing(tmp_path: Path, projects: Path) -> None:
    state = tmp_path / "usage.json"
    whole = UsageLedger(tmp_path / "whole.json", clock=lambda: NOW)
    _read_all(whole, projects)
    expected = whole.seal(PRICES)[0].rows

    first = UsageLedger(state, clock=lambda: NOW)
    first.seal(PRICES)  # saved with nothing read
    _read_all(first, projects)  # read, counted, then the process dies before sealing
    second = UsageLedger.load(state, clock=lambda: NOW)
    _read_all(second, projects)
    assert second.seal(PRICES)[0].rows == expected


def test_a_line_completed_later_becomes_the_next_batch(tmp_path: Path, projects: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    _read_all(ledger, projects)
    ledger.seal(PRICES)
    lead = next(projects.rglob(f"{LEAD_SESSION}.jsonl"))
    line = {
        "type": "assistant",
        "timestamp": "2026-03-02T10:03:00.000Z",
        "sessionId": LEAD_SESSION,
        "cwd": WORKTREE,
        "requestId": "req_01BillingDDD",
        "message": {
            "id": "msg_01BillingDDD",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 1, "output_tokens": 2},
        },
    }
    with lead.open("ab") as f:  # the half-written line is followed by a complete one
        f.write(b"\n" + json.dumps(line).encode() + b"\n")
    ledger.read(lead, FACTS)
    (batch,) = ledger.seal(PRICES)
    assert [(r["messages"], r["input"], r["output"]) for r in batch.rows] == [(1, 1, 2)]
    assert ledger.reader.malformed == 2 + 1  # the cut line is malformed once complete


def test_batches_hold_at_most_200_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with path.open("wb") as f:
        for n in range(450):
            hour = 1_772_400_000_000 + n * HOUR_MS
            f.write(
                json.dumps(
                    {
                        "type": "assistant",
                        "timestamp": f"{_iso(hour)}",
                        "requestId": f"r{n}",
                        "message": {"id": f"m{n}", "model": "m", "usage": {"input_tokens": 1}},
                    }
                ).encode()
                + b"\n"
            )
    ids = iter(f"batch-{n:04d}" for n in range(10))
    ledger = UsageLedger(tmp_path / "usage.json", new_id=lambda: next(ids))
    ledger.read(path, Facts())
    batches = ledger.seal(PRICES)
    assert [len(b.rows) for b in batches] == [200, 200, 50]
    assert [b.id for b in batches] == ["batch-0000", "batch-0001", "batch-0002"]
    assert batches[0].args()["batch"] == "batch-0000"
    assert _sum(_rows(ledger), "messages") == 450


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def test_an_unreadable_state_file_is_set_aside(tmp_path: Path) -> None:
    state = tmp_path / "usage.json"
    state.write_text("{ not json")
    ledger = UsageLedger.load(state)
    assert ledger.recovered is not None
    assert ledger.pending() == []
    assert (tmp_path / "usage.json.bad").exists()


def test_the_state_file_holds_no_transcript_text(tmp_path: Path, projects: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    _read_all(ledger, projects)
    ledger.seal(PRICES)
    saved = (tmp_path / "usage.json").read_text()
    for secret in ("SECRET", "schema", "msg_01Billing", "req_01Billing", "Implement task"):
        assert secret not in saved
    assert (tmp_path / "usage.json").stat().st_mode & 0o077 == 0


def test_deleted_transcripts_are_forgotten(tmp_path: Path, projects: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    _read_all(ledger, projects)
    keep = [str(p) for p in projects.rglob("*.jsonl") if "subagents" not in str(p)]
    gone = ledger.forget_missing(keep)
    assert len(gone) == 1
    assert "subagents" in gone[0]


def test_a_round_with_nothing_new_writes_nothing(tmp_path: Path, projects: Path) -> None:
    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    _read_all(ledger, projects)
    ledger.seal(PRICES)
    saves = ledger.saves
    _read_all(ledger, projects)
    assert ledger.seal(PRICES) == []
    assert ledger.saves == saves
    again = UsageLedger.load(state, clock=lambda: NOW)
    _read_all(again, projects)
    again.seal(PRICES)
    assert again.saves == 0
    # a line that is not a message still moves a mark: saved, with no batch
    lead = next(projects.rglob(f"{LEAD_SESSION}.jsonl"))
    with lead.open("ab") as f:
        f.write(b'\n{"type":"summary","summary":"x"}\n')
    again.read(lead, FACTS)
    assert again.seal(PRICES) == []
    assert again.saves == 1


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1}',
        '{"version": 1, "marks": ["x"], "seen": [], "pending": []}',
        "[]",
        '{"version": 9}',
    ],
)
def test_any_unusable_state_starts_fresh(tmp_path: Path, text: str) -> None:
    state = tmp_path / "usage.json"
    state.write_text(text)
    ledger = UsageLedger.load(state)
    assert ledger.recovered is not None
    assert ledger.reader.marks == {}


HELD = held_id(WORKTREE)
HELD_FACTS = attrs.evolve(
    FACTS,
    orchestrations=(OrchestrationFacts(id=HELD, feature="billing-export", worktree=WORKTREE),),
)


def _strip_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "orchestrationId"} for r in rows]


def test_usage_of_an_orchestration_without_an_id_is_held_then_sent_under_it(
    tmp_path: Path, projects: Path
) -> None:
    whole = UsageLedger(tmp_path / "whole.json", clock=lambda: NOW)
    _read_all(whole, projects)
    expected = [r for r in whole.seal(PRICES)[0].rows if r.get("orchestrationId") == "orch1"]

    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    for path in sorted(projects.rglob("*.jsonl")):
        ledger.read(path, HELD_FACTS)
    sealed = ledger.seal(PRICES, lambda worktree: None)
    assert all(r.get("orchestrationId") is None for b in sealed for r in b.rows)
    assert ledger.held() == len(expected)
    # a restart keeps them held (with the marks: the lines are not read again)
    again = UsageLedger.load(state, clock=lambda: NOW + HOLD_MS - 1)
    assert again.held() == len(expected)
    for path in sorted(projects.rglob("*.jsonl")):
        again.read(path, HELD_FACTS)
    assert again.seal(PRICES, lambda worktree: None) == []
    (batch,) = again.seal(PRICES, {WORKTREE: "orch1"}.get)
    assert sorted(_strip_ids(list(batch.rows)), key=str) == sorted(_strip_ids(expected), key=str)
    assert {r["orchestrationId"] for r in batch.rows} == {"orch1"}
    assert again.held() == 0
    assert UsageLedger.load(state).held() == 0


def test_usage_held_past_the_bound_is_sealed_unattributed_and_counted(
    tmp_path: Path, projects: Path
) -> None:
    now = [NOW]
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: now[0])
    for path in sorted(projects.rglob("*.jsonl")):
        ledger.read(path, HELD_FACTS)
    ledger.seal(PRICES, lambda worktree: None)
    held = ledger.held()
    assert held > 0
    now[0] = NOW + HOLD_MS
    (batch,) = ledger.seal(PRICES, lambda worktree: None)
    assert ledger.held() == 0 and ledger.held_expired == held
    assert all(
        set(r) & {"orchestrationId", "phaseNumber", "agentName"} == set() for r in batch.rows
    )
    assert _sum(list(batch.rows), "messages") > 0


def _message_line(n: int) -> bytes:
    return (
        json.dumps(
            {
                "type": "assistant",
                "timestamp": "2026-03-02T12:00:00Z",
                "requestId": f"r{n}",
                "message": {"id": f"m{n}", "model": "m", "usage": {"input_tokens": n}},
            }
        ).encode()
        + b"\n"
    )


def test_a_transcript_whose_name_is_not_utf8_is_saved_and_loaded_back(tmp_path: Path) -> None:
    """Python reads such a name with lone surrogates, which UTF-8 cannot carry: the snapshot and
    the journal line escape them, and a load finds the mark again (not read twice)."""
    state = tmp_path / "usage.json"
    transcript = tmp_path / os.fsdecode(b"caf\xe9.jsonl")  # Latin-1, as an old tool named it
    transcript.write_bytes(_message_line(1))
    ledger = UsageLedger(state, clock=lambda: NOW)
    ledger.read(transcript, Facts())
    assert len(ledger.seal(PRICES)) == 1  # a snapshot
    with transcript.open("ab") as f:
        f.write(_message_line(2))
    ledger.read(transcript, Facts())
    assert len(ledger.seal(PRICES)) == 1  # a journal line
    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.recovered is None and again.journal_skipped == 0
    assert again.reader.marks == ledger.reader.marks
    again.read(transcript, Facts())
    assert again.seal(PRICES) == []  # nothing counted twice


def test_a_round_appends_a_small_journal_line_and_a_load_replays_it(tmp_path: Path) -> None:
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    transcript.write_bytes(b"".join(_message_line(n) for n in range(1, 20_001)))
    ledger = UsageLedger(state, clock=lambda: NOW)
    ledger.read(transcript, Facts())
    (first,) = ledger.seal(PRICES)
    snapshot = state.read_bytes()
    assert len(snapshot) > 20_000 * 16  # 20,000 keys of 16 digits
    assert not ledger.journal_path.exists()

    with transcript.open("ab") as f:
        f.write(_message_line(20_001))
    ledger.read(transcript, Facts())
    (second,) = ledger.seal(PRICES)
    ledger.acknowledge(first.id)
    assert state.read_bytes() == snapshot  # not rewritten
    journal = ledger.journal_path.read_bytes().splitlines()
    assert len(journal) == 2 and all(len(line) < 1000 for line in journal)
    assert ledger.journal_path.stat().st_mode & 0o077 == 0

    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.pending() == [second]
    assert again.reader.marks == ledger.reader.marks
    assert again.dedupe.hashes() == ledger.dedupe.hashes()
    again.read(transcript, Facts())
    assert again.seal(PRICES) == []  # nothing counted twice


def test_a_round_saves_the_marks_of_the_transcripts_it_touched_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A laptop keeps the marks of every transcript it ever read; a round's journal line names
    the ones that moved or went, found among those the round touched, not by going over all."""
    state = tmp_path / "usage.json"
    paths = [tmp_path / f"s{i}.jsonl" for i in range(50)]
    for i, path in enumerate(paths):
        path.write_bytes(_message_line(i + 1))
    ledger = UsageLedger(state, clock=lambda: NOW)
    for path in paths:
        ledger.read(path, Facts())
    ledger.seal(PRICES)  # the snapshot
    assert ledger.reader.touched == set()

    with paths[3].open("ab") as f:
        f.write(_message_line(1003))
    paths[7].unlink()
    ledger.read(paths[3], Facts())
    ledger.read(paths[7], Facts())  # gone
    ledger.read(paths[9], Facts())  # nothing new: touched, but its mark did not move
    assert ledger.reader.touched == {str(paths[i]) for i in (3, 7, 9)}
    # Saving goes over the touched marks only (a saved mark nobody touched is never looked at).
    saved = ledger._saved_marks
    assert saved is not None
    looked: list[str] = []
    real_get = saved.get

    class Watched(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            looked.append(key)
            return real_get(key, default)

        def __iter__(self) -> Any:
            raise AssertionError("every saved mark gone over")

    monkeypatch.setattr(ledger, "_saved_marks", Watched(saved))
    ledger.seal(PRICES)
    assert sorted(looked) == sorted(str(paths[i]) for i in (3, 9))
    (line,) = [json.loads(raw) for raw in ledger.journal_path.read_bytes().splitlines()]
    assert [m[0] for m in line["marks"]] == [str(paths[3])]
    assert line["gone"] == [str(paths[7])]
    assert ledger.reader.touched == set()

    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.reader.marks == ledger.reader.marks
    assert str(paths[7]) not in again.reader.marks


def test_a_torn_journal_line_and_an_older_generations_lines_are_skipped(
    tmp_path: Path, projects: Path
) -> None:
    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    lead = next(projects.rglob(f"{LEAD_SESSION}.jsonl"))
    ledger.read(lead, FACTS)
    ledger.seal(PRICES)
    _read_all(ledger, projects)
    (batch,) = ledger.seal(PRICES)
    old_journal = ledger.journal_path.read_bytes()
    with ledger.journal_path.open("ab") as f:
        f.write(b'{"g": "torn')  # a crash in the middle of a line
    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.journal_skipped == 1
    assert batch in again.pending()

    again.save()  # a new generation; a crash leaves the old journal behind
    again.journal_path.write_bytes(old_journal)
    third = UsageLedger.load(state, clock=lambda: NOW)
    assert third.pending() == again.pending()
    assert third.reader.marks == again.reader.marks


def test_a_long_journal_becomes_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "JOURNAL_MAX", 2000)
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    transcript.write_bytes(b"")
    ledger = UsageLedger(state, clock=lambda: NOW)
    for n in range(1, 40):
        with transcript.open("ab") as f:
            f.write(_message_line(n))
        ledger.read(transcript, Facts())
        ledger.seal(PRICES)
    assert ledger.snapshots >= 2
    assert ledger.journal_path.stat().st_size <= 2000 + 1000
    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.pending() == ledger.pending()
    assert _sum(_rows(again), "input") == sum(range(1, 40))


# --- numbered batches -------------------------------------------------------------------------

STREAM_ID = re.compile(r"usage:(?P<stream>[0-9a-f]{32}):(?P<seq>[1-9][0-9]*)")


def _numbers(batches: list[Batch]) -> list[tuple[str, int]]:
    out = []
    for b in batches:
        m = STREAM_ID.fullmatch(b.id)
        assert m is not None, b.id
        out.append((m["stream"], int(m["seq"])))
    return out


def _append_message(transcript: Path, n: int) -> None:
    with transcript.open("ab") as f:
        f.write(_message_line(n))


def test_batches_are_numbered_in_one_stream_that_a_restart_continues(tmp_path: Path) -> None:
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    ledger = UsageLedger(state, clock=lambda: NOW)
    numbers = []
    for n in range(1, 4):  # the first seal a snapshot, the next ones journal lines
        _append_message(transcript, n)
        ledger.read(transcript, Facts())
        numbers += _numbers(ledger.seal(PRICES))
    assert numbers == [(ledger.stream, 1), (ledger.stream, 2), (ledger.stream, 3)]
    assert BATCH_RE.fullmatch(ledger.pending()[0].id)

    # Restarted: the same stream, from the number after the last one saved (a journal line's).
    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.stream == ledger.stream
    _append_message(transcript, 4)
    again.read(transcript, Facts())
    assert _numbers(again.seal(PRICES)) == [(ledger.stream, 4)]
    # Acknowledged and snapshotted: the number is kept though no batch is left.
    for batch in again.pending():
        again.acknowledge(batch.id)
    again.save()
    third = UsageLedger.load(state, clock=lambda: NOW)
    _append_message(transcript, 5)
    third.read(transcript, Facts())
    assert _numbers(third.seal(PRICES)) == [(ledger.stream, 5)]


def test_a_lost_state_is_a_new_stream(tmp_path: Path) -> None:
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    _append_message(transcript, 1)
    ledger = UsageLedger(state, clock=lambda: NOW)
    ledger.read(transcript, Facts())
    ledger.seal(PRICES)
    state.write_text("{ damaged")
    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.recovered is not None
    again.read(transcript, Facts())
    ((stream, seq),) = _numbers(again.seal(PRICES))
    assert (seq, stream != ledger.stream) == (1, True)


def test_a_state_from_before_streams_keeps_its_batches_and_numbers_the_new_ones(
    tmp_path: Path,
) -> None:
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    _append_message(transcript, 1)
    # The ids the version before streams gave its batches: of no stream.
    old = UsageLedger(state, clock=lambda: NOW, new_id=lambda: f"usage:{uuid.uuid4().hex}")
    old.read(transcript, Facts())
    (unnumbered,) = old.seal(PRICES)
    data = json.loads(state.read_bytes())
    del data["stream"], data["seq"]  # as the version before streams wrote it
    state.write_text(json.dumps(data))

    again = UsageLedger.load(state, clock=lambda: NOW)
    assert again.pending() == [unnumbered]  # sent again under its own id
    _append_message(transcript, 2)
    again.read(transcript, Facts())
    assert _numbers(again.seal(PRICES)) == [(again.stream, 1)]
    # That save was a snapshot naming the stream: a restart continues it.
    assert json.loads(state.read_bytes())["stream"] == again.stream
    third = UsageLedger.load(state, clock=lambda: NOW)
    _append_message(transcript, 3)
    third.read(transcript, Facts())
    assert _numbers(third.seal(PRICES)) == [(again.stream, 2)]


def test_a_batch_is_sent_only_once_it_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number sent is never used again: a batch whose save failed is not handed out, or a
    crash could seal other messages under the same number, which Convex would ignore."""
    state = tmp_path / "usage.json"
    transcript = tmp_path / "s.jsonl"
    ledger = UsageLedger(state, clock=lambda: NOW)
    _append_message(transcript, 1)
    ledger.read(transcript, Facts())
    (first,) = ledger.seal(PRICES)  # the snapshot

    real_append = ledger_module._append

    def disk_full(path: Path, data: bytes, *, sync: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger_module, "_append", disk_full)
    _append_message(transcript, 2)
    ledger.read(transcript, Facts())
    with pytest.raises(OSError, match="No space"):
        ledger.seal(PRICES)
    assert ledger.pending() == [first]
    # After a crash now, the second message would be read again and numbered 2 again: never sent.
    assert UsageLedger.load(state, clock=lambda: NOW).pending() == [first]

    monkeypatch.setattr(ledger_module, "_append", real_append)
    _append_message(transcript, 3)
    ledger.read(transcript, Facts())
    (third,) = ledger.seal(PRICES)
    pending = ledger.pending()
    assert [_numbers([b])[0][1] for b in pending] == [1, 2, 3]
    assert pending[-1] == third
    assert UsageLedger.load(state, clock=lambda: NOW).pending() == pending


# --- a lead's lines from before its team ------------------------------------------------------

SESSION = "0f1e2d3c-4b5a-4968-8776-655443322110"
NO_TEAM = Facts(orchestrations=FACTS.orchestrations)
LED = Facts(
    teams=(TeamFacts(name="billing-export-phase-2", lead_session_id=SESSION),),
    orchestrations=FACTS.orchestrations,
)


def _lead_line(
    n: int, *, hour: int = 0, model: str = "claude-sonnet-4-5", searches: int = 0
) -> bytes:
    return (
        json.dumps(
            {
                "type": "assistant",
                "sessionId": SESSION,
                "cwd": WORKTREE,
                "timestamp": f"2026-03-02T{12 + hour:02d}:00:{n:02d}Z",
                "requestId": f"r{n}",
                "message": {
                    "id": f"m{n}",
                    "model": model,
                    "usage": {
                        "input_tokens": 3 * n,
                        "output_tokens": 7 * n,
                        "cache_creation_input_tokens": 1001 * n,
                        "cache_read_input_tokens": 333 * n,
                        "server_tool_use": {"web_search_requests": searches},
                    },
                },
            }
        ).encode()
        + b"\n"
    )


def _lead(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "projects" / "-Users-dev-repo--worktrees-billing-export" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        f.write(b"".join(lines))
    return path


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {f: _sum(rows, f) for f in ("messages", "input", "output", "cacheWrite", "cacheRead")}


def test_a_leads_usage_from_before_its_team_moves_to_the_teams_phase_once_it_leads_it(
    tmp_path: Path,
) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    # Before its team: three messages over two rounds, two hours and two models (one unpriced).
    path = _lead(tmp_path, _lead_line(1), _lead_line(2, hour=1))
    ledger.read(path, NO_TEAM)
    first = [r for b in ledger.seal(PRICES) for r in b.rows]
    _lead(tmp_path, _lead_line(3, model="claude-unreleased-9"))
    ledger.read(path, NO_TEAM)
    second = [r for b in ledger.seal(PRICES) for r in b.rows]
    sent = first + second
    assert [(r["orchestrationId"], "phaseNumber" in r, "agentName" in r) for r in sent] == [
        ("orch1", False, False)
    ] * 3
    assert ledger.moved == 0

    # Its team appears: the next line is the lead's of phase 2, and what it sent before moves.
    _lead(tmp_path, _lead_line(4))
    ledger.read(path, LED)
    rows, moves = ledger.seal(PRICES)
    assert [(r["phaseNumber"], r["agentName"], "moveFrom" in r) for r in rows.rows] == [
        ("2", "team-lead", False)
    ]
    assert all(r["moveFrom"] == {} for r in moves.rows)
    assert {(r["phaseNumber"], r["agentName"]) for r in moves.rows} == {("2", "team-lead")}
    # Exactly what was sent, by hour and model, costs included: the move never takes more.
    key = lambda r: (r["hour"], r["model"])  # noqa: E731
    assert sorted(
        (
            {k: v for k, v in r.items() if k not in ("phaseNumber", "agentName", "moveFrom")}
            for r in moves.rows
        ),
        key=key,
    ) == sorted(sent, key=key)
    assert "costMicros" not in next(r for r in moves.rows if r["model"] == "claude-unreleased-9")
    assert ledger.moved == 3

    # Moved once: later lines are the team's, nothing moves again.
    _lead(tmp_path, _lead_line(5))
    ledger.read(path, LED)
    (later,) = ledger.seal(PRICES)
    assert [("moveFrom" in r, r["phaseNumber"]) for r in later.rows] == [(False, "2")]
    assert ledger.moved == 3
    # The moves are saved like any batch: a restart sends them if they were not answered.
    again = UsageLedger.load(tmp_path / "usage.json", clock=lambda: NOW)
    assert moves in again.pending()


def test_a_leads_web_searches_from_before_its_team_move_with_its_tokens(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    path = _lead(tmp_path, _lead_line(1, searches=2))
    ledger.read(path, NO_TEAM)
    ledger.seal(PRICES)
    _lead(tmp_path, _lead_line(2, searches=3), _lead_line(3))
    ledger.read(path, NO_TEAM)
    (second,) = ledger.seal(PRICES)
    assert [r["webSearches"] for r in second.rows] == [3]
    _lead(tmp_path, _lead_line(4))
    ledger.read(path, LED)
    _, moves = ledger.seal(PRICES)
    (move,) = moves.rows
    assert move["webSearches"] == 5  # both rounds' rows, merged
    assert move["messages"] == 3


def test_sessions_followed_alike_are_sent_as_one_row_and_each_moves_only_its_own(
    tmp_path: Path,
) -> None:
    """Many sessions leading no team in one worktree are one row a round (what Convex sums
    anyway), not a row each; each still remembers its own share for a later move."""
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    sessions = [str(uuid.UUID(int=i)) for i in range(1, 4)]
    paths = []
    for i, session in enumerate(sessions, start=1):
        path = _lead(tmp_path).with_name(f"{session}.jsonl")
        path.write_bytes(_lead_line(i).replace(SESSION.encode(), session.encode()))
        paths.append(path)
    for path in paths:
        ledger.read(path, NO_TEAM)
    (batch,) = ledger.seal(PRICES)
    (row,) = batch.rows
    assert (row["messages"], row["output"]) == (3, 7 * (1 + 2 + 3))
    singly = [_lead_line(i) for i in (1, 2, 3)]
    alone = UsageLedger(tmp_path / "alone.json", clock=lambda: NOW)
    for i, line in enumerate(singly):
        p = tmp_path / f"alone-{i}" / f"{SESSION}.jsonl"
        p.parent.mkdir()
        p.write_bytes(line)
        alone.read(p, NO_TEAM)
        (part,) = alone.seal(PRICES)[0].rows
        assert part["costMicros"] > 0
    # The same cost as three rows sent one by one (each row's cost is rounded alone).
    assert row["costMicros"] == sum(r["costMicros"] for b in alone.pending() for r in b.rows)

    # The second session leads a team now: only its own message moves.
    led = Facts(
        teams=(TeamFacts(name="billing-export-phase-2", lead_session_id=sessions[1]),),
        orchestrations=FACTS.orchestrations,
    )
    with paths[1].open("ab") as f:
        f.write(_lead_line(4).replace(SESSION.encode(), sessions[1].encode()))
    ledger.read(paths[1], led)
    _, moves = ledger.seal(PRICES)
    (move,) = moves.rows
    assert (move["messages"], move["output"], move["phaseNumber"]) == (1, 14, "2")


def test_rows_are_summed_only_within_their_bucket_their_pricing_and_the_wires_bound() -> None:
    def row(output: int, *, model: str = "m", cost: int | None = 5) -> dict[str, Any]:
        out: dict[str, Any] = {"hour": 0, "orchestrationId": "o", "model": model}
        out |= {"messages": 1, "input": 0, "output": output, "cacheWrite": 0, "cacheRead": 0}
        return out if cost is None else {**out, "costMicros": cost}

    big = ledger_module.MAX_TOKENS - 5
    rows = [row(1), row(2, model="n"), row(3), row(4, cost=None), row(big), row(6), row(7)]
    summed = ledger_module._coalesced(rows)
    assert [(r["model"], r["output"], r.get("costMicros"), r["messages"]) for r in summed] == [
        ("m", 1 + 3 + big, 15, 3),  # at the bound, not over it
        ("n", 2, 5, 1),  # another model: another bucket
        ("m", 4, None, 1),  # not priced: never summed with a priced one
        ("m", 6 + 7, 10, 2),  # 6 more would pass the bound: a row of its own
    ]
    assert rows[0]["output"] == 1  # the rows given are left as they were


def test_a_session_that_never_leads_a_team_moves_nothing_and_is_forgotten_in_time(
    tmp_path: Path,
) -> None:
    now = [NOW]
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: now[0])
    path = _lead(tmp_path, _lead_line(1))
    ledger.read(path, NO_TEAM)
    ledger.seal(PRICES)
    now[0] = NOW + ledger_module.MOVE_WINDOW_MS
    _lead(tmp_path, _lead_line(2))
    ledger.read(path, NO_TEAM)
    ledger.seal(PRICES)  # followed too long: forgotten
    _lead(tmp_path, _lead_line(3))
    ledger.read(path, LED)
    batches = ledger.seal(PRICES)
    assert [("moveFrom" in r) for b in batches for r in b.rows] == [False]
    assert ledger.moved == 0


def test_a_subagents_lines_and_a_held_orchestrations_are_not_followed(
    tmp_path: Path, projects: Path
) -> None:
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    # The fixtures' sessions with no team: the lead's own file is followed, its subagent's not.
    for path in sorted(projects.rglob("*.jsonl")):
        ledger.read(path, NO_TEAM)
    ledger.seal(PRICES)
    assert set(ledger._unteamed) == {LEAD_SESSION, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"}
    held = UsageLedger(tmp_path / "held.json", clock=lambda: NOW)
    for path in sorted(projects.rglob("*.jsonl")):
        held.read(path, HELD_FACTS)
    assert held._unteamed == {}
    # Totals are the same whichever way the lines were summed.
    whole = UsageLedger(tmp_path / "whole.json", clock=lambda: NOW)
    for path in sorted(projects.rglob("*.jsonl")):
        whole.read(path, NO_TEAM)
    assert _totals([r for b in whole.seal(PRICES) for r in b.rows]) == _totals(_rows(ledger))


def test_a_teammates_meta_file_written_after_its_first_lines_names_it_a_minute_later(
    tmp_path: Path,
) -> None:
    clock = [NOW]
    subagents = tmp_path / "projects" / "p" / LEAD_SESSION / "subagents"
    subagents.mkdir(parents=True)
    transcript = subagents / "agent-b7.jsonl"
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: clock[0])

    def agents_of(n: int) -> dict[str | None, int]:
        with transcript.open("ab") as f:
            f.write(_message_line(n))
        ledger.read(transcript, FACTS)
        rows = [r for b in ledger.seal(PRICES) for r in b.rows]
        assert {r["phaseNumber"] for r in rows} == {"1"}
        return {r.get("agentName"): r["messages"] for r in rows}

    assert agents_of(1) == {None: 1}  # no meta file: the phase, not the agent
    (subagents / "agent-b7.meta.json").write_text(
        json.dumps(
            {"name": "executor-1", "teamName": "billing-export-phase-1", "agentType": "worker"}
        )
    )
    assert agents_of(2) == {None: 1}  # not looked for again at once
    clock[0] += 60_000
    assert agents_of(3) == {"executor-1": 1}
    clock[0] += 3_600_000
    (subagents / "agent-b7.meta.json").unlink()
    assert agents_of(4) == {"executor-1": 1}  # found once: kept


def test_an_overrides_tiers_price_the_very_first_batch(tmp_path: Path) -> None:
    """A tier the shipped table does not have: the ledger keeps its sums apart from the start."""
    override = tmp_path / "prices.toml"
    override.write_text(
        "[models.m]\n"
        "input = 1.0\noutput = 1.0\ncache_write = 1.0\ncache_read = 1.0\n"
        "[[models.m.tiers]]\n"
        "above = 5\ninput = 2.0\noutput = 2.0\ncache_write = 2.0\ncache_read = 2.0\n"
    )
    prices = load_prices(override)
    assert 5 in prices.cuts and 5 not in PRICES.cuts
    transcript = tmp_path / "s.jsonl"
    transcript.write_bytes(_message_line(3) + _message_line(7))  # prompts of 3 and 7 tokens
    for cuts, cost in ((prices.cuts, 3 * 1 + 7 * 2), (None, None)):
        ledger = UsageLedger(tmp_path / f"usage-{cuts}.json", clock=lambda: NOW, cuts=cuts)
        ledger.read(transcript, Facts())
        ((row,),) = [b.rows for b in ledger.seal(prices)]
        assert row.get("costMicros") == cost


@pytest.mark.parametrize("snapshot", [False, True], ids=["journal", "snapshot"])
def test_what_a_teamless_session_sent_survives_a_restart_and_still_moves(
    tmp_path: Path, snapshot: bool
) -> None:
    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    path = _lead(tmp_path, _lead_line(1))
    ledger.read(path, NO_TEAM)
    sent = [r for b in ledger.seal(PRICES) for r in b.rows]  # the first save: a snapshot
    _lead(tmp_path, _lead_line(2, hour=1))
    ledger.read(path, NO_TEAM)
    sent += [r for b in ledger.seal(PRICES) for r in b.rows]  # a journal line
    if snapshot:
        ledger.save()
    else:
        assert b'"unteamed"' in ledger.journal_path.read_bytes()

    again = UsageLedger.load(state, clock=lambda: NOW)
    _lead(tmp_path, _lead_line(3))
    again.read(path, LED)
    _, moves = again.seal(PRICES)
    assert [(r["hour"], r["input"], r.get("costMicros")) for r in moves.rows] == [
        (r["hour"], r["input"], r.get("costMicros")) for r in sent
    ]
    # Moved: a restart now has nothing to move again.
    third = UsageLedger.load(state, clock=lambda: NOW)
    assert third._unteamed == {}


def test_the_learnt_transcript_directories_are_kept_bounded_in_the_snapshot_and_the_journal(
    tmp_path: Path,
) -> None:
    state = tmp_path / "usage.json"
    ledger = UsageLedger(state, clock=lambda: NOW)
    assert ledger.learn("/h/.claude-work/projects")
    assert not ledger.learn("/h/.claude-work/projects")  # known
    assert ledger.seal(PRICES) == []  # nothing counted, the directory saved all the same
    assert not ledger.journal_path.exists()  # in the first snapshot
    assert UsageLedger.load(state).learned == ["/h/.claude-work/projects"]

    for n in range(ledger_module.MAX_LEARNED + 2):
        ledger.learn(f"/h/.claude-{n}/projects")
    assert len(ledger.learned) == ledger_module.MAX_LEARNED
    ledger.unlearn("/h/.claude-work/projects")
    ledger.seal(PRICES)
    assert len(ledger.journal_path.read_bytes().splitlines()) == 1  # a line, not a snapshot
    again = UsageLedger.load(state)
    assert again.learned == ledger.learned
    assert "/h/.claude-work/projects" not in again.learned
    assert again.seal(PRICES) == [] and len(again.journal_path.read_bytes().splitlines()) == 1


@pytest.mark.parametrize("learned", ['"/h/projects"', "[1]", '{"a": 1}'])
def test_learnt_directories_not_a_list_of_paths_start_the_state_fresh(
    tmp_path: Path, learned: str
) -> None:
    state = tmp_path / "usage.json"
    UsageLedger(state).save()
    data = json.loads(state.read_text())
    data["learned"] = json.loads(learned)
    state.write_text(json.dumps(data))
    ledger = UsageLedger.load(state)
    assert ledger.recovered is not None and ledger.learned == []


def _streamed(output: int, *, searches: int = 0, cache_read: int = 15_000) -> bytes:
    """One line of a reply as Claude Code streams it, one per content block: the same ids and
    prompt figures on each, the output count as far as the reply has gone (the API's streamed
    usage is cumulative), the web searches with the reply's end."""
    return (
        json.dumps(
            {
                "type": "assistant",
                "timestamp": "2026-03-02T12:00:00Z",
                "requestId": "req_S",
                "message": {
                    "id": "msg_S",
                    "model": "claude-sonnet-4-5",
                    "usage": {
                        "input_tokens": 3,
                        "output_tokens": output,
                        "cache_creation_input_tokens": 2000,
                        "cache_read_input_tokens": cache_read,
                        "server_tool_use": {"web_search_requests": searches},
                    },
                },
            }
        ).encode()
        + b"\n"
    )


def _read_streamed(tmp_path: Path, data: bytes) -> tuple[Path, UsageLedger]:
    """A transcript of `data` and a ledger (its state `usage.json`) that has read it."""
    transcript = tmp_path / "s.jsonl"
    transcript.write_bytes(data)
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    ledger.read(transcript, Facts())
    return transcript, ledger


def _one_row(batches: list[Batch]) -> dict[str, Any]:
    (batch,) = batches
    (row,) = batch.rows
    return {k: v for k, v in row.items() if k != "hour"}


def test_a_streamed_message_counts_once_at_its_last_lines_figures(tmp_path: Path) -> None:
    _, ledger = _read_streamed(tmp_path, _streamed(1) + _streamed(3) + _streamed(427, searches=1))
    # Sonnet 4.5: 3 x 3 + 427 x 15 + 2,000 x 3.75 + 15,000 x 0.3 µ$, and a search at 10,000
    assert _one_row(ledger.seal(PRICES)) == {
        "model": "claude-sonnet-4-5",
        "messages": 1,
        "input": 3,
        "output": 427,
        "cacheWrite": 2000,
        "cacheRead": 15_000,
        "webSearches": 1,
        "costMicros": 9 + 6405 + 7500 + 4500 + 10_000,
    }
    assert (ledger.counted, ledger.dedupe.grown) == (1, 2)


def test_a_streamed_messages_later_lines_add_what_they_say_more_in_later_rounds_and_restarts(
    tmp_path: Path,
) -> None:
    transcript, ledger = _read_streamed(tmp_path, _streamed(1))
    state = ledger.path
    first = _one_row(ledger.seal(PRICES))
    assert (first["messages"], first["output"], first["cacheRead"]) == (1, 1, 15_000)

    with transcript.open("ab") as f:
        f.write(_streamed(200))
    ledger.read(transcript, Facts())
    # the same message: no message more, only the output it grew by, at the output's rate
    assert _one_row(ledger.seal(PRICES)) == {
        "model": "claude-sonnet-4-5",
        "messages": 0,
        "input": 0,
        "output": 199,
        "cacheWrite": 0,
        "cacheRead": 0,
        "costMicros": 199 * 15,
    }

    # What was counted of the message is saved with its batch: a restart goes on from it.
    again = UsageLedger.load(state, clock=lambda: NOW)
    with transcript.open("ab") as f:
        f.write(_streamed(427, searches=1) + _streamed(300))  # a line saying less: nothing
    again.read(transcript, Facts())
    assert _one_row(again.seal(PRICES)) == {
        "model": "claude-sonnet-4-5",
        "messages": 0,
        "input": 0,
        "output": 227,
        "cacheWrite": 0,
        "cacheRead": 0,
        "webSearches": 1,
        "costMicros": 227 * 15 + 10_000,
    }
    # and from a snapshot as from the journal
    again.save()
    with transcript.open("ab") as f:
        f.write(_streamed(500))
    third = UsageLedger.load(state, clock=lambda: NOW)
    third.read(transcript, Facts())
    assert _one_row(third.seal(PRICES))["output"] == 73
    assert third.seal(PRICES) == []


def test_a_long_prompts_later_output_is_priced_at_its_prompts_tier(tmp_path: Path) -> None:
    transcript, ledger = _read_streamed(tmp_path, _streamed(1, cache_read=250_000))
    ledger.seal(PRICES)
    with transcript.open("ab") as f:
        f.write(_streamed(1001, cache_read=250_000))
    ledger.read(transcript, Facts())
    # over 200,000 tokens of prompt: Sonnet 4.5's output at 22.5 $/M, not 15
    assert _one_row(ledger.seal(PRICES))["costMicros"] == 1000 * 45 // 2  # 22.5 µ$ a token


def test_a_state_saved_before_or_partly_unreadable_still_counts_each_message_once(
    tmp_path: Path,
) -> None:
    transcript, ledger = _read_streamed(tmp_path, _streamed(1))
    state = ledger.path
    ledger.seal(PRICES)
    data = json.loads(state.read_bytes())
    h = data["seen"]
    assert re.fullmatch(r"[0-9a-f]{16}", h)  # the one key, packed
    assert data["open"] == [[h, 3, 1, 2000, 15_000, 0, 0]]

    def load(**changes: Any) -> UsageLedger:
        state.write_text(json.dumps(data | changes))
        again = UsageLedger.load(state, clock=lambda: NOW)
        assert again.recovered is None  # never set aside: that would count everything again
        again.reader.marks.clear()  # read the transcript again from its start
        return again

    def rows(ledger: UsageLedger, *lines: bytes) -> list[dict[str, Any]]:
        transcript.write_bytes(_streamed(1) + b"".join(lines))
        ledger.read(transcript, Facts())
        return [r for b in ledger.seal(PRICES) for r in b.rows]

    # As older versions saved it: 32 hex digits a hash, no figures. Counted once already; what
    # a later line adds is not known.
    older = load(seen=[h + "0123456789abcdef"], open=None)
    assert rows(older, _streamed(50)) == []
    # A list of 16 digits each (as saved before they were packed), one of them unreadable.
    listed = load(seen=["not a hash", h])
    assert rows(listed, _streamed(1)) == []
    # A figure that cannot be right is left out: the message is still counted once.
    bad = load(open=[[h, 3, -1, 2000, 15_000, 0, 0], ["zz", 1, 1, 1, 1, 1, 1]])
    assert rows(bad, _streamed(50)) == []
    # As saved: what the later line adds.
    assert [r["output"] for r in rows(load(), _streamed(50))] == [49]


def _session_line(session: str, n: int) -> bytes:
    return (
        json.dumps(
            {
                "type": "assistant",
                "sessionId": session,
                "timestamp": f"2026-03-02T12:00:{n:02d}Z",
                "requestId": f"req_{n}",
                "message": {"id": f"msg_{n}", "model": "m", "usage": {"input_tokens": n}},
            }
        ).encode()
        + b"\n"
    )


ORIGINAL = "11111111-2222-4333-8444-555555555555"
RESUMED = "66666666-7777-4888-8999-aaaaaaaaaaaa"


def test_a_resumed_sessions_copy_of_its_history_is_not_counted_again(tmp_path: Path) -> None:
    """`claude --resume` starts a new transcript holding the resumed session's records, each
    with its own session id, then the new ones: those are counted from the original's file,
    however many messages came in between (more than the keys remembered, here 2)."""
    project = tmp_path / "projects" / "-w"
    project.mkdir(parents=True)
    original = project / f"{ORIGINAL}.jsonl"
    original.write_bytes(b"".join(_session_line(ORIGINAL, n) for n in (1, 2, 3)))
    ledger = UsageLedger(tmp_path / "usage.json", keep=2, clock=lambda: NOW)
    ledger.read(original, Facts())
    copy = project / f"{RESUMED}.jsonl"
    copy.write_bytes(
        b"".join(_session_line(ORIGINAL, n) for n in (1, 2, 3)) + _session_line(RESUMED, 4)
    )
    ledger.read(copy, Facts())
    rows = [r for b in ledger.seal(PRICES) for r in b.rows]
    assert (_sum(rows, "messages"), _sum(rows, "input")) == (4, 1 + 2 + 3 + 4)
    assert ledger.copied == 3


def test_records_of_a_session_whose_file_was_not_read_are_counted_and_so_are_old_subagent_files(
    tmp_path: Path,
) -> None:
    project = tmp_path / "projects" / "-w"
    project.mkdir(parents=True)
    ledger = UsageLedger(tmp_path / "usage.json", clock=lambda: NOW)
    # its original gone (Claude Code deletes old transcripts): the copy is all there is
    copy = project / f"{RESUMED}.jsonl"
    copy.write_bytes(_session_line(ORIGINAL, 1) + _session_line(RESUMED, 2))
    ledger.read(copy, Facts())
    # a subagent's file as older versions laid it out, beside its session's, with its id
    (project / f"{ORIGINAL}.jsonl").write_bytes(_session_line(ORIGINAL, 3))
    ledger.read(project / f"{ORIGINAL}.jsonl", Facts())
    (project / "agent-a1b2c3.jsonl").write_bytes(_session_line(ORIGINAL, 4))
    ledger.read(project / "agent-a1b2c3.jsonl", Facts())
    rows = [r for b in ledger.seal(PRICES) for r in b.rows]
    assert (_sum(rows, "messages"), _sum(rows, "input")) == (4, 1 + 2 + 3 + 4)
    assert ledger.copied == 0
