"""A worker's start (issue 11.7): its clock, its timeline line and what it spawns early
(pipeline.worker.startup, enrich_agent)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from pipeline.settings import Settings
from pipeline.worker import enrich_agent
from pipeline.worker.startup import StartTimeline, process_age


def test_process_age_counts_from_the_process_start() -> None:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", "from pipeline.worker.startup import process_age as a; print(a())"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.monotonic() - started
    age = float(out.stdout)
    # the interpreter's own start-up counts (so more than nothing), the child's exit does not
    assert 0.0 < age <= wall + 0.05
    assert process_age() > age  # this (older) process


def test_timeline_line_lists_each_step_in_order() -> None:
    timeline = StartTimeline()
    first = timeline.mark("python and settings")
    timeline.mark("app and stages")
    line = timeline.line()
    assert line.startswith("start: ready ")
    assert line.index("python and settings") < line.index("app and stages")
    assert f"python and settings {first:.1f}s" in line


@pytest.fixture
def no_early_runner():
    enrich_agent._early = None
    yield
    if enrich_agent._early is not None:
        enrich_agent._early.close()
    enrich_agent._early = None


def test_register_takes_over_the_processes_spawned_early(no_early_runner: None) -> None:
    settings = Settings(enrich_processes=1)
    early = enrich_agent.EnrichRunner(1)  # not spawned: the hand-over is what is tested
    enrich_agent._early = early
    assert enrich_agent._runner(settings) is early
    assert enrich_agent._early is None
    assert enrich_agent._runner(settings) is not early  # once only


def test_no_early_processes_when_enrichment_runs_in_a_thread(no_early_runner: None) -> None:
    enrich_agent.spawn_early(Settings(enrich_processes=0))
    assert enrich_agent._early is None


def test_early_processes_are_ready_once_warm_returns(no_early_runner: None) -> None:
    runner = enrich_agent.EnrichRunner(1)
    runner.spawn()
    spawned = list(runner._spawned)
    try:
        asyncio.run(asyncio.wait_for(runner.warm(), timeout=240))
        assert runner._spawned == spawned  # warm waited on them, spawned no others
        assert all(f.done() and f.result() is True for f in spawned)
    finally:
        runner.close()
