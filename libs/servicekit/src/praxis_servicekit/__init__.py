"""Shared service plumbing: NATS, JetStream setup, consumers (inbox + DLQ), the outbox relay, queries,
settings, structured logs, health and metrics, and the serve/migrate CLI. DB parts need the ``db`` extra."""
