"""The challenge page's proof: what lets a challenged person's browser through.

A browser refused with `challenge` gets a page whose script (`/static/challenge.js`) finds a
counter such that SHA-256(`token:counter`) starts with `DIFFICULTY_BITS` zero bits and posts it,
with `navigator.webdriver`, to `POST /api/v1/challenge`. The token is bound to the session and
the moment the page was served (as beacon tokens are), so a proof counts once per page, for the
session it was served to. A client without JavaScript never posts one; an automated browser that
admits to being automated (`navigator.webdriver`) is recorded as such instead of passing.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from marketplace.gate.identity.beacon_token import MAX_TOKEN_LENGTH
from marketplace.gate.identity.posted import parse_posted

CHALLENGE_PATH = "/api/v1/challenge"
CHALLENGE_PURPOSE = b"challenge-token"
CHALLENGE_TTL_S = 600  # a challenge page left open longer must be reloaded
# About 4,000 hashes on average: a fraction of a second in a page's script, nothing on the server.
DIFFICULTY_BITS = 12
MAX_CHALLENGE_BYTES = 1024


class ChallengeAnswer(BaseModel):
    """What `challenge.js` posts."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(max_length=MAX_TOKEN_LENGTH)
    counter: int = Field(ge=0, le=2**40)
    webdriver: bool = False


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits the digest starts with."""
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def proof_holds(token: str, counter: int, bits: int = DIFFICULTY_BITS) -> bool:
    """Whether `counter` solves the challenge `token`."""
    digest = hashlib.sha256(f"{token}:{counter}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def parse_answer(raw: bytes) -> ChallengeAnswer | None:
    """The posted answer, or None when the body is not one."""
    return parse_posted(raw, ChallengeAnswer, MAX_CHALLENGE_BYTES)
