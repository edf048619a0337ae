"""Interoperability with Cloudflare's npm `web-bot-auth`, run by Node in tests/interop/node.

`npm ci` in tests/interop/node installs the pinned package (.ci/run does it). Without node or the
package these tests are skipped, unless SANDBOX_TEST_REQUIRE names `interop`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from marketplace.core.clock import Clock, system_clock
from tests.conftest import skip_or_fail

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "wba.mjs"


class WebBotAuthJS:
    """Calls tests/interop/node/wba.mjs: one JSON request in, one JSON answer out."""

    def __init__(self, node: str) -> None:
        self.node = node

    def __call__(self, op: str, **request: Any) -> dict[str, Any]:
        done = subprocess.run(
            [self.node, str(SCRIPT)],
            input=json.dumps({"op": op, **request}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer


@pytest.fixture(scope="session")
def web_bot_auth() -> WebBotAuthJS:
    node = shutil.which("node")
    if node is None:
        skip_or_fail(
            "interop",
            "node is not installed: `apt-get install nodejs npm`, then `npm ci` in "
            "tests/interop/node, to run the interoperability tests",
        )
    if not (NODE_DIR / "node_modules" / "web-bot-auth" / "package.json").is_file():
        skip_or_fail(
            "interop",
            "Cloudflare's web-bot-auth is not installed: run `npm ci` in tests/interop/node",
        )
    return WebBotAuthJS(str(node))


@pytest.fixture
def clock() -> Clock:
    # web-bot-auth's verifier reads the wall clock; the platform must sign by the same one.
    return system_clock


@pytest.fixture
def policy() -> str:
    return "closed"
