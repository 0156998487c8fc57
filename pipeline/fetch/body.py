"""Read a response body under a byte cap that counts decoded bytes as they are produced.

httpx decodes each ``Content-Encoding`` layer whole inside one read before a caller can
count anything, so a 2 KB ``gzip, gzip`` body became gigabytes in one step. Here the raw
bytes are read (``aiter_raw``) and decoded by ``zlib`` with ``max_length``, so no single
step produces more than ``DECODE_STEP`` bytes and the cap stops the decoding itself.
More than one coding is refused outright: no legitimate server stacks them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

#: Most bytes one decompression step may produce (the event loop never blocks longer).
DECODE_STEP = 64 * 1024
#: Most network pieces one body may arrive in. Each piece costs the HTTP parser a fixed
#: amount of CPU, so 3 million one-byte chunks burned a whole deadline at 100% CPU; a
#: real 10 MiB body arrives in a few thousand pieces (TCP segments or chunks).
MAX_PIECES = 65_536


class BodyRefused(Exception):
    """The body cannot be read within the limits. ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Inflate:
    """gzip or deflate, decoded at most ``DECODE_STEP`` bytes at a time."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        # deflate is meant to be zlib-wrapped but is often sent raw (as httpx, try both)
        wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(wbits)
        self._first = coding == "deflate"

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while True:
            if self._obj.eof:
                return  # trailing bytes after the stream end are ignored, as httpx does
            try:
                out = self._obj.decompress(pending, DECODE_STEP)
            except zlib.error as exc:
                if self._first:  # raw deflate: restart without the zlib header
                    self._first = False
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = self._decompress_or_refuse(pending)
                else:
                    raise BodyRefused(
                        "bad-encoding", f"invalid {self.coding} data: {exc}"
                    ) from None
            self._first = False
            if out:
                yield out
            pending = self._obj.unconsumed_tail
            if not pending and len(out) < DECODE_STEP:
                return

    def _decompress_or_refuse(self, data: bytes) -> bytes:
        try:
            return self._obj.decompress(data, DECODE_STEP)
        except zlib.error as exc:
            raise BodyRefused("bad-encoding", f"invalid {self.coding} data: {exc}") from None

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")


def decoder_for(content_encoding: str) -> _Identity | _Inflate:
    """The decoder for a ``Content-Encoding`` header; BodyRefused for stacked or unknown ones."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:
        raise BodyRefused(
            "bad-encoding",
            f"{len(codings)} stacked content encodings ({', '.join(codings)}) are refused",
        )
    if not codings:
        return _Identity()
    if codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflate(codings[0])
    # We only ever ask for gzip and deflate (Accept-Encoding), so anything else is unsolicited.
    raise BodyRefused("bad-encoding", f"unsupported content encoding {codings[0]!r}")


async def read_body(response: httpx.Response, cap: int, *, truncate: bool = False) -> bytes:
    """The decoded body of a streamed response, at most ``cap`` bytes.

    Raises BodyRefused("too-large") past the cap, or returns the first ``cap`` bytes when
    ``truncate`` (an error page's body is informational only); "too-fragmented" past
    ``MAX_PIECES`` network pieces; "bad-encoding" for stacked, unknown or corrupt codings.
    """
    decoder = decoder_for(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = pieces = 0

    def take(produced: Iterator[bytes]) -> bool:
        nonlocal size
        for out in produced:
            size += len(out)
            if size > cap:
                if truncate:
                    chunks.append(out[: len(out) - (size - cap)])
                    return False
                raise BodyRefused("too-large", f"body exceeded the {cap:,}-byte limit")
            chunks.append(out)
        return True

    async for raw in response.aiter_raw():
        pieces += 1
        if pieces > MAX_PIECES:
            if truncate:
                break
            raise BodyRefused("too-fragmented", f"body arrived in more than {MAX_PIECES:,} pieces")
        if not take(decoder.feed(raw)):
            return b"".join(chunks)
    take(decoder.finish())
    return b"".join(chunks)
