"""Elasticsearch side: index templates, documents, bulk sink, setup, replay, search."""
