from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"
PROJECT = FIXTURES / "projects" / "-Users-dev-repo--worktrees-billing-export"
LEAD_SESSION = "5b1f0c3e-8d2a-4f6b-9c7e-1a2b3c4d5e6f"
RESUMED_SESSION = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
LEAD_FILE = PROJECT / f"{LEAD_SESSION}.jsonl"
RESUMED_FILE = PROJECT / f"{RESUMED_SESSION}.jsonl"
SUBAGENT_FILE = PROJECT / LEAD_SESSION / "subagents" / "agent-a1b2c3d.jsonl"
WORKTREE = "/Users/dev/repo/.worktrees/billing-export"
