"""The agent's edges: PyLabRobot machines (real or chatterbox) and in-process access for tests."""
