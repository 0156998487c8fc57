"""Deduplication: cluster copies of the same story (pure logic, no Kafka, no Faust)."""

from pipeline.dedup.deduplicator import DedupConfig, Deduplicator

__all__ = ["DedupConfig", "Deduplicator"]
