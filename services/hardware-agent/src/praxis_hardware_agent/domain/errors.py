"""Errors of a machine call that the agent refuses before touching a device; each says why in plain words."""

from __future__ import annotations


class MachineCallRefused(Exception):
    """The call was not performed: wrong bench, unknown machine, or a method that is not allowed."""


class UnknownMachine(MachineCallRefused):
    pass


class MethodNotAllowed(MachineCallRefused):
    pass


class UnknownResource(MachineCallRefused):
    pass
