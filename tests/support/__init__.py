"""Test helpers: real-service fixtures and fault injection."""
