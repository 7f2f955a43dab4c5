"""The protocol authoring API: ``@protocol`` attaches metadata to an async function and does nothing else.

Parameters typed with PyLabRobot machine or resource classes are *assets* the platform provides; all other
parameters are user parameters (``typing.Annotated`` metadata gives ranges, choices, units, descriptions).
Praxis reads this statically (it never imports your file to discover it), so keep decorator arguments literal.
"""

from praxis_protocol.decorator import (
    PROTOCOL_ATTRIBUTE,
    Choices,
    DataView,
    Description,
    ProtocolInfo,
    Range,
    SetupInstruction,
    Unit,
    protocol,
)

__all__ = [
    "PROTOCOL_ATTRIBUTE",
    "Choices",
    "DataView",
    "Description",
    "ProtocolInfo",
    "Range",
    "SetupInstruction",
    "Unit",
    "protocol",
]
