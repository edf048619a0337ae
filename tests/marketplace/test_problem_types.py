"""Every problem `type` the code raises has a page at /problems/<slug> that any visitor can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import marketplace
from marketplace.core.problem_types import PROBLEM_TYPES
from marketplace.gate.judge import STATUS_OF_ACTION

PLATFORM = Path(marketplace.__file__).parent
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"


def _strings(node: ast.expr) -> tuple[set[str], set[str]]:
    """(literal slugs, prefixes of f-string slugs) an expression can evaluate to."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}, set()
    if isinstance(node, ast.IfExp):
        body, body_prefixes = _strings(node.body)
        other, other_prefixes = _strings(node.orelse)
        return body | other, body_prefixes | other_prefixes
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return set(), {first.value}
    return set(), set()


def slugs_in_code() -> tuple[dict[str, str], set[str]]:
    """Every problem type slug the platform's code can raise: slug -> first place, and the
    prefixes of slugs built at run time (f-strings)."""
    found: dict[str, str] = {}
    prefixes: set[str] = set()

    def add(node: ast.expr, where: str) -> None:
        literal, prefix = _strings(node)
        for slug in literal:
            found.setdefault(slug, where)
        prefixes.update(prefix)

    for path in sorted(PLATFORM.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(PLATFORM)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == "type_slug" for t in node.targets):
                    add(node.value, where)
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "type_slug":
                        add(keyword.value, where)
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name == "problem_response" and len(node.args) >= 5:
                    add(node.args[4], where)
    return found, prefixes


def test_every_slug_raised_in_code_has_a_page_and_every_page_a_slug() -> None:
    found, prefixes = slugs_in_code()
    assert len(found) >= 40  # the scan sees the code (a broken scan would pass vacuously)
    missing = {slug: where for slug, where in found.items() if slug not in PROBLEM_TYPES}
    assert not missing, f"add these to marketplace/core/data/problem_types.yaml: {missing}"
    # The gate's refusals are `policy-<action>`, built at run time.
    assert prefixes == {"policy-"}
    gate = {f"policy-{action}" for action in STATUS_OF_ACTION if action != "allow"}
    assert gate <= set(PROBLEM_TYPES)
    for slug in gate:
        assert PROBLEM_TYPES[slug].status == STATUS_OF_ACTION[slug.removeprefix("policy-")]
    stale = set(PROBLEM_TYPES) - set(found) - gate
    assert not stale, f"no code raises these any more: {sorted(stale)}"


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("user_agent", [None, GPTBOT])
def test_every_problem_type_uri_answers_200_to_anyone(
    client: TestClient, user_agent: str | None
) -> None:
    if user_agent is None:
        client.headers.pop("user-agent")
    else:
        client.headers["user-agent"] = user_agent
    listing = client.get("/problems")
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert {item["slug"] for item in items} == set(PROBLEM_TYPES)
    for problem in PROBLEM_TYPES.values():
        as_json = client.get(problem.uri)
        assert as_json.status_code == 200, (problem.uri, as_json.text)
        assert as_json.headers["content-type"].startswith("application/json")
        body = as_json.json()
        assert body["type"] == problem.uri
        assert body["title"] == problem.title
        assert body["status"] == problem.status
        assert body["when"]
        assert body["what_to_do"]
        as_html = client.get(problem.uri, headers={"accept": "text/html"})
        assert as_html.status_code == 200, problem.uri
        assert as_html.headers["content-type"].startswith("text/html")
        assert "What to do" in as_html.text
    unknown = client.get("/problems/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_type_of_real_refusals_resolves(client: TestClient) -> None:
    refusals = [
        client.get("/api/v1/products/1", headers={"user-agent": GPTBOT}),  # the gate
        client.get("/api/v1/products/999999"),  # a domain error
        client.get("/api/v1/nothing-here"),  # routing
        client.post("/api/v1/orders", json={}),  # login first
    ]
    for refused in refusals:
        assert refused.status_code >= 400
        uri = refused.json()["type"]
        page = client.get(uri, headers={"user-agent": GPTBOT})
        assert page.status_code == 200, (uri, page.text)
        assert page.json()["status"] in (refused.status_code, None)
