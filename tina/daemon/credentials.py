"""The laptop's node credential on disk: JSON, mode 0600, written atomically.

The credential is a bearer secret: it never appears in a repr, a log line or the
debug view (`Credential.__repr__` masks it).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import attrs

from tina.atomic import write_atomic


class CredentialError(Exception):
    """Missing, unreadable or malformed credential file; the message says what to do."""


@attrs.frozen(kw_only=True, repr=False)
class Credential:
    convex_url: str
    node_id: str
    node_name: str
    token: str

    def __repr__(self) -> str:
        return f"Credential(node_name={self.node_name!r}, node_id={self.node_id!r}, token='***')"

    def to_json(self) -> dict[str, str]:
        return {
            "convexUrl": self.convex_url,
            "nodeId": self.node_id,
            "nodeName": self.node_name,
            "credential": self.token,
        }


def save(path: Path, cred: Credential) -> None:
    """Write atomically with mode 0600 (the directory is created 0700 if missing)."""
    data = (json.dumps(cred.to_json(), indent=2) + "\n").encode()
    write_atomic(path, data, mode=0o600, dir_mode=0o700)


def load(path: Path) -> Credential:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise CredentialError(f"{path}: no node credential; run `tina daemon enroll`") from None
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read the node credential: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CredentialError(
            f"{path}: not valid JSON ({exc.msg}); run `tina daemon enroll` again"
        ) from None
    fields = {
        "convexUrl": "convex_url",
        "nodeId": "node_id",
        "nodeName": "node_name",
        "credential": "token",
    }
    if not isinstance(doc, dict):
        raise CredentialError(f"{path}: expected a JSON object; run `tina daemon enroll` again")
    for key in fields:
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise CredentialError(
                f"{path}: field {key!r}: expected a non-empty string; run `tina daemon enroll` again"
            )
    return Credential(**{attr: doc[key] for key, attr in fields.items()})


def loose_permissions(path: Path) -> bool:
    """True when group or others may read or write the file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
