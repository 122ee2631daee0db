"""Convex Auth, as developers' tools use it: an account for a dashboard user.

`password_sign_up` runs Convex Auth's `auth:signIn` action (password provider, flow `signUp`)
through the deployment's HTTP action API. It blocks (urllib): it is for the demo, tests and
benchmarks, never the daemon.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

SIGN_IN = "auth:signIn"


def password_sign_up(url: str, email: str, password: str, *, timeout: float = 30.0) -> str:
    """Create an account with Convex Auth's password provider (``auth:signIn``, flow ``signUp``)
    through the HTTP action API of the deployment at ``url``; returns the session's JWT."""
    body = json.dumps(
        {
            "path": SIGN_IN,
            "format": "convex_encoded_json",
            "args": [
                {
                    "provider": "password",
                    "params": {"email": email, "password": password, "flow": "signUp"},
                }
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/api/action", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply: dict[str, Any] = json.loads(response.read())
    return str(reply["value"]["tokens"]["token"])
