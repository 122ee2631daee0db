"""Forged tokens against a backend that verifies tokens as a Convex deployment does
(``--verify-tokens``: signature, issuer, audience and expiry, against ``convex/auth.config.ts``
and the deployment's own JWKS route). Without verification the local backend only decodes
tokens, so these forgeries are only meaningful here: a token that names the owner's real
user and live session, but was not signed by the deployment, must get nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from conftest import PASSWORD, backend_env
from security_wire import Wire, forge_jwt, jwt_claims

from tina.dev.backend import BackendOptions, BackendProcess


@pytest.fixture(scope="module")
def verifying_wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    log = tmp_path_factory.mktemp("verifying-backend") / "backend.log"
    options = BackendOptions(port=0, env=backend_env(), verify_tokens=True)
    with BackendProcess(options, log_path=log) as process:
        yield Wire(process.url)


def tamper(token: str, **claims: object) -> str:
    """The token with its claims changed and its signature kept."""
    header, _payload, signature = token.split(".")
    data = {**jwt_claims(token), **claims}
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def test_only_tokens_the_deployment_signed_get_in(verifying_wire: Wire) -> None:
    wire = verifying_wire
    owner = wire.sign_up("owner@example.com", PASSWORD)
    assert wire.value("query", "users:me", {}, token=owner)["role"] == "owner"
    claims = jwt_claims(owner)
    forgeries = {
        "unsigned, naming the owner's live session": forge_jwt(claims),
        "alg none": ".".join(
            [
                base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode(),
                owner.split(".")[1],
                "",
            ]
        ),
        "claims changed, signature kept": tamper(owner, exp=claims["exp"] + 86_400),
        "another audience": tamper(owner, aud="not-convex"),
        "expired": tamper(owner, exp=1),
    }
    for what, token in forgeries.items():
        reply = wire.query("nodes:listNodes", {}, token=token)
        assert not reply.ok, what
        assert reply.status in (401, 560), what
        assert reply.clear_refusal, f"{what}: {reply.status} {reply.message}"
    # The genuine token still works.
    assert wire.value("query", "nodes:listNodes", {}, token=owner) == []
