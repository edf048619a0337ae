"""Admin figures, the dashboard and workshop mode, through HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from marketplace.accounts.models import Account
from marketplace.accounts.throttle import PER_CLIENT
from marketplace.core.admin import ADMIN_COOKIE
from marketplace.core.clock import FrozenClock
from sandbox.cli import app as cli
from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace._shop import auth, new_shopper, product_with_stock, set_stock

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def buy(client: TestClient, headers: dict[str, str], product_id: int, key: str) -> dict[str, Any]:
    added = client.post(
        "/api/v1/cart/items", json={"product_id": product_id, "quantity": 1}, headers=headers
    )
    assert added.status_code in (200, 201), added.text
    order = client.post("/api/v1/orders", headers={**headers, "Idempotency-Key": key})
    assert order.status_code == 201, order.text
    body: dict[str, Any] = order.json()
    return body


def test_stats_need_the_admin_token(client: TestClient) -> None:
    assert client.get("/api/v1/admin/stats").status_code == 401
    wrong = client.get("/api/v1/admin/stats", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 403


def test_stats_count_requests_and_orders_by_channel(client: TestClient, database: Any) -> None:
    headers = new_shopper(client)
    buy(client, headers, product_with_stock(database), "stats-1")
    # The clock is frozen at TEST_NOW; the personas' seeded history lies before it.
    stats = client.get(
        "/api/v1/admin/stats", params={"since": TEST_NOW.isoformat()}, headers=ADMIN
    ).json()
    # A browser user agent checking out through the API with no views looks automated.
    assert stats["orders"]["by_channel"] == {"suspected-agent": 1}
    assert stats["orders"]["total"] == 1
    assert stats["requests"]["total"] >= 4
    assert sum(stats["requests"]["by_class"].values()) == stats["requests"]["total"]
    assert stats["gate_latency_us"]["count"] == stats["requests"]["total"]
    assert stats["revenue"]["margin"] > 0


def test_observe_mode_shows_what_would_be_refused(client: TestClient) -> None:
    # The test store runs the observe preset: a crawler is let through and logged as a block.
    crawled = client.get("/api/v1/products", headers={"user-agent": "GPTBot/1.1"})
    assert crawled.status_code == 200
    assert crawled.headers["x-policy-observed-action"] == "block"
    rule = crawled.headers["x-policy-rule"]
    stats = client.get(
        "/api/v1/admin/stats", params={"since": TEST_NOW.isoformat()}, headers=ADMIN
    ).json()
    assert stats["requests"]["refused"] == 0
    assert stats["requests"]["would_refuse"] == 1
    assert stats["observed"]["by_class"] == {"declared-crawler": 1}
    example = stats["observed"]["examples"][0]
    assert (example["rule"], example["action"], example["path"]) == (
        rule,
        "block",
        "/api/v1/products",
    )
    assert example["reason"]

    page = client.get("/dashboard", headers={"accept": "text/html"})
    client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)})
    board = client.get("/dashboard").text
    assert re.search(r'id="requests-would-refuse">1<', board)
    observed = board.split('id="observed"', 1)[1].split("</table>", 1)[0]
    assert rule in observed
    assert "GET /api/v1/products" in observed


def test_the_dashboard_and_its_polling_are_not_traffic(client: TestClient) -> None:
    page = client.get("/dashboard", headers={"accept": "text/html"})
    client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)})
    for _ in range(5):
        assert client.get("/dashboard").status_code == 200
        polled = client.get("/api/v1/admin/stats", params={"window_s": 120})
        assert polled.status_code == 200
    # One shopper request, one refused admin call (a wrong token): those count.
    client.get("/api/v1/products", params={"q": "tent"})
    assert (
        client.get("/api/v1/admin/stats", headers={"authorization": "Bearer nope"}).status_code
        == 403
    )
    stats = client.get("/api/v1/admin/stats", params={"window_s": 120}).json()
    assert stats["requests"]["total"] == 2, stats["requests"]
    assert stats["requests"]["by_route_class"].keys() == {"search", "admin"}


def test_stats_refuse_an_ambiguous_window(client: TestClient) -> None:
    response = client.get(
        "/api/v1/admin/stats",
        params={"since": "2026-01-01T00:00:00Z", "window_s": 10},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert "either" in response.json()["detail"]


def test_dashboard_asks_for_the_token_then_shows_the_figures(client: TestClient) -> None:
    page = client.get("/dashboard", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'name="token"' in page.text
    wrong = client.post(
        "/dashboard/login", data={"token": "nope", "csrf_token": csrf_of(page.text)}
    )
    assert wrong.status_code == 403
    no_csrf = client.post("/dashboard/login", data={"token": ADMIN_TOKEN})
    assert no_csrf.status_code == 403
    login = client.post(
        "/dashboard/login",
        data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert login.status_code == 303
    board = client.get("/dashboard")
    assert "Gate dashboard" in board.text
    assert 'id="requests-total"' in board.text
    # The cookie also opens the admin API the page polls.
    assert client.get("/api/v1/admin/stats", params={"window_s": 60}).status_code == 200


def send_token(client: TestClient, csrf: str, token: str) -> httpx.Response:
    return client.post(
        "/dashboard/login",
        data={"token": token, "csrf_token": csrf},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


def test_the_right_token_still_opens_the_dashboard_just_below_the_limit(
    client: TestClient,
) -> None:
    csrf = csrf_of(client.get("/dashboard", headers={"accept": "text/html"}).text)
    for i in range(PER_CLIENT.failures - 1):
        assert send_token(client, csrf, f"guess-{i}").status_code == 403
    login = send_token(client, csrf, ADMIN_TOKEN)
    assert login.status_code == 303, login.text
    assert ADMIN_COOKIE in login.cookies


def test_guessing_the_admin_token_is_throttled_per_client(
    client: TestClient, clock: FrozenClock
) -> None:
    csrf = csrf_of(client.get("/dashboard", headers={"accept": "text/html"}).text)
    for i in range(PER_CLIENT.failures):
        wrong = send_token(client, csrf, f"guess-{i}")
        assert wrong.status_code == 403, (i, wrong.text)
    # Past the limit even the right token is refused, on the form itself, with Retry-After.
    refused = send_token(client, csrf, ADMIN_TOKEN)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= PER_CLIENT.window_s
    assert "Too many wrong admin tokens from your address" in refused.text
    assert 'name="token"' in refused.text
    assert ADMIN_COOKIE not in refused.cookies
    assert 'id="requests-total"' not in client.get("/dashboard").text  # still the token form
    # Wrong tokens do not use up the shopper logins of everyone behind the same address.
    shopper_login = client.post(
        "/api/v1/sessions", json={"email": "nobody@example.com", "password": "wrong-pass"}
    )
    assert shopper_login.status_code == 401, shopper_login.text
    # Once the window has passed, the right token opens the dashboard again.
    clock.advance(seconds=PER_CLIENT.window_s + 1)
    login = send_token(client, csrf, ADMIN_TOKEN)
    assert login.status_code == 303, login.text
    assert 'id="requests-total"' in client.get("/dashboard").text


def test_dashboard_switches_the_policy(client: TestClient) -> None:
    page = client.get("/dashboard")
    client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)})
    board = client.get("/dashboard")
    switched = client.post(
        "/dashboard/policy",
        data={"preset": "open", "csrf_token": csrf_of(board.text)},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert client.get("/api/v1/policy", headers=ADMIN).json()["name"] == "open"


def test_workshop_teams_log_in_order_and_rank(client: TestClient, database: Any) -> None:
    product_id = product_with_stock(database)
    started = client.post(
        "/api/v1/admin/workshop", json={"teams": 3, "product_id": product_id}, headers=ADMIN
    )
    assert started.status_code == 201, started.text
    teams = started.json()["teams"]
    assert [t["team"] for t in teams] == ["team-01", "team-02", "team-03"]
    second = teams[1]
    me = client.get("/api/v1/me", headers=auth(second["access_token"]))
    assert me.json()["email"] == second["email"]
    login = client.post(
        "/api/v1/sessions", json={"email": second["email"], "password": second["password"]}
    )
    assert login.status_code == 200
    buy(client, auth(second["access_token"]), product_id, "workshop-1")

    board = client.get("/api/v1/admin/workshop/scoreboard", headers=ADMIN).json()
    assert board["product_id"] == product_id
    assert board["teams"][0]["team"] == "team-02"
    assert board["teams"][0]["ordered"] is True
    # The two teams that have not ordered share the next rank.
    assert [row["rank"] for row in board["teams"]] == [1, 2, 2]
    decisions = client.get("/api/v1/decisions", params={"team": "team-02"}, headers=ADMIN).json()
    assert decisions["total"] >= 3
    assert all(item["account_id"] == me.json()["id"] for item in decisions["items"])
    page = client.get("/workshop")
    assert "team-02" in page.text
    assert second["password"] not in page.text


def test_workshop_holds_each_teams_share_of_the_product(client: TestClient, database: Any) -> None:
    """On SQLite and PostgreSQL: a shopper cannot buy the teams' units; each team buys its own."""
    product_id = product_with_stock(database, skip=3)
    set_stock(database, product_id, 7)  # two teams hold 3 each: one unit is for anyone
    started = client.post(
        "/api/v1/admin/workshop", json={"teams": 2, "product_id": product_id}, headers=ADMIN
    )
    assert started.status_code == 201, started.text
    shopper = new_shopper(client, "hoarder")
    added = client.post(
        "/api/v1/cart/items", json={"product_id": product_id, "quantity": 2}, headers=shopper
    )
    assert added.status_code == 201, added.text
    hoard = client.post("/api/v1/orders", headers={**shopper, "Idempotency-Key": "hoard"})
    assert hoard.status_code == 409, hoard.text
    assert hoard.json()["stock_left"] == 1
    assert "6 more are held for a workshop's teams" in hoard.json()["detail"]
    client.patch(f"/api/v1/cart/items/{product_id}", json={"quantity": 1}, headers=shopper)
    assert (
        client.post("/api/v1/orders", headers={**shopper, "Idempotency-Key": "one"}).status_code
        == 201
    )
    for team in started.json()["teams"]:
        headers = auth(team["access_token"])
        for n in range(3):
            buy(client, headers, product_id, f"{team['team']}-{n}")
    last = client.post(
        "/api/v1/cart/items", json={"product_id": product_id, "quantity": 1}, headers=shopper
    )
    assert last.status_code == 409  # sold out: every unit went to whom it was for


