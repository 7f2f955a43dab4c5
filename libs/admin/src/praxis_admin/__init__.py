"""``praxis-admin``: an operator's commands for a Praxis installation (today: its NATS credentials)."""
