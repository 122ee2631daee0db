"""A daemon built as `tina daemon run` builds it, for tests that look at its parts without
running it: its Convex address takes no connection, its files go under a test's directory."""

from __future__ import annotations

from pathlib import Path

from tina.daemon.app import Daemon
from tina.daemon.config import Config
from tina.daemon.credentials import Credential

NOWHERE = "http://127.0.0.1:9"


def offline_daemon(root: Path) -> Daemon:
    """A daemon whose credential, Claude directory (`.claude`) and state are under `root`."""
    return Daemon(
        Config(
            convex_url=NOWHERE,
            node_name="a",
            credential_file=root / "credential.json",
            claude_dir=root / ".claude",
            state_dir=root / "state",
        ),
        Credential(convex_url=NOWHERE, node_id="n1", node_name="a", token="t"),
    )


def shutdown_budget(daemon: Daemon) -> float:
    """Seconds the daemon's ordered shutdown may take: its actors are stopped one after another."""
    return sum(spec.shutdown_timeout for spec in daemon._specs())
