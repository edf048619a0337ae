"""User-agent folding: mangled agent names keep their class, browsers keep theirs, work is bounded.

Properties of the fold (hypothesis): folding twice changes nothing; zero-width characters, case
changes and separators around a registry name do not change which agent it names; the answer
depends only on the bounded prefix, so a huge user agent costs no more than a short one.
"""
# ruff: noqa: E501  (real user agent strings are long)

from __future__ import annotations

import sys
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.gate.policy.folding import (
    MAX_FOLDED_CHARS,
    MAX_USER_AGENT_CHARS,
    fold,
    wire_text,
)
from marketplace.gate.policy.known_agents import (
    KnownAgent,
    KnownAgents,
    default_known_agents,
    looks_like_browser,
)

REGISTRY = default_known_agents()
AGENTS = REGISTRY.agents
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
SEPARATORS = ["-", "_", ".", " ", "--", "__", "_-", ". "]
TEMPLATES = [
    "{name}",
    "{name}/1.0",
    "Mozilla/5.0 (compatible; {name}/1.1; +https://example.com/bot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; {name}/1.0) Chrome/120.0.0.0 Safari/537.36",
]


def as_wire(text: str) -> str:
    """What the gate sees when a client sends `text` as UTF-8 (ASGI decodes headers as latin-1)."""
    return text.encode("utf-8").decode("latin-1")


# --- Mangled names (finding 9) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        ("-GPTBot", "GPTBot"),
        ("GPTBot_", "GPTBot"),
        ("Mozilla/5.0 (compatible; -GPTBot/1.1; +https://openai.com/gptbot)", "GPTBot"),
        ("__ClaudeBot__/1.0", "ClaudeBot"),
        ("Claude\u200bBot", "ClaudeBot"),
        ("G\u200dP\u200cT\u2060Bot/1.1", "GPTBot"),
        ("Perplexity\u00adBot/1.0", "PerplexityBot"),
        ("G\u0420\u0422Bot/1.1", "GPTBot"),  # Cyrillic Р and Т
        ("GPTB\u043et/1.1", "GPTBot"),  # Cyrillic о
        ("\u13c0PTBot", "GPTBot"),  # Cherokee Ꮐ
        ("\uff27\uff30\uff34\uff22\uff4f\uff54", "GPTBot"),  # fullwidth
        ("\U0001d406\U0001d40f\U0001d413Bot", "GPTBot"),  # mathematical bold
        ("C1audeBot/1.0", "ClaudeBot"),
        ("CIaudeBot/1.0", "ClaudeBot"),  # capital I for l
        ("GPTB0t/1.1", "GPTBot"),
        ("gptbot", "GPTBot"),
        ("OPENAI", "OpenAI"),
        ("AMAZONBOT/0.1", "Amazonbot"),
        ("Applebot\u2011Extended/1.0", "Applebot-Extended"),  # non-breaking hyphen
        ("Mozilla/5.0 (compatible; GPTBot\t/1.1)", "GPTBot"),
    ],
)
def test_mangled_names_are_read_as_the_name(user_agent: str, name: str) -> None:
    agent = REGISTRY.match(user_agent)
    assert agent is not None, user_agent
    assert agent.name == name
    # The same text as it arrives over HTTP (UTF-8 bytes read as latin-1) matches too.
    wired = REGISTRY.match(as_wire(user_agent))
    assert wired is not None
    assert wired.name == name


@pytest.mark.parametrize(
    "user_agent",
    ["xGPTBot", "GPTBotx", "GPTBot2", "MyCodeBotX/1.0", "xcurl/1", "Operators/1.0", "SpiderMonkey"],
)
def test_names_still_match_only_as_whole_words(user_agent: str) -> None:
    assert REGISTRY.match(user_agent) is None


def test_every_registry_token_matches_itself_folded_or_not() -> None:
    for agent in AGENTS:
        for token in agent.tokens:
            for text in (token, token.upper(), token.lower(), fold(token)):
                found = REGISTRY.match(text)
                assert found is agent, (token, text, found)


def test_registry_tokens_stay_distinct_after_folding() -> None:
    folded: dict[str, KnownAgent] = {}
    for agent in AGENTS:
        for token in agent.tokens:
            assert folded.setdefault(fold(token), agent) is agent, token


def test_two_names_that_fold_alike_are_refused() -> None:
    with pytest.raises(ValueError, match="fold to the same"):
        KnownAgents(
            [
                KnownAgent("ClaudeBot", "a", "training-crawler"),
                KnownAgent("C1audeBot", "b", "training-crawler"),
            ]
        )


