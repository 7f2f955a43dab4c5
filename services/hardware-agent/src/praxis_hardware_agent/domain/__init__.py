"""Pure bench logic: no PyLabRobot, no NATS."""
