"""The HTTP layer of an outside agent: one httpx client with its identity, key, cookies and pace."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shopbots.gate import GateAnswer, parse_answer
from shopbots.identity import Identity
from shopbots.signing import WebBotAuthSigner
from shopbots.timing import TimingPolicy

# Redirects followed for one request, as browsers and httpx allow.
MAX_REDIRECTS = 20


@dataclass(frozen=True)
class Step:
    """One request the agent made and the gate's answer to it.

    `answered_path` is where the answer came from: the last hop when redirects were followed
    (each hop signed afresh), else `path`.
    """

    index: int
    method: str
    path: str
    answer: GateAnswer
    user_agent: str
    signed: bool
    note: str = ""
    elapsed_ms: float = 0.0
    answered_path: str = ""
    redirects: int = 0


@dataclass
class Exchange:
    """A response (None when the connection failed) with its parsed gate answer."""

    response: httpx.Response | None
    answer: GateAnswer

    def json(self) -> Any:
        if self.response is None:
            return None
        try:
            return self.response.json()
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return "" if self.response is None else self.response.text


StepListener = Callable[[Step], None]


@dataclass
class AgentClient:
    """Every request an agent makes goes through here, so every one is paced, signed and logged."""

    base_url: str
    identity: Identity
    signer: WebBotAuthSigner | None = None
    timing: TimingPolicy = field(default_factory=TimingPolicy)
    transport: httpx.BaseTransport | None = None
    on_step: StepListener | None = None
    timeout_s: float = 15.0
    steps: list[Step] = field(default_factory=list)
    # False: the key signs only the requests that ask for it (e.g. a crawler accepting a price),
    # so an unregistered key does not colour every request.
    sign_all: bool = True

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"user-agent": self.identity.user_agent, **self.identity.headers},
            transport=self.transport,
            timeout=self.timeout_s,
            # Redirects are followed by request(), hop by hop, each hop signed afresh.
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_bearer(self, token: str | None) -> None:
        """Act for a logged-in shopper (or stop doing so)."""
        if token:
            self.http.headers["authorization"] = f"Bearer {token}"
        else:
            self.http.headers.pop("authorization", None)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        note: str = "",
        paced: bool = True,
        sign: bool | None = None,
    ) -> Exchange:
        """Send one request (after the timing policy's pause) and record the gate's answer."""
        if paced:
            self.timing.before_request()
        user_agent = self.identity.next_user_agent()
        merged = {"user-agent": user_agent, **(headers or {})}
        signed = self.signer is not None and (self.sign_all if sign is None else sign)
        auth = self.signer.auth() if signed and self.signer else None
        started = time.perf_counter()
        response: httpx.Response | None
        displayed = _display_path(path, params)
        answered, hops = displayed, 0
        try:
            response = self.http.request(
                method,
                path,
                params=params,
                json=json,
                data=data,
                headers=merged,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=False,
            )
            response, hops = self._follow(response, auth)
            answered = _path_of(response.request.url)
            answer = parse_answer(response)
        except httpx.HTTPError as exc:
            response = None
            answer = GateAnswer(
                status=0,
                decision=None,
                rule=None,
                visitor_class=None,
                reason=f"the request failed before the gate answered: {exc!r}",
            )
        step = Step(
            index=len(self.steps) + 1,
            method=method,
            path=displayed,
            answer=answer,
            user_agent=user_agent,
            signed=signed,
            note=note,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            answered_path=answered,
            redirects=hops,
        )
        self.steps.append(step)
        if self.on_step:
            self.on_step(step)
        return Exchange(response, answer)

    def _follow(
        self, response: httpx.Response, auth: httpx.Auth | None
    ) -> tuple[httpx.Response, int]:
        """Follow redirects one hop at a time, so each hop is signed as it leaves.

        httpx, following them itself, would resend the first hop's signature (and its nonce),
        which the gate refuses as a replay.
        """
        history: list[httpx.Response] = []
        while response.next_request is not None:
            if len(history) >= MAX_REDIRECTS:
                raise httpx.TooManyRedirects(
                    f"more than {MAX_REDIRECTS} redirects", request=response.request
                )
            history.append(response)
            response = self.http.send(
                response.next_request,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=False,
            )
        response.history = history
        return response, len(history)

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("POST", path, **kwargs)


def _path_of(url: httpx.URL) -> str:
    query = url.query.decode("ascii", "replace")
    return url.path + (f"?{query}" if query else "")


def _display_path(path: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return path
    query = str(httpx.QueryParams({k: v for k, v in params.items() if v is not None}))
    return f"{path}?{query}" if query else path