def test_the_dashboard_reinstates_a_suspended_team(client: TestClient, database: Any) -> None:
    started = client.post("/api/v1/admin/workshop", json={"teams": 2}, headers=ADMIN)
    token = started.json()["teams"][0]["access_token"]
    with database.session() as session:
        session.execute(
            update(Account)
            .where(Account.team == "team-01")
            .values(status="suspended", status_reason="automated ordering")
        )
    page = client.get("/dashboard", headers={"accept": "text/html"})
    client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)})
    board = client.get("/dashboard")
    assert 'id="flagged-teams"' in board.text
    assert "automated ordering" in board.text
    forged = client.post("/dashboard/workshop/reinstate", data={"team": "team-01"})
    assert forged.status_code == 403  # no CSRF token: not from the dashboard
    done = client.post(
        "/dashboard/workshop/reinstate",
        data={"team": "team-01", "csrf_token": csrf_of(board.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/api/v1/me", headers=auth(token)).json()["status"] == "active"
    assert 'id="flagged-teams"' not in client.get("/dashboard").text


def test_workshop_needs_a_sane_team_count(client: TestClient) -> None:
    response = client.post("/api/v1/admin/workshop", json={"teams": 0}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "teams"


def test_workshop_command_prints_and_writes_the_handout(
    live_server: LiveServer, tmp_path: Any
) -> None:
    handout = tmp_path / "handout.md"
    result = CliRunner().invoke(
        cli,
        [
            "workshop",
            "--teams",
            "2",
            "--target",
            live_server.url,
            "--admin-token",
            ADMIN_TOKEN,
            "--out",
            str(handout),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "team-02" in result.output
    text = handout.read_text()
    assert "team-01@teams.nile.example" in text
    token = re.findall(r"\| `([^`]+)` \|\n", text)[0]
    me = httpx.get(f"{live_server.url}/api/v1/me", headers=auth(token))
    assert me.status_code == 200


def test_workshop_command_explains_a_wrong_token(live_server: LiveServer) -> None:
    result = CliRunner().invoke(
        cli, ["workshop", "--teams", "2", "--target", live_server.url, "--admin-token", "nope"]
    )
    assert result.exit_code == 2
    assert "403" in result.output
