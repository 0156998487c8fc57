"""Infrastructure adapters: Kafka, Elasticsearch, HTTP; the stages stay free of them."""
