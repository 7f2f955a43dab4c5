"""PyLabRobot on both sides of a Praxis machine call.

The worker (frontends, trackers) and the hardware agent (real or chatterbox backends) share these pieces: the codec
for backend-call arguments, the bench config and its builder, the inventory a bench announces, and the compact deck
state that travels with a bench description. Importing this package imports nothing heavy; each module imports
PyLabRobot itself.
"""
