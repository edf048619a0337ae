"""Platform settings, read from `SANDBOX_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
