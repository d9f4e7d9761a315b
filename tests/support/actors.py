"""Calls made as someone in particular: the metadata of a call carrying a token of this test
session's issuer for `subject` (a user when it is a UUID, else a service), verified by the
server like any other token."""

from __future__ import annotations

import uuid

from tests.support.auth import ALL_SCOPES, issuer


def _is_user_id(subject: str) -> bool:
    try:
        return str(uuid.UUID(subject)) == subject
    except ValueError:
        return False


def acting_as(subject: str, *scopes: str) -> tuple[tuple[str, str], ...]:
    """Call metadata making the call act as `subject`, with `scopes` (default: every scope
    but admin). The test channel adds its own token only to calls that carry none."""
    kind = "user" if _is_user_id(subject) else "service"
    granted = scopes or tuple(s for s in ALL_SCOPES if s != "admin")
    token = issuer().mint(subject, granted, kind=kind)
    return (("authorization", f"Bearer {token}"),)
