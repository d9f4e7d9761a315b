"""Whose allowance a call takes from (domain/rate_limit.py)."""

from __future__ import annotations

from domain.actor import SYSTEM, Actor, ActorKind
from domain.rate_limit import caller_key


def test_an_authenticated_caller_is_limited_by_subject_wherever_it_calls_from() -> None:
    alice = Actor(ActorKind.USER, "alice")
    assert caller_key(alice, "10.0.0.1") == caller_key(alice, "10.0.0.2") == "user:alice"
    assert caller_key(Actor(ActorKind.SERVICE, "orders"), "10.0.0.1") == "service:orders"
    # A user and a service that happen to share a subject do not share an allowance.
    assert caller_key(Actor(ActorKind.SERVICE, "alice"), "x") != caller_key(alice, "x")


def test_a_caller_without_identity_is_limited_by_address() -> None:
    anonymous = Actor(ActorKind.ANONYMOUS, "anonymous")
    assert caller_key(anonymous, "10.0.0.1") == "address:10.0.0.1"
    assert caller_key(anonymous, "10.0.0.1") != caller_key(anonymous, "10.0.0.2")
    assert caller_key(SYSTEM, "10.0.0.1") == "address:10.0.0.1"
