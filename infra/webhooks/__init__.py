"""Gateway webhooks: signature verification and translation into domain GatewayEvents."""
