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


class _OnePartitionTable(faust.Table):  # type: ignore[misc]
    """A one-partition table whose changelog partition is 0 by construction.

    Faust's ``use_partitioner`` would ask the producer's partitioner instead, which raises
    TypeError until the producer holds metadata for the changelog topic: the first write
    after every start crashed the worker.
    """

    def partition_for_key(self, key: Any) -> int:
        return 0


def bytes_table(
    app: faust.App, name: str, *, partitions: int, help: str, batch_writes: bool = False
) -> faust.Table:
    """A changelog-backed table of bytes -> bytes that Faust never tries to interpret.

    ``batch_writes``: written outside a current event (a batch stage, ``take_events``),
    so the changelog partition cannot come from the event; only for a one-partition
    table, where it is always 0.
    """
    if batch_writes and partitions != 1:
        raise ValueError(f"table {name}: batch_writes needs one partition, not {partitions}")
    options: dict[str, Any] = {
        "default": None,
        "partitions": partitions,
        "key_type": bytes,  # Faust derives the "raw" serializer for writes and recovery
        "value_type": bytes,
        "help": help,
    }
    if batch_writes:
        table = _OnePartitionTable(app, name=name, beacon=app.tables.beacon, **options)
        return app.tables.add(table)
    return app.Table(name, **options)


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
