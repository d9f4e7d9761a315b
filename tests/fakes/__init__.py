"""Fakes of third-party services that have no emulator (PayPal)."""
