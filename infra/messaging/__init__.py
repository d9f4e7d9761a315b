"""Kafka: the transactional outbox relay."""
