"""Environment variables that look like the service's settings and are not: a misspelt
`STRIPE_API_KEYS` or a `DB_PASWORD` would otherwise be ignored in silence, leaving the
default in force. Warned about at start, one line each, by name only: a value may be a
secret.

The service's prefixes come from its settings: every first word that at least two of its
variables share (DB_, REDIS_, KAFKA_, STRIPE_, PAYPAL_, FRAUD_, JWT_, TLS_ ...). A first word
only one variable has (LOG_LEVEL, AUTO_CAPTURE) is too general to claim; and GRPC_ belongs to
the gRPC library as much as to us (GRPC_VERBOSITY, GRPC_TRACE)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

log = logging.getLogger("payments.config")

# First words other software also reads in our environment.
SHARED_PREFIXES = frozenset({"GRPC_"})


def service_prefixes(variables: Iterable[str]) -> frozenset[str]:
    words = Counter(name.split("_", 1)[0] + "_" for name in variables if "_" in name)
    return frozenset(word for word, count in words.items() if count >= 2) - SHARED_PREFIXES


def unknown_variables(environ: Mapping[str, str], variables: Iterable[str]) -> list[str]:
    """Names in `environ` with one of the service's prefixes that are none of its variables,
    sorted."""
    known = {name.upper() for name in variables}
    prefixes = tuple(service_prefixes(known))
    return sorted(
        name for name in environ if name.upper().startswith(prefixes) and name.upper() not in known
    )


def warn_unknown_variables(environ: Mapping[str, str], variables: Iterable[str]) -> list[str]:
    unknown = unknown_variables(environ, variables)
    for name in unknown:
        log.warning("%s is not a setting of this service: ignored (misspelt?)", name)
    return unknown
