"""Account and session bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(description="Login email; unique per account.")
    password: str = Field(min_length=8, max_length=256, description="At least 8 characters.")
    name: str = Field(min_length=1, max_length=120, description="Display name.")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    status: str = Field(description="`active`, `warned` or `suspended`.")
    status_reason: str | None = Field(
        default=None, description="Why the account was warned or suspended, for the shopper."
    )
    team: str | None = Field(
        default=None, description="The workshop team this account is (e.g. `team-03`), if any."
    )
    created_at: datetime


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime
