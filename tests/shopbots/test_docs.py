"""docs/agent-developers.md: its signing example works, and its outcome table matches the tests."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN
from tests.shopbots.outcomes import EXPECTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent-developers.md"


def example(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {marker} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no example {marker!r} in {DOC}"
    return match.group(1)


def run_example(url: str) -> tuple[str, dict[str, Any]]:
    """The signing example as written; what it printed and the names it defined."""
    out = io.StringIO()
    names: dict[str, Any] = {"TARGET": url, "ADMIN_TOKEN": ADMIN_TOKEN}
    with contextlib.redirect_stdout(out):
        exec(example("signing"), names)  # noqa: S102
    return out.getvalue(), names


@pytest.mark.parametrize("policy", ["closed"], indirect=True)
def test_signing_example_is_verified_by_the_gate(policy: str, live_server: LiveServer) -> None:
    printed, names = run_example(live_server.url)
    assert printed.split() == ["200", "verified-agent", "outside-agents-read-catalog"]
    sent = names["answer"].request
    assert sent.headers["signature-agent"].startswith('sig1="https://')
    assert '"signature-agent";key="sig1"' in sent.headers["signature-input"]
    # It runs again as written: a second key, a second partner, no name clash.
    assert run_example(live_server.url)[0] == printed


def nonce_of(request: httpx.Request) -> str:
    return request.headers["signature-input"].split('nonce="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("policy", "path", "hops"),
    [
        ("closed", "/api/v1/products/?q=tent", ["/api/v1/products/", "/api/v1/products"]),
        ("open", "/checkout", ["/checkout", "/login"]),
    ],
    indirect=["policy"],
)
def test_signing_example_follows_redirects_without_replaying_a_nonce(
    policy: str, live_server: LiveServer, path: str, hops: list[str]
) -> None:
    _, names = run_example(live_server.url)
    answer = names["agent"].get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "verified-agent"
    sent = [*(r.request for r in answer.history), answer.request]
    assert [r.url.path for r in sent] == hops
    nonces = [nonce_of(r) for r in sent]
    assert len(set(nonces)) == len(nonces)
    assert all(len(n) == 86 for n in nonces)  # 64 random bytes, unpadded base64url


def test_outcome_table_in_the_docs_names_every_refusing_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## 7.") : text.index("## 8.")]
    for (agent, _policy), (_ok, _decision, rule) in EXPECTED.items():
        assert agent.split("/")[0] in table
        if rule:
            assert f"`{rule}`" in table, rule


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_acp_example_buys_with_the_signed_agent(policy: str, live_server: LiveServer) -> None:
    _, names = run_example(live_server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(example("acp"), names)  # noqa: S102
    status, completed, order = out.getvalue().split()
    assert (status, completed) == ("ready_for_payment", "completed")
    assert order.startswith("ord_")
    sent = names["done"]
    assert sent["order"]["checkout_session_id"] == names["session"]["id"]
    stats = httpx.get(
        f"{live_server.url}/api/v1/admin/stats", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert stats["orders"]["by_channel"]["acp"] == 1
