"""Hostile policy and scenario YAML: a clear error naming the problem, safe loading only, and the
active policy unchanged. The same corpus goes through PUT /api/v1/policy, `sandbox policy
validate`, the policy loader (gate/policy/model.py) and the scenario loader (core/yamlfile.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marketplace.core.yamlfile import YamlModelError
from marketplace.gate.policy.model import PolicyError, load_policy_text
from sandbox.cli import app as cli
from sandbox.scenario import load_scenario
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
runner = CliRunner()


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _deep_block(levels: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v: 1\n"


# (label, YAML text, a word the error must contain). Each is a way a file can be broken or hostile.
HOSTILE: list[tuple[str, str, str]] = [
    ("empty", "", "empty"),
    ("only a comment", "# nothing here\n", "empty"),
    ("a list", "- closed\n- open\n", "mapping"),
    ("a scalar", "closed\n", "mapping"),
    ("unclosed bracket", "name: [a, b\n", "syntax"),
    ("bad indentation", "name: x\n  mode: observe\n mode: x\n", "syntax"),
    ("tab indentation", "name: x\nrules:\n\t- id: a\n", "syntax"),
    ("NUL byte", "name: x\x00\n", "syntax"),
    ("billion laughs", _billion_laughs(), "aliases"),
    ("merge key alias", "base: &b {action: allow}\ndefault:\n  <<: *b\n", "aliases"),
    (
        "python object",
        "name: !!python/object/apply:os.system ['touch /tmp/pwned-by-yaml']\n",
        "tag",
    ),
    ("python name", "name: !!python/name:os.system\n", "tag"),
    ("deep block nesting", _deep_block(60), "deeper|depth"),
    ("deep flow nesting", "name: " + "[" * 20_000 + "]" * 20_000 + "\n", "deeper|depth"),
    ("deep flow mapping", "name: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "deeper|depth"),
    ("too many nodes", "a:\n" + "- 1\n" * 110_000, "large"),
    ("too many bytes", "name: '" + "x" * 1_100_000 + "'\n", "larger"),
    ("huge integer", "seed: " + "9" * 5_000 + "\n", "digits"),
    ("lone surrogate", "name: \ud800\n", "unicode"),
]
# Files that parse but do not fit the model: the error names the field.
WRONG: list[tuple[str, str, str]] = [
    ("unknown field", "name: x\nmood: closed\n", "mood"),
    ("wrong type", "name: [1, 2]\n", "name"),
]


# A file cannot hold a lone surrogate; the largest documents go through the same loader above.
CLI_SKIP = ("lone surrogate", "too many nodes", "too many bytes")


def mentions(message: str, words: str) -> bool:
    """True when the message names the problem with one of `words` ("a|b")."""
    return any(word in message.lower() for word in words.split("|"))


def _policy_error(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "hostile.yaml")
    return str(caught.value)


@pytest.mark.parametrize(("label", "text", "word"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_policy_loader_refuses_hostile_yaml_clearly(label: str, text: str, word: str) -> None:
    message = _policy_error(text)
    assert "hostile.yaml" in message
    assert mentions(message, word), message[:500]
    assert not Path("/tmp/pwned-by-yaml").exists()


@pytest.mark.parametrize(
    ("label", "text", "word"), HOSTILE + WRONG, ids=[h[0] for h in HOSTILE + WRONG]
)
def test_scenario_loader_refuses_hostile_yaml_clearly(
    tmp_path: Path, label: str, text: str, word: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    message = str(caught.value)
    assert str(path) in message
    if label != "lone surrogate":  # read from disk this is a decoding error, named as such
        assert mentions(message, word), message[:500]
    assert not Path("/tmp/pwned-by-yaml").exists()


def test_policy_loader_names_unknown_and_wrongly_typed_fields() -> None:
    assert "'mood'" in _policy_error("extends: closed\nname: x\nmood: closed\n")
    assert "line 3" in _policy_error("extends: closed\nname: x\nmode: sometimes\n")
    assert "rules" in _policy_error("extends: closed\nname: x\nrules: yes\n")
    assert "extends" in _policy_error("extends: [closed]\nname: x\n")


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def policy() -> str:
    return "closed"


def test_put_policy_refuses_hostile_yaml_and_keeps_the_active_policy(client: TestClient) -> None:
    before = client.get("/api/v1/policy", headers=ADMIN).json()
    for label, text, _ in HOSTILE + WRONG:
        # json.dumps escapes a lone surrogate as \ud800, the way a hostile client would send it.
        answer = client.put(
            "/api/v1/policy",
            content=json.dumps({"yaml": text}),
            headers={**ADMIN, "content-type": "application/json"},
        )
        assert answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        if label == "too many bytes":
            # Over the request body limit (1 MiB): refused before the body is read.
            assert answer.status_code == 413, (label, answer.status_code, answer.text[:300])
            assert body["type"] == "/problems/body-too-large"
            continue
        assert answer.status_code == 422, (label, answer.status_code, answer.text[:300])
        # The request model refuses this one before the loader sees it; it names the field.
        by_model = label == "lone surrogate"
        assert ("'yaml'" if by_model else "unchanged") in body["detail"], (label, body)
    after = client.get("/api/v1/policy", headers=ADMIN).json()
    assert (after["name"], after["yaml"]) == (before["name"], before["yaml"])
    # Still enforced: the closed policy keeps outside tools out of the cart.
    refused = client.get("/api/v1/cart", headers={"user-agent": "curl/8.5.0"})
    assert refused.status_code == 403
    assert not Path("/tmp/pwned-by-yaml").exists()


def test_put_policy_refuses_malformed_bodies(client: TestClient) -> None:
    for body in (
        {"yaml": "name: x", "preset": "open"},
        {},
        {"preset": "wide-open"},
        {"yaml": 5},
        {"yaml": "extends: closed\nname: x\n", "extra": 1},
    ):
        answer = client.put("/api/v1/policy", json=body, headers=ADMIN)
        assert answer.status_code == 422, (body, answer.text)
    raw = client.put(
        "/api/v1/policy",
        content=b"\xff\xfe{not json",
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert raw.status_code in (400, 422)
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/policy", headers=ADMIN).json()["name"] == "closed"


@pytest.mark.parametrize(
    ("label", "text", "word"),
    [h for h in HOSTILE if h[0] not in CLI_SKIP] + WRONG,
    ids=[h[0] for h in HOSTILE if h[0] not in CLI_SKIP] + [w[0] for w in WRONG],
)
def test_cli_validate_reports_hostile_files_without_a_traceback(
    tmp_path: Path, label: str, text: str, word: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["policy", "validate", str(path)])
    assert result.exit_code == 1, (label, result.output[-500:])
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "hostile.yaml" in result.output


def test_cli_validate_and_run_refuse_undecodable_files(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: \xff\xfe\x00garbage\n")
    result = runner.invoke(cli, ["policy", "validate", str(path)])
    assert result.exit_code == 1
    assert "binary.yaml" in result.output
    ran = runner.invoke(cli, ["run", str(path)])
    assert ran.exit_code == 2
    assert isinstance(ran.exception, SystemExit)
    assert "decode" in ran.output  # the path is wrapped by the console; the reason is not
