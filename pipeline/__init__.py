"""Wirewatch: a streaming news-monitoring pipeline.

Stages, one module (or package) each, in the order data flows:
poll -> fetch/extract -> dedup -> enrich (entities, claims) -> alert -> index.
Records crossing each stage boundary live in :mod:`pipeline.records`; topics in
:mod:`pipeline.topics`; infrastructure adapters under :mod:`pipeline.adapters`.
"""

__version__ = "0.1.0"
