"""docs/agent-developers.md: the 10-minute path runs as written, and its outcome table matches."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN
from tests.shopbots.outcomes import EXPECTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent-developers.md"


def doc_file(name: str) -> str:
    """The file the docs tell the reader to save as `name`."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- file: {re.escape(name)} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no file {name!r} in {DOC}"
    return match.group(1)


def example(marker: str) -> str:
    """The code block the docs mark `<!-- example: marker -->`."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {marker} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no example {marker!r} in {DOC}"
    return match.group(1)


def save_doc_files(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).write_text(doc_file(name), encoding="utf-8")
    return folder


def my_agent(folder: Path, url: str, command: str = "search") -> list[str]:
    """Run `python my_agent.py URL COMMAND` in `folder`, as the path does; its output lines."""
    done = subprocess.run(
        [sys.executable, "my_agent.py", url, command],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_the_path_under_open_signs_registers_explains_and_reads_its_decisions(
    policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    here = save_doc_files(tmp_path, "my_agent.py")
    url = live_server.url
    assert my_agent(here, url) == ["200 automation readers-catalog unknown-key"]
    assert (here / "my-agent.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")

    [registered] = my_agent(here, url, "register")
    assert registered.startswith("201 my-agent-")
    assert my_agent(here, url, "register")[0].startswith("409 ")  # a second run: already yours
    assert my_agent(here, url) == ["200 verified-agent trusted-everywhere verified"]

    explained = my_agent(here, url, "explain")
    assert explained[0].startswith("verified: The signature holds")
    assert explained[1] == f'"@authority": {httpx.URL(url).netloc.decode()}'
    assert explained[-1].startswith('"@signature-params": ("@authority" "signature-agent";key=')

    decisions = my_agent(here, url, "decisions")
    assert decisions[0] == "POST /api/v1/signature/explain allow rules-are-public verified"
    assert decisions[-1] == "POST /api/v1/partners allow rules-are-public unknown-key"


def test_the_path_explains_a_skewed_clock(live_server: LiveServer, tmp_path: Path) -> None:
    source = doc_file("my_agent.py")
    skewed = source.replace(
        "replace(microsecond=0)", "replace(microsecond=0) + dt.timedelta(minutes=5)", 1
    )
    assert skewed != source
    (tmp_path / "my_agent.py").write_text(skewed, encoding="utf-8")
    first = my_agent(tmp_path, live_server.url, "explain")[0]
    # created is rounded down to the second, so five minutes ahead reads 299 or 300 s.
    assert re.match(r"not-yet-valid: created is (299|300) s in the future", first), first


def admin_registers(folder: Path, url: str) -> None:
    """Step 4's admin variant: `python my_agent.py URL jwk | curl ... /api/v1/partners`."""
    [body] = my_agent(folder, url, "jwk")
    registered = httpx.post(
        f"{url}/api/v1/partners",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        json=json.loads(body),
    )
    assert registered.status_code == 201, registered.text


@pytest.mark.parametrize("policy", ["closed"], indirect=True)
def test_an_admin_registered_key_is_verified_under_closed(
    policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    here = save_doc_files(tmp_path, "my_agent.py")
    admin_registers(here, live_server.url)
    assert my_agent(here, live_server.url) == [
        "200 verified-agent outside-agents-read-catalog verified"
    ]


def import_my_agent(folder: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.chdir(folder)  # the key file sits next to the script
    spec = importlib.util.spec_from_file_location("my_agent", folder / "my_agent.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def test_my_agent_follows_redirects_without_replaying_a_nonce(
    policy: str,
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    hops: list[str],
) -> None:
    here = save_doc_files(tmp_path, "my_agent.py")
    admin_registers(here, live_server.url)
    answer = import_my_agent(here, monkeypatch).connect(live_server.url).get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "verified-agent"
    sent = [*(r.request for r in answer.history), answer.request]
    assert [r.url.path for r in sent] == hops
    nonces = [nonce_of(r) for r in sent]
    assert len(set(nonces)) == len(nonces)
    assert all(len(n) == 86 for n in nonces)  # 64 random bytes, unpadded base64url


@pytest.mark.slow
def test_the_paths_own_tests_pass_as_written(tmp_path: Path) -> None:
    here = save_doc_files(tmp_path, "my_agent.py", "conftest.py", "test_my_agent.py")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "test_my_agent.py", "-q", "-p", "no:cacheprovider"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_outcome_table_in_the_docs_names_every_refusing_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("\n## 7. The outcome table") : text.index("\n## 8. ")]
    for (agent, _policy), (_ok, _decision, rule) in EXPECTED.items():
        assert agent.split("/")[0] in table
        if rule:
            assert f"`{rule}`" in table, rule


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_acp_example_buys_with_the_signed_agent(
    policy: str, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = save_doc_files(tmp_path, "my_agent.py")
    admin_registers(here, live_server.url)
    monkeypatch.chdir(here)
    monkeypatch.syspath_prepend(str(here))
    monkeypatch.delitem(sys.modules, "my_agent", raising=False)
    code = example("acp")
    assert '"http://127.0.0.1:8000"' in code
    names: dict[str, object] = {"__name__": "example"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code.replace("http://127.0.0.1:8000", live_server.url), names)  # noqa: S102
    status, completed, order = out.getvalue().split()
    assert (status, completed) == ("ready_for_payment", "completed")
    assert order.startswith("ord_")
    done = names["done"]
    session = names["session"]
    assert isinstance(done, dict)
    assert isinstance(session, dict)
    assert done["order"]["checkout_session_id"] == session["id"]
    stats = httpx.get(
        f"{live_server.url}/api/v1/admin/stats", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert stats["orders"]["by_channel"]["acp"] == 1
