"""Worker processes: a stuck call is killed at its deadline and the worker replaced; what
the function raised comes back as itself; a blow-up stays in the worker."""

import asyncio
import os
import time

import pytest

from pipeline.sandbox import Sandbox, SandboxCrashed, SandboxTimeout


@pytest.fixture
def sandbox():
    box = Sandbox(workers=2, timeout_s=5.0, memory_mib=256)
    yield box
    box.close()


def test_results_and_exceptions_come_back(sandbox: Sandbox) -> None:
    async def go() -> None:
        assert await sandbox.run(sorted, [3, 1, 2]) == [1, 2, 3]
        with pytest.raises(ValueError, match="invalid literal"):
            await sandbox.run(int, "x")
        assert await sandbox.run(len, "abc") == 3  # the worker survived the exception

    asyncio.run(go())
    assert sandbox.kills == 0


def test_a_stuck_call_is_killed_and_does_not_hold_the_others(sandbox: Sandbox) -> None:
    async def go() -> tuple[list[object], float]:
        await sandbox.run(len, "warm")  # the forkserver's first start is not the point
        started = time.monotonic()
        results = await asyncio.gather(
            sandbox.run(time.sleep, 60, timeout_s=1.0),
            sandbox.run(sorted, "cba"),
            return_exceptions=True,
        )
        return results, time.monotonic() - started

    results, took = asyncio.run(go())
    assert isinstance(results[0], SandboxTimeout) and "longer than 1s" in str(results[0])
    assert results[1] == ["a", "b", "c"]
    assert took < 10  # not 60
    assert sandbox.kills == 1

    async def again() -> int:  # a replacement worker answers
        return await sandbox.run(len, "abcd")

    assert asyncio.run(again()) == 4


def test_memory_blow_up_stays_in_the_worker(sandbox: Sandbox) -> None:
    async def go() -> None:
        with pytest.raises(MemoryError):
            await sandbox.run(bytearray, 1024**3)  # 1 GiB against a 256 MiB data segment
        assert await sandbox.run(len, "ok") == 2

    asyncio.run(go())


def test_a_dying_worker_is_a_named_failure(sandbox: Sandbox) -> None:
    async def go() -> None:
        with pytest.raises(SandboxCrashed, match=r"worker died \(exit 3\)"):
            await sandbox.run(os._exit, 3)
        assert await sandbox.run(len, "ok") == 2

    asyncio.run(go())
