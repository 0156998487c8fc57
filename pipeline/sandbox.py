"""Run CPU-heavy work on hostile input in child processes that can be stopped.

lxml and feedparser spend seconds inside C on crafted input (one tag with 40k attributes:
32 s; a plain 10 MB page: 64 s), holding the GIL, and a thread cannot be cancelled: one
stuck page stalled every feed. Here each call goes to an idle worker process; past its
deadline the worker is killed (SIGKILL) and replaced, and the caller gets
``SandboxTimeout``. A worker's data segment is capped (``RLIMIT_DATA``), so a blow-up ends
in a ``MemoryError`` (or the worker's death, ``SandboxCrashed``) inside the worker, never
in the poller. Workers come from a ``forkserver`` that has already imported the parsers,
so a replacement starts in milliseconds and shares their pages.

Functions and arguments cross the pipe with pickle: only between this process and its own
children, never on the wire.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import multiprocessing.connection
import resource
import signal
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
#: Imported once in the forkserver, so every worker starts with them loaded.
PRELOAD = ["pipeline.extract", "pipeline.poll.parse"]


class SandboxError(Exception):
    """The call did not complete in its worker; the message says why."""


class SandboxTimeout(SandboxError):
    pass


class SandboxCrashed(SandboxError):
    pass


def _serve(conn: multiprocessing.connection.Connection, memory_bytes: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # returned to the caller, which decides
            reply = (False, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            conn.send((False, SandboxError(f"unsendable result: {type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, ctx: Any, memory_bytes: int | None) -> None:
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, memory_bytes), daemon=True)
        self.process.start()
        child.close()
        self.conn: multiprocessing.connection.Connection = parent

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        self.conn.send((fn, args))
        reply: tuple[bool, Any] = self.conn.recv()
        return reply

    def kill(self) -> int | None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        return self.process.exitcode


class Sandbox:
    """A few worker processes; ``await run(fn, *args)`` with a deadline per call."""

    def __init__(
        self, workers: int = 2, timeout_s: float = 10.0, memory_mib: int | None = 256
    ) -> None:
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self.memory_bytes = memory_mib * 1024 * 1024 if memory_mib else None
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        # Blocking pipe I/O happens here, one thread per busy worker, never in the loop.
        self._io = concurrent.futures.ThreadPoolExecutor(self.workers, "sandbox")
        self.kills = 0

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self.memory_bytes)
        self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> int | None:
        self._all.discard(worker)
        return worker.kill()

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None) -> T:
        """``fn(*args)`` in a worker. Raises what ``fn`` raised, SandboxTimeout past the
        deadline (the worker is killed) or SandboxCrashed when the worker died."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        deadline = self.timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        async with self._slots:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = await loop.run_in_executor(self._io, self._spawn)
            healthy = False
            started = time.monotonic()
            try:
                async with asyncio.timeout(deadline):
                    ok, value = await loop.run_in_executor(self._io, worker.call, fn, args)
                healthy = True
            except TimeoutError:
                self.kills += 1
                raise SandboxTimeout(
                    f"took longer than {deadline:g}s (stopped after "
                    f"{time.monotonic() - started:.1f}s)"
                ) from None
            except (EOFError, OSError) as exc:
                code = await loop.run_in_executor(None, self._discard, worker)
                worker = None
                why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                raise SandboxCrashed(f"worker died ({why}): {type(exc).__name__}") from None
            finally:
                if worker is not None:
                    if healthy:
                        self._idle.append(worker)
                    else:  # timed out or cancelled mid-call: its state is unknown
                        await asyncio.shield(loop.run_in_executor(None, self._discard, worker))
        if not ok:
            raise value
        result: T = value
        return result

    def close(self) -> None:
        for worker in list(self._all):
            self._discard(worker)
        self._idle.clear()
        self._io.shutdown(wait=False, cancel_futures=True)
