"""Kafka cluster ids the storage tool accepts."""

from __future__ import annotations

import base64

from pipeline.stack.kafka import new_cluster_id


def test_cluster_ids_never_look_like_command_line_options() -> None:
    ids = [new_cluster_id() for _ in range(2000)]  # ~30 would start with "-" unfiltered
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
