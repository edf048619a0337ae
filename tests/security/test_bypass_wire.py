"""Gate bypass on the wire: a second corpus, sent byte for byte over raw sockets to a live server.

tests/marketplace/gate/test_bypass.py sends ~130 spellings of the cart and checkout through the test
client. This corpus adds what only a raw socket can send (HTTP/1.0, absolute-form targets,
pipelining, unusual methods, duplicated and oversized header lines, spoofed gate and proxy headers)
and more encodings, and hypothesis properties on the path normaliser itself.

"Refused" means one of two things, and the test tells them apart: the gate blocked the request
(403 with the cart/checkout rule), or the server never ran a handler for it (400/404/405/414/431,
or the connection closed without an answer). A 401 or 422 would mean the cart's own handler ran
past the gate, so it counts as a bypass, as does any 2xx or 3xx.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.gate.normalize import normalize_path
from marketplace.gate.policy.compiled import RouteMatcher
from marketplace.gate.policy.model import load_policy

RULE = "outside-agents-no-transactions"
CURL = b"curl/8.5.0"
# Answers from the server itself: the request never reached a route handler.
NOT_ROUTED = {400, 404, 405, 414, 431}


@dataclass(frozen=True)
class Variant:
    label: str
    target: bytes
    method: bytes = b"GET"
    version: bytes = b"HTTP/1.1"
    headers: tuple[bytes, ...] = ()
    body: bytes = b""
    host: bool = True
    user_agent: bytes = CURL
    # Set when the gate itself must answer (the router would otherwise serve the cart).
    gate_must_refuse: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def request(self) -> bytes:
        lines = [self.method + b" " + self.target + b" " + self.version]
        if self.host:
            lines.append(b"Host: shop.test")
        if self.user_agent:
            lines.append(b"User-Agent: " + self.user_agent)
        lines.extend(self.headers)
        if self.body or self.method in (b"POST", b"PUT", b"PATCH"):
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


CART = b"/api/v1/cart"
ORDERS = b"/api/v1/orders"

ENCODED = [
    b"/api/v1/%63%61%72%74",
    b"/api/v1/%43ART",
    b"/api/v1/c%61rt",
    b"/api/v1/%2563%2561rt",
    b"/api/v1/%25%36%33art",
    b"/api%2Fv1%2Fcart",
    b"/api%252Fv1%252Fcart",
    b"/api%25252Fv1%25252Fcart",
    b"/api/v1/cart%2F",
    b"/api/v1/cart%252F",
    b"/api/v1/cart%3B",
    b"/api/v1/cart%3Bx=1",
    b"/api/v1/cart%09",
    b"/api/v1/cart%0d%0a",
    b"/api/v1/cart%23frag",
    b"/api/v1/cart%3F",
    b"/api/v1/cart%20%20",
    b"/api/v1/%ef%bd%83art",
    b"/api/v1%ef%bc%8fcart",
    b"/api/v1/%c0%afcart",
    b"/api/v1/cart%u002f",
    b"/api/v1/ca%00rt",
    b"/api/v1/ca%E2%80%8Brt",
    b"/api/v1/%6Frders",
    b"/api/v1/%256F%2572ders",
    b"/api/v1/%6%EF%BC%93art",  # "%6" + fullwidth "3": an escape only after NFKC
    b"/checkou%74",
    b"/%63heckout",
]
DOTS = [
    b"/api/v1/cart/.",
    b"/api/v1/cart/./",
    b"/api/v1/./././cart",
    b"/api/v1/a/b/../../cart",
    b"/api/./v1/../v1/cart",
    b"/api/v1/%2e/cart",
    b"/api/v1/%2E%2E/v1/cart",
    b"/api/v1/.%2e/v1/cart",
    b"/api/v1/%2e./v1/cart",
    b"/api/v1/..%2fv1%2fcart",
    b"/api/v1/..%5cv1%5ccart",
    b"/../api/v1/cart",
    b"/%2e%2e/api/v1/cart",
    b"/api/v1/cart/..;/cart",
    b"/api/v1/;/cart",
    b"/api/v1/cart;/",
    b"/;x/api/v1/cart",
    b"/api/v1/orders/1/..",
    b"/checkout/.",
]
CASES = [b"/API/v1/cart", b"/api/V1/cart", b"/api/v1/CaRt", b"/api/v1/ORDERS", b"/CHECKOUT"]
SLASHES = [
    b"//api/v1/cart",
    b"///api/v1/cart",
    b"/api//v1/cart",
    b"/api/v1/cart//",
    b"/api\\v1\\cart",
    b"\\api\\v1\\cart",
    b"/api/v1\\cart",
    b"/api/v1/cart\\",
    b"/api%5Cv1%5Ccart",
    b"/api/v1/cart/%2F",
    b"//checkout",
]
METHODS = [
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"PATCH",
    b"DELETE",
    b"OPTIONS",
    b"TRACE",
    b"PROPFIND",
    b"get",
    b"GeT",
    b"FOO",
]
OVERRIDES = [
    (b"GET", (b"X-HTTP-Method-Override: POST",), b""),
    (b"POST", (b"X-HTTP-Method-Override: GET",), b""),
    (b"POST", (b"X-HTTP-Method-Override: OPTIONS",), b""),
    (b"POST", (b"X-Method-Override: HEAD",), b""),
    (b"POST", (b"X-HTTP-Method: GET",), b""),
    (b"POST", (b"X-HTTP-Method-Override: GET", b"X-HTTP-Method-Override: GET"), b""),
    (
        b"POST",
        (b"Content-Type: application/x-www-form-urlencoded",),
        b"_method=GET",
    ),
]
HEADER_TRICKS: list[tuple[str, tuple[bytes, ...]]] = [
    ("two user agents", (b"User-Agent: curl/8.5.0",)),
    ("two hosts", (b"Host: localhost",)),
    ("forwarded for", (b"X-Forwarded-For: 66.249.66.1",)),
    ("forwarded twice", (b"X-Forwarded-For: 127.0.0.1", b"X-Forwarded-For: 10.0.0.1")),
    ("forwarded header", (b"Forwarded: for=66.249.66.1;proto=https",)),
    ("real ip", (b"X-Real-IP: 127.0.0.1",)),
    ("original url", (b"X-Original-URL: /",)),
    ("rewrite url", (b"X-Rewrite-URL: /",)),
    ("forwarded host", (b"X-Forwarded-Host: localhost", b"X-Forwarded-Proto: https")),
    ("spoofed decision", (b"X-Policy-Decision: allow", b"X-Visitor-Class: human")),
    ("spoofed rule", (b"X-Policy-Rule: shoppers-everywhere",)),
    ("from googlebot", (b"From: googlebot(at)googlebot.com",)),
    ("two cookies", (b"Cookie: nile_session=forged", b"Cookie: nile_session=other")),
    ("sec-fetch browser", (b"Sec-Fetch-Mode: navigate", b"Sec-Fetch-Dest: document")),
    ("client hints", (b'Sec-CH-UA: "Chromium";v="131"', b"Sec-CH-UA-Mobile: ?0")),
]
SMUGGLING = [
    ("two content lengths", (b"Content-Length: 0", b"Content-Length: 5")),
    ("te and cl", (b"Transfer-Encoding: chunked",)),
    ("obsolete line folding", (b"X-Note: a", b" folded")),
    ("bad header name", (b"Bad Header: x",)),
]


def corpus() -> list[Variant]:
    out: list[Variant] = []
    for group, targets in (("encoded", ENCODED), ("dots", DOTS), ("case", CASES)):
        out += [Variant(f"{group} {t!r}", t) for t in targets]
    out += [Variant(f"slashes {t!r}", t) for t in SLASHES]
    for base in (CART, ORDERS):
        out += [Variant(f"method {m!r} {base!r}", base, method=m) for m in METHODS]
        for method, headers, body in OVERRIDES:
            out.append(
                Variant(f"override {method!r} {headers}", base, method, headers=headers, body=body)
            )
    out += [Variant(f"query override {q!r}", CART + q) for q in (b"?_method=GET", b"?_method=get")]
    out += [Variant(f"header {label}", CART, headers=h) for label, h in HEADER_TRICKS]
    out += [Variant(f"smuggling {label}", ORDERS, b"POST", headers=h) for label, h in SMUGGLING]
    out += [
        Variant("huge user agent", CART, user_agent=CURL + b" " + b"x" * 8000),
        Variant("huge header", CART, headers=(b"X-Padding: " + b"p" * 20_000,)),
        Variant("many headers", CART, headers=tuple(b"X-H%d: v" % i for i in range(150))),
        Variant("long query", CART + b"?q=" + b"a" * 6000),
        Variant("long item path", CART + b"/items/" + b"9" * 5000),
        Variant("long dotted path", b"/api/v1/" + b"./" * 3000 + b"cart"),
        Variant("many leading slashes", b"/" * 5000 + b"api/v1/cart"),
        Variant("http/1.0 no host", CART, version=b"HTTP/1.0", host=False),
        Variant("http/1.0", CART, version=b"HTTP/1.0"),
        Variant("http/1.0 post", ORDERS, b"POST", version=b"HTTP/1.0"),
        Variant("http/1.0 encoded", b"/api/v1/%63art", version=b"HTTP/1.0", host=False),
        Variant("absolute form", b"http://shop.test/api/v1/cart"),
        Variant("absolute form 1.0", b"http://shop.test/api/v1/orders", version=b"HTTP/1.0"),
        Variant("asterisk form", b"*", method=b"OPTIONS"),
        Variant("http/0.9", CART, version=b"HTTP/0.9"),
        Variant("http/2 claimed", CART, version=b"HTTP/2.0"),
        Variant("no user agent", CART, user_agent=b""),
        Variant("empty user agent", CART, headers=(b"User-Agent: ",), user_agent=b""),
    ]
    return out


CORPUS = corpus()


def send(url: str, payload: bytes) -> list[tuple[int, dict[str, str]]]:
    """Every response on one connection, as (status, lower-case headers); [] when it just closed."""
    host, port = url.split("//", 1)[1].split(":")
    data = b""
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(payload)
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    responses = []
    for block in data.split(b"HTTP/1.1 ")[1:]:
        head = block.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status_line, *lines = head.split("\r\n")
        if not status_line[:3].isdigit():
            continue
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        responses.append((int(status_line[:3]), headers))
    return responses


def verdict(status: int, headers: dict[str, str]) -> str:
    if status == 403 and headers.get("x-policy-decision") == "block":
        return "gate" if headers.get("x-policy-rule") in (RULE, "ai-crawlers-out") else "gate-other"
    if status in NOT_ROUTED:
        return "not-routed"
    return "bypass"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def policy() -> str:
    return "closed"


def test_the_wire_corpus_is_large() -> None:
    assert len(CORPUS) >= 100
    assert len({v.request() for v in CORPUS}) == len(CORPUS)


@pytest.mark.slow
def test_every_wire_variant_of_a_refused_request_is_refused(live_server: object) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    counts = {"gate": 0, "gate-other": 0, "not-routed": 0, "closed": 0}
    escaped = []
    for variant in CORPUS:
        responses = send(url, variant.request())
        if not responses:
            counts["closed"] += 1
            continue
        status, headers = responses[0]
        seen = verdict(status, headers)
        if seen == "bypass":
            escaped.append((variant.label, status, headers.get("x-policy-decision")))
        else:
            counts[seen] += 1
    assert not escaped, escaped
    # Most variants must be refused by the gate itself, not merely unroutable.
    assert counts["gate"] >= 0.6 * len(CORPUS), counts
    print(f"\nwire corpus: {len(CORPUS)} variants, {counts}")


def test_pipelined_second_request_is_decided_on_its_own(live_server: object) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    first = b"GET /healthz HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: curl/8.5.0\r\n\r\n"
    second = b"GET /api/v1/cart HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: curl/8.5.0\r\n"
    responses = send(url, first + second + b"Connection: close\r\n\r\n")
    assert [status for status, _ in responses] == [200, 403]
    assert responses[1][1]["x-policy-rule"] == RULE


def test_gate_headers_sent_by_the_client_are_not_echoed_as_decisions(live_server: object) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    spoof = Variant("spoof", CART, headers=(b"X-Policy-Decision: allow",)).request()
    ((status, headers),) = send(url, spoof)
    assert status == 403
    assert headers["x-policy-decision"] == "block"


# --- Properties of the path normaliser ----------------------------------------------------

MATCHER = RouteMatcher({str(k): v for k, v in load_policy("closed").routes.items()})
REFUSED_PATHS = [
    "/api/v1/cart",
    "/api/v1/cart/items",
    "/api/v1/cart/items/12",
    "/api/v1/orders",
    "/api/v1/orders/7",
    "/cart",
    "/checkout",
    "/orders/3",
]
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"}


@st.composite
def spelling_of(draw: st.DrawFn, path: str) -> str:
    """One of the many ways a client can spell `path` that a lenient server would route there."""
    segments = [s for s in path.split("/") if s]
    out: list[str] = []
    for segment in segments:
        # Detours that resolve back: "./", "x/../", extra slashes, matrix parameters.
        for _ in range(draw(st.integers(0, 2))):
            out.append(
                draw(
                    st.sampled_from(
                        [".", "%2e", "", f"{draw(st.text('xyz', min_size=1, max_size=3))}/.."]
                    )
                )
            )
        chars = []
        for ch in segment:
            how = draw(st.sampled_from(["keep", "upper", "pct", "pct-upper", "fullwidth"]))
            if how == "upper":
                ch = ch.upper()
            elif how == "pct":
                ch = f"%{ord(ch):02x}"
            elif how == "pct-upper":
                ch = f"%{ord(ch):02X}"
            elif how == "fullwidth" and ch in _FULLWIDTH:
                ch = _FULLWIDTH[ch]
            chars.append(ch)
        segment = "".join(chars)
        if draw(st.booleans()):
            segment += draw(st.sampled_from([";jsessionid=1", ".", " ", "%20", "%00", ";"]))
        out.append(segment)
    separator = draw(st.sampled_from(["/", "//", "\\", "%2f", "%2F", "%5c", "/./"]))
    spelled = "/" + separator.join(out)
    if draw(st.booleans()):
        spelled += draw(st.sampled_from(["/", "/.", "//", "%2f", "\\"]))
    # Encode the whole thing again up to three times: %2e -> %252e -> %25252e.
    for _ in range(draw(st.integers(0, 3))):
        spelled = quote(spelled, safe="/")
    return spelled


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_every_spelling_of_a_refused_path_normalises_to_it(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(REFUSED_PATHS))
    spelled = data.draw(spelling_of(path))
    assert normalize_path(spelled) == path, spelled
    assert MATCHER.match(normalize_path(spelled), "") in ("cart", "checkout")


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(st.text(alphabet="/\\.%2efcartpiv1;:xX ~_-\u00a0\uff0f\uff43", max_size=60))
def test_normalised_paths_are_canonical_and_stable(raw: str) -> None:
    canonical = normalize_path(raw)
    assert canonical.startswith("/")
    assert "//" not in canonical
    assert "\\" not in canonical
    assert canonical == canonical.lower()
    assert all(seg not in (".", "..") for seg in canonical.split("/"))
    assert normalize_path(canonical) == canonical


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(prefix=st.text(alphabet="/.\\", max_size=12), path=st.sampled_from(REFUSED_PATHS))
def test_no_prefix_of_dots_and_slashes_escapes_the_class(prefix: str, path: str) -> None:
    # Whatever dot and slash noise comes first, a path ending in a refused path is classed by
    # its own segments: ".." can climb above the root but never change what follows.
    spelled = "/" + prefix + path
    assert MATCHER.match(normalize_path(spelled), "") in ("cart", "checkout"), spelled


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        # Found by the property above: NFKC made a new escape after decoding had stopped.
        ("%1\uff43", "/"),
        ("/api/v1/%6\uff13art", "/api/v1/cart"),
        ("/api/v1/%\uff16\uff13art", "/api/v1/cart"),
    ],
)
def test_escapes_that_appear_only_after_unicode_folding_are_decoded(
    raw: str, canonical: str
) -> None:
    assert normalize_path(raw) == canonical
    assert normalize_path(canonical) == canonical
