"""The gateway contract: one suite that every PaymentGateway adapter must pass."""
