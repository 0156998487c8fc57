from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


@click.group("eval")
def command() -> None:
    """Score claim and entity extraction against gold data."""


@command.command("claims")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--limit", type=int, default=None, help="Score only the first N articles.")
@click.option(
    "--without",
    "without",
    multiple=True,
    metavar="RULE",
    help="Switch a claim rule off (repeatable); --list-rules names them.",
)
@click.option(
    "--each-rule",
    is_flag=True,
    help="Also score with each rule switched off in turn (one parse), showing what each adds.",
)
@click.option("--list-rules", is_flag=True, help="List the claim rules in order and exit.")
@click.option("--as-json", "as_json", is_flag=True, help="Print the scores as JSON.")
def claims(
    directory: Path,
    limit: int | None,
    without: tuple[str, ...],
    each_rule: bool,
    list_rules: bool,
    as_json: bool,
) -> None:
    """Score claims against PolNeAR-format gold (DIRECTORY holds text/ and attributions/).

    A claim matches a gold attribution when their content spans' character Jaccard is at
    least 0.5 (one-to-one, greedy); source accuracy is over matched pairs with a gold
    source. All attributions and the quotation-mark subset are reported separately.
    """
    from pipeline.enrich.claims import RULES, RuleSet

    if list_rules:
        for rule in RULES:
            click.echo(f"{rule.name:<20} {rule.kind:<9} {rule.summary}")
        return
    try:
        rules = RuleSet.without(without)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--without") from exc

    from pipeline.enrich.annotate import Annotator
    from pipeline.evaluation.brat import BratError, load_corpus
    from pipeline.evaluation.claims import score

    try:
        docs = list(load_corpus(directory))
    except (FileNotFoundError, BratError) as exc:
        raise click.ClickException(str(exc)) from exc
    if limit is not None:
        docs = docs[:limit]
    annotator = Annotator(claim_rules=rules)
    started = time.perf_counter()
    click.echo(f"parsing {len(docs)} articles ...", err=True)
    parsed = list(annotator.nlp.pipe((d.text for d in docs), batch_size=32))
    predicted = [annotator.annotate_doc(doc).claims for doc in parsed]
    elapsed = time.perf_counter() - started
    scores = score((d.attributions, p) for d, p in zip(docs, predicted, strict=True))
    summary: dict = {
        "articles": len(docs),
        "seconds": round(elapsed, 1),
        "without": sorted(rules.off),
        **scores.summary(),
    }
    ablations: dict[str, dict] = {}
    if each_rule:
        for i, rule in enumerate(RULES, 1):
            if rule.name in rules.off:
                continue
            click.echo(f"[{i}/{len(RULES)}] without {rule.name} ...", err=True)
            annotator.claim_rules = RuleSet(rules.off | {rule.name})
            ablated = [annotator.annotate_doc(doc).claims for doc in parsed]
            s = score((d.attributions, p) for d, p in zip(docs, ablated, strict=True))
            ablations[rule.name] = s.summary()
        summary["each_rule_off"] = ablations
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{len(docs)} articles in {elapsed:.1f}s"
        + (f" (without {', '.join(sorted(rules.off))})" if rules.off else "")
    )
    click.echo(
        f"{'subset':<8} {'gold':>6} {'pred':>6} {'match':>6} {'P':>6} {'R':>6} "
        f"{'F1':>6} {'source':>7}"
    )
    for name, c in (("all", scores.all), ("quotes", scores.quotes)):
        click.echo(
            f"{name:<8} {c.gold:>6} {c.predicted:>6} {c.matched:>6} {c.precision:>6.3f} "
            f"{c.recall:>6.3f} {c.f1:>6.3f} {c.source_accuracy:>7.3f}"
        )
    if ablations:
        base = scores.summary()
        click.echo("what each rule adds (all rules minus that rule switched off):")
        click.echo(f"{'rule':<20} {'dP':>7} {'dR':>7} {'dF1':>7} {'dsrc':>7} {'dF1 quotes':>11}")
        for name, s in ablations.items():
            d = {k: base["all"][k] - s["all"][k] for k in ("precision", "recall", "f1")}
            click.echo(
                f"{name:<20} {d['precision']:>+7.3f} {d['recall']:>+7.3f} {d['f1']:>+7.3f} "
                f"{base['all']['source_accuracy'] - s['all']['source_accuracy']:>+7.3f} "
                f"{base['quotes']['f1'] - s['quotes']['f1']:>+11.3f}"
            )


