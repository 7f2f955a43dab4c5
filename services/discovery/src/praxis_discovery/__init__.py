"""Static catalog of PyLabRobot and static analysis of protocol files."""
