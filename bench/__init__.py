"""Benchmarks against a real server process (not tests: nothing here asserts a speed)."""
