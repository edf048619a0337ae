"""The personas' log-in names in docs/agent-developers.md are the seeded ones, and they log in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sandbox.persona import PERSONA_PASSWORD, load_personas

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent-developers.md"


def documented_personas() -> tuple[list[tuple[str, str, str]], str]:
    """(email, name, summary) per row of the marked table, and the text before the table."""
    text = DOC.read_text(encoding="utf-8")
    marker = "<!-- table: personas -->"
    assert marker in text, f"no personas table in {DOC}"
    before, _, after = text.partition(marker)
    rows = []
    for line in after.strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        if match:
            rows.append((match.group(1), cells[1], cells[2]))
    return rows, before


def test_the_docs_list_every_persona_with_its_log_in_name() -> None:
    rows, before = documented_personas()
    expected = [(p.email, p.name, p.summary) for p in load_personas().members]
    assert rows == expected
    assert f"`{PERSONA_PASSWORD}`" in before[-600:]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_documented_persona_logs_in(client: TestClient) -> None:
    rows, _ = documented_personas()
    for email, name, _summary in rows:
        login = client.post("/api/v1/sessions", json={"email": email, "password": PERSONA_PASSWORD})
        assert login.status_code == 200, (email, login.text)
        me = client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.json()["name"] == name
