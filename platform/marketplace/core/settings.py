"""Platform settings, read from `SANDBOX_*` environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the platform; the CLI, the app and the harness read the same ones."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the SQLite file, the platform's signing key and reports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SQLite file `sandbox.db` in the data folder. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    search_index_dir: Path | None = Field(
        default=None,
        description="Folder for the product search index; default: beside the SQLite file, "
        "or `search/` in the data folder for PostgreSQL. Every worker of a store shares it.",
    )
    policy: str = Field(default="closed", description="A preset name or a YAML policy path.")
    admin_token: str = Field(
        default="change-me-admin-token",
        description="Bearer token for the admin API and the dashboard.",
    )
    secret_key: str = Field(
        default="change-me-secret-key",
        description="Key that signs session cookies and CSRF tokens.",
    )
    llm: str = Field(
        default="scripted",
        description="`scripted` (no model) or a LangChain `provider:model` string.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="The platform's Ed25519 private key (PEM); default: in the data folder.",
    )
    redis_url: str | None = Field(default=None, description="Optional Redis for shared gate state.")
    seed: int = Field(default=42, description="Seed for the default catalog and personas.")
    catalog_size: int = Field(default=2000, ge=1, description="Products in the default catalog.")
    currency: str = Field(default="USD")
    store_name: str = Field(default="Nile")
    secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure (set when served over HTTPS)."
    )
    session_max_age_s: int = Field(default=14 * 24 * 3600, ge=60)
    # Bounds of what the platform keeps (docs/architecture.md, "What the platform keeps").
    assistant_max_conversations: int = Field(
        default=500,
        ge=1,
        description="Assistant conversations kept in memory per process; the least recently "
        "used is forgotten first.",
    )
    assistant_max_turns: int = Field(
        default=20,
        ge=1,
        description="Turns (a shopper message and what followed) an assistant conversation "
        "remembers; older turns are dropped.",
    )
    assistant_ttl_s: int = Field(
        default=3600,
        ge=1,
        description="Seconds after its last message that an assistant conversation is forgotten.",
    )
    retention_days: float = Field(
        default=30,
        ge=0,
        description="Days the gate's decision log keeps a decision; 0 keeps them forever.",
    )
    history_retention_days: float = Field(
        default=365,
        ge=0,
        description="Days shopper history (searches, views, cart, orders) is kept; keep it above "
        "Help Me Decide's learning window (180 days by default). 0 keeps it forever.",
    )

    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (e.g. `10.0.0.5,172.16.0.0/12`) of "
        "reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed; `*` trusts "
        "every peer. Empty (the default): no forwarded header is believed, the peer address is "
        "the client's.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or "
                        "172.16.0.0/12)"
                    ) from None
        return value

    ucp_simulation_secret: str | None = Field(
        default=None,
        description="Secret of the UCP simulation endpoints (e.g. POST "
        "/ucp/v1/testing/simulate-shipping/{order_id}, called with a `Simulation-Secret` header) "
        "that the UCP conformance suite drives. Unset (the default): the endpoints do not exist "
        "(404).",
    )
    protocol_idempotency_days: float = Field(
        default=2,
        ge=0,
        description="Days the protocol doors keep the first answer to each idempotency key (a "
        "retry with the key within that time gets it again); 0 keeps them forever.",
    )
    protocol_webhook_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds the store waits for an agent's profile or webhook endpoint when it "
        "notifies the agent of an order event.",
    )

    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=4096,
        description="Largest request line plus headers, in bytes; larger requests get 431.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body, in bytes; larger bodies get 413 before they are read.",
    )
    max_json_depth: int = Field(
        default=32, ge=2, description="Deepest nesting of a JSON body; deeper bodies get 413."
    )
    max_json_members: int = Field(
        default=10_000,
        ge=100,
        description="Most object members and array items in one JSON body, all levels together; "
        "more get 413.",
    )

    acp_webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Where ACP order events go for agents without a webhook of their own "
        "(a partner sets its own with PUT /api/v1/acp/webhook); none: such events are not sent.",
    )
    acp_webhook_secret: str | None = Field(
        default=None,
        min_length=8,
        description="The HMAC secret of events sent to SANDBOX_ACP_WEBHOOK_URL "
        "(Merchant-Signature); default: derived from SANDBOX_SECRET_KEY.",
    )
    acp_webhook_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries per ACP order event before it is dropped."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sandbox.db').as_posix()}"

    @property
    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or (self.data_dir / "platform-signing-key.pem")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
