"""Who an outside agent says it is: a user agent string and the headers that go with it.

A user agent is a claim, never a proof; the gate treats it that way. Proof comes from a Web Bot Auth
signature (see `shopbots.signing`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Real registry names, so the gate's registry recognises them exactly as it would the real crawlers.
GPTBOT_UA = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
CHATGPT_USER_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot"
)
# The partner names itself honestly; its signature, not this string, is what proves it.
PARTNER_UA = "SandboxPartnerAgent/1.0 (+https://partner.example/agent; signed with Web Bot Auth)"
PROTOCOL_UA = (
    "SandboxProtocolShopper/1.0 (+https://partner.example/protocol-shopper; UCP and MCP; signed "
    "with Web Bot Auth)"
)

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

# Ordinary desktop and mobile browsers the stealth crawler rotates through.
BROWSER_UAS: tuple[str, ...] = (
    CHROME_UA,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)

BROWSER_HEADERS: dict[str, str] = {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-US,en;q=0.9",
}


@dataclass
class Identity:
    """The user agent and fixed headers an agent sends; `rotate` picks a new UA per request."""

    name: str
    user_agent: str
    headers: dict[str, str] = field(default_factory=dict)
    rotate: tuple[str, ...] = ()
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_user_agent(self) -> str:
        """The UA for the next request: fixed, or drawn from `rotate` (seeded, reproducible)."""
        if self.rotate:
            self.user_agent = self._rng.choice(self.rotate)
        return self.user_agent
