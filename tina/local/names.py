"""Naming rules shared by tina-session and the daemon: features, phases, teams, tmux sessions.

Pure functions; nothing here touches the file system.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_REMEDIATION_DEPTH",
    "InvalidName",
    "is_main_phase",
    "is_phase_key",
    "main_phase_number",
    "orchestration_team_name",
    "phase_sort_key",
    "phase_team_name",
    "phase_tmux_session",
    "remediation_depth",
    "remediation_phase",
    "team_dir_name",
    "validate_feature",
    "validate_phase",
]

MAX_REMEDIATION_DEPTH = 2
"""Remediation phases go ``1`` → ``1.5`` → ``1.5.5``; a third level is refused."""

_FEATURE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""The Convex rule (``convex/model/checks.ts`` ``FEATURE_RE``); ``..`` is refused as well."""
# Strict form accepted from users: a main phase 1..999, then at most two ".5" levels.
_PHASE_RE = re.compile(rf"[1-9][0-9]{{0,2}}(?:\.5){{0,{MAX_REMEDIATION_DEPTH}}}")
# Tolerant form accepted in files written by other versions (the original's rule, §1.4).
_PHASE_KEY_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*")

_PHASE_EXAMPLES = "Valid examples: '1', '2', '1.5', '1.5.5'"


class InvalidName(ValueError):
    """A feature or phase name that breaks the rules; the message says which rule."""


def validate_feature(feature: str) -> str:
    """Return ``feature`` if it is a safe feature name, else raise :class:`InvalidName`.

    Safe means: 1-100 characters of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit,
    and no ``..``. Feature names end up in file names, branch names, tmux session names and
    command lines, so nothing else is accepted (no ``/``, spaces or leading ``-``).
    """
    if not _FEATURE_RE.fullmatch(feature) or ".." in feature:
        raise InvalidName(
            f"Invalid feature name {feature!r}: use 1-100 characters of letters, digits, '.', "
            "'_' or '-', starting with a letter or digit, without '..' (no '/' or spaces)"
        )
    return feature


def validate_phase(phase: str) -> str:
    """Return ``phase`` if it names a phase (``1``, ``2``, ``1.5``, ``1.5.5``), else raise.

    The message is the original's multi-line advice: a ``-retry`` suffix, characters other than
    digits and dots, a leading or trailing dot and ``..`` each get their own explanation.
    """
    if _PHASE_RE.fullmatch(phase):
        return phase
    if "retry" in phase.lower():
        base = re.sub(r"[^0-9.].*", "", phase).strip(".") or "1"
        raise InvalidName(
            f"Invalid phase '{phase}': do not add a '-retry' suffix.\n"
            "\n"
            "Retries reuse the same phase number:\n"
            f"- the phase itself: use '{base}'\n"
            f"- its remediation: '{base}.5' (created by the orchestrator after a failed review)"
        )
    if not phase:
        raise InvalidName("Invalid phase '': a phase cannot be empty.\n\n" + _PHASE_EXAMPLES)
    if not all(ch in "0123456789." for ch in phase):
        raise InvalidName(
            f"Invalid phase '{phase}': must contain only digits and dots.\n"
            "\n"
            f"{_PHASE_EXAMPLES}\n"
            "- main phases are integers: '1', '2', '3'\n"
            "- remediation phases add '.5': '1.5', '1.5.5' (created after a failed review)"
        )
    if phase.startswith(".") or phase.endswith("."):
        raise InvalidName(
            f"Invalid phase '{phase}': cannot start or end with a dot.\n\n{_PHASE_EXAMPLES}"
        )
    if ".." in phase:
        raise InvalidName(
            f"Invalid phase '{phase}': cannot have consecutive dots.\n\n{_PHASE_EXAMPLES}"
        )
    if remediation_depth(phase) > MAX_REMEDIATION_DEPTH:
        raise InvalidName(
            f"Invalid phase '{phase}': remediation depth is limited to "
            f"{MAX_REMEDIATION_DEPTH} ('1.5', '1.5.5').\n\n{_PHASE_EXAMPLES}"
        )
    raise InvalidName(
        f"Invalid phase '{phase}': expected a main phase number from 1 to 999, optionally "
        f"followed by up to {MAX_REMEDIATION_DEPTH} '.5' remediation levels.\n"
        f"\n{_PHASE_EXAMPLES}"
    )


def is_phase_key(key: str) -> bool:
    """Whether ``key`` may appear as a key of ``phases`` in a state file (tolerant rule)."""
    return bool(_PHASE_KEY_RE.fullmatch(key))


def is_main_phase(phase: str) -> bool:
    return "." not in phase


def main_phase_number(phase: str) -> int:
    """The integer part of a phase key: ``"1.5.5"`` → 1."""
    return int(phase.split(".", 1)[0])


def remediation_depth(phase: str) -> int:
    """How many ``.5`` remediation levels ``phase`` has."""
    return phase.count(".5")


def remediation_phase(phase: str) -> str:
    """The remediation phase that follows review gaps on ``phase``: ``"1"`` → ``"1.5"``."""
    return f"{phase}.5"


def phase_sort_key(phase: str) -> tuple[int, ...]:
    """Numeric ordering of phase keys: 1 < 1.5 < 1.5.5 < 2 < 10."""
    return tuple(int(part) for part in phase.split("."))


def phase_team_name(feature: str, phase: str) -> str:
    return f"{feature}-phase-{phase}"


def orchestration_team_name(feature: str) -> str:
    return f"{feature}-orchestration"


def team_dir_name(team_name: str) -> str:
    """Claude Code's directory name for a team: dots become dashes."""
    return team_name.replace(".", "-")


def phase_tmux_session(feature: str, phase: str) -> str:
    """tmux session of a phase; dots become underscores because tmux treats '.' as a separator."""
    return f"tina-{feature}-phase-{phase}".replace(".", "_")
