"""Adapters implementing the domain's ports: PostgreSQL, gateways, clock, currency data."""
