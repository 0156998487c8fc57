"""``wirewatch run`` supervises its children on the real stack: a child killed with -9 is
restarted with one line saying so and the pipeline processes again; SIGTERM stops run and
every child (nothing left holding ports); a child that keeps failing ends run with exit 1."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from run_support import Run, audit, group_gone, run_env

from pipeline.settings import Settings

pytestmark = pytest.mark.integration

SAMPLE_ARTICLES = 5  # the bundled sample feeds hold at least this many items


def test_killed_children_are_restarted_and_sigterm_stops_everything(
    fault_settings: Settings, fault_es: Elasticsearch, tmp_path: Path
) -> None:
    run = Run(run_env(fault_settings), tmp_path / "run.out", "--sample-feeds")
    try:
        run.wait_for("worker and poller started", timeout=120)
        assert "polling the bundled sample feeds (--sample-feeds)" in run.text()
        run.kill_child("poller")
        run.wait_for("poller was killed by SIGKILL; restarting in 1s", timeout=30)
        run.wait_for("poller restarted (restart 1)", timeout=30)
        run.kill_child("worker")
        run.wait_for("worker was killed by SIGKILL; restarting in 1s", timeout=30)
        run.wait_for("worker restarted (restart 1)", timeout=30)

        # The restarted worker processes: every polled sample article ends indexed.
        def all_indexed() -> bool:
            report = audit(fault_settings, fault_es)
            assert report.ok, report.to_dict()
            return report.articles >= SAMPLE_ARTICLES and len(report.indexed) == report.articles

        wait_until(all_indexed, timeout=600, interval=2, message="every sample article indexed")
        children = run.children()
        assert set(children) == {"worker", "poller"}
    finally:
        code = run.stop(signal.SIGTERM)
    assert code == 0, run.text()[-3000:]
    assert "stopping ..." in run.text()
    # issue 14 item 5: no orphans (each child led its own process group)
    for name, pid in children.items():
        wait_until(lambda pid=pid: group_gone(pid), timeout=5, message=f"{name} group gone")
    assert "Traceback" not in run.text()


def test_a_child_that_keeps_failing_ends_run_with_exit_1(
    fault_settings: Settings, fault_es: Elasticsearch, tmp_path: Path
) -> None:
    # A stage name no worker knows: the worker exits at once, every time.
    env = run_env(fault_settings, WIREWATCH_WORKER_STAGES="dedup,no-such-stage")
    run = Run(env, tmp_path / "run.out", "--sample-feeds", "--max-restarts", "2")
    try:
        code = run.proc.wait(timeout=240)
    finally:
        run.stop()
    text = run.text()
    assert code == 1, text[-3000:]
    assert text.count("worker exited with status 1; restarting") == 2, text
    assert "worker exited with status 1 3 times in a row; giving up" in text
    assert "Traceback" not in text
