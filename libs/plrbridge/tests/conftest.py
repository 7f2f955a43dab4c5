"""Fixtures: the repository's simulated bench, built fresh per test (PLR resources are mutable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Deck

from praxis_plrbridge.bench_config import BenchConfig, build_bench, load_bench_config

SIM_BENCH = Path(__file__).resolve().parents[3] / "deploy" / "benches" / "sim-bench.yaml"


@pytest.fixture
def sim_bench_path() -> Path:
    return SIM_BENCH


@pytest.fixture
def sim_config() -> BenchConfig:
    return load_bench_config(SIM_BENCH)


@pytest.fixture
def sim_machines(sim_config: BenchConfig) -> dict[str, Machine]:
    return build_bench(sim_config)


@pytest.fixture
def lh(sim_machines: dict[str, Machine]) -> LiquidHandler:
    machine = sim_machines["lh"]
    assert isinstance(machine, LiquidHandler)
    return machine


@pytest.fixture
def deck(lh: LiquidHandler) -> Deck:
    return lh.deck


@pytest.fixture(scope="session")
def shared_deck() -> Deck:
    """A deck for tests that only read it (building a STARlet deck takes ~0.4 s)."""
    machine = build_bench(load_bench_config(SIM_BENCH))["lh"]
    assert isinstance(machine, LiquidHandler)
    return machine.deck


@pytest.fixture(scope="session")
def mirror_deck(shared_deck: Deck) -> Deck:
    """What the agent rebuilds from the worker's ``serialize()`` JSON: same names, different objects."""
    import json

    return Deck.deserialize(json.loads(json.dumps(shared_deck.serialize())))
