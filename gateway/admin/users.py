"""Accounts for the admin UI and operator API tokens (stored only as hashes); ending every
session of a user, disabling and deleting accounts."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from gateway.admin.audit import record
from gateway.admin.security import ROLES
from storage.accounts import CLIENT_ROLES
from storage.models import User, token_hash, utcnow

MIN_PASSWORD = 8
# Checked against when the name is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(ValueError):
    """A bad name, role or password; the message says which."""


def set_user(session: Session, name: str, role: str, password: str | None, actor: str) -> User:
    """Create the account or reset its role and password. An Open311 client has no password
    (it never signs in; its API token is its api_key)."""
    name = name.strip()
    if not name or len(name) > 60:
        raise UserError("user name must be 1 to 60 characters")
    if role not in ROLES + CLIENT_ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES + CLIENT_ROLES)}")
    if role in CLIENT_ROLES:
        password = None
    elif password is None or len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    user = session.scalar(select(User).where(User.name == name))
    before = {"role": user.role} if user else None
    if user is None:
        user = User(name=name, role=role, password_hash="")
        session.add(user)
    user.role = role
    user.password_hash = generate_password_hash(password) if password is not None else "!"
    # A reset password ends every session signed in with the old one; a reset account is usable.
    user.session_epoch = (user.session_epoch or 0) + 1
    user.disabled_at = None
    session.flush()
    record(session, actor, "user.set", name, before,
           {"role": role, "password": "changed" if password is not None else None})
    return user


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


def end_sessions(session: Session, name: str, actor: str, reason: str) -> User:
    """Every session of this user ends at its next request (the epoch they carry is stale)."""
    user = _user(session, name)
    user.session_epoch += 1
    record(session, actor, f"user.{reason}", name)
    return user


def disable_user(session: Session, name: str, actor: str) -> User:
    """No sign-in, no session and no API token work for this account until `users add` resets it."""
    user = _user(session, name)
    user.disabled_at = utcnow()
    user.session_epoch += 1
    record(session, actor, "user.disable", name, {"disabled": False}, {"disabled": True})
    return user


def delete_user(session: Session, name: str, actor: str) -> None:
    """Remove the account; the audit log keeps the name it acted under."""
    user = _user(session, name)
    record(session, actor, "user.delete", name, {"role": user.role}, None)
    session.delete(user)


def issue_token(session: Session, name: str, actor: str) -> str:
    """A new API bearer token for the user (the old one stops working); shown once."""
    user = _user(session, name)
    token = secrets.token_urlsafe(32)
    had = user.api_token_hash is not None
    user.api_token_hash = token_hash(token)
    record(session, actor, "user.token", name, {"token": "set" if had else None}, {"token": "issued"})
    return token


def authenticate(session: Session, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled_at is not None:
        return None
    user.last_login_at = utcnow()
    return user
