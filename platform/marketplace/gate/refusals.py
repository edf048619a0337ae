"""Refusals in the shape each protocol's clients read: UCP's error form (the problem body with
UCP `messages`, as the UCP binding answers its own errors), an ACP error object, a JSON-RPC error
for MCP. The status and the gate's headers are the same as on the REST API; only the body speaks
the caller's protocol, so an agent's own error handling shows the reason.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from marketplace.core.errors import PROBLEM_JSON, problem_body
from marketplace.gate.judge import Verdict

UCP_VERSION = "2026-01-11"
# JSON-RPC 2.0 leaves -32000..-32099 to the server; this one means "refused by the policy".
MCP_REFUSED = -32001


def refusal_code(decision: Verdict) -> str:
    """`policy_block`, `policy_challenge`, ... or the problem type (`signature_unparsable`)."""
    slug = decision.type_slug or f"policy-{decision.effective}"
    return slug.replace("-", "_")


def _policy_members(decision: Verdict) -> dict[str, Any]:
    members: dict[str, Any] = {
        "rule": decision.rule_id,
        "visitor_class": decision.visitor_class,
        "decision": decision.effective,
        "route_class": decision.route_class,
        "policy": decision.policy_name,
    }
    signature = decision.signature_problem
    if signature is not None:
        members["signature"] = signature
    return members


def ucp_refusal(decision: Verdict, path: str) -> dict[str, Any]:
    """UCP's error form: the problem body, the `ucp` version and one UCP error message."""
    return problem_body(
        decision.status,
        decision.title,
        decision.detail,
        decision.type_slug or f"policy-{decision.effective}",
        path,
        **_policy_members(decision),
        ucp={"version": UCP_VERSION},
        messages=[
            {
                "type": "error",
                "code": refusal_code(decision),
                "content": f"{decision.title}: {decision.detail}",
                "content_type": "plain",
                "severity": "requires_buyer_input",
            }
        ],
    )


def acp_refusal(decision: Verdict) -> dict[str, Any]:
    """ACP's flat error object (`type`, `code`, `message`); nothing else, as its schema says."""
    return {
        "type": "invalid_request",
        "code": refusal_code(decision),
        "message": f"{decision.title}: {decision.detail}",
    }


def mcp_refusal(decision: Verdict, request_id: Any) -> dict[str, Any]:
    """A JSON-RPC error answering the refused call, with the gate's reasons in `data`."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {
            "code": MCP_REFUSED,
            "message": f"{decision.title}: {decision.detail}",
            "data": {"code": refusal_code(decision), **_policy_members(decision)},
        },
    }


def protocol_refusal(
    door: str, decision: Verdict, path: str, request_id: Any = None
) -> Response | None:
    """The refusal for a protocol door, or None for the store's own doors (problem+json)."""
    if door == "ucp":
        return JSONResponse(
            ucp_refusal(decision, path), status_code=decision.status, media_type=PROBLEM_JSON
        )
    if door == "acp":
        body = acp_refusal(decision)
    elif door == "mcp":
        body = mcp_refusal(decision, request_id)
    else:
        return None
    return JSONResponse(body, status_code=decision.status)
