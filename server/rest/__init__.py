"""The REST shim: routes, bodies and errors derived from the google.api.http annotations,
each call forwarded to the gRPC server over a loopback channel."""
