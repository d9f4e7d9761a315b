"""Caller authentication: bearer JWTs verified against the issuer's keys (JWKS)."""
