"""The expected outcome of each roster agent under the closed and open presets.

One table, shown in docs/agent-developers.md as well: (agent, policy) -> (goal met, the decision
and rule of the first refusal, or None when nothing was refused). The agents are honest, so this
is a measurement of the gate, not a script: if the gate changes, this table has to change too.
"""

from __future__ import annotations

Outcome = tuple[bool, str | None, str | None]

SHOPPER_EMAIL = "student@personas.nile.test"
SHOPPER_PASSWORD = "persona-pass-1"

EXPECTED: dict[tuple[str, str], Outcome] = {
    # robots.txt disallows GPTBot everywhere under closed: it stops before any refusal.
    ("polite-crawler", "closed"): (False, None, None),
    ("polite-crawler", "open"): (True, None, None),
    ("rogue-crawler", "closed"): (False, "block", "ai-crawlers-out"),
    ("rogue-crawler", "open"): (True, None, None),
    # Classed human, then suspected-agent; both may read the catalog under closed.
    ("stealth-crawler", "closed"): (True, None, None),
    ("stealth-crawler", "open"): (True, None, None),
    ("declared-shopper", "closed"): (False, "block", "ai-agents-out"),
    ("declared-shopper", "open"): (False, "challenge", "sign-to-transact"),
    ("disguised-browser/0", "closed"): (False, "challenge", "suspected-automation-challenged"),
    ("disguised-browser/0", "open"): (False, "challenge", "sign-to-transact"),
    ("disguised-browser/1", "closed"): (True, None, None),
    ("disguised-browser/1", "open"): (True, None, None),
    ("signed-partner", "closed"): (False, "block", "outside-agents-no-transactions"),
    ("signed-partner", "open"): (True, None, None),
}
