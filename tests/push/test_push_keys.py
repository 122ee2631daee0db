"""`tina push keys`: a VAPID key pair in web-push's encoding, written without leaking the secret."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tina.cli import main


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_the_pair_is_a_p256_key_whose_public_half_matches_and_signs(tmp_path: Path) -> None:
    path = tmp_path / "vapid.env"
    assert (
        main(["push", "keys", "--subject", "mailto:ops@example.com", "--env-file", str(path)]) == 0
    )
    values = env(path)
    assert sorted(values) == [
        "TINA_VAPID_PRIVATE_KEY",
        "TINA_VAPID_PUBLIC_KEY",
        "TINA_VAPID_SUBJECT",
    ]
    assert values["TINA_VAPID_SUBJECT"] == "mailto:ops@example.com"
    point, scalar = (
        b64url(values["TINA_VAPID_PUBLIC_KEY"]),
        b64url(values["TINA_VAPID_PRIVATE_KEY"]),
    )
    assert len(point) == 65 and point[0] == 4  # an uncompressed P-256 point
    assert len(scalar) == 32
    assert "=" not in values["TINA_VAPID_PUBLIC_KEY"] + values["TINA_VAPID_PRIVATE_KEY"]

    private = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert public == point
    signature = private.sign(b"vapid", ec.ECDSA(hashes.SHA256()))
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    verifier.verify(signature, b"vapid", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        verifier.verify(signature, b"other", ec.ECDSA(hashes.SHA256()))


def test_the_env_file_is_private_new_and_replaced_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vapid.env"
    argv = ["push", "keys", "--subject", "https://example.com/ops", "--env-file", str(path)]
    assert main(argv) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    out, err = capsys.readouterr()
    assert out == "" and "PRIVATE" not in err and "npx convex env set --from-file" in err

    assert main(argv) == 1
    assert path.read_text() == first  # untouched
    assert "exists; pass --force" in capsys.readouterr().err

    path.chmod(0o644)
    assert main([*argv, "--force"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert env(path)["TINA_VAPID_PRIVATE_KEY"] != env_text(first)["TINA_VAPID_PRIVATE_KEY"]


def env_text(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_stdout_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "keys", "--subject", "mailto:ops@example.com"]) == 0
    out, err = capsys.readouterr()
    assert env_text(out)["TINA_VAPID_SUBJECT"] == "mailto:ops@example.com"
    assert "secret" in err
    assert main(["push", "keys", "--subject", "mailto:ops@example.com", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(doc) == ["privateKey", "publicKey", "subject"]
    assert len(b64url(doc["publicKey"])) == 65


@pytest.mark.parametrize("subject", ["ops@example.com", "http://example.com", "mailto:", ""])
def test_a_subject_that_is_no_contact_is_refused(
    subject: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vapid.env"
    assert main(["push", "keys", "--subject", subject, "--env-file", str(path)]) == 2
    assert "expected a contact such as mailto:" in capsys.readouterr().err
    assert not path.exists()
