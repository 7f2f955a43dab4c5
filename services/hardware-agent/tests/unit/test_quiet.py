"""Chatterbox prints go to the log, and overlapping calls leave the real stdout in place afterwards."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from praxis_hardware_agent.adapters.quiet import stdout_to_log


async def test_overlapping_redirections_restore_the_real_stdout(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("praxis.test.quiet")
    real = sys.stdout
    first_in, second_out = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        with stdout_to_log(logger):
            print("from the first call")
            first_in.set()
            await second_out.wait()  # the second call starts and ends while this one is still inside

    async def second() -> None:
        await first_in.wait()
        with stdout_to_log(logger):
            print("from the second call")
        second_out.set()

    with caplog.at_level(logging.DEBUG, logger="praxis.test.quiet"):
        await asyncio.gather(first(), second())
    assert sys.stdout is real
    assert [r.getMessage() for r in caplog.records] == ["from the first call", "from the second call"]
