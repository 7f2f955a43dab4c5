"""Static analysis of protocol files: ``@protocol`` functions -> ProtocolDefinition, never importing the file."""

from praxis_discovery.analysis.analyzer import analyze_source
from praxis_discovery.analysis.capabilities import CAPABILITIES, capability_for
from praxis_discovery.analysis.model import Analysis

__all__ = ["CAPABILITIES", "Analysis", "analyze_source", "capability_for"]
