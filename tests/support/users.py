"""Staff accounts made straight in the database, for tests that sign in or call the APIs."""

from __future__ import annotations

import secrets

from storage.db import transaction
from storage.models import User, token_hash


def add_user(runtime, name: str, role: str) -> str:
    token = secrets.token_urlsafe(24)
    with transaction(runtime.sessions) as session:
        session.add(User(name=name, password_hash="!", role=role, api_token_hash=token_hash(token)))
    return token
