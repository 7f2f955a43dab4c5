"""Discovery infers exactly the capability names the contracts define (agents announce the same ones)."""

from praxis_contracts.capabilities import CAPABILITIES as CONTRACT
from praxis_discovery.analysis.capabilities import CAPABILITIES


def test_inferred_capabilities_are_the_contract_vocabulary() -> None:
    assert CAPABILITIES == CONTRACT
