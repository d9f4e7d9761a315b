"""Gateway adapters implementing domain.gateway.PaymentGateway."""
