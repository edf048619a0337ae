"""Every problem `type` the platform answers with, explained: the one source of /problems/<slug>.

A problem's `type` is `/problems/<slug>` (core/errors.py); clients branch on it, and a person who
follows it reads what happened and what to do. A test collects every slug the code raises and
fails when one is missing here, so a new kind of error cannot ship without its page.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBLEMS_PATH = "/problems"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: what a client branches on and what a person reads."""

    slug: str
    title: str
    status: int | None  # None: the status varies; the problem's own `status` says which
    when: str
    what_to_do: str

    @property
    def uri(self) -> str:
        return f"{PROBLEMS_PATH}/{self.slug}"


_TYPES: tuple[ProblemType, ...] = (
    # --- Generic answers -------------------------------------------------------------------
    ProblemType(
        "bad-request",
        "Bad request",
        400,
        "The request cannot be handled as sent; the detail names what is wrong.",
        "Change the request as the detail says and send it again.",
    ),
    ProblemType(
        "headers-too-large",
        "Request headers too large",
        431,
        "The request line and headers together are larger than the store accepts "
        "(SANDBOX_MAX_HEADER_BYTES, 16 KiB by default). Honest clients send a few KiB at most.",
        "Send shorter headers: drop unneeded cookies and long custom headers, and keep the URL "
        "short.",
    ),
    ProblemType(
        "body-too-large",
        "Request body too large",
        413,
        "The body is larger than the store accepts (SANDBOX_MAX_BODY_BYTES, 1 MiB by default); "
        "it was refused before it was read.",
        "Send a smaller body; no endpoint of the store needs more than a few KiB.",
    ),
    ProblemType(
        "json-too-large",
        "JSON body too large",
        413,
        "The JSON body is nested deeper, or has more members and items, than the store accepts "
        "(SANDBOX_MAX_JSON_DEPTH, 32; SANDBOX_MAX_JSON_MEMBERS, 10,000).",
        "Send the body the endpoint describes in /openapi.json; none is anywhere near these "
        "bounds.",
    ),
    ProblemType(
        "duplicate-cookie",
        "Cookie sent twice",
        400,
        "The request carried the session cookie more than once, so it is not clear which session "
        "it belongs to.",
        "Send the session cookie once: clear the duplicate from the client's cookie jar (or the "
        "Cookie header) and try again.",
    ),
    ProblemType(
        "invalid-request",
        "Invalid request",
        422,
        "A field of the body, the query or a header is missing or invalid. `errors` lists every "
        "field with its message; `detail` names the first.",
        "Fix the fields listed in `errors` (the OpenAPI description at /openapi.json gives each "
        "field's type and bounds) and send the request again.",
    ),
    ProblemType(
        "unauthorized",
        "Log in first",
        401,
        "The request needs a logged-in shopper or a token and carried none.",
        "Log in with POST /api/v1/sessions and send the session cookie or "
        "'Authorization: Bearer <access_token>'.",
    ),
    ProblemType(
        "forbidden",
        "Forbidden",
        403,
        "The caller is known but may not do this.",
        "Read the detail: it says who may, and how to become one.",
    ),
    ProblemType(
        "not-found",
        "Not found",
        404,
        "The thing the path names does not exist.",
        "Check the id or the slug; the list endpoints (e.g. GET /api/v1/products) give valid ones.",
    ),
    ProblemType(
        "conflict",
        "Conflict",
        409,
        "The request clashes with the current state of the store.",
        "Read the current state (the detail says where), then send a request that fits it.",
    ),
    ProblemType(
        "http-error",
        "HTTP error",
        None,
        "The request did not reach an operation: an unknown path (404), a method the path does "
        "not support (405), a body too large (413) or of an unsupported media type (415).",
        "Check the method and the path against /openapi.json; the API lives under /api/v1.",
    ),
    ProblemType(
        "internal-error",
        "Internal error",
        500,
        "Something failed on the store's side; nothing was changed.",
        "Try again. If it keeps happening, report the time and the request to the store's "
        "owner: the server's log has the cause.",
    ),
    ProblemType(
        "database-unavailable",
        "Service unavailable",
        503,
        "The store's database could not be reached.",
        "Wait the seconds in Retry-After, then try again; nothing was changed.",
    ),
    ProblemType(
        "database-error",
        "Service unavailable",
        503,
        "The database refused to complete the request (for example a lock held too long); "
        "nothing was changed.",
        "Wait the seconds in Retry-After, then send the same request again.",
    ),
    # --- The policy gate -------------------------------------------------------------------
    ProblemType(
        "policy-block",
        "Refused by the store's policy",
        403,
        "The active policy does not let this kind of visitor (`visitor_class`) in on this kind "
        "of route (`route_class`); `rule` names the rule and `detail` its reason and what "
        "would let the visitor in.",
        "Read the rules at /api/v1/policy/public and /robots.txt. An agent that should be let "
        "in signs its requests with Web Bot Auth using a registered key (`Accept-Signature` "
        "names the signature wanted); a signed request's refusal has a `signature` member that "
        "says what became of its signature. Do not retry the same request unchanged.",
    ),
    ProblemType(
        "policy-challenge",
        "Prove you are allowed in",
        403,
        "The visitor must prove what it is before it may continue: a browser that looked "
        "automated, or an unsigned agent on routes where the policy asks agents to sign.",
        "A person: use an ordinary browser with JavaScript enabled and let the page load. An "
        "agent: sign with Web Bot Auth using a registered key (the detail says how).",
    ),
    ProblemType(
        "challenge-failed",
        "The challenge was not passed",
        403,
        "The answer posted by a challenge page's script was not accepted: no valid token for "
        "this session (the page is older than ten minutes, or from another session), a wrong "
        "proof, or a browser that reports navigator.webdriver.",
        "Reload the challenged page in an ordinary browser with JavaScript on; its script "
        "answers by itself.",
    ),
    ProblemType(
        "policy-throttle",
        "Too many requests",
        429,
        "The visitor's class sent more requests than its rate limit allows in the current "
        "window (`RateLimit-Policy` gives the quota, `RateLimit` what is left), or a rule "
        "throttles this route.",
        "Wait the seconds in Retry-After, then send requests more slowly; watch the `RateLimit` "
        "header to stay under the quota.",
    ),
    ProblemType(
        "policy-pay",
        "Payment required to crawl",
        402,
        "The policy charges crawlers and outside agents per page; `crawler-price` gives the price.",
        "Sign the request with Web Bot Auth using a registered key and send "
        "'crawler-exact-price' equal to the price (or a 'crawler-max-price' at least the price) "
        "as a covered component of the signature.",
    ),
    ProblemType(
        "signature-unparsable",
        "A signature header does not parse",
        400,
        "The request carries `Signature-Input` (RFC 9421), but `Signature-Input`, `Signature` "
        "or `Signature-Agent` is missing, too large or not a structured-field dictionary, or the "
        "two name different labels. The title names the header; `detail` and the `signature` "
        "member give the parser's error.",
        "Fix the header your signer writes (POST /api/v1/signature/explain shows what the store "
        "reads from it) and send the request again with a fresh nonce.",
    ),
    # --- Accounts and the admin ------------------------------------------------------------
    ProblemType(
        "email-taken",
        "Conflict",
        409,
        "An account with this email exists already.",
        "Log in with POST /api/v1/sessions, or register with another email.",
    ),
    ProblemType(
        "bad-credentials",
        "Log in first",
        401,
        "The email or the password is wrong (the answer does not say which).",
        "Check both and try again; repeated failures are throttled (login-throttled).",
    ),
    ProblemType(
        "bad-token",
        "Log in first",
        401,
        "The Authorization header is not 'Bearer <token>', or the token is unknown or expired.",
        "Log in again with POST /api/v1/sessions and send the new access_token.",
    ),
    ProblemType(
        "login-required",
        "Log in first",
        401,
        "The operation acts on a shopper's account and the request carried no logged-in session.",
        "POST /api/v1/sessions with the email and password, then send the session cookie or "
        "'Authorization: Bearer <access_token>'.",
    ),
    ProblemType(
        "login-throttled",
        "Too many failed logins",
        429,
        "Too many wrong passwords for this account, or from this address, in a short time.",
        "Wait the seconds in Retry-After before trying again.",
    ),
    ProblemType(
        "reserved-email",
        "Reserved address",
        403,
        "The email address is in the workshop's team address space, which only the workshop "
        "creates accounts in.",
        "Register with another address; a workshop team logs in with the credentials on its "
        "handout.",
    ),
    ProblemType(
        "team-address-taken",
        "Team address taken",
        409,
        "Starting a workshop found an account it did not create at a team's address.",
        "Run `sandbox workshop` again with `--evict-squatters` to move that account aside (it is "
        "logged out), or remove it first.",
    ),
    ProblemType(
        "unknown-team",
        "No such team",
        404,
        "The team named is not one of the running workshop's teams.",
        "Use a team name from the workshop's handout or scoreboard, e.g. team-03.",
    ),
    ProblemType(
        "signature-required",
        "Sign with a registered key",
        401,
        "The endpoint answers only requests whose Web Bot Auth signature verified with a "
        "registered key (an agent's own decision log lists that key's requests).",
        "Sign the request (RFC 9421, Ed25519, tag web-bot-auth, covering @authority) with a key "
        "registered through POST /api/v1/partners; docs/agent-developers.md shows how.",
    ),
    ProblemType(
        "unknown-account",
        "No such account",
        404,
        "No shopper account is registered at the address named.",
        "Use the email address the shopper registered and logs in with.",
    ),
    ProblemType(
        "account-suspended",
        "Forbidden",
        403,
        "Ordering is suspended on this account because requests made with its log-in were "
        "counted as automated use under the store's active policy (its escalation settings); "
        "`detail` says how many, the latest signal and who may order under that policy.",
        "Have the store's administrator review and reinstate the account (`sandbox accounts "
        "reinstate EMAIL`, or POST /api/v1/admin/accounts/{email}/reinstate). An agent acting "
        "for a shopper should sign its requests with a registered key rather than pose as a "
        "browser; a registered key's failed signature never counts.",
    ),
    ProblemType(
        "csrf-failed",
        "Forbidden",
        403,
        "A form was sent without the token of the page it came from, or the page has expired.",
        "Reload the page and send the form again.",
    ),
    ProblemType(
        "admin-token-required",
        "Log in first",
        401,
        "An admin endpoint was called without the admin bearer token.",
        "Send 'Authorization: Bearer <SANDBOX_ADMIN_TOKEN>' with the token the store runs with.",
    ),
    ProblemType(
        "admin-token-wrong",
        "Forbidden",
        403,
        "The admin bearer token does not match the store's.",
        "Use the value of SANDBOX_ADMIN_TOKEN the store was started with.",
    ),
    ProblemType(
        "admin-login",
        "Forbidden",
        403,
        "A dashboard form was sent by a browser that has not logged in to the dashboard.",
        "Open /dashboard, enter the admin token, then use the form again.",
    ),
    ProblemType(
        "invalid-policy",
        "Invalid request",
        422,
        "The policy sent is not valid; the active policy is unchanged. `errors` names each "
        "field, its line and the reason.",
        "Fix the policy (`sandbox policy validate FILE` checks it offline) and send it again.",
    ),
    ProblemType(
        "no-workshop",
        "Not found",
        404,
        "No workshop challenge is running on this store.",
        "Start one with `sandbox workshop --teams N`.",
    ),
    # --- Partners (Web Bot Auth keys) ------------------------------------------------------
    ProblemType(
        "invalid-jwk",
        "Invalid request",
        422,
        "A partner key is not an Ed25519 public JWK (kty OKP, crv Ed25519, x), or a key set is "
        "empty or too large; `field` names the key.",
        'Send each key as {"kty": "OKP", "crv": "Ed25519", "x": "..."}.',
    ),
    ProblemType(
        "private-key-refused",
        "Invalid request",
        422,
        "A partner key contains its private part ('d'); the key was not stored.",
        "Send the public key only (drop 'd'), and treat the private key as exposed: make a new "
        "one if it left your machine.",
    ),
    ProblemType(
        "partner-exists",
        "Conflict",
        409,
        "A partner of this name is registered already (or was registered at the same moment).",
        "Pick another name, or change the partner's keys: POST /api/v1/partners/{name}/keys adds "
        "one, DELETE /api/v1/partners/{name}/keys/{keyid} removes one.",
    ),
    ProblemType(
        "partner-key-taken",
        "Conflict",
        409,
        "The key belongs to another partner already, or is the platform's own key.",
        "Register a key of your own; one key belongs to one partner.",
    ),
    ProblemType(
        "partner-not-found",
        "Not found",
        404,
        "No partner of this name is registered.",
        "GET /api/v1/partners lists the registered partners.",
    ),
    ProblemType(
        "partner-key-not-found",
        "Not found",
        404,
        "The partner has no key with this keyid (JWK thumbprint).",
        "GET /api/v1/partners/{name} lists the partner's keys and their keyids.",
    ),
    ProblemType(
        "partner-key-last",
        "Conflict",
        409,
        "The key is the partner's last one; a partner keeps at least one key.",
        "Add the new key first (POST /api/v1/partners/{name}/keys), then remove the old one; or "
        "remove the partner (DELETE /api/v1/partners/{name}).",
    ),
    ProblemType(
        "partner-key-limit",
        "Conflict",
        409,
        "The partner would hold more than 10 keys.",
        "Remove keys it no longer signs with (DELETE /api/v1/partners/{name}/keys/{keyid}).",
    ),
    ProblemType(
        "self-service-off",
        "Forbidden",
        403,
        "A signed request tried to register or change a partner's keys without the admin token, "
        "and the active policy does not allow self-service (`partners: {self_service: true}`).",
        "Ask the store's admin to register the key with the admin token, or run a policy that "
        "allows self-service, such as the open or observe preset.",
    ),
    ProblemType(
        "self-service-proof",
        "Forbidden",
        403,
        "A self-service partner request was not signed by the right key: registration needs a "
        "signature by the key in the body, changing a partner needs one by a key registered to it. "
        "The detail gives the signature status and reason.",
        "Sign the request (Web Bot Auth) with that key, its JWK thumbprint as `keyid`, with a "
        "fresh nonce and a clock within the policy's skew.",
    ),
    # --- Catalog, cart, orders -------------------------------------------------------------
    ProblemType(
        "product-not-found",
        "Not found",
        404,
        "There is no product with this id (`product_id`).",
        "Find products with GET /api/v1/products?q=... and use an id from the answer.",
    ),
    ProblemType(
        "unknown-product",
        "Not found",
        404,
        "A cart change named a product that does not exist (`product_id`).",
        "Find product ids with GET /api/v1/products.",
    ),
    ProblemType(
        "insufficient-stock",
        "Not enough stock",
        409,
        "The cart would hold more of a product than is in stock; `stock_left` says how many are.",
        "Ask for at most `stock_left`.",
    ),
    ProblemType(
        "quantity-limit",
        "Conflict",
        409,
        "One cart line would hold more units than a line may.",
        "Add fewer units of the product.",
    ),
    ProblemType(
        "not-in-cart",
        "Not found",
        404,
        "The product named is not in the cart.",
        "Read the cart with GET /api/v1/cart; add products with POST /api/v1/cart/items.",
    ),
    ProblemType(
        "empty-cart",
        "Conflict",
        409,
        "An order was placed from an empty cart; nothing was bought.",
        "Add products with POST /api/v1/cart/items, then place the order.",
    ),
    ProblemType(
        "invalid-quantity",
        "Invalid quantity",
        422,
        "A cart line's quantity is outside 1 to 99.",
        "Send a quantity from 1 to 99; to take a line out of the cart, DELETE it instead of "
        "setting 0.",
    ),
    ProblemType(
        "out-of-stock",
        "Out of stock",
        409,
        "A product in the cart sold out, or fewer are left than the cart asks for, before the "
        "order; `product_id` and `stock_left` name it. Nothing was bought or charged.",
        "Lower the quantity (PATCH /api/v1/cart/items/{id}) or remove the product (DELETE), "
        "then order again.",
    ),
    ProblemType(
        "idempotency-key-missing",
        "Idempotency-Key required",
        400,
        "POST /api/v1/orders was sent without an Idempotency-Key header.",
        "Send a fresh key (e.g. a UUID) per order, and the same key when you retry that order.",
    ),
    ProblemType(
        "idempotency-key-invalid",
        "Invalid Idempotency-Key",
        400,
        "The Idempotency-Key header is longer than 255 characters or not printable.",
        "Send 1-255 printable characters; a UUID works.",
    ),
    ProblemType(
        "idempotency-key-reused",
        "Idempotency-Key reused",
        422,
        "The key was used before for a different request (another body or another cart).",
        "Send a new key for a new order, or repeat the first request unchanged to get its order "
        "back.",
    ),
    ProblemType(
        "unknown-order",
        "Not found",
        404,
        "There is no order with this id among the shopper's orders.",
        "List the shopper's orders with GET /api/v1/orders.",
    ),
    # --- Help Me Decide ----------------------------------------------------------------------
    ProblemType(
        "not-enough-signal",
        "Not enough to go on yet",
        409,
        "Help Me Decide needs the shopper to have viewed a few products of the category first; "
        "the detail says how many more.",
        "View more products of the category, then ask again.",
    ),
    ProblemType(
        "unknown-category",
        "Not found",
        404,
        "The category slug is not one of the store's; the detail lists them.",
        "Use a slug from GET /api/v1/categories.",
    ),
    ProblemType(
        "nothing-in-stock",
        "Conflict",
        409,
        "Nothing in the category is in stock right now.",
        "Try again later or pick another category.",
    ),
    # --- Protocol doors (UCP, MCP, ACP) -------------------------------------------------------
    ProblemType(
        "protocol-checkout-not-found",
        "Checkout session not found",
        404,
        "There is no protocol checkout session with this id.",
        "Create a checkout session first and use the id it returns.",
    ),
    ProblemType(
        "protocol-checkout-closed",
        "Checkout session is closed",
        409,
        "The checkout session is completed or canceled, so it cannot be changed, completed or "
        "canceled again.",
        "Start a new checkout session.",
    ),
    ProblemType(
        "protocol-checkout-invalid",
        "Invalid checkout",
        400,
        "The checkout request cannot be used as sent (e.g. another currency, an unknown "
        "fulfillment option, or completing before fulfillment is chosen); the detail says which.",
        "Change the request as the detail says and send it again.",
    ),
    ProblemType(
        "protocol-insufficient-stock",
        "Insufficient stock",
        400,
        "A line item asks for more units than the store has.",
        "Lower the quantity to what the detail says is left.",
    ),
    ProblemType(
        "protocol-out-of-stock",
        "Out of stock",
        409,
        "While the checkout was open, other buyers took the stock it needs; nothing was charged.",
        "Lower the quantity or remove the item, then complete again.",
    ),
    ProblemType(
        "protocol-item-not-found",
        "Item not found",
        400,
        "A line item names an item the catalog does not have.",
        "Use an item id (a product's SKU or numeric id) from the catalog.",
    ),
    ProblemType(
        "protocol-payment-declined",
        "Payment declined",
        402,
        "The (simulated) payment handler declined the instrument; nothing was charged.",
        "Complete the checkout with another payment instrument.",
    ),
    ProblemType(
        "protocol-order-not-found",
        "Order not found",
        404,
        "There is no protocol order with this id.",
        "Use the order id returned when the checkout was completed.",
    ),
    ProblemType(
        "protocol-idempotency-conflict",
        "Idempotency key reused",
        409,
        "The idempotency key was used before for a different request.",
        "Send a new key for a new request, or repeat the first request unchanged to get its "
        "answer.",
    ),
    ProblemType(
        "protocol-idempotency-key-invalid",
        "Invalid idempotency key",
        400,
        "The idempotency key is empty, too long or has unprintable characters.",
        "Send 1-255 printable characters; a UUID works.",
    ),
    ProblemType(
        "protocol-version-unsupported",
        "Protocol version not supported",
        400,
        "The agent asked for a protocol version newer than the store speaks.",
        "Use the version the store's discovery document (/.well-known/ucp) names.",
    ),
    ProblemType(
        "simulation-forbidden",
        "Simulation secret required",
        403,
        "A test-only simulation endpoint was called without the right Simulation-Secret header.",
        "Send the secret the store was started with (SANDBOX_UCP_SIMULATION_SECRET).",
    ),
    ProblemType(
        "acp-webhook-unsigned",
        "Sign to manage your ACP webhook",
        403,
        "An ACP webhook belongs to a registered partner, and this request was not verified as "
        "signed by one.",
        "Sign the request with Web Bot Auth using your registered partner key.",
    ),
    ProblemType(
        "acp-webhook-not-set",
        "No ACP webhook",
        404,
        "This partner has not set an ACP order-event webhook.",
        "Set one with PUT /api/v1/acp/webhook (signed).",
    ),
    ProblemType(
        "acp-test-token-required",
        "Only simulated payment tokens are accepted",
        400,
        "An ACP checkout was completed with a payment token that is not a simulated test token "
        "(ACP answers carry this as the error object's code `invalid`).",
        "Send a delegated payment token starting with spt_test_ (spt_test_decline... is always "
        "declined); the sandbox never charges anything.",
    ),
)

PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}
