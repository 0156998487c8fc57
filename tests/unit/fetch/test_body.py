"""Decoded-byte caps: one coding at most, decoded step by step, the cap counted as produced."""

from __future__ import annotations

import asyncio
import functools
import gzip
import resource
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from pipeline.fetch.body import DECODE_STEP, MAX_PIECES, BodyRefused, read_body

CAP = 2 * 1024 * 1024
GZIP = zlib.MAX_WBITS | 16


def _deflate(data: bytes, wbits: int = zlib.MAX_WBITS) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return obj.compress(data) + obj.flush()


@functools.cache
def _zeros(mib: int, wbits: int) -> bytes:
    """``mib`` MiB of zeros compressed (level 1: fast to build, still ~200:1)."""
    obj, block = zlib.compressobj(1, zlib.DEFLATED, wbits), b"\0" * (1024 * 1024)
    return b"".join(obj.compress(block) for _ in range(mib)) + obj.flush()


def _read(
    content: bytes | AsyncIterator[bytes], encoding: str = "", cap: int = CAP, **kw: bool
) -> bytes:
    headers = {"content-encoding": encoding} if encoding else {}
    stream = httpx.ByteStream(content) if isinstance(content, bytes) else None
    response = httpx.Response(
        200, headers=headers, stream=stream, content=None if stream else content
    )
    return asyncio.run(read_body(response, cap, **kw))


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "deflate-raw"])
def test_each_coding_decodes(encoding: str) -> None:
    body = b"<rss>" + b"hello world " * 10_000 + b"</rss>"
    packed = {
        "gzip": gzip.compress(body),
        "x-gzip": gzip.compress(body),
        "deflate": _deflate(body),
        "deflate-raw": _deflate(body, -zlib.MAX_WBITS),
    }[encoding]
    assert _read(packed, encoding.removesuffix("-raw")) == body


@pytest.mark.parametrize(
    "encoding", ["gzip, gzip", "gzip,deflate", "deflate, gzip, gzip", "GZIP , x-gzip"]
)
def test_stacked_codings_are_refused_before_decoding(encoding: str) -> None:
    with pytest.raises(BodyRefused) as info:
        _read(gzip.compress(_zeros(16, GZIP)), encoding)
    assert info.value.reason == "bad-encoding" and "stacked" in info.value.detail


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "x-custom"])
def test_unsolicited_codings_are_refused(encoding: str) -> None:
    with pytest.raises(BodyRefused, match="unsupported content encoding"):
        _read(b"whatever", encoding)


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [("gzip", GZIP), ("x-gzip", GZIP), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS)],
)
@pytest.mark.parametrize("bomb_mib", [16, 128])
def test_single_layer_bomb_is_cut_at_the_cap_while_decoding(
    encoding: str, wbits: int, bomb_mib: int
) -> None:
    # Decoded whole (as httpx does inside one read) this would be bomb_mib MiB at once.
    packed = _zeros(bomb_mib, wbits)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BodyRefused) as info:
        _read(packed, encoding)
    assert info.value.reason == "too-large" and f"{CAP:,}-byte" in info.value.detail
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB


def test_error_pages_are_truncated_not_refused() -> None:
    assert len(_read(gzip.compress(b"x" * (CAP * 3)), "gzip", truncate=True)) == CAP


def test_exact_cap_passes_and_one_more_byte_does_not() -> None:
    assert len(_read(gzip.compress(b"a" * CAP), "gzip")) == CAP
    with pytest.raises(BodyRefused):
        _read(gzip.compress(b"a" * (CAP + 1)), "gzip")


def test_corrupt_data_is_a_named_refusal() -> None:
    with pytest.raises(BodyRefused, match="invalid gzip data"):
        _read(b"\x1f\x8b\x08\x00garbage" * 10, "gzip")
    with pytest.raises(BodyRefused, match="invalid deflate data"):
        _read(b"\xff\xff\xff\xff" * 10, "deflate")


def test_decoding_step_is_bounded() -> None:
    from pipeline.fetch.body import decoder_for

    decoder = decoder_for("gzip")
    steps = list(decoder.feed(_zeros(16, GZIP)))
    assert max(len(s) for s in steps) <= DECODE_STEP and sum(map(len, steps)) == 16 * 1024 * 1024


def test_millions_of_tiny_pieces_are_refused_early() -> None:
    async def drip() -> AsyncIterator[bytes]:
        for _ in range(3_000_000):
            yield b"x"

    with pytest.raises(BodyRefused) as info:
        _read(drip())
    assert info.value.reason == "too-fragmented" and f"{MAX_PIECES:,}" in info.value.detail
