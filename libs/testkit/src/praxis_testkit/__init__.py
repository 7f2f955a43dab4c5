"""pytest plugin with real nats-server and Postgres, wait_for, and service subprocess helpers."""