def test_invisible_and_control_characters_are_removed() -> None:
    kept = {"\t", "\n", "\v", "\f", "\r", "\x1c", "\x1d", "\x1e", "\x1f", "\x85"}  # spaces
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cc", "Cf") and char not in kept:
            assert fold(f"a{char}b") == fold("ab"), hex(code)
    for char in kept:
        assert fold(f"a{char}b") == fold("a b"), repr(char)


def test_wire_text_reads_utf8_and_keeps_latin1() -> None:
    assert wire_text(as_wire("Claude\u200bBot")) == "Claude\u200bBot"
    assert wire_text("caf\xe9") == "caf\xe9"  # a lone latin-1 byte is not UTF-8
    cut = as_wire("ab\u200b")[:-1]  # a UTF-8 sequence cut short by the prefix bound
    assert wire_text(cut, cut=True) == "ab"
    assert wire_text(cut) == cut


# --- Browsers keep their class ------------------------------------------------------------

MORE_BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/485.0.0.70.77;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 LinkedInApp/9.30.2020",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/13.10.0.42 (like Safari/8618.3.11.10.5, panda)",
    "Mozilla/5.0 (Linux; Android 13; 2201117TY Build/TKQ1.221114.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/128.0.6613.127 Mobile Safari/537.36 XWEB/1300333 MMWEBSDK/20240301 MMWEBID/9461 MicroMessenger/8.0.48.2580(0x28003035) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Line/14.9.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 musical_ly_32.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en Region/US RevealType/Dialog isDarkMode/0 WKWebView/1 BytedanceWebview/d8a21c6",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 YaBrowser/24.12.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 12; en-US; RMX3085 Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.80 UCBrowser/13.7.5.1321 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 Edge/44.18363.8131",
    "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
]


@pytest.mark.parametrize("user_agent", MORE_BROWSERS)
def test_common_browsers_name_no_agent(user_agent: str) -> None:
    assert looks_like_browser(user_agent)
    assert REGISTRY.match(user_agent) is None


# --- Bounded work (finding 2) -------------------------------------------------------------


def test_a_50_mb_user_agent_is_read_in_bounded_time() -> None:
    fifty_mb = 50 * 1024 * 1024
    for filler in ("; ", " a", "x"):
        user_agent = "Mozilla/5.0 (" + filler * (fifty_mb // len(filler))
        started = time.perf_counter()
        assert REGISTRY.match(user_agent) is None
        looks_like_browser(user_agent)
        # Before the prefix bound this took about 80 s ("; "); now it reads 512 characters.
        assert time.perf_counter() - started < 0.5
    tail_name = "x" * fifty_mb + " GPTBot/1.1"
    assert REGISTRY.match(tail_name) is None  # a name past the prefix is not read


def test_the_match_cache_is_keyed_by_the_bounded_prefix() -> None:
    registry = KnownAgents(list(AGENTS))
    prefix = "Mozilla/5.0 (compatible; GPTBot/1.1; " + "x" * MAX_USER_AGENT_CHARS
    for n in range(50):
        registry.match(prefix + str(n) * 100_000)
    info = registry._cached_match.cache_info()
    assert info.currsize == 1
    assert info.hits == 49
    assert info.maxsize == KnownAgents.CACHE_SIZE


# --- Properties (hypothesis) --------------------------------------------------------------

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_folding_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=600, max_size=3000))
def test_only_the_bounded_prefix_counts(text: str) -> None:
    assert len(fold(text[:MAX_USER_AGENT_CHARS])) <= MAX_FOLDED_CHARS
    assert REGISTRY.match(text) == REGISTRY.match(text[:MAX_USER_AGENT_CHARS])


@st.composite
def mangled(draw: st.DrawFn) -> tuple[KnownAgent, str]:
    """A registry name in a user agent, with invisible characters, case changes and separators."""
    agent = draw(st.sampled_from(AGENTS))
    token = draw(st.sampled_from(agent.tokens))
    chars = []
    for char in token:
        flip = draw(st.sampled_from(["keep", "upper", "lower"]))
        chars.append(char.upper() if flip == "upper" else char.lower() if flip == "lower" else char)
        if draw(st.integers(0, 4)) == 0:
            chars.append(draw(st.sampled_from(ZERO_WIDTH)))
    before = draw(st.sampled_from(["", *SEPARATORS]))
    after = draw(st.sampled_from(["", *SEPARATORS]))
    name = before + "".join(chars) + after
    return agent, draw(st.sampled_from(TEMPLATES)).format(name=name)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangling_a_name_does_not_change_its_agent(case: tuple[KnownAgent, str]) -> None:
    agent, user_agent = case
    found = REGISTRY.match(user_agent)
    assert found is agent, (user_agent, found)
    assert REGISTRY.match(as_wire(user_agent)) is agent
