"""Convex's HTTP function API, spoken with ``urllib`` exactly as any client could.

``POST /api/query|mutation|action`` with ``{"path", "args": [args], "format":
"convex_encoded_json"}`` and an optional ``Authorization: Bearer <jwt>``. A function that
ran and failed answers HTTP 560 with ``errorMessage`` and, for a ``ConvexError``,
``errorData``; an unusable token is refused before any function runs (HTTP 401).
Arguments are encoded with ``convex.values.convex_to_json``: Python floats are float64
(NaN and infinities included), ``ConvexInt64`` is an Int64.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs
from convex.values import convex_to_json

STATUS_FUNCTION_FAILED = 560
ERROR_CODES = frozenset(
    {"unauthenticated", "forbidden", "revoked", "invalid_argument", "not_found", "conflict"}
)


@attrs.frozen(kw_only=True)
class Reply:
    status: int
    value: Any = None
    code: str | None = None
    message: str = ""
    field: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def clear_refusal(self) -> bool:
        """Refused with a stable error code, an argument validator's error, "no such public
        function", or an HTTP 4xx (bad token, malformed request) before any function ran."""
        if self.ok or not self.message:
            return False
        if 400 <= self.status < 500:
            return True
        return (
            self.code in ERROR_CODES
            or "Validator error" in self.message
            or "Could not find public function" in self.message
        )


def forge_jwt(claims: Mapping[str, object]) -> str:
    """A JWT with the given claims and a signature nobody made."""

    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(dict(claims))}.{part('not-a-signature')}"


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(claims, dict)
    return claims


class Wire:
    """Calls the deployment at ``url``; every call is one HTTP request."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(
        self,
        kind: str,
        path: str,
        args: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        body = raw_body
        if body is None:
            encoded = convex_to_json(dict(args or {}))
            body = json.dumps(
                {"path": path, "args": [encoded], "format": "convex_encoded_json"}
            ).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            f"{self.url}/api/{kind}", data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = json.loads(response.read())
                return Reply(status=response.status, value=reply.get("value"))
        except urllib.error.HTTPError as error:
            with error:
                text = error.read()
            detail = json.loads(text) if text else {}
            data = detail.get("errorData")
            if isinstance(data, dict):
                return Reply(
                    status=error.code,
                    code=data.get("code"),
                    message=str(data.get("message", "")),
                    field=data.get("field"),
                )
            message = detail.get("errorMessage") or detail.get("message") or ""
            return Reply(status=error.code, code=detail.get("code"), message=str(message))

    def query(
        self, path: str, args: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> Reply:
        return self.call("query", path, args, token=token)

    def mutation(
        self, path: str, args: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> Reply:
        return self.call("mutation", path, args, token=token)

    def action(
        self, path: str, args: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> Reply:
        return self.call("action", path, args, token=token)

    def value(
        self,
        kind: str,
        path: str,
        args: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> Any:
        """The call's value; fails the test with the server's error otherwise."""
        reply = self.call(kind, path, args, token=token)
        assert reply.ok, f"{path}: {reply.status} {reply.code}: {reply.message}"
        return reply.value

    # Convex Auth, password provider.

    def sign_up(self, email: str, password: str, **params: str) -> str:
        """Signs up (and in); returns the access token."""
        value = self.value(
            "action",
            "auth:signIn",
            {
                "provider": "password",
                "params": {"email": email, "password": password, "flow": "signUp", **params},
            },
        )
        token = value["tokens"]["token"]
        assert isinstance(token, str)
        return token
