"""Adapters of the fraud checks' ports that are not Redis: the external risk scorer."""
