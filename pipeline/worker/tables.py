"""Changelog-backed Faust tables that hold bytes, with an explicit codec at the edge.

Faust writes every table change to a changelog topic and rebuilds the table from it on
start. What comes back is decided by the table's ``key_type``/``value_type``: a type that is
not a Faust ``Record`` (``value_type=dict`` was the 11.1 restart hang) makes recovery call
``dict.from_data`` on every changelog record; Faust logs "Error in recovery" and waits for
ever. With no type, the json serializer's autodetection turns any dict holding a
``__faust`` key back into a model. Neither can happen if Faust has nothing to interpret:
the table holds bytes keys and bytes values (``key_type=value_type=bytes`` gives the raw
serializer for writes and for recovery) and :class:`CodecTable` turns them into the
stage's own values with a codec the stage owns and the unit tests round-trip.

Writes must happen inside an agent processing an event of the table's source partition
(Faust picks the changelog partition from the current event), as with any Faust table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import faust

V = TypeVar("V")


@dataclass(frozen=True)
class Codec(Generic[V]):
    """How one table's values become bytes and back; ``decode(encode(v)) == v``."""

    encode: Callable[[V], bytes]
    decode: Callable[[bytes], V]


def _json_encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


#: JSON-able values (dicts of str/number/list): the dedup entries, the alert state.
JSON_CODEC: Codec[Any] = Codec(encode=_json_encode, decode=json.loads)

#: Keys as JSON strings: what Faust's json key serializer wrote for both tables before, so
#: a worker upgraded over an existing changelog still finds (and evicts) the old entries.
JSON_KEYS: Codec[str] = Codec(encode=_json_encode, decode=json.loads)


def bytes_table(
    app: faust.App, name: str, *, partitions: int, help: str, use_partitioner: bool = False
) -> faust.Table:
    """A changelog-backed table of bytes -> bytes that Faust never tries to interpret.

    ``use_partitioner``: the changelog partition comes from the key, not from the event
    being processed, so a batch stage (``take_events``: no current event) may write; only
    for a one-partition table, where the partitioner can choose nothing but 0.
    """
    if use_partitioner and partitions != 1:
        raise ValueError(f"table {name}: use_partitioner needs one partition, not {partitions}")
    return app.Table(
        name,
        default=None,
        partitions=partitions,
        use_partitioner=use_partitioner,
        key_type=bytes,  # Faust derives the "raw" serializer for writes and recovery
        value_type=bytes,
        help=help,
    )


class CodecTable(MutableMapping[str, V]):
    """A str-keyed mapping view of a bytes table; encodes on write, decodes on read.

    ``table`` may be any bytes mapping (a Faust table in the worker, a dict in tests), so
    the codec round trip is testable without a broker.
    """

    def __init__(
        self,
        table: MutableMapping[bytes, bytes],
        codec: Codec[V],
        keys: Codec[str] = JSON_KEYS,
    ) -> None:
        self.table = table
        self.codec = codec
        self.keys = keys

    def __getitem__(self, key: str) -> V:
        raw = self.table.get(self.keys.encode(key))
        if raw is None:
            raise KeyError(key)
        return self.codec.decode(raw)

    def __setitem__(self, key: str, value: V) -> None:
        self.table[self.keys.encode(key)] = self.codec.encode(value)

    def __delitem__(self, key: str) -> None:
        del self.table[self.keys.encode(key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.keys.encode(key) in self.table

    def __iter__(self) -> Iterator[str]:
        for key in list(self.table.keys()):
            yield self.keys.decode(key)

    def __len__(self) -> int:
        return len(self.table)
