"""Golden decision tables per preset, the same tables as docs/policy.md, and policy validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.doctable import main as doctable_main
from marketplace.gate.policy.doctable import preset_table
from marketplace.gate.policy.model import PRESET_NAMES, PolicyError, load_policy, load_policy_text
from marketplace.gate.published_keys import published_test_key

GOLDEN = Path(__file__).parent / "golden"
DOC = Path(__file__).resolve().parents[3] / "docs" / "policy.md"


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_golden_decision_table(name: str) -> None:
    """A change to a preset's behaviour must change its golden file on purpose."""
    assert preset_table(name) == (GOLDEN / f"{name}.md").read_text(encoding="utf-8")


def test_docs_show_the_generated_tables() -> None:
    assert doctable_main(["--check", str(DOC)]) == 0, (
        "run python -m marketplace.gate.policy.doctable --write docs/policy.md"
    )
    text = DOC.read_text(encoding="utf-8")
    for name in PRESET_NAMES:
        assert preset_table(name) in text


def test_the_example_policy_in_the_docs_is_valid_and_names_a_key_of_its_own() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"## Writing a policy.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert example, "no example policy under 'Writing a policy'"
    policy = load_policy_text(example.group(1), "docs/policy.md")
    assert policy.partners.registered, "the example shows a partner key"
    keys = [jwk for partner in policy.partners.registered for jwk in partner.keys()]  # noqa: SIM118
    assert keys
    assert all(published_test_key(jwk["x"]) is None for jwk in keys)
    assert policy.signatures.profiles == ("ietf", "legacy")


def action(name: str, visitor: str, route: str, method: str = "GET") -> str:
    return CompiledPolicy(load_policy(name)).rule_for(visitor, route, method).action


def test_closed_reads_like_the_issue() -> None:
    for route in (
        "catalog",
        "product",
        "search",
        "cart",
        "checkout",
        "account",
        "assistant",
        "other",
    ):
        for visitor in ("declared-crawler", "declared-agent"):
            assert action("closed", visitor, route) == "block"
    for visitor in ("declared-crawler", "declared-agent"):
        assert action("closed", visitor, "robots") == "allow"
        assert action("closed", visitor, "well-known") == "allow"
    for route in ("account", "cart", "checkout", "assistant"):
        assert action("closed", "verified-agent", route, "POST") == "block"
        assert action("closed", "automation", route, "POST") == "block"
        assert action("closed", "suspected-agent", route, "POST") == "challenge"
        assert action("closed", "first-party-agent", route, "POST") == "allow"
        assert action("closed", "human", route, "POST") == "allow"
    assert action("closed", "search-engine", "product") == "allow"
    assert action("closed", "search-engine", "cart") == "block"


def test_other_presets_read_like_the_issue() -> None:
    assert action("open", "verified-agent", "checkout", "POST") == "allow"
    assert action("open", "declared-agent", "catalog") == "allow"
    assert action("open", "declared-agent", "checkout", "POST") == "challenge"
    assert action("pay-per-crawl", "declared-crawler", "product") == "pay"
    assert action("pay-per-crawl", "verified-agent", "product") == "pay"
    assert action("pay-per-crawl", "search-engine", "product") == "allow"
    assert action("partner-only", "verified-agent", "checkout", "POST") == "allow"
    assert action("partner-only", "declared-agent", "checkout", "POST") == "block"
    assert action("partner-only", "declared-agent", "product") == "allow"
    observe = load_policy("observe")
    assert observe.mode == "observe"
    assert preset_table("observe") == preset_table("closed")


BAD = [
    ("name: x\nrules: []\nsurprise: 1\n", "surprise", 3, "not a known field"),
    (
        "name: x\nrules:\n  - id: a\n    visitors: [robot]\n    routes: [cart]\n    action: allow\n"
        "    reason: because\n",
        "rules.0.visitors.0",
        4,
        "Input should be",
    ),
    (
        "name: x\nrules:\n  - id: a\n    visitors: [human]\n    routes: [cart]\n    action: maybe\n"
        "    reason: because\n",
        "rules.0.action",
        6,
        "Input should be",
    ),
    (
        "name: x\nrules:\n  - id: a\n    visitors: [human]\n    routes: [cart]\n    action: pay\n"
        "    reason: because\n",
        "(policy)",
        None,
        "crawl_price must be set",
    ),
    (
        "name: x\nrate_limits:\n  human: {requests: 0, per_seconds: 60}\n",
        "rate_limits.human.requests",
        3,
        "greater than or equal to 1",
    ),
    (
        "name: x\nbot_score: {automated_at_most: 50, likely_automated_below: 30}\n",
        "bot_score",
        2,
        "lower than",
    ),
    ("name: x\npartners:\n  - name: p\n    jwk: {kty: RSA, n: abc}\n", "partners.0", 3, "Ed25519"),
    ("extends: nothing\nname: x\n", "extends", 1, "must name a preset"),
    ("name: x\nrules: [\n", "(syntax)", None, ""),
    ("- just\n- a list\n", "(document)", 1, "mapping"),
    ("a: &x [1]\nb: *x\n", "(syntax)", 2, "aliases"),
    (
        "name: x\n" + "n:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(40)),
        "(document)",
        None,
        "deeper",
    ),
]


@pytest.mark.parametrize(("text", "field", "line", "message"), BAD)
def test_invalid_policies_name_field_line_and_reason(
    text: str, field: str, line: int | None, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "my.yaml")
    problem = caught.value.problems[0]
    assert problem.field == field
    if line is not None:
        assert problem.line == line
    assert message in problem.message


def test_extends_replaces_top_level_keys() -> None:
    policy = load_policy_text("extends: closed\nname: mine\nmode: observe\n")
    assert policy.mode == "observe"
    assert len(policy.rules) == len(load_policy("closed").rules)


def test_unknown_preset_or_missing_file() -> None:
    with pytest.raises(PolicyError, match="neither a preset"):
        load_policy("/no/such/policy.yaml")


def test_huge_policy_refused() -> None:
    with pytest.raises(PolicyError, match="larger than"):
        load_policy_text("name: x\n" + "#" * 1_100_000)
