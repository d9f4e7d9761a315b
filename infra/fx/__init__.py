"""Sources of exchange rates."""
