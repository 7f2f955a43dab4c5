"""NATS, outbox/inbox, consumers, queries, settings, health and metrics shared by every service."""
