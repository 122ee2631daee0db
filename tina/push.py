"""`tina push keys`: a VAPID key pair for the deployment's Web Push notifications.

Web Push (RFC 8030) asks the sender to sign each request with a VAPID key (RFC 8292): an ECDSA
P-256 key pair whose public half the dashboard hands to the browser when it subscribes. The
deployment reads the pair from its environment: `TINA_VAPID_PUBLIC_KEY` (the uncompressed point,
65 bytes) and `TINA_VAPID_PRIVATE_KEY` (the 32-byte private scalar), both base64url without
padding, as the `web-push` library writes them, and `TINA_VAPID_SUBJECT`, a `mailto:` or
`https:` contact the push services may use.

The private key is a secret: with `--env-file` it goes to a new file of mode 0600 (never
overwritten unless `--force`), which `npx convex env set --from-file FILE` reads, so it never
appears in a command line. Without it, the lines are printed on stdout for the caller to redirect.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

import attrs

EXIT_OK, EXIT_FAILED = 0, 1

# A contact as RFC 8292 §2.1 asks: a mailto: address or an https: URL.
_SUBJECT_RE = re.compile(r"^(mailto:[^\s@]+@[^\s@]+\.[^\s@]+|https://[^\s/]+(/\S*)?)$")


@attrs.frozen
class VapidKeys:
    public_key: str
    private_key: str
    subject: str

    def env_lines(self) -> str:
        return (
            f"TINA_VAPID_PUBLIC_KEY={self.public_key}\n"
            f"TINA_VAPID_PRIVATE_KEY={self.private_key}\n"
            f"TINA_VAPID_SUBJECT={self.subject}\n"
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate(subject: str) -> VapidKeys:
    """A fresh P-256 key pair in web-push's encoding."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(public_key=_b64url(point), private_key=_b64url(scalar), subject=subject)


def _subject(text: str) -> str:
    if not _SUBJECT_RE.match(text):
        raise argparse.ArgumentTypeError(
            f"expected a contact such as mailto:you@example.com or https://example.com, got {text!r}"
        )
    return text


def add_push(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "push",
        help="Web Push set-up for the deployment (VAPID keys)",
        description="Web Push set-up for the deployment's phone notifications.",
    )
    sub = parser.add_subparsers(dest="push_command", required=True, metavar="COMMAND")
    keys = sub.add_parser(
        "keys",
        help="generate a VAPID key pair for the deployment's environment",
        description=(
            "Generate a VAPID key pair (ECDSA P-256) for Web Push and write it as the "
            "deployment's environment variables TINA_VAPID_PUBLIC_KEY, TINA_VAPID_PRIVATE_KEY "
            "and TINA_VAPID_SUBJECT. The private key is a secret: prefer --env-file, then "
            "`npx convex env set --from-file FILE` and delete the file. A new pair makes every "
            "device subscribe again."
        ),
    )
    keys.add_argument(
        "--subject",
        type=_subject,
        required=True,
        help="a contact for the push services: mailto:you@example.com or an https:// URL",
    )
    keys.add_argument(
        "--env-file",
        type=Path,
        help="write the three lines to this new file (mode 0600) instead of stdout",
    )
    keys.add_argument("--force", action="store_true", help="replace an existing --env-file")
    keys.add_argument(
        "--json",
        action="store_true",
        help="print {publicKey, privateKey, subject} as JSON instead of KEY=value lines",
    )
    keys.set_defaults(handler=_keys)


def _keys(args: argparse.Namespace) -> int:
    pair = generate(args.subject)
    text = (
        json.dumps(
            {"publicKey": pair.public_key, "privateKey": pair.private_key, "subject": pair.subject}
        )
        + "\n"
        if args.json
        else pair.env_lines()
    )
    path: Path | None = args.env_file
    if path is None:
        sys.stdout.write(text)
        print(
            "tina push keys: the private key above is a secret; set the three variables on the "
            "deployment (docs/operations.md, Web Push) and keep it out of shells' history.",
            file=sys.stderr,
        )
        return EXIT_OK
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        print(
            f"tina push keys: {path} exists; pass --force to replace it, or choose another file",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as error:
        print(f"tina push keys: cannot write {path}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # an existing file replaced with --force keeps no wider mode
        f.write(text)
    print(
        f"tina push keys: wrote {path} (mode 0600). Next: npx convex env set --from-file {path}"
        ", then delete the file.",
        file=sys.stderr,
    )
    return EXIT_OK
