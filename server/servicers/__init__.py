"""Thin gRPC servicers: proto -> command, use case, domain -> proto."""
