"""Decoding in child processes, so that an image that crashes or hangs the decoder costs
that one file, never photofind.

Pillow, libjpeg, libpng, libwebp, libheif… are C code fed with whatever bytes lie in a
person's folders. `DecoderPool` runs `decode.decode_for_model` in small worker processes
(multiprocessing "spawn": a fresh interpreter that imports only this module, Pillow and
pillow-heif — never torch), one file per worker at a time, so the file a dead worker was
decoding is known exactly:

- the worker dies (a segfault, an abort, the OOM killer) → a fresh worker tries the file
  once more (the death may have had another cause); dying again, the file fails with
  "the image decoder crashed on this file (SIGSEGV)";
- no answer within `timeout_s` → the worker is killed and the file fails with
  "decoding took longer than 60 s".

Such failures are recorded like any other (retried only when the file changes). Callers
are the indexer's decode threads: each reads and hashes a file, hands the bytes to a
worker and waits; the workers return a small RGB image (the decoded image reduced by a
whole factor towards the model's size), which the thread preprocesses.

Workers start on first use (~0.1 s) and exit on their own after `idle_exit_s` without
work, when the pool is closed, or when photofind exits (they also notice their parent's
death: the pipe closes).

For tests only: with `PHOTOFIND_TEST_DECODER_FAULTS=1` in the environment, a worker
asked to decode a file whose name contains `__crash__` aborts, and one whose name contains
`__hang__` sleeps for ever. Nothing else reads that variable.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from photofind.core.decode import Decoded, decode_for_model
from photofind.core.errors import NotAnImage

DEFAULT_TIMEOUT_S = 60.0
FAULTS_ENV = "PHOTOFIND_TEST_DECODER_FAULTS"


class DecoderPoolClosed(Exception):
    """The pool was closed (indexing stopped) while this file was being decoded."""


def _serve(conn, idle_exit_s: float) -> None:
    """A worker process: decode requests until the pipe closes or it idles too long."""
    faults = os.environ.get(FAULTS_ENV) == "1"
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    while True:
        try:
            if idle_exit_s > 0 and not conn.poll(idle_exit_s):
                return
            data, min_side, name = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if faults:
            _injected_fault(name)
        try:
            answer = ("ok", decode_for_model(data, min_side))
        except NotAnImage as exc:
            answer = ("bad", str(exc))
        except Exception as exc:  # a decoder bug fails this file, not the worker
            answer = ("bad", f"unexpected error while decoding ({type(exc).__name__}: {exc})")
        del data
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return


def _exit_with_parent(parent: int) -> None:
    """A worker stuck in a decoder still goes when photofind goes (even by `kill -9`)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _injected_fault(name: str) -> None:
    if "__crash__" in name:
        os.abort()
    if "__hang__" in name:
        while True:
            time.sleep(3600)


class _Worker:
    def __init__(self, ctx, idle_exit_s: float) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, idle_exit_s),
                                   name="photofind-decoder", daemon=True)
        self.process.start()
        child.close()
        self.last_used = time.monotonic()

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(10)
        except (OSError, ValueError, AssertionError):
            pass
        self.conn.close()

    def death(self) -> str:
        """Why the process ended, once it has: 'SIGSEGV', 'exit status 3'…"""
        self.process.join(10)
        code = self.process.exitcode
        if code is None:
            return "no answer"
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"


class _Crashed(Exception):
    pass


class _TimedOut(Exception):
    pass


class DecoderPool:
    """Worker processes for `decode_for_model`; `decode` may be called from many threads at
    once (each call takes a worker of its own, starting one if none is idle)."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, idle_exit_s: float = 0.0) -> None:
        self.timeout_s = timeout_s
        self.idle_exit_s = idle_exit_s
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.crashes = 0  # worker deaths seen (for tests and logs)

    def decode(self, data: bytes, min_side: int, name: str = "") -> Decoded:
        """Decode in a worker; raises NotAnImage with a reason (also for a crash or a
        timeout) or DecoderPoolClosed when `close()` interrupted it."""
        for attempt in (1, 2):
            worker = self._take()
            try:
                kind, value = self._ask(worker, (data, min_side, name))
            except _Crashed:
                why = worker.death() if not self._closed else ""
                self._discard(worker)
                if self._closed:
                    raise DecoderPoolClosed() from None
                self.crashes += 1
                if attempt == 2:
                    raise NotAnImage(f"the image decoder crashed on this file ({why})") from None
                continue
            except _TimedOut:
                self._discard(worker)
                if self._closed:
                    raise DecoderPoolClosed() from None
                raise NotAnImage(
                    f"decoding took longer than {self.timeout_s:g} s; photofind gave up on "
                    "this file") from None
            self._give_back(worker)
            if kind == "ok":
                return value
            raise NotAnImage(value)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop every worker, also those decoding now (their callers get DecoderPoolClosed).
        The pool can be used again afterwards."""
        with self._lock:
            self._closed = True
            workers = self._idle + list(self._busy)
            self._idle = []
        for worker in workers:
            worker.kill()
        with self._lock:
            self._closed = False

    # --- inside ----------------------------------------------------------------------

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise DecoderPoolClosed()
            now = time.monotonic()
            while self._idle:
                worker = self._idle.pop()
                fresh = self.idle_exit_s <= 0 or now - worker.last_used < self.idle_exit_s - 1
                if fresh and worker.process.is_alive():
                    self._busy.add(worker)
                    return worker
                worker.kill()
        worker = _Worker(self._ctx, self.idle_exit_s)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(worker)
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def _ask(self, worker: _Worker, request: tuple):
        try:
            worker.conn.send(request)
            answered = worker.conn.poll(self.timeout_s)
            if answered:
                return worker.conn.recv()
        except (EOFError, OSError, ValueError):
            raise _Crashed() from None
        raise _TimedOut()
