"""Staff accounts as credentials: the one place that says which API token is still good."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import User, token_hash

STAFF_ROLES = ("admin", "operator")
# An Open311 client (a 311 app, a FixMyStreet-style site): its API token is its api_key; it
# files and follows service requests, never signs in nor reads the staff APIs.
CLIENT_ROLES = ("open311",)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def staff_by_token(session: Session, token: str) -> User | None:
    """The operator or administrator whose API token this is, if the account may still act."""
    user = session.scalar(select(User).where(User.api_token_hash == token_hash(token)))
    usable = user is not None and user.role in STAFF_ROLES and user.disabled_at is None
    return user if usable else None


def open311_client(session: Session, api_key: str) -> User | None:
    """The Open311 client whose api_key this is, if the account may still act."""
    user = session.scalar(select(User).where(User.api_token_hash == token_hash(api_key)))
    usable = user is not None and user.role in CLIENT_ROLES and user.disabled_at is None
    return user if usable else None
