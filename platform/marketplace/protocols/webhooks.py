"""Order events sent to the agent's webhook, found in the profile its `UCP-Agent` header names.

Sent after the response, from a worker thread; a profile or webhook that fails or is slow only
loses that event (logged), never the order. Each event is signed: `Request-Signature` is a
detached JWS (RFC 7797, unencoded payload) over the exact body bytes, made with the store's
Ed25519 key (`alg` EdDSA), whose public half is in the profile's `signing_keys` under its `kid`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)

ORDER_CAPABILITY = "dev.ucp.shopping.order"
MAX_PROFILE_BYTES = 256 * 1024


def webhook_url(profile: Any) -> str | None:
    """The order webhook URL of an agent profile (its `dev.ucp.shopping.order` capability)."""
    if not isinstance(profile, dict):
        return None
    ucp = profile.get("ucp")
    capabilities = ucp.get("capabilities") if isinstance(ucp, dict) else None
    for capability in capabilities if isinstance(capabilities, list) else []:
        if isinstance(capability, dict) and capability.get("name") == ORDER_CAPABILITY:
            config = capability.get("config")
            url = config.get("webhook_url") if isinstance(config, dict) else None
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                return url
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def detached_signer(key: Ed25519PrivateKey, kid: str) -> Callable[[bytes], str]:
    """A function giving the `Request-Signature` (detached JWS) of a body."""
    header = {"alg": "EdDSA", "kid": kid, "b64": False, "crit": ["b64"]}
    protected = _b64(json.dumps(header, separators=(",", ":")).encode())

    def sign(body: bytes) -> str:
        return f"{protected}..{_b64(key.sign(protected.encode() + b'.' + body))}"

    return sign


class OrderWebhooks:
    """Posts order events; one HTTP client for the app's life, closed at shutdown."""

    def __init__(self, *, timeout_s: float, sign: Callable[[bytes], str]) -> None:
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.sign = sign

    def close(self) -> None:
        self.client.close()

    def send(self, profile_url: str | None, event: dict[str, Any]) -> bool:
        """Fetch the agent's profile and post `event` to its webhook; True when it was accepted."""
        if not profile_url or not profile_url.startswith(("http://", "https://")):
            return False
        try:
            response = self.client.get(profile_url, headers={"Accept": "application/json"})
            if response.status_code != 200 or len(response.content) > MAX_PROFILE_BYTES:
                return False
            url = webhook_url(response.json())
            if url is None:
                return False
            body = json.dumps(event, separators=(",", ":")).encode()
            posted = self.client.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", "Request-Signature": self.sign(body)},
            )
        except (httpx.HTTPError, ValueError) as exc:
            log.info("order webhook for %s not delivered: %s", profile_url[:200], exc)
            return False
        return posted.is_success