@command.command("seed")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Seed fixture directory (default: <shared>/fixtures/seed).",
)
def seed(directory: Path | None) -> None:
    """Score against the seed article's gold: all claims with the right speaker, all entities.

    Exits 1 when the bar is not met.
    """
    from pipeline.enrich.annotate import Annotator
    from pipeline.evaluation import shared_dir
    from pipeline.evaluation.seed import load_gold, score_seed

    directory = directory or shared_dir() / "fixtures" / "seed"
    try:
        text, gold = load_gold(directory)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{directory}: cannot load seed gold: {exc}") from exc
    result = score_seed(gold, Annotator().annotate(text))
    click.echo(json.dumps(result.summary(), indent=2))
    if not result.passed:
        sys.exit(1)


@command.command("claim-tracking")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores, links and groups as JSON.")
def claim_tracking(directory: Path, as_json: bool) -> None:
    """Score claim tracking on a timeline corpus (DIRECTORY holds articles/ and expected.json).

    The articles go through the real extraction and tracker in publication order. Grouping
    is scored by pairs of gold claims put in one tracked claim (precision, recall); the
    updates/disputed links by the gold groups they join. Format and rules:
    tests/fixtures/claim-timeline/README.md and pipeline/evaluation/claim_tracking.py.
    """
    from pipeline.evaluation.claim_tracking import CorpusError, evaluate

    click.echo(f"tracking claims in {directory} ...", err=True)
    try:
        result = evaluate(directory)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"gold claims found: {result.found_claims}/{result.gold_claims}")
    click.echo(f"{'':<9} {'P':>6} {'R':>6} {'right':>6} {'pred':>6} {'gold':>6}")
    for name, pr in (("grouping", result.grouping), ("links", result.links)):
        click.echo(
            f"{name:<9} {pr.precision:>6.3f} {pr.recall:>6.3f} {pr.right:>6} "
            f"{pr.predicted:>6} {pr.gold:>6}"
        )
    for link in result.predicted_links:
        mark = "ok   " if link["right"] else "WRONG"
        click.echo(f"{mark} {link['type']:<9} {link['a']} -> {link['b']}")
    for a_type, a, b in result.missed_links:
        click.echo(f"MISSED {a_type:<9} {a} -> {b}")


@command.command("events")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Seed of the shuffled 48-hour timeline.")
@click.option(
    "--terms-only",
    is_flag=True,
    help="Skip entity extraction: the clusterer compares weighted terms alone (fast).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON line.")
def events(directory: Path, seed: int, terms_only: bool, as_json: bool) -> None:
    """Score event clustering on a BASIL-format folder (articles/<year>/*.json).

    Every article gets a publication time inside one 48-hour window in a seeded random
    order, so dates cannot do the work; the articles then go through the real story dedup,
    enrichment and event clusterer. Prints B-cubed precision, recall and F1 against the
    ``triplet-uuid`` events, and whether story clusters stayed pure (one event each).
    """
    from pipeline.evaluation.events import (
        BasilError,
        evaluate,
        load_basil,
        with_enrichment,
        without_enrichment,
    )

    try:
        gold = load_basil(directory)
    except BasilError as exc:
        raise click.ClickException(str(exc)) from exc
    how = "terms only" if terms_only else "terms and actors (loading spaCy)"
    click.echo(f"clustering {len(gold)} articles from {directory}, {how} ...", err=True)
    enricher = without_enrichment if terms_only else with_enrichment
    result = evaluate(gold, enricher, seed=seed)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    click.echo(
        f"articles {result.articles}  gold events {result.gold_events}  "
        f"predicted events {result.predicted_events}"
    )
    scores = result.scores
    click.echo(f"B-cubed  P {scores.precision:.3f}  R {scores.recall:.3f}  F1 {scores.f1:.3f}")
    purity = "pure" if result.impure_stories == 0 else f"{result.impure_stories} impure"
    click.echo(f"story clusters {result.stories}: {purity}")
