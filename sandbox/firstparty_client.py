"""The HTTP client of the platform's own agent: every request signed with the platform's key.

The platform's agent is let through the gate because it proves who it is with Web Bot Auth
(RFC 9421 signatures, Ed25519), using the same key the platform publishes at
`/.well-known/http-message-signatures-directory`. The key is read from the data folder
(`SANDBOX_SIGNING_KEY_FILE`, default `data/platform-signing-key.pem`); on the harness side only.
"""

from __future__ import annotations

from typing import Any

import httpx

from marketplace.core.clock import Clock, system_clock
from marketplace.core.settings import Settings, get_settings
from marketplace.gate.identity.keys import DIRECTORY_PATH
from marketplace.gate.identity.sign import RequestSigner

FIRST_PARTY_UA = "NileAssistant/1.0 (+https://nile.test/assistant; first-party)"


def platform_signer(
    settings: Settings | None = None, *, clock: Clock = system_clock
) -> RequestSigner:
    """A Web Bot Auth signer with the platform's own key (created on first use, mode 0600)."""
    settings = settings or get_settings()
    return RequestSigner.for_platform(settings.resolved_signing_key_file, clock=clock)


def platform_client(
    base_url: str,
    *,
    settings: Settings | None = None,
    clock: Clock = system_clock,
    **kwargs: Any,
) -> httpx.Client:
    """An httpx client that signs every request it sends with the platform's key.

    The signer is a request hook, so a redirect the client follows is signed afresh (a new
    nonce) rather than resent with the first hop's signature. `Signature-Agent` names the
    platform's key directory on `base_url`.
    """
    headers = {"user-agent": FIRST_PARTY_UA, "accept": "application/json"}
    headers.update(kwargs.pop("headers", {}) or {})
    signer = platform_signer(settings, clock=clock)
    signer.signature_agent = f"{base_url.rstrip('/')}{DIRECTORY_PATH}"
    hooks = dict(kwargs.pop("event_hooks", {}) or {})
    # Last, so the signature covers what the other hooks set.
    hooks["request"] = [*hooks.get("request", []), signer]
    return httpx.Client(
        base_url=base_url,
        event_hooks=hooks,
        headers=headers,
        timeout=kwargs.pop("timeout", 30.0),
        **kwargs,
    )


class FirstPartyAgent:
    """The platform's own shopping agent, acting for one shopper over signed HTTP."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def log_in(self, email: str, password: str) -> None:
        """Act for this shopper (the shopper's own credentials, as in the store's app)."""
        answer = self.client.post("/api/v1/sessions", json={"email": email, "password": password})
        answer.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def offer(self) -> dict[str, Any]:
        return self._json(self.client.get("/api/v1/help-me-decide/offer"))

    def help_me_decide(self, category: str | None = None) -> dict[str, Any]:
        body = {"category": category} if category else None
        return self._json(self.client.post("/api/v1/help-me-decide", json=body))

    def say(self, message: str, conversation_id: str = "default") -> dict[str, Any]:
        """One message to the assistant; returns its reply, the tools it used and the picks."""
        return self._json(
            self.client.post(
                "/api/v1/assistant/messages",
                json={"message": message, "conversation_id": conversation_id},
            )
        )

    @staticmethod
    def _json(answer: httpx.Response) -> dict[str, Any]:
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body
