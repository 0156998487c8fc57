"""The fault soak for a chosen duration, with its figures.

    .venv/bin/python bench/soak.py [--minutes 20] [--bases 48] [--copies 36] [--es-outage 30]

Runs the soak of ``tests/integration/faults/test_soak.py`` (``wirewatch run`` with every
stage and a signed webhook; kill -9 of the worker with a backlog and with alerts pending,
kill -9 of the poller mid-fetch, Elasticsearch stopped, a Kafka restart) round after round
on fresh topic and index names until ``--minutes`` have passed, then prints per round and
in total: lost / duplicated / dead-lettered articles (``wirewatch audit``), wrong clusters
against the dedup logic run in one piece over the same input, alerts against one per
matching story cluster, undelivered webhooks, and the worker's restart-to-processing time
after each kill -9. Baseline, same run: the first round's fault-free prelude, i.e. how long
the same input takes with no fault (so the faults' cost reads as a ratio).

Servers: a local stack started in a temporary directory on free ports and stopped after
(Kafka and Elasticsearch must be stopped and started, so configured servers are not used).
Exit 1 when anything was lost, duplicated, mis-clustered, or an alert or webhook was
missing or doubled.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "integration" / "faults")]

from elasticsearch import Elasticsearch  # noqa: E402
from soak_harness import Figures, Soak  # noqa: E402

from pipeline.adapters.kafka import ensure_topics  # noqa: E402
from pipeline.index.setup import install  # noqa: E402
from pipeline.index.templates import hunspell_dictionaries  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.stack import scratch_stack  # noqa: E402
from pipeline.stack.process import free_port  # noqa: E402


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def one_round(stack, home: Path, args: argparse.Namespace, faults: bool) -> Figures:
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        es_url=stack.es_url,
        topic_prefix=f"soak{run_id}.",
        index_alias=f"soak{run_id}-articles",
        stories_index=f"soak{run_id}-stories",
        events_index=f"soak{run_id}-events",
        alerts_index=f"soak{run_id}-alerts",
        home=home / run_id / "home",
        worker_web_port=free_port(),
    )
    workdir = home / run_id
    workdir.mkdir(parents=True)
    es = Elasticsearch(settings.es_url, request_timeout=60)
    ensure_topics(settings)
    install(es, settings)
    es.close()
    soak = Soak(
        stack,
        settings,
        workdir,
        bases=args.bases,
        copies=args.copies,
        es_outage_s=args.es_outage,
        say=say,
    )
    try:
        soak.start()
        if faults:
            soak.faults()
        else:
            soak.wave(len(soak.stories))
        return soak.judge(soak.settle())
    finally:
        soak.close()


def failed(f: Figures) -> bool:
    return bool(
        f.lost
        or f.duplicated
        or f.wrong_members
        or f.wrong_canonical
        or f.canonical_flags_wrong
        or f.alerts_indexed != f.alerts_expected
        or f.alert_duplicates
        or f.webhooks_missing
        or f.webhook_repeats_without_key
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="keep starting rounds until")
    parser.add_argument("--bases", type=int, default=48, help="original stories per round")
    parser.add_argument("--copies", type=int, default=36, help="syndicated copies per round")
    parser.add_argument("--es-outage", type=float, default=30.0, help="seconds ES is down")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="wirewatch-soak-"))
    home.chmod(0o755)  # Elasticsearch runs as another user when we are root
    stack = scratch_stack(home / "stack", hunspell=hunspell_dictionaries())
    say(f"starting a local stack in {home}")
    stack.up()
    rounds: list[Figures] = []
    try:
        say("baseline: the same input with no fault")
        baseline = one_round(stack, home, args, faults=False)
        deadline = time.monotonic() + args.minutes * 60
        while not rounds or time.monotonic() < deadline:
            say(f"round {len(rounds) + 1}")
            rounds.append(one_round(stack, home, args, faults=True))
            for line in rounds[-1].lines():
                say(f"  {line}")
    finally:
        stack.down()
        shutil.rmtree(home, ignore_errors=True)

    restarts = [s for f in rounds for s in f.restart_to_processing_s]
    mean_round = statistics.mean(f.seconds for f in rounds)
    print(f"rounds                       {len(rounds)}")
    print(f"articles                     {sum(f.articles for f in rounds)}")
    print(f"lost                         {sum(f.lost for f in rounds)}")
    print(f"duplicated                   {sum(f.duplicated for f in rounds)}")
    print(f"dead-lettered                {sum(f.dead_lettered for f in rounds)}")
    print(f"wrong members                {sum(f.wrong_members for f in rounds)}")
    print(f"wrong canonical              {sum(f.wrong_canonical for f in rounds)}")
    print(f"stories seen in another order {sum(f.order_differs for f in rounds)} (allowed)")
    print(
        f"alerts                       {sum(f.alerts_indexed for f in rounds)} of"
        f" {sum(f.alerts_expected for f in rounds)} ({sum(f.alert_duplicates for f in rounds)}"
        " duplicate)"
    )
    print(f"webhooks never delivered     {sum(f.webhooks_missing for f in rounds)}")
    if restarts:
        print(
            f"restart -> processing (s)    median {statistics.median(restarts):.1f},"
            f" max {max(restarts):.1f} over {len(restarts)} kill -9"
        )
    print(
        f"round time (s)               {mean_round:.0f} with faults vs {baseline.seconds:.0f}"
        f" fault-free (ratio {mean_round / baseline.seconds:.2f})"
    )
    return 1 if any(failed(f) for f in [baseline, *rounds]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
