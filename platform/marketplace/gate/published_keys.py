"""Ed25519 keys printed in specifications: anyone holding the document can sign with them.

A partner registered with one of these would let every reader of the RFC act as that partner,
so neither the partner registry nor a policy's `partners` accept them (the Web Bot Auth draft:
verifiers should reject known test keys). Shared by the identity and policy parts, which do not
import each other.
"""

from __future__ import annotations

import base64
import binascii

# Public keys (the JWK `x`, base64url) and where they were published.
PUBLISHED_TEST_KEYS: dict[str, str] = {
    "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs": (
        "the Ed25519 test key of RFC 9421 (appendix B.1.4)"
    ),
    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo": (
        "the Ed25519 example key of RFC 8037 (appendix A)"
    ),
}


def _raw(x: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError):
        return None


_BY_BYTES = {_raw(x): where for x, where in PUBLISHED_TEST_KEYS.items()}


def published_test_key(x: object) -> str | None:
    """Where the public key `x` (base64url) was published, or None for a key of one's own."""
    if not isinstance(x, str):
        return None
    raw = _raw(x)
    return _BY_BYTES.get(raw) if raw is not None else None


def refusal(where: str) -> str:
    """The sentence that refuses a published key and says what to do instead."""
    return (
        f"This is {where}: it is published, so anyone can sign with it. Generate a key of your "
        "own (e.g. openssl genpkey -algorithm ed25519) and register its public JWK."
    )
