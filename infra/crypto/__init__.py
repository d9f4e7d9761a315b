"""Encryption at rest: the key ring, AES-256-GCM envelope encryption and blind indexes."""
