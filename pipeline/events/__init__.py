"""Event clustering: independently written articles about one happening, grouped.

Story clusters (pipeline.dedup) hold copies of one article; events sit above them and join
stories that report the same happening in different words. ``EventClusterer`` decides which
event an enriched article belongs to (online, one centroid per event, TF-IDF weighted term
and entity overlap within a time window); ``features`` turns an article into the weighted
terms it compares; ``state`` is what is persisted.
"""
