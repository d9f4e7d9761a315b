"""Use cases: plain async functions taking a command and the ports they need."""
