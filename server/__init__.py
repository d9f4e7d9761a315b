"""The gRPC server: composition root, servicers, interceptors, configuration and CLI."""
