"""The Faust worker: the stream stages between the raw-article topic and Elasticsearch.

    wirewatch.articles.raw (1 partition)
      --dedup-->    wirewatch.articles.deduped  (8 partitions, key: article id)
      --enrich-->   wirewatch.articles.annotated (1 partition, key: article id)
      --events-->   wirewatch.articles.enriched (key: article id; each with its event)
      --index-->    Elasticsearch            (and --alert--> pipeline.worker.alert_agent)
    any stage --poison/rejected--> wirewatch.dead-letter

``create_app(settings)`` (pipeline.worker.app) builds the app; each module in
``AGENT_MODULES`` declares its agents on it with ``register(app, settings)``. Every stage
follows one shape (pipeline.worker.stage: decode -> process -> dead-letter -> count) and
keeps its state in bytes tables with explicit codecs (pipeline.worker.tables).
"""
